"""Property: saving at any settled point and continuing from a load gives the same close snapshot.

Flows are generated from a small spec language (chains, if/else, for_each, pauses);
each is run twice, once resuming in place and once through save -> JSON -> a new
flow object -> load at every settled point. Both must close with equal state.
"""

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from triggerflow_nb import TriggerFlow

leaf = st.one_of(
    st.tuples(st.just("add"), st.integers(-3, 3)),
    st.tuples(st.just("pause"), st.sampled_from(["next", "self"])),
)


def blocks(children):
    return st.one_of(
        st.tuples(st.just("if"), st.integers(-5, 5), st.lists(children, max_size=3), st.lists(children, max_size=3)),
        st.tuples(st.just("for_each"), st.integers(0, 3), st.lists(children, min_size=1, max_size=3)),
    )


steps = st.lists(st.recursive(leaf, blocks, max_leaves=8), min_size=1, max_size=5)


def build(spec):
    flow = TriggerFlow(name="generated")
    counter = iter(range(10_000))

    def wire(chain, items):
        for item in items:
            name = f"s{next(counter)}"
            kind = item[0]
            if kind == "add":
                chain = chain.to(_adder(name, item[1]), name=name)
            elif kind == "pause":
                chain = chain.to(_pauser(name, item[1]), name=name)
            elif kind == "if":
                _, threshold, then_items, else_items = item
                chain = chain.if_condition(lambda d, t=threshold: _num(d.input) > t, name=f"{name}_gt{threshold}")
                chain = wire(chain, then_items).else_condition()
                chain = wire(chain, else_items).end_condition()
            else:
                _, count, body = item
                chain = chain.to(lambda d, n=count: [_num(d.input) + i for i in range(n)], name=name)
                chain = wire(chain.for_each(), body).end_for_each()
                chain = chain.to(lambda d: sum(_num(x) for x in d.input), name=f"{name}_sum")
        return chain

    wire(flow.to(lambda d: d.input, name="entry"), spec)
    return flow


def _num(value):
    return value if isinstance(value, int) else len(json.dumps(value))


def _adder(name, k):
    def add(data):
        data.append_state("trace", [name, data.input])
        return _num(data.input) + k
    return add


def _pauser(name, resume_to):
    def pause(data):
        if data.is_resume:
            data.append_state("trace", [name, "resumed", data.resume.value])
            return data.resume.value
        data.append_state("trace", [name, "paused", data.input])
        data.pause_for(type=name, payload=data.input, resume_to=resume_to)
    return pause


def _resume_all(execution):
    """Resume every pending interrupt in a deterministic order with a value derived from it."""
    pending = sorted(execution.get_pending_interrupts().values(), key=lambda i: (i["chunk"], json.dumps(i["payload"])))
    for info in pending:
        execution.continue_with(info["id"], _num(info["payload"]) * 2)


def run_in_place(spec):
    execution = build(spec).create_execution(auto_close=False)
    execution.start(1)
    while execution.get_pending_interrupts():
        _resume_all(execution)
    return execution.close()


def run_through_save_load(spec):
    execution = build(spec).create_execution(auto_close=False)
    execution.start(1)
    while execution.get_pending_interrupts():
        saved = json.loads(json.dumps(execution.save()))
        execution = build(spec).create_execution(auto_close=False)  # a new process, in effect
        execution.load(saved)
        _resume_all(execution)
    saved = json.loads(json.dumps(execution.save()))  # settled and idle: save once more
    execution = build(spec).create_execution(auto_close=False)
    execution.load(saved)
    return execution.close()


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps)
def test_save_load_round_trip_matches_uninterrupted_run(spec):
    assert run_through_save_load(spec) == run_in_place(spec)


def test_round_trip_on_a_known_nested_case():
    spec = [("add", 1), ("for_each", 2, [("pause", "next"), ("if", 2, [("pause", "self")], [("add", 3)])]), ("add", -1)]
    expected = run_in_place(spec)
    assert run_through_save_load(spec) == expected
    assert expected == {"trace": [
        ["s0", 1], ["s2", "paused", 2], ["s2", "paused", 3], ["s4", "paused", 4], ["s4", "paused", 6],
        ["s4", "resumed", 8], ["s4", "resumed", 12], ["s6", 20],
    ]}
