"""Cell-scoped wiring without a kernel: a stand-in says which cell runs; what one cell forgets leaves
what other cells wired (a real kernel runs it in tests/notebook_layer/test_cell_wiring.py)."""

from __future__ import annotations

import pytest

from triggerflow_nb import ChunkError, FlowDefinitionError, TriggerFlow
from triggerflow_nb.definition import cell_claims
from triggerflow_nb.definition.flow import forget_cell


@pytest.fixture
def cells(monkeypatch):
    """Pretend IPython runs cells: ``cells.now = "a"`` makes cell a the running one."""

    class Cells:
        now = ""

    monkeypatch.setattr(cell_claims, "_running_cell", lambda: Cells.now)
    monkeypatch.setattr(cell_claims, "_flows", type(cell_claims._flows)())
    return Cells


def steps(flow, *names):
    for name in names:
        flow.chunk(name=name)(lambda data: data.input)


def test_outside_ipython_nothing_is_claimed_and_wiring_only_adds():
    flow = TriggerFlow(name="plain")
    steps(flow, "a", "b")
    flow.to("a").to("b")
    assert flow._graph.claims.nodes == {} and flow._graph.claims.edges == {}
    assert flow not in cell_claims.followed_flows()


def test_forgetting_a_cell_keeps_what_another_cell_also_wired(cells):
    cells.now = "make"
    flow = TriggerFlow(name="shared")
    steps(flow, "a", "b", "c")
    cells.now = "one"
    flow.to("a").to("b")
    cells.now = "two"
    flow.to("a").to("c")
    forget_cell(flow, "one")
    assert flow._graph.edges() == [("$start", "a"), ("a", "c")]
    assert sorted(flow._graph.nodes) == ["$start", "a", "c"]  # b went with the only edge to it
    assert flow.start(1) == {}


def test_a_block_forgotten_goes_with_its_arms_and_stops_counting_as_open(cells):
    cells.now = "make"
    flow = TriggerFlow(name="blocks")
    steps(flow, "a", "b", "c")
    cells.now = "wire"
    flow.to("a").for_each().to("b")  # left open: the cell failed before end_for_each()
    with pytest.raises(FlowDefinitionError, match="unclosed blocks"):
        flow.validate_runnable()
    forget_cell(flow, "wire")
    assert sorted(flow._graph.nodes) == ["$start"] and flow._graph.edges() == []
    assert flow._open_blocks == set()
    flow.to("a").for_each().to("c").end_for_each()  # the cell, fixed, runs again
    assert flow.start([1, 2]) == {}
    assert sorted(flow._graph.nodes) == ["$start", "a", "c", "for_each@a"]


def test_the_cell_that_created_a_flow_never_takes_wiring_out_of_it(cells):
    cells.now = "all-in-one"
    flow = TriggerFlow(name="made-here")
    steps(flow, "a")
    flow.to("a")
    forget_cell(flow, "all-in-one")  # running that cell again makes a new flow; this one stays whole
    assert flow._graph.edges() == [("$start", "a")]


def test_an_event_listener_forgotten_no_longer_listens(cells):
    cells.now = "make"
    flow = TriggerFlow(name="listens")
    steps(flow, "a", "b")
    flow.to("a")
    cells.now = "audit"
    flow.when("Audit").to("b")
    assert flow._graph.listeners == {"Audit": ["when:Audit"]}
    version = flow._graph.version
    forget_cell(flow, "audit")
    assert flow._graph.listeners == {} and "when:Audit" not in flow._graph.nodes
    assert flow._graph.version > version  # live graphs redraw
    assert flow._graph.claims.owned("audit") == (frozenset(), frozenset())


