"""A fan-out item cannot pause to an event: its block waits for the item's result.

``pause_for(resume_to={"event": ...})`` ends its path at the pause; a later continue emits
the event instead of going on. Inside a for_each item, a batch branch or a hit_all case that
left the block's slot empty for good: the steps after the block never ran and close()
reported ``completed`` with the other items' results gone. It is refused at the pause, with
what to do instead; the other resume targets work there as before.
"""

from __future__ import annotations

import pytest

from triggerflow_nb import PauseNotSupportedError, TriggerFlow

REFUSAL = (
    r"^chunk 'wait' runs as an item of a for_each, batch or hit_all block, which waits for its result: "
    r"pause_for\(resume_to=\{'event': 'Approved'\}\) would leave that result missing for good\. Use "
    r"resume_to='next' \(the payload becomes the item's result\) or 'self', and emit the event from "
    r"the chunk that follows$"
)


async def wait(data):
    if data.input == 2:
        await data.async_pause_for(type="approve", resume_to={"event": "Approved"})
    return data.input * 10


def for_each_flow():
    flow = TriggerFlow(name="pause-event-each")
    flow.for_each(name="each").to(wait, name="wait").end_for_each() \
        .to(lambda d: d.set_state("items", d.input), name="keep")
    return flow, [1, 2, 3]


def batch_flow():
    flow = TriggerFlow(name="pause-event-batch")
    flow.to(lambda d: 2, name="two").batch(("wait", wait), ("other", lambda d: "other")) \
        .to(lambda d: d.set_state("items", d.input), name="keep")
    return flow, None


def hit_all_flow():
    flow = TriggerFlow(name="pause-event-hit-all")
    flow.to(lambda d: 2, name="two").match(mode="hit_all", name="m") \
        .case(lambda d: d.input > 1, name="gt1").to(wait, name="wait") \
        .case(lambda d: d.input > 0, name="gt0").to(lambda d: "gt0", name="c") \
        .end_match().to(lambda d: d.set_state("items", d.input), name="keep")
    return flow, None


@pytest.mark.parametrize("build", [for_each_flow, batch_flow, hit_all_flow], ids=["for_each", "batch", "hit_all"])
def test_an_item_that_pauses_to_an_event_is_refused_at_the_pause(build):
    flow, value = build()
    flow.when("Approved").to(lambda d: d.set_state("approved", d.input), name="approved")
    ex = flow.create_execution(auto_close=False)
    with pytest.raises(PauseNotSupportedError, match=REFUSAL):
        ex.start(value)
    assert (ex.get_status(), ex.get_pending_interrupts(), ex.get_state()) == ("failed", {}, {})


def test_an_item_that_pauses_to_next_still_fills_its_slot():
    flow = TriggerFlow(name="pause-next-each")

    async def wait_next(data):
        if data.input == 2:
            await data.async_pause_for(type="approve", resume_to="next")
            return None
        return data.input * 10

    flow.for_each(name="each").to(wait_next, name="wait").end_for_each() \
        .to(lambda d: d.set_state("items", d.input), name="keep")
    ex = flow.create_execution(auto_close=False)
    ex.start([1, 2, 3])
    ex.continue_with(next(iter(ex.get_pending_interrupts())), "approved")
    assert ex.close() == {"items": [10, "approved", 30]}


def test_a_pause_to_an_event_outside_any_fan_out_still_emits_it():
    flow = TriggerFlow(name="pause-event-plain")

    async def ask(data):
        await data.async_pause_for(type="approve", resume_to={"event": "Approved"})

    flow.to(ask, name="ask").to(lambda d: d.set_state("never", True), name="after")
    flow.when("Approved").to(lambda d: d.set_state("approved", d.input), name="approved")
    ex = flow.create_execution(auto_close=False)
    ex.start(None)
    ex.continue_with(next(iter(ex.get_pending_interrupts())), "yes")
    assert ex.close() == {"approved": "yes"}
