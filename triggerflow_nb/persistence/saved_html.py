"""How a saved execution (the dict ``execution.save()`` returns) displays in a notebook.

A summary a person can read at a glance: which flow and execution, its status, the
state keys with short previews, pending interrupts, and the resources that must be
re-injected after ``load()``. Every value is escaped and cut short; a partial or
odd snapshot still renders (the loader, not the display, judges validity).
"""

from __future__ import annotations

import datetime
from typing import Any

from ..export.html import esc, preview, table
from ..reproducibility import TIME_HIDDEN, shows_wall_clock

_PREVIEW = 120


def render_saved_html(saved: dict[str, Any]) -> str:
    get = saved.get if isinstance(saved, dict) else (lambda key, default=None: default)
    recorded_state = get("state")
    state: dict[str, Any] = recorded_state if isinstance(recorded_state, dict) else {}
    interrupts = [i for i in (get("interrupts") or []) if isinstance(i, dict)]
    recorded = get("resources")
    resources: dict[str, Any] = dict(recorded) if isinstance(recorded, dict) else {}  # a copy: never edit the save
    for key in get("resource_keys") or []:  # keys recorded without a description still need re-injection
        resources.setdefault(key, {})

    title = (f"<b>saved execution</b> of flow <b>{esc(get('flow_name', '?'))}</b> "
             f"<code style='font-size:11px'>{esc(get('execution_id', '?'))}</code>")
    facts = [
        f"status <b>{esc(get('status', '?'))}</b>, lifecycle <b>{esc(get('lifecycle_state', '?'))}</b>",
        f"saved {esc(_when(get('saved_at')))}",
        f"schema v{esc(get('schema_version', '?'))}",
    ]
    state_rows = [[f"<code>{esc(k)}</code>", f"<code>{esc(preview(v, _PREVIEW))}</code>"] for k, v in state.items()]
    interrupt_rows = [
        [f"<code>{esc(i.get('id', '?'))}</code>", esc(i.get("type", "")), f"<code>{esc(i.get('chunk', ''))}</code>",
         esc(preview(i.get("resume_to"), 40)), f"<code>{esc(preview(i.get('payload'), _PREVIEW))}</code>",
         esc(i.get("status", ""))]
        for i in interrupts
    ]
    resource_rows = [
        [f"<code>{esc(k)}</code>", f"<code>{esc((d or {}).get('type', 'unrecorded'))}</code>",
         esc((d or {}).get("level", "")), "managed" if (d or {}).get("managed") else "unmanaged"]
        for k, d in resources.items()
    ]
    sections = [
        f"<div>{title}</div>",
        f"<div style='color:#4a5568;font-size:12px'>{' · '.join(facts)}</div>",
        _section(f"state ({len(state)} key{'s' if len(state) != 1 else ''})",
                 table(["key", "value"], state_rows, "empty")),
    ]
    if interrupt_rows:
        sections.append(_section(
            f"pending interrupts ({len(interrupt_rows)}): resume with execution.continue_with(id, payload) after load",
            table(["id", "type", "chunk", "resumes to", "payload", "status"], interrupt_rows, "none")))
    if resource_rows:
        sections.append(_section(
            "runtime resources: not saved, inject them again when loading "
            "(load(saved, runtime_resources={...}))",
            table(["key", "recorded type", "level", ""], resource_rows, "none")))
    sections.append("<div style='color:#718096;font-size:11px'>flow_data and live objects are never part "
                    "of a save.</div>")
    return ("<div style='border:1px solid #cbd5e0;border-radius:6px;padding:6px 10px;font-size:13px'>"
            + "".join(sections) + "</div>")


def _section(title: str, body: str) -> str:
    return f"<div style='margin-top:6px'><div style='font-weight:600'>{esc(title)}</div>{body}</div>"


def _when(value: Any) -> str:
    """Epoch seconds as a UTC timestamp (left out in reproducible mode); anything else as given."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not shows_wall_clock():
            return TIME_HIDDEN
        try:
            return datetime.datetime.fromtimestamp(value, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        except (OverflowError, OSError, ValueError):
            pass
    return "at an unknown time" if value is None else str(value)
