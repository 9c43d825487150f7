"""Wiring mistakes are caught when the flow is defined (or at the latest when it starts),
with a message that says what to add or move; a refused step leaves no stray node behind."""

import re

import pytest

from triggerflow_nb import FlowDefinitionError, TriggerFlow


def pred(data):
    return True


def step(data):
    return data.input


@pytest.mark.parametrize("wire, message", [
    (lambda c: c.end_condition(),
     ".end_condition() without a matching .if_condition(predicate): add .if_condition(predicate) before it"),
    (lambda c: c.elif_condition(pred),
     ".elif_condition() without a matching .if_condition(predicate): add .if_condition(predicate) before it"),
    (lambda c: c.else_condition(),
     ".else_condition() without a matching .if_condition(predicate): add .if_condition(predicate) before it"),
    (lambda c: c.case("x"), ".case('x') without a matching .match(): add .match() before it"),
    (lambda c: c.case_else(), ".case_else() without a matching .match(): add .match() before it"),
    (lambda c: c.end_match(), ".end_match() without a matching .match(): add .match() before it"),
    (lambda c: c.end_for_each(), ".end_for_each() without a matching .for_each(): add .for_each() before it"),
])
def test_closing_or_continuing_a_block_that_was_never_opened(wire, message):
    flow = TriggerFlow()
    with pytest.raises(FlowDefinitionError) as info:
        wire(flow.to(step))
    assert str(info.value) == message


def test_closing_the_wrong_block_names_the_innermost_one():
    flow = TriggerFlow()
    with pytest.raises(FlowDefinitionError) as info:
        flow.to(step).if_condition(pred).for_each().to(step, name="body").end_condition()
    assert str(info.value) == (
        ".end_condition() without a matching .if_condition(predicate) (the innermost open block is a for_each: "
        "close it with .end_for_each() first): add .if_condition(predicate) before it"
    )
    with pytest.raises(FlowDefinitionError) as info:
        flow.to(step).match().case(1).if_condition(pred).end_match()
    assert str(info.value) == (
        ".end_match() without a matching .match() (the innermost open block is an if: close it with "
        ".end_condition() first): add .match() before it"
    )
    with pytest.raises(FlowDefinitionError) as info:
        flow.to(step).for_each().match().case(1).end_for_each()
    assert str(info.value) == (
        ".end_for_each() without a matching .for_each() (the innermost open block is a match: close it with "
        ".end_match() first): add .for_each() before it"
    )


@pytest.mark.parametrize("method, wire", [
    (".to()", lambda c: c.to(step)),
    (".to()", lambda c: c.to(lambda d: d.input)),
    (".to()", lambda c: c.to("registered_elsewhere")),
    (".end()", lambda c: c.end()),
    (".if_condition()", lambda c: c.if_condition(pred)),
    (".match()", lambda c: c.match()),
    (".batch()", lambda c: c.batch(("a", step))),
    (".for_each()", lambda c: c.for_each()),
    (".to_sub_flow()", lambda c: c.to_sub_flow(TriggerFlow(name="child"))),
])
def test_a_step_right_after_match_needs_a_case_first_and_leaves_no_stray_node(method, wire):
    flow = TriggerFlow(name="f")
    opened = flow.to(lambda d: d.input, name="first").match()
    nodes_before = list(flow._graph.nodes)
    handlers_before = dict(flow._handlers)
    with pytest.raises(FlowDefinitionError) as info:
        wire(opened)
    assert str(info.value) == f"{method} directly after .match(): add .case(value) (or .case_else()) before it"
    assert list(flow._graph.nodes) == nodes_before
    assert flow._handlers == handlers_before


def test_elif_or_case_after_the_else_arm():
    flow = TriggerFlow()
    with pytest.raises(FlowDefinitionError) as info:
        flow.to(step).if_condition(pred).else_condition().elif_condition(pred)
    assert str(info.value) == ".elif_condition() after .else_condition(): move it before the else arm"
    with pytest.raises(FlowDefinitionError) as info:
        flow.to(step).if_condition(pred).else_condition().else_condition()
    assert str(info.value) == "a second .else_condition() in one block: keep one, then .end_condition()"
    with pytest.raises(FlowDefinitionError) as info:
        flow.to(step).match().case_else().case(2)
    assert str(info.value) == ".case(2) after .case_else(): move it before the else arm"
    with pytest.raises(FlowDefinitionError) as info:
        flow.to(step).match().case(1).case_else().case_else()
    assert str(info.value) == "a second .case_else() in one match: keep one, then .end_match()"


