"""``SavedExecution``: what ``execution.save()`` returns.

A plain JSON-compatible dict that also shows a readable summary in Jupyter. Kept
apart from the pydantic schema so that saving never pays for importing it.
"""

from __future__ import annotations

from ..runtime.snapshot import SCHEMA_VERSION, SNAPSHOT_KIND
from .saved_html import render_saved_html

__all__ = ["SCHEMA_VERSION", "SNAPSHOT_KIND", "SavedExecution"]


class SavedExecution(dict):
    """A saved execution: a plain JSON-compatible dict that also shows a readable summary in Jupyter."""

    def _repr_html_(self) -> str:
        return render_saved_html(self)

    def __repr__(self) -> str:
        return (f"<saved execution {self.get('execution_id', '?')[:8]} of flow {self.get('flow_name')!r}: "
                f"{self.get('status')}, state keys {list(self.get('state', {}))}, "
                f"{sum(1 for i in self.get('interrupts', []) if i.get('status') == 'waiting')} pending interrupt(s), "
                f"resources {self.get('resource_keys')}>")
