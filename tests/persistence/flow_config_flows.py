"""Flows wired the same way in both TriggerFlows, for the flow-config tests.

Everything here runs unchanged on this package's ``TriggerFlow`` and on Agently's (4.1.4.10):
the handlers read ``data.input`` and write ``data.set_state``, and each ``wire_*`` uses
only calls both share. ``flow_config_fixtures/make_fixtures.py`` builds each flow with
Agently, exports its config and records what its runs give; the tests load those configs
here and check the runs give the same.
"""

from __future__ import annotations


def double(data):
    return data.input * 2


def add_one(data):
    return data.input + 1


def halve(data):
    return data.input / 2


def negate(data):
    return -data.input


def is_big(data):
    return data.input > 10


def is_negative(data):
    return data.input < 0


def is_even(data):
    return data.input % 2 == 0


def is_positive(data):
    return data.input > 0


def zero(data):
    return "zero"


def big(data):
    return "big"


def small(data):
    return "small"


def tag_even(data):
    return "even"


def tag_positive(data):
    return "positive"


def store(data):
    data.set_state("out", data.input)
    return data.input


def note(data):
    data.set_state("noted", data.input)


def store_join(data):
    data.set_state("joined", data.input)


def store_a(data):
    data.set_state("a", data.input)


def store_any(data):
    data.set_state("any", data.input)


def mark(data):
    data.set_state("seen", data.input)


def fire(data):
    data.emit("A", data.input)
    data.emit("B", data.input * 10)
    return data.input


def seed(data):
    data.set_state("seed", data.input * 100)
    return data.input


def store_or(data):
    data.set_state("or", data.input)


def is_long(data):
    return len(data.input) > 2


def count(data):
    return len(data.input)


HANDLERS = (double, add_one, halve, negate, is_big, is_negative, is_even, is_positive, zero, big, small, tag_even,
            tag_positive, store, note, store_join, store_a, store_any, mark, fire, seed, store_or, is_long, count)


def wire_chain_if(flow):
    flow.to(double).if_condition(is_big).to(add_one).elif_condition(is_negative).to(negate) \
        .else_condition().to(halve).end_condition().to(store)


def wire_match_values(flow):
    flow.match().case(0).to(zero).case(is_big).to(big).case_else().to(small).end_match().to(store)


def wire_match_all(flow):
    flow.match(mode="hit_all").case(is_even).to(tag_even).case(is_positive).to(tag_positive).end_match().to(store)


def wire_batch(flow):
    flow.to(add_one).batch(("doubled", double), ("halved", halve), concurrency=2).to(store)


def wire_for_each(flow):
    flow.for_each(concurrency=2).to(double).if_condition(is_big).to(add_one).end_condition().end_for_each().to(store)


def wire_collect(flow):
    flow.to(double).collect("pair", "doubled")
    flow.to(add_one).collect("pair", "plus_one").to(store)


def wire_side(flow):
    flow.to(double).side_branch(note).to(store)


def wire_events(flow):
    flow.to(fire)
    flow.when(["A", "B"], mode="and").to(store_join)
    flow.when(["A", "B"], mode="simple_or").to(store_any)
    flow.when("A").to(store_a)
    flow.when(["A", "B"], mode="or").to(store_or)


def wire_state_trigger(flow):
    flow.to(double).to(store)
    flow.when({"runtime_data": "out"}).to(mark)


def wire_side_in_arm(flow):
    """Side branches where an arm starts and where it ends."""
    flow.for_each().side_branch(note).to(double).side_branch(mark).end_for_each().to(store)


def wire_when_chunk(flow, *, ours):
    """A listener on a chunk finishing (their when() takes the chunk object, ours the function)."""
    flow.to(double).to(store)
    flow.when(double if ours else flow.chunks["double"]).to(mark)


def wire_collect_when(flow, *, ours):
    """A listener on a collect filling (Agently 4.1.4.10's when({"collect": name}) raises KeyError: 'event',
    so there it listens to the event that collect emits, which is what that call means)."""
    flow.to(double).collect("pair", "doubled")
    flow.to(add_one).collect("pair", "plus_one")
    flow.when({"collect": "pair"} if ours else "Collect-pair").to(store)


