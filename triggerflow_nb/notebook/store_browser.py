"""``store.browse()``: the stored executions as a table of standard ipywidgets.

The stores sit below the notebook layer and never import this module: ``browse()`` reaches
it through the views the notebook layer provides (``store_views``).

Per row: Inspect (the saved-snapshot view), Load (into a fresh execution, through the
re-injection prompt when resources are missing), Resume here (claim + load, then the live
panel and a Save & release button) and Delete (a second click confirms; refused if the row
changed meanwhile). Standard widgets only, so it works in Lab, Notebook 7, VS Code and
Binder; ``_repr_mimebundle_`` also carries a static HTML/text table for viewers without widgets.

A refresh keeps the widgets of the rows still listed (their values are reassigned; an
unchanged value sends nothing to the front end), makes widgets only for new rows and closes
those of the rows gone, so its cost is that of the page shown and nothing accumulates.
``close()`` closes every widget the browser made, the panels of Resume here included.
"""

from __future__ import annotations

import os
import time
from typing import Any, Optional

import ipywidgets as widgets

from ..errors import TriggerFlowError
from ..store.base import ExecutionStore
from ..store.errors import StoreConfigError
from ..store.records import Lease, Summary
from ..store.resume import remember_version, save_execution
from .store_table import HEADERS, row_cells, static_bundle
from .widget_tree import close_tree

ALL = "(all)"


def _flows_by_name(flows: Any) -> dict[str, Any]:
    if flows is None:
        return {}
    if isinstance(flows, dict):
        return dict(flows)
    if hasattr(flows, "create_execution"):
        flows = [flows]
    return {flow.name: flow for flow in flows}


class _Row:
    """The widgets of one execution's row, kept while the execution is listed; ``show`` brings them up to date."""

    def __init__(self, browser: StoreBrowser, summary: Summary, now: float):
        self.summary = summary
        self.cells = [widgets.Label(text) for text in row_cells(summary, now)]  # opened with their values
        self.buttons = {
            "inspect": widgets.Button(description="Inspect", tooltip="show the saved snapshot"),
            "load": widgets.Button(description="Load", tooltip="load into a fresh execution (no lease)"),
            "resume": widgets.Button(description="Resume here", disabled=not summary.pending_interrupts,
                                     tooltip="claim the lease and load it here"),
            "delete": widgets.Button(description="Delete", button_style="warning"),
        }
        execution_id = summary.execution_id
        self.buttons["inspect"].on_click(lambda _: browser.inspect(execution_id))
        self.buttons["load"].on_click(lambda _: browser.load(execution_id))
        self.buttons["resume"].on_click(lambda _: browser.resume_here(execution_id))
        self.buttons["delete"].on_click(lambda _: browser.delete(execution_id, self.summary.version))
        self.actions = widgets.HBox(list(self.buttons.values()))

    def show(self, summary: Summary, now: float) -> list[widgets.Widget]:
        """Show ``summary`` (the same execution, maybe a newer version); returns the row's cells."""
        self.summary = summary
        for label, text in zip(self.cells, row_cells(summary, now), strict=True):
            label.value = text
        self.buttons["resume"].disabled = not summary.pending_interrupts
        delete = self.buttons["delete"]  # a refresh takes back a pending "Confirm delete"
        delete.description, delete.button_style = "Delete", "warning"
        return [*self.cells, self.actions]


