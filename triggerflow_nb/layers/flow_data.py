"""flow_data: one dict shared by every execution of a flow object.

Shared mutable scope is risky (parallel executions clobber each other, it is not
saved), so every access warns unless the caller says ``no_warning=True``.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable
from typing import Any

from ..errors import InvalidArgumentError
from .state import append_value, copy_state_value, to_state_value

_WARNING = (
    "flow_data is shared by every execution of flow {flow!r} and is not saved: {op}({key!r}) may race "
    "with other executions. Use execution state (data.set_state / data.get_state) for per-execution "
    "values, or pass no_warning=True if flow-wide sharing is intended."
)


class FlowData:
    """The flow-wide store. ``on_write(op, key)`` lets the owner publish observation events."""

    __slots__ = ("_values", "_flow_name", "on_write")

    def __init__(self, flow_name: str):
        self._values: dict[str, Any] = {}
        self._flow_name = flow_name
        self.on_write: Callable[[str, str, Any], None] | None = None

    def _check_key(self, key: Any) -> None:
        if not isinstance(key, str):  # the rule of state keys
            raise InvalidArgumentError(f"flow_data keys must be strings, got {key!r}")

    def _warn(self, op: str, key: str, no_warning: bool, stacklevel: int) -> None:
        if no_warning:
            return
        # warn_explicit with a fresh registry: Python's "default" filter would otherwise show
        # a location's warning only once, and this one must show on every call. No
        # module_globals: a notebook cell's globals have __spec__ = None, which Python 3.12+
        # refuses there (ValueError); linecache already holds the source of cells and files.
        frame = sys._getframe(stacklevel - 1)
        warnings.warn_explicit(
            _WARNING.format(flow=self._flow_name, op=op, key=key), RuntimeWarning,
            frame.f_code.co_filename, frame.f_lineno, module=frame.f_globals.get("__name__", "<unknown>"),
            registry={},
        )

    def get(self, key: str, default: Any = None, *, no_warning: bool = False, stacklevel: int = 4) -> Any:
        self._warn("get_flow_data", key, no_warning, stacklevel)
        return copy_state_value(self._values.get(key, default))

    def set(self, key: str, value: Any, *, no_warning: bool = False, stacklevel: int = 4, source: Any = None) -> None:
        self._check_key(key)
        self._warn("set_flow_data", key, no_warning, stacklevel)
        self._values[key] = to_state_value(key, value)
        if self.on_write is not None:
            self.on_write("set", key, source)

    def append(self, key: str, value: Any, *, no_warning: bool = False, stacklevel: int = 4,
               source: Any = None) -> None:
        self._check_key(key)
        self._warn("append_flow_data", key, no_warning, stacklevel)
        append_value(self._values, key, value)
        if self.on_write is not None:
            self.on_write("append", key, source)

    def delete(self, key: str, *, no_warning: bool = False, stacklevel: int = 4, source: Any = None) -> None:
        self._check_key(key)
        self._warn("del_flow_data", key, no_warning, stacklevel)
        self._values.pop(key, None)
        if self.on_write is not None:
            self.on_write("del", key, source)

    def snapshot(self) -> dict[str, Any]:
        """A copy for display; never warns (used by the notebook panel, not by user code)."""
        return copy_state_value(self._values)
