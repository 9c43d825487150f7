"""The new blocks in pictures: a collect is a join node naming its branches, a side branch a
dashed edge from a point on the main path, a hit_all match a "match all" diamond; the real
`dot` lays them out, and the live graph colours the collect by its status."""

from __future__ import annotations

import html
import re
import shutil

import pytest

from triggerflow_nb import TriggerFlow
from triggerflow_nb.export.mermaid import to_mermaid
from triggerflow_nb.export.palette import STATUS_COLOURS
from triggerflow_nb.export.svg import render_svg
from triggerflow_nb.notebook.live_graph import LiveGraph


def blocks_flow() -> TriggerFlow:
    flow = TriggerFlow(name="blocks")
    flow.to(lambda d: d.input, name="load").side_branch(lambda d: None, name="log") \
        .match(mode="hit_all", name="kinds").case(lambda d: d.input > 0, name="positive") \
        .to(lambda d: "pos", name="on_pos").case(2).to(lambda d: "two", name="on_two").end_match() \
        .collect("both", "kinds")
    flow.to(lambda d: d.input, name="other").collect("both", "other").to(lambda d: d, name="report")
    flow.when({"collect": "both"}).to(lambda d: d, name="heard")
    return flow


def test_dot_draws_the_collect_as_one_join_with_labelled_branch_edges():
    text = blocks_flow().to_dot()
    assert '\t"collect[both]" [label="collect both: kinds, other" shape=invtrapezium fillcolor="#eef3f8"]\n' in text
    assert '\t"on_pos" -> "collect[both]" [label="kinds"]\n' in text
    assert '\t"on_two" -> "collect[both]" [label="kinds"]\n' in text
    assert '\t"kinds" -> "collect[both]" [label="otherwise → kinds"]\n' in text
    assert '\t"other" -> "collect[both]" [label="other"]\n' in text
    assert '\t"collect[both]" -> "report"\n' in text
    assert '\t"collect[both]" -> "when:$collect:both" [label="filled" style=dashed]\n' in text
    assert '\t"when:$collect:both" [label="when collect both filled" shape=hexagon fillcolor="#ede4fb"]\n' in text
    assert "<-" not in text  # the arrival nodes are not drawn


def test_dot_draws_a_side_branch_as_a_dashed_edge_from_a_point_on_the_main_path():
    text = blocks_flow().to_dot()
    assert '\t"side[log]@load" [label="side branch" shape=point width=0.09 fillcolor="#4a5568"]\n' in text
    assert '\t"load" -> "side[log]@load"\n' in text
    assert '\t"side[log]@load" -> "log" [label="side" style=dashed]\n' in text
    assert '\t"side[log]@load" -> "kinds"\n' in text
    assert '\t"kinds" [label="match all" shape=diamond fillcolor="#fff8e6"]\n' in text
    assert '\t"kinds" -> "on_pos" [label="case positive"]\n' in text


def test_mermaid_draws_the_same_nodes_and_as_many_edges():
    flow = blocks_flow()
    lines = to_mermaid(flow).splitlines()
    assert '    n7[\\"collect both: kinds, other"/]' in lines
    assert '    n3(("side branch"))' in lines
    assert '    n3 -.->|"side"| n2' in lines
    assert '    n8 -->|"other"| n7' in lines
    assert sum("-->" in l or "-.->" in l for l in lines) == sum(" -> " in l for l in flow.to_dot().splitlines())


needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz `dot` is not installed")


def node_fills(svg: str) -> dict[str, str]:
    fills = {}
    for match in re.finditer(r'<g id="[^"]*" class="node">\s*<title>(.*?)</title>(.*?)</g>', svg, re.S):
        fill = re.search(r'fill="([^"]+)"', match.group(2))
        fills[html.unescape(match.group(1))] = fill.group(1)
    return fills


@needs_dot
def test_the_real_dot_lays_out_every_new_block():
    flow = blocks_flow()
    svg = render_svg(flow.to_dot().split("\n", 1)[1].rsplit("}", 1)[0].splitlines(keepends=True))
    assert "<title>log</title>" in svg
    assert set(node_fills(svg)) == {"$start", "load", "log", "side[log]@load", "kinds", "on_pos", "on_two",
                                    "collect[both]", "other", "report", "when:$collect:both", "heard"}


@needs_dot
def test_the_live_graph_colours_a_half_filled_collect_waiting_then_done():
    flow = TriggerFlow(name="live-collect")
    flow.to(lambda d: 1, name="one").collect("c", "one")
    flow.when("Two").collect("c", "two").to(lambda d: d, name="after")
    ex = flow.create_execution(auto_close=False)
    graph = LiveGraph(ex, subscribe=False)
    try:
        ex.start(None)
        graph.refresh()
        assert node_fills(graph.value)["collect[c]"] == STATUS_COLOURS["waiting"]
        ex.emit("Two", 2)
        graph.refresh()
        fills = node_fills(graph.value)
        assert (fills["collect[c]"], fills["after"]) == (STATUS_COLOURS["done"], STATUS_COLOURS["done"])
    finally:
        ex.close()
        graph.close()
