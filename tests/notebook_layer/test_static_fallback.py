"""Every widget the package shows carries a static text/html + text/plain that says what it shows."""

from __future__ import annotations

import base64
import re
from html import unescape

import pytest

from triggerflow_nb import ChunkError, InvalidArgumentError, TriggerFlow
from triggerflow_nb.notebook import static_fallback
from triggerflow_nb.notebook.live_graph import LiveGraph
from triggerflow_nb.notebook.panel_row import PanelRow, side_by_side
from triggerflow_nb.notebook.panel_static import panel_bundle, start_input_text

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


class Client:
    """Stands in for a live object."""


def weather_flow() -> TriggerFlow:
    flow = TriggerFlow(name="weather")

    async def ask(data):
        await data.async_set_state("forecast", {"city": data.input, "sky": "<b>sunny</b>"})
        data.put_into_stream(f"asked for {data.input}")
        data.set_flow_data("units", "metric", no_warning=True)

    flow.to(ask)
    return flow


def visible_text(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]*>", " ", html)).split())


class FakeHandle:
    def __init__(self) -> None:
        self.updates: list[dict] = []

    def update(self, obj, raw=False):
        assert raw is True
        self.updates.append(obj)


@pytest.fixture
def shown(monkeypatch):
    """IPython's display(), recorded: what was shown, and a handle per display."""
    import IPython.display

    displays: list[tuple[dict, FakeHandle]] = []

    def display(obj, raw=False, display_id=None):
        assert raw is True and display_id is True
        handle = FakeHandle()
        displays.append((obj, handle))
        return handle

    monkeypatch.setattr(IPython.display, "display", display)
    return displays


def test_the_panel_bundle_has_the_widget_and_a_readable_fallback_of_the_final_state(comm_log):
    flow = weather_flow()
    ex = flow.create_execution(runtime_resources={"client": Client()}, auto_close=False)
    panel = ex.watch()
    ex.start("Lisbon")
    ex.close()
    bundle = panel._repr_mimebundle_()
    assert set(bundle) == {WIDGET_VIEW, "text/html", "text/plain"}
    assert bundle[WIDGET_VIEW]["model_id"] == panel.model_id
    assert bundle["text/plain"] == (
        f"flow 'weather' · execution {ex.id} · closed · completed\n"
        'input: "Lisbon"\n'
        "close reason: closed\n"
        "state (this execution; saved):\n"
        '  forecast = {"city": "Lisbon", "sky": "<b>sunny</b>"}\n'
        "flow_data (shared by all executions, not saved):\n"
        '  units = "metric"\n'
        "runtime_resources (live, not saved):\n"
        f"  client: {__name__}.Client (execution, unmanaged)\n"
        "runtime stream (1 item):\n"
        "  1. \"asked for Lisbon\""
    )
    html = bundle["text/html"]
    assert "<b>sunny</b>" not in html and "&lt;b&gt;sunny&lt;/b&gt;" in html  # values are escaped
    text = visible_text(html)
    for expected in (f"weather {ex.id} closed completed input \"Lisbon\"",
                     'forecast {"city": "Lisbon", "sky": "<b>sunny</b>"}', 'units "metric"',
                     f"client {__name__}.Client execution unmanaged", "runtime stream 1 item", "asked for Lisbon"):
        assert expected in text, (expected, text)
    (image,) = re.findall(r'src="data:image/svg\+xml;base64,([^"]+)"', html)
    svg = base64.b64decode(image).decode()
    assert svg.startswith("<svg") and ">ask</text>" in svg
    assert not re.search(r'id="tf[0-9a-f]{8}n', svg), "the fallback graph carries no random per-widget ids"


def test_the_fallback_says_what_the_panel_says_before_a_start(comm_log):
    ex = weather_flow().create_execution(auto_close=False)
    bundle = ex.watch(graph=False)._repr_mimebundle_()
    assert bundle["text/plain"].splitlines()[0] == f"flow 'weather' · execution {ex.id} · open · created"
    assert "input:" not in bundle["text/plain"] and "state (this execution; saved): none" in bundle["text/plain"]
    assert "data:image/svg" not in bundle["text/html"]  # graph=False: no graph in the panel, none in the fallback
    assert start_input_text(ex) is None
    ex.close()


def test_notices_and_progress_reach_the_fallback(comm_log):
    flow = TriggerFlow(name="fan")
    flow.to(lambda d: list(range(3)), name="items").for_each(name="each_item").to(lambda d: d.input, name="body") \
        .end_for_each().to(lambda d: 1 / 0, name="divide")
    ex = flow.create_execution(auto_close=False)
    panel = ex.watch()
    with pytest.raises(ChunkError, match="division by zero"):
        ex.start([1, 2, 3])
    assert ex.is_closed()  # a failed run closes
    text = panel._repr_mimebundle_()["text/plain"]
    # one line, at the user's own line (the lambda above), as the live panel shows it
    assert re.search(r"^✖ chunk 'divide' failed at \S*test_static_fallback\.py:\d+: ZeroDivisionError: "
                     r"division by zero$", text, re.M), text
    assert re.search(r"^progress:\n  each_item: 3/3 \[00:00<00:00, (\S+ it/s|\? it/s)\]$", text, re.M), text


