"""when("E") never guesses between "event E" and "after chunk E": the ambiguity is refused."""

import pytest

from triggerflow_nb import FlowDefinitionError, TriggerFlow

ADVICE = ("'review' is both a chunk of this flow and an event name in when(): say which with "
          "when({'event': 'review'}) (emitted events) or when({'chunk': 'review'}) (after that chunk finishes)")


def test_a_bare_name_of_a_registered_chunk_is_refused_with_advice():
    flow = TriggerFlow()

    @flow.chunk("review")
    def review(data):
        return data.input

    with pytest.raises(FlowDefinitionError) as info:
        flow.when("review")
    assert str(info.value) == ADVICE
    assert "when:review" not in flow.flow_graph.nodes  # nothing half-added


def test_registering_a_chunk_named_like_a_bare_event_listener_is_refused():
    flow = TriggerFlow()
    flow.when("review").to(lambda data: data.set_state("got", data.input))
    with pytest.raises(FlowDefinitionError) as info:
        flow.chunk("review")(lambda data: None)
    assert str(info.value) == ADVICE


def test_the_explicit_forms_say_which_and_both_work():
    flow = TriggerFlow()

    @flow.chunk("review")
    def review(data):
        data.emit("review", "emitted")
        return "chunk result"

    flow.to("review")
    flow.when({"chunk": "review"}).to(lambda data: data.append_state("after_chunk", data.input), name="a")
    flow.when({"event": "review"}).to(lambda data: data.append_state("event", data.input), name="b")
    assert flow.start(None) == {"after_chunk": ["chunk result"], "event": ["emitted"]}