@pytest.mark.parametrize("wire, message", [
    (lambda c: c.if_condition(pred).to(step, name="arm"),
     "flow 'f' has unclosed blocks: 'if[pred]@first' (add .end_condition() after its last step)"),
    (lambda c: c.if_condition(pred).else_condition(),
     "flow 'f' has unclosed blocks: 'if[pred]@first' (add .end_condition() after its last step)"),
    (lambda c: c.for_each().to(step, name="body"),
     "flow 'f' has unclosed blocks: 'for_each@first' (add .end_for_each() after its last step)"),
    (lambda c: c.match().case(1).to(step, name="arm"),
     "flow 'f' has unclosed blocks: 'match@first' (add .end_match() after its last step)"),
    (lambda c: c.match(),
     "flow 'f' has unclosed blocks: 'match@first' (add .end_match() after its last step)"),
    # innermost first: the order in which the closers have to be added
    (lambda c: c.for_each().if_condition(pred).to(step, name="arm"),
     "flow 'f' has unclosed blocks: 'if[pred]@for_each@first#0' (add .end_condition() after its last step); "
     "'for_each@first' (add .end_for_each() after its last step)"),
    (lambda c: c.match().case(1).for_each().if_condition(pred).end_condition(),
     "flow 'f' has unclosed blocks: 'for_each@match@first#0' (add .end_for_each() after its last step); "
     "'match@first' (add .end_match() after its last step)"),
])
def test_an_unclosed_block_is_reported_when_the_flow_starts(wire, message):
    flow = TriggerFlow(name="f")
    wire(flow.to(lambda d: d.input, name="first"))
    with pytest.raises(FlowDefinitionError) as info:
        flow.start(1)
    assert str(info.value) == message
    with pytest.raises(FlowDefinitionError) as info:
        flow.create_execution().start(1)
    assert str(info.value) == message


def test_an_unclosed_block_in_a_sub_flow_is_reported_when_the_parent_starts():
    child = TriggerFlow(name="child")
    child.to(lambda d: d.input, name="first").for_each()
    parent = TriggerFlow(name="parent")
    parent.to(lambda d: d.input, name="first").to_sub_flow(child)
    with pytest.raises(FlowDefinitionError) as info:
        parent.start(1)
    assert str(info.value) == (
        "flow 'child' has unclosed blocks: 'for_each@first' (add .end_for_each() after its last step) "
        "(used as a sub-flow of flow 'parent')"
    )


def test_closing_the_block_fixes_the_flow():
    flow = TriggerFlow(name="f")
    chain = flow.to(lambda d: d.input, name="first").if_condition(pred).to(lambda d: "yes", name="yes")
    with pytest.raises(FlowDefinitionError):
        flow.start(1)
    chain.end_condition().to(lambda d: d.set_state("out", d.input), name="store")
    assert flow.start(1) == {"out": "yes"}


def test_batch_branch_names_must_be_unique_and_well_formed():
    flow = TriggerFlow()
    chain = flow.to(step)
    with pytest.raises(FlowDefinitionError) as info:
        chain.batch(("a", step), ("b", step), ("a", pred))
    assert str(info.value) == "batch() branch name 'a' is used twice; names must be unique"
    with pytest.raises(FlowDefinitionError) as info:
        chain.batch()
    assert str(info.value) == "batch() needs at least one (name, handler) pair"
    with pytest.raises(FlowDefinitionError) as info:
        chain.batch("a", step)
    assert str(info.value) == "batch() takes (name, handler) pairs, got 'a'"
    with pytest.raises(FlowDefinitionError) as info:
        chain.batch((1, step))
    assert str(info.value) == "batch() takes (name, handler) pairs, got (1, <function step at " + hex(id(step)) + ">)"
    assert [n for n in flow._graph.nodes if n.startswith("batch")] == []


