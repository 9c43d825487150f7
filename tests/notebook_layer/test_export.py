"""DOT and Mermaid exports: exact text for a small flow, and the shapes of every construct."""

from __future__ import annotations

import pytest

from triggerflow_nb import TriggerFlow
from triggerflow_nb.export.dot import dot_body, to_dot
from triggerflow_nb.export.mermaid import to_mermaid

DOT_HEAD = (
    'digraph {\n'
    '\tgraph [label="tiny" labelloc=t fontname="Helvetica" fontsize=14 rankdir=TB nodesep=0.3 ranksep=0.35]\n'
    '\tnode [fontname="Helvetica" fontsize=11 shape=box style="rounded,filled" fillcolor="#ffffff" '
    'color="#4a5568" margin="0.12,0.04" height=0.3]\n'
    '\tedge [fontname="Helvetica" fontsize=9 color="#4a5568" arrowsize=0.7]\n'
)

TINY_DOT = DOT_HEAD + (
    '\t"$start" [label="START" shape=circle fixedsize=true width=0.6 fontcolor="#ffffff" fontsize=9 '
    'fillcolor="#333333"]\n'
    '\t"fetch" [label="fetch"]\n'
    '\t"if[is_big]@fetch" [label="if" shape=diamond fillcolor="#fff8e6"]\n'
    '\t"shout" [label="shout"]\n'
    '\t"mumble" [label="mumble"]\n'
    '\t"report" [label="report"]\n'
    '\t"when:audit" [label="when audit" shape=hexagon fillcolor="#ede4fb"]\n'
    '\t"log_audit" [label="log_audit"]\n'
    '\t"$start" -> "fetch"\n'
    '\t"fetch" -> "if[is_big]@fetch"\n'
    '\t"if[is_big]@fetch" -> "shout" [label="if is_big"]\n'
    '\t"if[is_big]@fetch" -> "mumble" [label="else"]\n'
    '\t"shout" -> "report"\n'
    '\t"mumble" -> "report"\n'
    '\t"when:audit" -> "log_audit"\n'
    '}\n'
)

TINY_MERMAID = """flowchart TD
    n0(["START"])
    n1["fetch"]
    n2{"if"}
    n3["shout"]
    n4["mumble"]
    n5["report"]
    n6{{"when audit"}}
    n7["log_audit"]
    n0 --> n1
    n1 --> n2
    n2 -->|"if is_big"| n3
    n2 -->|"else"| n4
    n3 --> n5
    n4 --> n5
    n6 --> n7
"""


def tiny_flow() -> TriggerFlow:
    flow = TriggerFlow(name="tiny")

    def fetch(data):
        return data.input

    def is_big(data):
        return data.input > 10

    def shout(data):
        return "BIG"

    def mumble(data):
        return "small"

    def report(data):
        data.set_state("said", data.input)

    def log_audit(data):
        data.set_state("audited", True)

    flow.to(fetch).if_condition(is_big).to(shout).else_condition().to(mumble).end_condition().to(report)
    flow.when("audit").to(log_audit)
    return flow


def test_dot_text_of_a_small_flow_is_exact():
    assert tiny_flow().to_dot() == TINY_DOT


def test_mermaid_text_of_a_small_flow_is_exact():
    assert tiny_flow().to_mermaid() == TINY_MERMAID


def test_exports_are_deterministic_and_rewiring_changes_nothing():
    first, second = tiny_flow(), tiny_flow()
    assert to_dot(first) == to_dot(second) and to_mermaid(first) == to_mermaid(second)
    # A notebook cell run again: the same wiring, with the same functions, on the same flow object.
    rerun = tiny_flow()
    fetch = rerun._handlers["fetch"][0]
    shout, mumble, report = (rerun._handlers[n][0] for n in ("shout", "mumble", "report"))
    is_big = rerun._graph.nodes["if[is_big]@fetch"].branches[0].predicate
    rerun.to(fetch).if_condition(is_big).to(shout).else_condition().to(mumble).end_condition().to(report)
    assert rerun.to_dot() == TINY_DOT


def test_the_graphviz_digraph_renders_exactly_the_exported_text():
    flow = tiny_flow()
    assert flow.graph().source == flow.to_dot()
    ex = flow.start_execution(3)
    assert flow.graph(ex).source == flow.to_dot(ex)
    ex.close()


def test_an_execution_colours_every_chunk_and_adds_a_legend():
    flow = tiny_flow()
    ex = flow.start_execution(3)
    text = flow.to_dot(ex)
    ex.close()
    assert '\t"fetch" [label="fetch" fillcolor="#b7e4c7"]\n' in text  # done
    assert '\t"mumble" [label="mumble" fillcolor="#b7e4c7"]\n' in text  # the arm taken
    assert '\t"shout" [label="shout" fillcolor="#ffffff"]\n' in text  # not run
    assert '\t"if[is_big]@fetch" [label="if" shape=diamond fillcolor="#ffffff"]\n' in text  # blocks have no status
    assert '\t"when:audit" [label="when audit" shape=hexagon fillcolor="#ede4fb"]\n' in text  # events never do
    legend = [line for line in text.splitlines() if line.startswith('\t"$legend"')]
    assert len(legend) == 1
    for colour, title in [("#ffffff", "not run"), ("#ffe08a", "running"), ("#b7e4c7", "done"),
                          ("#f4a6a6", "failed"), ("#a9d6f5", "waiting (interrupt)"), ("#d9d9d9", "cancelled")]:
        assert f'<td bgcolor="{colour}">{title}</td>' in legend[0]
    assert "$legend" not in flow.to_dot()  # no execution, no legend


