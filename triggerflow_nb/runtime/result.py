"""``execution.result``: one execution's outcome, read without a second store."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..layers.state import copy_state_value

if TYPE_CHECKING:
    from .execution import TriggerFlowExecution


class ExecutionResult:
    __slots__ = ("_execution",)

    def __init__(self, execution: "TriggerFlowExecution"):
        self._execution = execution

    def get_state(self, key: str | None = None, default: Any = None) -> Any:
        """Live state before close, the frozen close snapshot after; always a copy."""
        state = self._execution._state  # frozen once closed: writes are refused then
        if key is None:
            return copy_state_value(state)
        return copy_state_value(state.get(key, default))

    def get_meta(self) -> dict[str, Any]:
        ex = self._execution
        return {
            "execution_id": ex.id,
            "flow_name": ex.flow.name,
            "status": ex.status,
            "lifecycle_state": ex.lifecycle_state,
            "created_at": ex.created_at,
            "started_at": ex.started_at,
            "closed_at": ex.closed_at,
            "close_reason": ex._close_reason,
            "resource_keys": ex._resources.keys(),
            "error": None if ex._error is None else f"{type(ex._error).__name__}: {ex._error}",
        }

    def __repr__(self) -> str:
        meta = self.get_meta()
        return f"<ExecutionResult {meta['status']}/{meta['lifecycle_state']} state_keys={list(self.get_state())}>"