def test_the_replaced_line_names_edges_and_lone_nodes():
    from triggerflow_nb.notebook.cell_wiring import cell_key, replaced_line

    flow = TriggerFlow(name="p")
    line = replaced_line(flow, frozenset({"a", "b"}), frozenset({("$start", "a"), ("a", "b")}),
                         frozenset({"a", "c"}), frozenset({("$start", "a"), ("a", "c")}))
    assert line == "flow 'p': this cell's new wiring replaced its previous run's: removed a → b; added a → c"
    assert replaced_line(flow, frozenset({"a"}), frozenset(), frozenset({"a"}), frozenset()) is None
    assert cell_key("abc-1", "x = 1") == "cell:abc-1"
    assert cell_key(None, "x = 1") == cell_key("", "x = 1") != cell_key(None, "x = 2")
    assert cell_key(None, "x = 1").startswith("source:")


# -- a paused run whose wiring a re-run cell changed ---------------------------------------------------


def pausing_steps(flow, resume_to="next"):
    flow.chunk(name="a")(lambda data: data.input + 1)
    flow.chunk(name="p")(lambda data: data.pause_for(type="ask", payload="?", resume_to=resume_to)
                         if data.resume is None else data.resume.value)
    flow.chunk(name="b")(lambda data: data.set_state("b", data.input))


def paused(flow):
    ex = flow.create_execution(auto_close=False)
    ex.start(1)
    (interrupt_id,) = ex.get_pending_interrupts()
    return ex, interrupt_id


def refused_and_untouched(ex, interrupt_id, gap):
    with pytest.raises(FlowDefinitionError) as caught:
        ex.continue_with(interrupt_id, "yes")
    assert str(caught.value) == (
        f"interrupt {interrupt_id!r} paused at chunk 'p', and flow {ex.flow.name!r} no longer has {gap} it goes on "
        f"through (its wiring changed since the pause): wire it back and call continue_with again; the interrupt "
        f"is still pending")
    assert ex.get_pending_interrupts()[interrupt_id]["status"] == "waiting"
    assert (ex.is_closed(), ex.get_status(), ex.get_state()) == (False, "waiting", {})


@pytest.mark.parametrize("resume_to", ["next", "self"])
def test_continue_with_a_paused_chunk_a_rerun_cell_removed_is_refused_until_it_is_wired_back(cells, resume_to):
    """Before, "self" raised a bare KeyError and left the run failed and closed, and "next" ended
    the path silently, as if the steps after the pause had never been wired."""
    cells.now = "make"
    flow = TriggerFlow(name="rewired")
    pausing_steps(flow, resume_to)
    cells.now = "wire"
    flow.to("a").to("p").to("b")
    ex, interrupt_id = paused(flow)

    forget_cell(flow, "wire")  # the cell runs again, without p
    flow.to("a").to("b")
    refused_and_untouched(ex, interrupt_id, "the chunk 'p'")

    forget_cell(flow, "wire")  # and once more, as it was
    flow.to("a").to("p").to("b")
    ex.continue_with(interrupt_id, "yes")
    assert ex.get_state() == {"b": "yes"}


@pytest.mark.parametrize("block", ["for_each", "if_condition"])
def test_continue_with_a_pause_inside_a_block_a_rerun_cell_removed_is_refused(cells, block):
    cells.now = "make"
    flow = TriggerFlow(name="rewired-block")
    pausing_steps(flow)
    cells.now = "wire"
    if block == "for_each":
        flow.to(lambda data: [data.input], name="items").for_each().to("p").end_for_each().to("b")
    else:
        flow.to("a").if_condition(lambda value: True).to("p").end_condition().to("b")
    (block_id,) = [node_id for node_id, node in flow._graph.nodes.items() if node.kind in ("for_each", "if")]
    ex, interrupt_id = paused(flow)

    forget_cell(flow, "wire")  # the cell runs again with p outside any block
    flow.to("a").to("p").to("b")
    refused_and_untouched(ex, interrupt_id, f"the block {block_id!r}" if block == "for_each" else f"arm 0 of the block {block_id!r}")