def wire_nested(flow):
    flow.if_condition(is_long).for_each().to(double).end_for_each().else_condition().to(count).end_condition() \
        .to(store)


def wire_sub_flow_plain(flow, child):
    """A sub-flow with no bridging rules: what follows gets the child's close snapshot."""
    child.to(double).to(store)
    flow.to_sub_flow(child).to(note)


def wire_sub_flow(flow, child, *, ours):
    """A child that doubles; the parent seeds state, passes it in, and maps the child's result back."""
    child.to(double).to(store)
    capture = {"input": "state.seed" if ours else "runtime_data.seed"}
    write_back = {"value": "result.out", **({"state.from_child": "result.out"} if ours
                                            else {"runtime_data": {"from_child": "result.out"}})}
    flow.to(seed).to_sub_flow(child, capture=capture, write_back=write_back).to(store)


# name -> (wiring, the start inputs each run gets)
FLOWS = {
    "chain_if": (wire_chain_if, [3, 8, -2]),
    "match_values": (wire_match_values, [0, 50, 5]),
    "match_all": (wire_match_all, [4, 3, -3]),
    "batch": (wire_batch, [3]),
    "for_each": (wire_for_each, [[1, 6, 3], 4, []]),
    "collect": (wire_collect, [3]),
    "side": (wire_side, [3]),
    "events": (wire_events, [2]),
    "state_trigger": (wire_state_trigger, [5]),
    "sub_flow": (wire_sub_flow, [3]),
    "side_in_arm": (wire_side_in_arm, [[4], 5]),
    "when_chunk": (wire_when_chunk, [5]),
    "collect_when": (wire_collect_when, [3]),
    "nested": (wire_nested, [[1, 2, 3], [7]]),
    "sub_flow_plain": (wire_sub_flow_plain, [3]),
}

# Flows only this package can wire (or wire to run: an empty arm never ends there, a side branch
# at an arm's end is wired there by hand): their exports must still run there as here.
def wire_empty_arm(flow):
    flow.if_condition(is_big).else_condition().to(double).end_condition().to(store)


def wire_side_at_arm_end(flow):
    flow.for_each().to(double).side_branch(note).end_for_each().to(store)


def wire_hit_all_with_else(flow):
    flow.match(mode="hit_all").case(is_even).to(tag_even).case(is_positive).to(tag_positive) \
        .case_else().to(small).end_match().to(store)


def wire_hit_all_empty_case(flow):
    flow.match(mode="hit_all").case(is_even).case(is_positive).to(tag_positive).end_match().to(store)


def wire_collect_then_empty(flow):
    flow.to(double).collect("pair", "doubled", mode="filled_then_empty")
    flow.to(add_one).collect("pair", "plus_one", mode="filled_then_empty").to(store)


def wire_implicit_capture_input(flow):
    child = type(flow)(name="child")
    child.to(double).to(store)
    flow.to_sub_flow(child, capture={"resources": {}}, write_back={"value": "result.out"}, name="step").to(store)


OURS_ONLY = {
    "empty_arm": (wire_empty_arm, [20, 3]),
    "side_at_arm_end": (wire_side_at_arm_end, [[4], 5]),
    "hit_all_with_else": (wire_hit_all_with_else, [4, -3]),
    "hit_all_empty_case": (wire_hit_all_empty_case, [4, 3]),
    "collect_then_empty": (wire_collect_then_empty, [3]),
    "implicit_capture_input": (wire_implicit_capture_input, [3]),
}

# Names the other side registers a handler under besides its function's name: batch(("key", fn))
# makes a chunk named "key" there (here the chunk keeps the function's name, "key" is the branch's).
EXTRA_NAMES = {"doubled": double, "halved": halve}


def build(make_flow, name):
    """The flow ``name`` built with ``make_flow(name)`` (either side's TriggerFlow class)."""
    wire, _inputs = FLOWS[name]
    flow = make_flow(name=name)
    ours = make_flow.__module__.startswith("triggerflow_nb")
    if name == "sub_flow":
        wire(flow, make_flow(name="child"), ours=ours)
    elif name == "sub_flow_plain":
        wire(flow, make_flow(name="child"))
    elif name in ("when_chunk", "collect_when"):
        wire(flow, ours=ours)
    else:
        wire(flow)
    return flow
