"""What a watch panel shows where no widget can run: one HTML page and one plain text.

GitHub, nbviewer, an HTML export read offline and a JupyterLab without a kernel (or
with an untrusted notebook) cannot draw ipywidgets; they show the ``text/html`` or
``text/plain`` next to the widget in the same output. This renders them from the
execution itself (status, start input, the three layers, progress, pending interrupts,
the last stream items, the graph coloured by status), so they say what the panel says.
Nothing here is random: the graph is drawn without per-widget ids and travels as an
``<img>`` (a data URI), which sanitizing viewers keep and which cannot clash with
another SVG on the page.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from typing import Any

from ..export.dot import dot_body
from ..export.html import esc, preview, table
from ..export.svg import GraphvizUnavailable, fallback_text, render_svg
from .theme import ACCENT, MUTED, lifecycle_badge, notice_colours, status_badge

STATE_ROWS = 200  # as many as the panel's table shows


def start_input_text(execution: Any, limit: int = 60) -> str | None:
    """A short repr of the value the execution started with; None before a start (or after a load)."""
    if execution.started_at is None or (execution.loaded_from is not None and execution.start_input is None):
        return None
    return preview(execution.start_input, limit)


def start_input_html(execution: Any) -> str:
    """The start input as a muted span for the panel header ('' before a start)."""
    text = start_input_text(execution)
    if text is None:
        return ""
    return f' <span style="color:{MUTED};font-size:11px">input <code>{esc(text)}</code></span>'


def _heading(title: str, note: str) -> str:
    return (f'<div style="font-weight:600;margin:4px 0">{esc(title)} '
            f'<span style="color:{ACCENT};font-size:11px;font-weight:400">{esc(note)}</span></div>')


def _layers(execution: Any) -> tuple[list[tuple[str, str]], list[tuple[str, str]], list[tuple[str, str, str, str]]]:
    state = [(key, preview(value, 70)) for key, value in execution.result.get_state().items()]
    flow_data = [(key, preview(value, 60)) for key, value in execution.flow.peek_flow_data().items()]
    resources = [(key, str(info.get("type", "?")), str(info.get("level", "")),
                  "managed" if info.get("managed") else "unmanaged")
                 for key, info in execution.runtime_resources.describe().items()]
    return state, flow_data, resources


def graph_image(execution: Any) -> str:
    """The flow coloured by the execution's node status, as an <img>, or its DOT text if Graphviz is missing."""
    body = dot_body(execution.flow, execution)
    try:
        svg = render_svg(body)
    except GraphvizUnavailable as exc:
        return f'<pre style="font-size:11px">{esc(fallback_text(exc.reason, body))}</pre>'
    data = base64.b64encode(svg.encode("utf-8")).decode("ascii")
    return (f'<img class="tf-static-graph" alt="graph of flow {esc(execution.flow.name)}" '
            f'style="max-width:100%" src="data:image/svg+xml;base64,{data}">')


def graph_bundle(execution: Any) -> dict[str, str]:
    """A live graph's fallback: the picture, and the node statuses as text."""
    statuses = execution.node_status()
    listed = ", ".join(f"{node} {status}" for node, status in statuses.items()) or "nothing has run"
    return {"text/html": graph_image(execution),
            "text/plain": f"graph of flow {execution.flow.name!r}, execution {execution.id} "
                          f"({execution.status}): {listed}"}


