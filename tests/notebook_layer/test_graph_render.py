"""Rendering with the real `dot`: chunk names, status colours, the live graph, and the no-dot fallback."""

from __future__ import annotations

import html
import re
import shutil

import pytest

from triggerflow_nb import ChunkError, TriggerFlow
from triggerflow_nb.export import svg as graph_view
from triggerflow_nb.export.palette import STATUS_COLOURS
from triggerflow_nb.notebook import live_graph
from triggerflow_nb.notebook.live_graph import LiveGraph

pytestmark = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz `dot` is not installed")

DONE, FAILED, WAITING, NOT_RUN, RUNNING = (STATUS_COLOURS[s] for s in ("done", "failed", "waiting", "not run",
                                                                         "running"))


def node_fills(svg: str) -> dict[str, str]:
    """Node title (its DOT id) -> the fill of its shape."""
    fills = {}
    for match in re.finditer(r'<g id="[^"]*" class="node">\s*<title>(.*?)</title>(.*?)</g>', svg, re.S):
        fill = re.search(r'fill="([^"]+)"', match.group(2))
        fills[html.unescape(match.group(1))] = fill.group(1)
    return fills


def status_flow() -> TriggerFlow:
    flow = TriggerFlow(name="statuses")

    def first(data):
        return 1

    async def ask(data):
        await data.async_pause_for(type="approve", payload={"q": "ok?"})

    def after_ask(data):
        return 2

    def explode(data):
        raise RuntimeError("boom")

    flow.to(first).to(ask).to(after_ask)
    flow.when("go").to(explode)
    return flow


def finished_with_every_status():
    flow = status_flow()
    ex = flow.start_execution(0)  # first: done; ask: waiting on its interrupt
    with pytest.raises(ChunkError, match="explode"):
        ex.emit("go")  # explode: failed (the execution fails); after_ask never runs
    assert ex.node_status() == {"first": "done", "ask": "waiting", "explode": "failed"}
    return flow, ex


def test_a_displayed_flow_is_an_svg_naming_every_chunk():
    from IPython.core.formatters import DisplayFormatter

    flow = status_flow()
    bundle, _metadata = DisplayFormatter().format(flow)  # what a notebook cell does with `flow`
    svg = bundle["image/svg+xml"]
    assert svg.lstrip().startswith("<svg")
    for chunk in ("first", "ask", "after_ask", "explode", "when go"):
        assert f">{chunk}</text>" in svg
    assert bundle["text/plain"] == "<TriggerFlow 'statuses': 4 chunks>"


def test_the_rendered_svg_colours_done_failed_waiting_and_not_run():
    flow, ex = finished_with_every_status()
    svg = graph_view.render_svg(graph_view.flow_digraph(flow, ex).body)
    fills = node_fills(svg)
    assert fills["first"] == DONE
    assert fills["ask"] == WAITING
    assert fills["explode"] == FAILED
    assert fills["after_ask"] == NOT_RUN
    for title in ("not run", "running", "done", "failed", "waiting (interrupt)", "cancelled"):
        assert f">{title}</text>" in svg  # the legend


def test_the_live_graph_shows_the_same_colours_as_a_fresh_render():
    flow, ex = finished_with_every_status()
    live = LiveGraph(ex)
    fresh = node_fills(graph_view.render_svg(graph_view.flow_digraph(flow, ex).body))
    assert node_fills(live.value) == fresh
    assert not live.value.count("<?xml")  # an SVG fragment, embeddable in HTML


def test_the_live_graph_follows_a_run_and_shows_a_running_chunk():
    flow = TriggerFlow(name="live")
    seen = {}

    def look(data):
        live.refresh()  # what a coalesced flush does while this chunk runs
        seen["while running"] = node_fills(live.value)["look"]
        return 1

    flow.to(look).to(lambda d: 2, name="next_step")
    ex = flow.create_execution(auto_close=False)
    live = LiveGraph(ex)
    assert node_fills(live.value) == {"$start": "#333333", "look": NOT_RUN, "next_step": NOT_RUN, "$legend": "#ffffff"}
    ex.start(0)
    assert seen["while running"] == RUNNING
    ex.close()  # the close event makes the live graph redraw once more, then stop following
    assert node_fills(live.value)["look"] == DONE and node_fills(live.value)["next_step"] == DONE
    assert not ex.channel


def test_the_live_graph_redraws_when_the_wiring_changes():
    flow = TriggerFlow(name="grows")
    flow.to(lambda d: 1, name="one")
    ex = flow.create_execution(auto_close=False)
    live = LiveGraph(ex, subscribe=False)
    assert ">two</text>" not in live.value
    flow.to("one").to(lambda d: 2, name="two")
    live.refresh()
    assert ">two</text>" in live.value
    ex.close()


def test_without_dot_a_flow_shows_its_dot_source_and_how_to_install(monkeypatch):
    monkeypatch.setattr(graph_view.shutil, "which", lambda name: None)
    flow = status_flow()
    bundle = flow._repr_mimebundle_()
    assert set(bundle) == {"text/plain"}
    text = bundle["text/plain"]
    first_line, _, rest = text.partition("\n\n")
    assert "apt-get install graphviz" in first_line and "conda install graphviz" in first_line
    assert "`dot` program is not on PATH" in first_line
    assert rest == flow.to_dot()
    assert "Traceback" not in text


def test_when_graphviz_cannot_find_dot_the_fallback_is_the_same(monkeypatch, tmp_path):
    # `which` is fooled, but the graphviz package really finds no `dot` on the (empty) PATH.
    monkeypatch.setattr(graph_view.shutil, "which", lambda name: "/usr/bin/dot")
    monkeypatch.setenv("PATH", str(tmp_path))
    flow = status_flow()
    bundle = graph_view.flow_mimebundle(flow)
    assert set(bundle) == {"text/plain"} and "apt-get install graphviz" in bundle["text/plain"]
    assert bundle["text/plain"].endswith(flow.to_dot())


def test_without_dot_the_live_graph_shows_the_dot_text(monkeypatch):
    monkeypatch.setattr(graph_view.shutil, "which", lambda name: None)
    live_graph._laid_out.cache_clear()  # a machine without dot never laid a graph out; this process did
    flow, ex = finished_with_every_status()
    live = LiveGraph(ex)
    assert live.value.startswith("<pre")
    assert "apt-get install graphviz" in live.value
    assert html.escape('"explode" [label="explode" fillcolor="#f4a6a6"]') in live.value


def test_panels_of_one_flow_version_share_one_layout_under_ids_of_their_own():
    """dot runs once per flow version, not once per panel; each graph keeps its own element ids
    (several share a page), and a re-wired flow is laid out anew."""
    flow, ex = finished_with_every_status()
    live_graph._laid_out.cache_clear()
    first, second = LiveGraph(ex), LiveGraph(ex)
    assert live_graph._laid_out.cache_info().misses == 1
    assert first.value != second.value
    assert first.value.replace(first._id_prefix, "ID") == second.value.replace(second._id_prefix, "ID")
    assert live_graph._LAYOUT_PREFIX not in first.value
    flow.to(lambda d: None, name="added_later")
    third = LiveGraph(flow.create_execution(auto_close=False))
    assert live_graph._laid_out.cache_info().misses == 2 and "added_later" in third.value