@pytest.mark.parametrize("bad", [0, -1, 2.0, "2", True, False])
def test_bad_concurrency_values(bad):
    flow = TriggerFlow()
    chain = flow.to(step)
    with pytest.raises(FlowDefinitionError) as info:
        chain.batch(("a", step), concurrency=bad)
    assert str(info.value) == f"batch(concurrency=...) must be None or a positive int, got {bad!r}"
    with pytest.raises(FlowDefinitionError) as info:
        chain.for_each(concurrency=bad)
    assert str(info.value) == f"for_each(concurrency=...) must be None or a positive int, got {bad!r}"
    assert isinstance(info.value, ValueError)  # FlowDefinitionError is a ValueError


def test_predicates_must_be_callable():
    flow = TriggerFlow()
    with pytest.raises(TypeError) as info:
        flow.to(step).if_condition(True)
    assert str(info.value) == "if_condition() needs a predicate function of data, got bool"
    with pytest.raises(TypeError) as info:
        flow.to(step).if_condition(pred).elif_condition("x > 1")
    assert str(info.value) == "elif_condition() needs a predicate function of data, got str"


def test_a_block_name_that_is_already_a_chunk_is_refused():
    flow = TriggerFlow()
    flow.to(step)
    with pytest.raises(FlowDefinitionError) as info:
        flow.to(pred).match(name="step")
    assert str(info.value) == "'step' already names a chunk node; choose another name for this match"


def test_sub_flows_that_form_a_cycle_are_refused_at_start():
    a = TriggerFlow(name="a")
    b = TriggerFlow(name="b")
    a.to(lambda d: d.input, name="first").to_sub_flow(b)
    b.to(lambda d: d.input, name="first").to_sub_flow(a)
    with pytest.raises(FlowDefinitionError) as info:
        a.start(1)
    assert str(info.value) == (
        "sub-flows form a cycle ('a' -> 'b' -> 'a'), which would never end: remove one of the to_sub_flow() "
        "steps (used as a sub-flow of flow 'a')"
    )


def test_a_step_that_would_follow_itself_is_refused_at_wiring():
    """The same function twice without name= is the same step: wired, it was a self-loop, and a
    chain of sync chunks that never suspends then held the loop (a frozen kernel) for good."""
    flow = TriggerFlow(name="self-loop")

    def inc(data):
        return data.input + 1

    chain = flow.to(inc)
    with pytest.raises(FlowDefinitionError, match=re.escape(
            "chunk 'inc' would run right after itself, forever: .to() of the same function (or name) is the "
            "same step. For a second step pass name=, e.g. .to(fn, name='inc_2'); to repeat a step, pause with "
            "resume_to='self' or loop through an .if_condition()")):
        chain.to(inc)
    assert flow._graph.edges() == [("$start", "inc")]  # nothing half-wired
    chain.to(inc, name="inc_2")
    assert flow.start(1) is not None and flow._graph.edges() == [("$start", "inc"), ("inc", "inc_2")]


@pytest.mark.parametrize("open_arm, kind, block", [
    (lambda f: f.for_each(), "a for_each", "for_each@$start"),
    (lambda f: f.if_condition(pred), "an if", "if[pred]@$start"),
    (lambda f: f.match().case(1), "a match", "match@$start"),
])
def test_a_second_first_step_on_an_arm_is_refused_not_a_silent_replacement(open_arm, kind, block):
    """``arm.to(a)`` then ``arm.to(b)`` on the same chain: before, b silently became the arm's
    only first step and a was never run."""
    flow = TriggerFlow(name="arm")
    arm = open_arm(flow)
    arm.to(step, name="a")
    nodes = sorted(flow._graph.nodes)
    with pytest.raises(FlowDefinitionError, match=re.escape(
            f".to() on the chain that opened an arm of {kind} block ({block!r}) whose first step is already 'a': "
            f"an arm has one first step, and this would replace it. Chain on from that step (.to(...).to(...)), "
            f"or use batch() for steps that run side by side")):
        arm.to(step, name="b")
    assert sorted(flow._graph.nodes) == nodes  # nothing registered
    assert flow._graph.nodes[block].branches[-1].entry == "a"
