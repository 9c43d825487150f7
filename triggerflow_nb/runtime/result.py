"""``ExecutionResult``: ``execution.result``, the read-only view of a run's state and meta."""

from __future__ import annotations

from typing import Any, Protocol

from .host import FlowHost
from .lifecycle import Lifecycle
from .resource_host import ResourceHost
from .snapshot import error_text
from .state_store import StateStore


class RunRecord(Protocol):
    """What the meta shows of the execution itself (``Execution``, which builds this view)."""

    id: str
    flow: FlowHost
    created_at: float
    started_at: float | None


class ExecutionResult:
    __slots__ = ("_execution", "_lifecycle", "_state", "_resources")

    def __init__(self, execution: RunRecord, lifecycle: Lifecycle, state: StateStore, resources: ResourceHost):
        self._execution = execution
        self._lifecycle = lifecycle
        self._state = state
        self._resources = resources

    def get_state(self, key: str | None = None, default: Any = None) -> Any:
        """Live state before close, the frozen close snapshot after; always a copy."""
        return self._state.get(key, default)  # frozen once closed: writes are refused then

    def has_state(self, key: str) -> bool:
        return key in self._state.values

    def state_keys(self) -> list[str]:
        return list(self._state.values)

    def get_meta(self) -> dict[str, Any]:
        execution, lifecycle = self._execution, self._lifecycle
        return {
            "execution_id": execution.id,
            "flow_name": execution.flow.name,
            "status": lifecycle.current_status(),
            "lifecycle_state": lifecycle.state,
            "created_at": execution.created_at,
            "started_at": execution.started_at,
            "closed_at": lifecycle.closed_at,
            "close_reason": lifecycle.close_reason,
            "resource_keys": self._resources.resources.keys(),
            "error": error_text(lifecycle.error),
            "release_error": None if lifecycle.release_error is None else str(lifecycle.release_error),
        }

    def __repr__(self) -> str:
        meta = self.get_meta()
        return f"<ExecutionResult {meta['status']}/{meta['lifecycle_state']} state_keys={self.state_keys()}>"