def test_a_long_input_is_cut_short_in_the_header(comm_log):
    ex = weather_flow().create_execution(auto_close=False)
    ex.start("x" * 500)
    assert start_input_text(ex) == '"' + "x" * 58 + "…"
    ex.close()


def test_display_then_close_replaces_the_displayed_fallback(comm_log, shown):
    ex = weather_flow().create_execution(auto_close=False)
    panel = ex.watch()
    panel._ipython_display_()
    (first, handle), = shown
    assert "· open · created" in first["text/plain"] and first[WIDGET_VIEW]["model_id"] == panel.model_id
    ex.start("Oslo")
    assert handle.updates == []  # updated at the end, not on every change
    ex.close()
    (last,) = handle.updates
    assert "· closed · completed" in last["text/plain"] and 'forecast = {"city": "Oslo"' in last["text/plain"]
    assert last[WIDGET_VIEW] == first[WIDGET_VIEW]  # the same live widget stays in the output
    assert static_fallback.refresh_all() >= 1 and len(handle.updates) == 2  # a runner's final refresh


def test_an_execution_as_a_cells_value_shows_its_panel(comm_log, shown):
    ex = weather_flow().create_execution(auto_close=False)
    ex.start("Rome")
    ex._ipython_display_()
    (bundle, _handle), = shown
    assert WIDGET_VIEW in bundle
    assert bundle["text/plain"].splitlines()[:2] == [f"flow 'weather' · execution {ex.id} · open · idle",
                                                     'input: "Rome"']
    ex.close()


def test_a_closed_widget_keeps_its_last_fallback(comm_log, shown):
    ex = weather_flow().create_execution(auto_close=False)
    panel = ex.watch()
    panel._ipython_display_()
    panel.close()
    assert panel.refresh_static_fallback() == 0
    ex.close()


def test_side_by_side_shows_both_fallbacks_and_refreshes_when_either_closes(comm_log, shown):
    flow = weather_flow()
    a, b = flow.create_execution(auto_close=False), flow.create_execution(auto_close=False)
    row = side_by_side(a.watch(), b)
    assert isinstance(row, PanelRow) and [p.execution for p in row.panels] == [a, b]
    row._ipython_display_()
    (first, handle), = shown
    assert first["text/plain"].count("· open · created") == 2
    a.start("Ana")
    a.close()
    (after_a,) = handle.updates
    assert after_a["text/plain"].count("· closed · completed") == 1
    b.start("Bo")
    b.close()
    assert handle.updates[-1]["text/plain"].count("· closed · completed") == 2
    assert visible_text(handle.updates[-1]["text/html"]).count("forecast") == 2


@pytest.mark.parametrize(("args", "message"), [
    ((), "side_by_side() takes two or more panels (execution.watch()), got 0"),
    (("x", "y"), "side_by_side() takes execution panels (execution.watch()) or executions, got str"),
])
def test_side_by_side_refuses_what_it_cannot_show(comm_log, args, message):
    with pytest.raises(InvalidArgumentError) as caught:
        side_by_side(*args)
    assert str(caught.value) == message


def test_side_by_side_refuses_one_panel_twice(comm_log):
    panel = weather_flow().create_execution(auto_close=False).watch()
    with pytest.raises(InvalidArgumentError, match="got the same panel twice"):
        side_by_side(panel, panel)
    with pytest.raises(InvalidArgumentError, match="two or more"):
        side_by_side(panel)


def test_the_live_graph_falls_back_to_the_coloured_picture(comm_log, shown):
    ex = weather_flow().create_execution(auto_close=False)
    graph = LiveGraph(ex)
    graph._ipython_display_()
    (first, handle), = shown
    assert first["text/plain"] == f"graph of flow 'weather', execution {ex.id} (created): nothing has run"
    ex.start("Oslo")
    ex.close()
    (last,) = handle.updates
    assert last["text/plain"] == f"graph of flow 'weather', execution {ex.id} (completed): ask done"
    assert last["text/html"].startswith('<img class="tf-static-graph" alt="graph of flow weather"')


def test_without_graphviz_the_fallback_carries_the_dot_text(comm_log, monkeypatch):
    ex = weather_flow().create_execution(auto_close=False)
    monkeypatch.setenv("PATH", "/nonexistent")
    html = panel_bundle(ex)["text/html"]
    assert "data:image/svg" not in html and "the `dot` program is not on PATH" in html and "digraph {" in html
    ex.close()


def test_a_failing_fallback_never_hides_the_widget(comm_log, monkeypatch, caplog):
    ex = weather_flow().create_execution(auto_close=False)
    panel = ex.watch()

    def broken():
        raise ValueError("boom")

    monkeypatch.setattr(panel, "static_bundle", broken)
    bundle = panel._repr_mimebundle_()
    assert WIDGET_VIEW in bundle and "text/html" not in bundle
    assert "the static fallback of a ExecutionPanel failed: ValueError('boom')" in caplog.text
    ex.close()
