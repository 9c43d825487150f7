"""Execution-local, serializable state.

Serializability is enforced when a value is written (the boundary), so the close
snapshot and ``save()`` never meet a value they cannot store.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from ..errors import StateSerializationError

_SCALARS = (str, int, float, bool, type(None))

# The reserved key behind the deprecated flow.end() / set_result() / get_result().
FINAL_RESULT_KEY = "$final_result"


def to_state_value(key: str, value: Any) -> Any:
    """Return ``value`` as plain JSON-compatible data, or raise StateSerializationError.

    Containers are rebuilt, so state never aliases an object the chunk keeps mutating.
    Pydantic models and dataclasses are stored as their dicts.
    """
    kind = type(value)
    if kind in _PLAIN_SCALARS:  # the common case, kept cheap
        return value
    try:
        return _plain_copy(value)
    except _NeedsConversion:
        return _convert(key, value, "value")
    except RecursionError:
        raise _too_deep(key) from None


def to_state_dict(values: dict[str, Any]) -> dict[str, Any]:
    """``to_state_value`` over a whole state dict: one fast pass when it is plain data."""
    try:
        return _plain_copy(values)
    except (_NeedsConversion, RecursionError):  # redo it key by key, so the error names the key at fault
        return {key: to_state_value(key, value) for key, value in values.items()}


class _NeedsConversion(Exception):
    """Internal: the value holds something other than plain JSON types."""


# Scalars that are always JSON. A float is not among them: NaN and the infinities are not JSON.
_PLAIN_SCALARS = frozenset((str, int, bool, type(None)))


def _too_deep(key: str) -> StateSerializationError:
    return StateSerializationError(key, "the value is cyclic, or nested too deeply to store as JSON")


def _plain_copy(value: Any) -> Any:
    """Copy plain dict/list/tuple/scalar data fast; anything else defers to ``_convert``.

    Kept free of per-element bookkeeping (no error paths built up front) because it runs
    over whole snapshots on load; ``_convert`` redoes the walk only when it must, to name
    exactly where the offending value sits.
    """
    kind = type(value)
    if kind is dict:
        out = dict(value)  # copied in C; only non-scalar members need another look
        for k, v in out.items():
            if type(k) is not str:
                raise _NeedsConversion
            if type(v) not in _PLAIN_SCALARS:
                out[k] = _plain_copy(v)
        return out
    if kind is list or kind is tuple:
        return [v if type(v) in _PLAIN_SCALARS else _plain_copy(v) for v in value]
    if kind is float and math.isfinite(value):  # callers pass other scalars through without a call
        return value
    raise _NeedsConversion


def _convert(key: str, value: Any, where: str) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        raise StateSerializationError(
            key, f"{where} is {value!r}, and JSON has no NaN or Infinity: store None or a string instead"
        )
    if isinstance(value, _SCALARS):
        return value
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise StateSerializationError(
                    key, f"{where} has a dict key {k!r} of type {type(k).__name__}; JSON objects need string keys"
                )
            out[k] = _convert(key, v, f"{where}[{k!r}]")
        return out
    if isinstance(value, (list, tuple)):
        return [_convert(key, v, f"{where}[{i}]") for i, v in enumerate(value)]
    model_dump = getattr(value, "model_dump", None)
    if model_dump is not None and callable(model_dump) and not isinstance(value, type):
        return _convert(key, model_dump(mode="json"), where)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _convert(key, dataclasses.asdict(value), where)
    raise StateSerializationError(
        key, f"{where} is a {type(value).__module__}.{type(value).__qualname__}, which is not JSON-compatible"
    )


def append_value(store: dict[str, Any], key: str, value: Any) -> None:
    """Append ``value`` (validated) under ``key``: a missing key starts a list, a scalar becomes its first item."""
    item = to_state_value(key, value)
    current = store.get(key)
    if current is None:
        store[key] = [item]
    elif isinstance(current, list):
        current.append(item)
    else:
        store[key] = [current, item]


def copy_state_value(value: Any) -> Any:
    """Deep copy of trusted JSON-compatible data (cheaper than copy.deepcopy).

    Containers are copied whole in C first (``dict(...)``, ``list(...)``) and only their
    container members are copied again, so a mostly-flat state costs one C-level copy
    plus a type check per value instead of a Python call per value.
    """
    kind = type(value)
    if kind is dict:
        out = dict(value)
        for key, item in out.items():
            if type(item) is dict or type(item) is list:
                out[key] = copy_state_value(item)
        return out
    if kind is list:
        out_list = list(value)
        for index, item in enumerate(out_list):
            if type(item) is dict or type(item) is list:
                out_list[index] = copy_state_value(item)
        return out_list
    return value


class StateNamespace:
    """``data.state``: the state API as ``.get/.set/.append/.delete``."""

    __slots__ = ("_data",)

    def __init__(self, data: Any):
        self._data = data

    def get(self, key: str, default: Any = None) -> Any:
        return self._data.get_state(key, default)

    def set(self, key: str, value: Any, emit: bool = True) -> None:
        self._data.set_state(key, value, emit=emit)

    def append(self, key: str, value: Any, emit: bool = True) -> None:
        self._data.append_state(key, value, emit=emit)

    def delete(self, key: str, emit: bool = True) -> None:
        self._data.del_state(key, emit=emit)

    def __getitem__(self, key: str) -> Any:
        sentinel = object()
        value = self._data.get_state(key, sentinel)
        if value is sentinel:
            raise KeyError(key)
        return value

    def __contains__(self, key: str) -> bool:
        return key in self._data.execution._state

    def keys(self) -> list[str]:
        return list(self._data.execution._state)

    def __repr__(self) -> str:
        return f"StateNamespace({self._data.execution._state!r})"