class StoreBrowser(widgets.VBox):
    def __init__(self, store: ExecutionStore, *, flows: Any = None, runtime_resources: Optional[dict[str, Any]] = None,
                 owner: Optional[str] = None, limit: int = 50):
        if not isinstance(store, ExecutionStore):
            raise StoreConfigError(f"StoreBrowser takes an ExecutionStore, got {type(store).__name__}")
        self.store = store
        self.flows = _flows_by_name(flows)
        self.runtime_resources = dict(runtime_resources or {})
        self.owner = owner or f"notebook-{os.getpid()}"
        self.limit = limit
        self.loaded: dict[str, Any] = {}  # execution id -> execution loaded by Load or Resume here
        self.leases: dict[str, Lease] = {}  # execution id -> lease taken by Resume here
        self.summaries: list[Summary] = []
        self.buttons: dict[str, dict[str, widgets.Button]] = {}  # execution id -> its row's buttons
        self._rows: dict[str, _Row] = {}  # execution id -> its row's widgets, while it is listed
        self._shown: dict[str, widgets.Widget] = {}  # execution id -> the panel box Resume here displayed
        self._closed = False
        self.flow_filter = widgets.Dropdown(options=[ALL], value=ALL, description="flow")
        self.pending_filter = widgets.ToggleButtons(options=["all", "waiting", "not waiting"], value="all")
        self.refresh_button = widgets.Button(description="Refresh", icon="refresh")
        self.refresh_button.on_click(lambda _: self.refresh())
        self.flow_filter.observe(lambda _: self.refresh(), names="value")
        self.pending_filter.observe(lambda _: self.refresh(), names="value")
        self._headers = [widgets.HTML(f"<b>{h}</b>") for h in HEADERS] + [widgets.HTML("")]
        self.table = widgets.GridBox(layout=widgets.Layout(grid_template_columns=f"repeat({len(HEADERS)}, auto) auto",
                                                           grid_gap="2px 10px"))
        self.status_line = widgets.HTML()
        self.detail = widgets.HTML()  # Inspect shows the snapshot here
        self.output = widgets.Output()  # prompts and panels of Load / Resume here
        super().__init__([widgets.HBox([self.flow_filter, self.pending_filter, self.refresh_button]), self.table,
                          self.status_line, self.detail, self.output])
        self.refresh()

    # -- the table -------------------------------------------------------------------------------------
    def refresh(self) -> None:
        if self._closed:
            return
        flow = None if self.flow_filter.value == ALL else self.flow_filter.value
        has_pending = {"all": None, "waiting": True, "not waiting": False}[self.pending_filter.value]
        self.summaries = list(self.store.list(flow=flow, has_pending=has_pending, limit=self.limit))
        # Options only grow: replacing them would reset the chosen value (and refresh again).
        known = set(self.flow_filter.options) - {ALL}
        names = sorted(known | {s.flow_name for s in self.summaries} | set(self.flows))
        if sorted(known) != names:
            chosen = self.flow_filter.value
            with self.flow_filter.hold_trait_notifications():
                self.flow_filter.options = [ALL, *names]
                self.flow_filter.value = chosen
        now = time.time()
        cells: list[widgets.Widget] = list(self._headers)
        rows: dict[str, _Row] = {}
        for summary in self.summaries:
            row = self._rows.pop(summary.execution_id, None) or _Row(self, summary, now)
            cells += row.show(summary, now)
            rows[summary.execution_id] = row
        dropped, self._rows = self._rows, rows
        self.buttons = {execution_id: row.buttons for execution_id, row in rows.items()}
        self.table.children = cells
        close_tree(*(widget for row in dropped.values() for widget in (*row.cells, row.actions)))
        self._say(f"{len(self.summaries)} execution(s) shown")

    def _say(self, text: str, error: bool = False) -> None:
        from ..export.html import esc

        colour = "#c53030" if error else "#2d3748"
        self.status_line.value = f'<span style="color:{colour}">{esc(text)}</span>'

    # -- row actions -----------------------------------------------------------------------------------
    def inspect(self, execution_id: str) -> None:
        from ..persistence.saved_html import render_saved_html

        try:
            stored = self.store.get(execution_id)
        except TriggerFlowError as exc:
            return self._say(str(exc), error=True)
        self.detail.value = render_saved_html(stored.snapshot)
        self._say(f"{execution_id}: version {stored.version}")

    def _flow_for(self, execution_id: str) -> Any:
        name = next((s.flow_name for s in self.summaries if s.execution_id == execution_id), None)
        flow = self.flows.get(name) if name is not None else None
        if flow is None:
            self._say(f"no flow named {name!r} given to browse(): pass flows=[flow] (built from the same "
                      f"definition) to load or resume its executions", error=True)
        return flow

    def _load(self, execution_id: str, lease: Optional[Lease]) -> Any:
        flow = self._flow_for(execution_id)
        if flow is None:
            return None
        stored = self.store.get(execution_id)
        execution = flow.create_execution(auto_close=False)
        remember_version(execution, self.store, stored.version)
        with self.output:  # in a notebook the re-injection prompt shows here when resources are missing
            execution.load(stored.snapshot, runtime_resources=self.runtime_resources or None)
        self.loaded[execution_id] = execution
        return execution

    def load(self, execution_id: str) -> Any:
        try:
            execution = self._load(execution_id, None)
        except TriggerFlowError as exc:
            return self._say(str(exc), error=True)
        if execution is not None:
            self._say(f"loaded {execution_id} into browser.loaded[{execution_id!r}] (no lease: save it back with "
                      f"save_execution(execution, store), which checks the version)")
        return execution

    def resume_here(self, execution_id: str, ttl: float = 600.0) -> Any:
        try:
            lease = self.store.claim(execution_id, self.owner, ttl)
        except TriggerFlowError as exc:
            return self._say(str(exc), error=True)
        try:
            execution = self._load(execution_id, lease)
        except BaseException as exc:
            self.store.release(lease)
            if isinstance(exc, TriggerFlowError):
                return self._say(str(exc), error=True)
            raise
        if execution is None:
            self.store.release(lease)
            return None
        self.leases[execution_id] = lease
        done = widgets.Button(description="Save & release", button_style="success")
        done.on_click(lambda _: self.save_and_release(execution_id))
        with self.output:
            from IPython.display import display

            shown = widgets.VBox([execution.watch(graph=False), done])
            display(shown)
        replaced = self._shown.pop(execution_id, None)  # the panel of an earlier Resume here of this row
        self._shown[execution_id] = shown
        close_tree(replaced)  # it followed the execution this one replaces in self.loaded
        self._say(f"{execution_id} is leased to {self.owner} for {ttl:.0f} s: continue it in the panel, then "
                  f"press Save & release")
        return execution

    def save_and_release(self, execution_id: str) -> Optional[int]:
        lease, execution = self.leases.pop(execution_id, None), self.loaded.get(execution_id)
        if lease is None or execution is None:
            self._say(f"{execution_id} is not resumed here: press Resume here first", error=True)
            return None
        try:
            version = save_execution(execution, self.store, lease=lease)
        except TriggerFlowError as exc:
            self._say(str(exc), error=True)
            return None
        finally:
            try:
                self.store.release(lease)
            except TriggerFlowError:
                pass  # lost meanwhile: the save above already said so
        self.refresh()
        self._say(f"saved {execution_id} as version {version} and released the lease")
        return version

    def delete(self, execution_id: str, version: int) -> None:
        button = self.buttons[execution_id]["delete"]
        if button.description != "Confirm delete":
            button.description, button.button_style = "Confirm delete", "danger"
            return self._say(f"press Confirm delete to remove {execution_id} (version {version})")
        try:
            self.store.delete(execution_id, expected_version=version)
        except TriggerFlowError as exc:
            self.refresh()
            return self._say(str(exc), error=True)
        self.refresh()
        self._say(f"deleted {execution_id}")

    # -- the end ---------------------------------------------------------------------------------------
    def _before_close(self) -> None:
        self._closed = True  # a filter changed after close() must not build a table again

    def close(self) -> None:
        """Close every widget of the browser: the table, the filters, and what Load / Resume here showed
        (the panels stop following their executions; loaded executions and leases are left as they are).
        Closing twice is harmless."""
        shown, self._shown = self._shown, {}
        self._rows, self.buttons = {}, {}
        close_tree(self, *shown.values())

    # -- without widgets -------------------------------------------------------------------------------
    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        bundle = dict(super()._repr_mimebundle_(include=include, exclude=exclude) or {})
        bundle.update(static_bundle(self.store, summaries=self.summaries))
        return bundle