def test_retry_of_a_failed_chunk_a_rerun_cell_removed_is_refused_until_it_is_wired_back(cells):
    cells.now = "make"
    flow = TriggerFlow(name="rewired-retry")
    flow.chunk(name="a")(lambda data: data.input + 1)
    flow.chunk(name="boom")(lambda data: 1 / 0)
    flow.chunk(name="b")(lambda data: data.set_state("b", data.input))
    cells.now = "wire"
    flow.to("a").to("boom").to("b")
    ex = flow.create_execution(auto_close=False)
    with pytest.raises(ChunkError):
        ex.start(1)

    forget_cell(flow, "wire")  # the cell runs again, without boom
    flow.to("a").to("b")
    with pytest.raises(FlowDefinitionError) as caught:
        ex.retry()
    assert str(caught.value) == (
        "chunk 'boom' failed, and flow 'rewired-retry' no longer has the chunk 'boom' it goes on through (its wiring "
        "changed since the failure): wire it back and call retry() again; the execution stays as it failed")
    assert (ex.is_closed(), ex.get_status(), ex.retryable_chunk()) == (True, "failed", "boom")

    cells.now = "make"
    flow.chunk(name="boom")(lambda data: data.input * 10)  # fixed, and wired back
    cells.now = "wire"
    forget_cell(flow, "wire")
    flow.to("a").to("boom").to("b")
    ex.retry()
    assert ex.get_state() == {"b": 20}


def test_two_unnamed_blocks_at_one_place_in_one_cell_stay_two_and_a_rerun_finds_them(cells):
    """Before, the second for_each after START took the first's id and reset it: the first
    body was gone. The cell's next run forgets its wiring first, so it finds the same two ids."""
    cells.now = "make"
    flow = TriggerFlow(name="two-blocks")

    def wire():
        forget_cell(flow, "wiring")  # what the notebook layer does before the cell runs again
        cells.now = "wiring"
        flow.for_each().to(lambda d: d.set_state(f"x{d.input}", d.input), name="x").end_for_each()
        flow.for_each().to(lambda d: d.set_state(f"y{d.input}", d.input), name="y").end_for_each()
        flow.match().case(1).to(lambda d: d.set_state("one", True), name="one").end_match()
        flow.match().case_else().to(lambda d: d.set_state("other", True), name="other").end_match()

    wire()
    blocks = ["for_each@$start", "for_each@$start#2", "match@$start", "match@$start#2"]
    assert [n for n in flow._graph.nodes if "@" in n] == blocks
    assert flow.start([1]) == {"x1": 1, "y1": 1, "other": True}
    wire()
    assert [n for n in flow._graph.nodes if "@" in n] == blocks
    assert flow.start([2]) == {"x2": 2, "y2": 2, "other": True}


def test_a_later_cell_may_give_an_arm_another_first_step(cells):
    """Within one run of a cell a second first step is a mistake (refused, see
    tests/patterns/test_definition_errors.py); a later cell doing it is an edit: it replaces."""
    cells.now = "open"
    flow = TriggerFlow(name="arm-edit")
    body = flow.for_each(name="each")
    cells.now = "body"
    body.to(lambda d: d.input, name="a").end_for_each()
    cells.now = "edit"
    body.to(lambda d: -d.input, name="b").end_for_each()
    assert flow._graph.nodes["each"].branches[0].entry == "b"
    assert flow.start([1]) == {}


def test_between_cells_of_a_followed_shell_a_rerun_wiring_finds_its_blocks(cells):
    """A followed shell reports "" outside any cell (a callback, code run between cells): wiring
    there behaves as outside IPython, so running it again finds the same blocks."""
    cells.now = ""
    flow = TriggerFlow(name="between-cells")
    for _ in range(2):
        flow.for_each().to(lambda d: d.input, name="x").end_for_each()
    assert [n for n in flow._graph.nodes if "@" in n] == ["for_each@$start"]