def render_html(execution: Any, *, notices: Iterable[tuple[str, str]] = (), progress: Iterable[str] = (),
                stream_items: int = 20, graph: bool = True) -> str:
    state, flow_data, resources = _layers(execution)
    lifecycle, status = execution.lifecycle_state, execution.status
    header = (f'<b>{esc(execution.flow.name)}</b> <code style="font-size:11px">{esc(execution.id)}</code>'
              f"{lifecycle_badge(lifecycle)}{status_badge(status)}{start_input_html(execution)}")
    reason = execution.result.get_meta().get("close_reason")
    if reason:
        header += f'<div style="color:{MUTED};font-size:11px">{esc(reason)}</div>'
    parts = [f"<div>{header}</div>"]
    for level, text in notices:
        background, ink = notice_colours(level)
        parts.append(f'<div style="background:{background};color:{ink};padding:4px 8px;margin:2px 0;'
                     f'border-radius:4px;font-size:12px;white-space:pre-wrap">'
                     f'{"✖" if level == "error" else "⚠"} {esc(text)}</div>')
    shown = state[:STATE_ROWS]
    state_table = table(["key", "value"], [[f"<code>{esc(k)}</code>", f"<code>{esc(v)}</code>"] for k, v in shown],
                        "no state yet")
    if len(state) > len(shown):
        state_table += f'<div style="color:{MUTED};font-size:11px">… and {len(state) - len(shown)} more keys</div>'
    columns = [
        ("300px", _heading("state", "this execution; saved") + state_table),
        ("220px", _heading("flow_data", "shared by all executions, not saved")
         + table(["key", "value"], [[f"<code>{esc(k)}</code>", esc(v)] for k, v in flow_data], "no flow_data")),
        ("auto", _heading("runtime_resources", "live, not saved")
         + table(["key", "type", "level", ""],
                 [[f"<code>{esc(k)}</code>", f"<code>{esc(t)}</code>", esc(lv), esc(m)] for k, t, lv, m in resources],
                 "no resources")),
    ]
    parts.append('<div class="tf-static-layers" style="display:flex;flex-wrap:wrap;align-items:flex-start">'
                 + "".join(f'<div style="flex:1 1 {basis};min-width:240px;margin:0 12px 4px 0">{body}</div>'
                           for basis, body in columns)
                 + "</div>")
    progress = list(progress)
    if progress:
        parts.append(f'<pre class="tf-static-progress" style="margin:4px 0;font-size:12px">'
                     f'{esc(chr(10).join(progress))}</pre>')
    pending = execution.get_pending_interrupts()
    if pending:
        rows = [[f"<code>{esc(i)}</code>", esc(p.get("type")), f"<code>{esc(p.get('chunk'))}</code>",
                 f"<code>{esc(preview(p.get('payload'), 120))}</code>"] for i, p in pending.items()]
        parts.append(_heading("pending interrupts", "continue with execution.continue_with(id, reply)")
                     + table(["id", "type", "chunk", "payload"], rows, ""))
    total = execution.stream_length
    if total:
        items = execution.get_stream_items(stream_items)
        first = total - len(items)
        note = f"{total} item{'s' if total != 1 else ''}" + (f", last {len(items)} shown" if first else "")
        parts.append(_heading("runtime stream", note) + f'<ol start="{first + 1}" style="margin:0;font-size:12px">'
                     + "".join(f"<li>{esc(preview(item, 200))}</li>" for item in items) + "</ol>")
    if graph:
        parts.append(graph_image(execution))
    return ('<div class="tf-static-panel" style="font-family:var(--jp-ui-font-family, system-ui, sans-serif);'
            'font-size:13px">' + "".join(parts) + "</div>")


def render_text(execution: Any, *, notices: Iterable[tuple[str, str]] = (), progress: Iterable[str] = (),
                stream_items: int = 20) -> str:
    state, flow_data, resources = _layers(execution)
    lines = [f"flow {execution.flow.name!r} · execution {execution.id} · {execution.lifecycle_state} · "
             f"{execution.status}"]
    started_with = start_input_text(execution)
    if started_with is not None:
        lines.append(f"input: {started_with}")
    reason = execution.result.get_meta().get("close_reason")
    if reason:
        lines.append(f"close reason: {reason}")
    lines += [f"{'✖' if level == 'error' else '⚠'} {text}" for level, text in notices]
    lines.append("state (this execution; saved):" + ("" if state else " none"))
    lines += [f"  {key} = {text}" for key, text in state[:STATE_ROWS]]
    if len(state) > STATE_ROWS:
        lines.append(f"  … and {len(state) - STATE_ROWS} more keys")
    lines.append("flow_data (shared by all executions, not saved):" + ("" if flow_data else " none"))
    lines += [f"  {key} = {text}" for key, text in flow_data]
    lines.append("runtime_resources (live, not saved):" + ("" if resources else " none"))
    lines += [f"  {key}: {type_name} ({level}, {managed})" for key, type_name, level, managed in resources]
    progress = list(progress)
    if progress:
        lines.append("progress:")
        lines += [f"  {line}" for line in progress]
    for interrupt_id, pending in execution.get_pending_interrupts().items():
        lines.append(f"pending interrupt {interrupt_id}: {pending.get('type')} in {pending.get('chunk')!r}, "
                     f"payload {preview(pending.get('payload'), 120)}")
    total = execution.stream_length
    if total:
        items = execution.get_stream_items(stream_items)
        lines.append(f"runtime stream ({total} item{'s' if total != 1 else ''}"
                     + (f", last {len(items)} shown):" if total > len(items) else "):"))
        lines += [f"  {total - len(items) + n}. {preview(item, 200)}" for n, item in enumerate(items, 1)]
    return "\n".join(lines)


def panel_bundle(execution: Any, *, notices: Iterable[tuple[str, str]] = (), progress: Iterable[str] = (),
                 stream_items: int = 20, graph: bool = True) -> dict[str, str]:
    """``text/html`` and ``text/plain`` of the panel of ``execution`` as it stands now."""
    notices, progress = list(notices), list(progress)
    return {
        "text/html": render_html(execution, notices=notices, progress=progress, stream_items=stream_items,
                                 graph=graph),
        "text/plain": render_text(execution, notices=notices, progress=progress, stream_items=stream_items),
    }