def test_an_execution_of_another_flow_is_refused():
    flow, other = tiny_flow(), tiny_flow()
    ex = other.start_execution(3)
    with pytest.raises(ValueError, match="belongs to flow 'tiny'.*execution.flow.graph"):
        flow.to_dot(ex)
    ex.close()


def _patterns_flow() -> tuple[TriggerFlow, TriggerFlow]:
    child = TriggerFlow(name="child")
    child.to(lambda d: d.input, name="echo")
    flow = TriggerFlow(name="patterns")

    def route(data):
        return data.input

    def on_a(data):
        return "A"

    def on_other(data):
        return "?"

    def items(data):
        return [1, 2, 3]

    def double(data):
        return data.input * 2

    def left(data):
        return 1

    def right(data):
        return 2

    def done(data):
        return data.input

    (flow.to(route).match().case("a").to(on_a).case_else().to(on_other).end_match()
         .to(items).for_each(concurrency=2).to(double).end_for_each()
         .batch(("l", left), ("r", right)).to(done))
    flow.when({"chunk": "done"}).to_sub_flow(child, name="child_step")
    flow.when(["x", "y"], mode="and").to(lambda d: None, name="joined")
    flow.when({"state": "said"}).to(lambda d: None, name="on_said")
    return flow, child


def test_match_for_each_batch_sub_flow_and_joins_are_drawn():
    flow, _child = _patterns_flow()
    text = flow.to_dot()
    # match cases label the arms; a match without case_else would add an "otherwise" edge
    assert '\t"match@route" -> "on_a" [label="== \'a\'"]\n' in text
    assert '\t"match@route" -> "on_other" [label="else"]\n' in text
    assert '\t"on_a" -> "items"\n' in text and '\t"on_other" -> "items"\n' in text
    # for_each: a cluster holding the block and its body; the body's end goes on
    assert ('\tsubgraph "cluster_for_each@items" {\n'
            '\t\tgraph [label="per item" fontsize=10 style="rounded,dashed" color="#7a8ca3"]\n'
            '\t\t"for_each@items" [label="for_each, 2 at a time" shape=trapezium fillcolor="#eef3f8"]\n'
            '\t\t"double" [label="double"]\n'
            '\t}\n') in text
    assert '\t"for_each@items" -> "double" [label="each item"]\n' in text
    assert '\t"double" -> "batch[l,r]@for_each@items"\n' in text
    # batch: parallel branches labelled by name, both feeding what follows
    assert '\t"batch[l,r]@for_each@items" -> "left" [label="l"]\n' in text
    assert '\t"left" -> "done"\n' in text and '\t"right" -> "done"\n' in text
    # a `when` on a chunk: dashed from that chunk; the sub-flow is a cluster of the child's own graph
    assert '\t"done" -> "when:$chunk:done" [label="done" style=dashed]\n' in text
    assert '\tsubgraph "cluster_child_step" {\n' in text
    assert '\t\t"child_step/echo" [label="echo"]\n' in text
    assert '\t"child_step" -> "child_step/$start" [label="runs" style=dashed]\n' in text
    assert '\t"child_step/$start" -> "child_step/echo"\n' in text
    assert '\t"when:and(x,y)" [label="when all of: x, y" shape=hexagon fillcolor="#ede4fb"]\n' in text
    assert '\t"when:$state:said" [label="when state said set" shape=hexagon fillcolor="#ede4fb"]\n' in text


def test_mermaid_draws_the_same_groups_and_edges():
    flow, _child = _patterns_flow()
    text = to_mermaid(flow)
    lines = text.splitlines()
    ids = {}
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("n") and "\"" in stripped and "->" not in stripped:
            node_id, _, rest = stripped.partition('"')
            ids[rest.split('"')[0]] = node_id.rstrip("([{/")
    assert '    subgraph g0 ["per item"]' in lines
    assert '    subgraph g1 ["parallel branches"]' in lines
    assert '    subgraph g2 ["sub-flow child"]' in lines
    assert f'    {ids["for_each, 2 at a time"]} -->|"each item"| {ids["double"]}' in lines
    assert f'    {ids["done"]} -.->|"done"| {ids["when done done"]}' in lines
    assert f'    {ids["match"]} -->|"== \'a\'"| {ids["on_a"]}' in lines
    # as many edges as the DOT export
    assert sum("-->" in l or "-.->" in l for l in lines) == sum(" -> " in l for l in flow.to_dot().splitlines())


def test_names_with_quotes_and_backslashes_stay_literal_and_parse():
    from triggerflow_nb.export.svg import render_svg

    flow = TriggerFlow(name='say "hi"')
    flow.to(lambda d: 1, name='quote " inside').to(lambda d: 2, name="ends with \\").to(lambda d: 3, name="\\N")
    text = flow.to_dot()
    assert '\t"quote \\" inside" [label="quote \\" inside"]\n' in text
    assert '\t"ends with \\\\" [label="ends with \\\\"]\n' in text
    svg = render_svg(dot_body(flow))  # real `dot`: a syntax error would raise
    assert "quote &quot; inside" in svg and "ends with \\<" in svg and ">\\N<" in svg
    assert 'n0(["START"])' in flow.to_mermaid() and '["quote #quot; inside"]' in flow.to_mermaid()


def test_a_sub_flow_cycle_is_drawn_once():
    a, b = TriggerFlow(name="a"), TriggerFlow(name="b")
    a.to(lambda d: 1, name="a1").to_sub_flow(b, name="to_b")
    b.to(lambda d: 1, name="b1").to_sub_flow(a, name="to_a")
    text = a.to_dot()
    assert '"to_b/to_a" [label="to_a (sub-flow a), drawn above" shape=component fillcolor="#eef3f8"]' in text
    assert text.count("subgraph") == 1
