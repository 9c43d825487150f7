"""Execution-local, serializable state.

Serializability is enforced when a value is written (the boundary), so the close
snapshot and ``save()`` never meet a value they cannot store. What is stored is plain
JSON data of exact types: a ``str``/``int``/``float`` subclass (an ``Enum`` member mixed
with one, an ``IntEnum``) is stored as its plain value, as JSON would write it.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from typing import Any

from ..errors import StateSerializationError

# The reserved key behind the deprecated flow.end() / set_result() / get_result().
FINAL_RESULT_KEY = "$final_result"


def to_state_value(key: str, value: Any) -> Any:
    """Return ``value`` as plain JSON-compatible data, or raise StateSerializationError.

    Containers are rebuilt, so state never aliases an object the chunk keeps mutating.
    Pydantic models and dataclasses are stored as their dicts.
    """
    kind = type(value)
    if (kind is int and (_SMALL_LOW < value < _SMALL or _INT_LOW < value < _INT_BOUND)) or kind in _PLAIN_SCALARS:
        return value  # the common case, kept cheap
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


# Scalars that are always JSON. A float is not among them: NaN and the infinities are not JSON;
# nor is an int: one of more than _INT_DIGITS digits is not either (see below).
_PLAIN_SCALARS = frozenset((str, bool, type(None)))

# Python converts ints of more than this many digits to and from text only if the limit is
# raised (sys.set_int_max_str_digits): str() and json.dumps fail on them and json.loads refuses
# to read them back. So state refuses them at the write, not at save. An int with at most
# _INT_DIGITS digits is exactly one strictly between _INT_LOW and _INT_BOUND (both made once:
# negating a 4300-digit int on every check would copy it).
_INT_DIGITS = sys.int_info.default_max_str_digits  # 4300
_INT_BOUND = 10 ** _INT_DIGITS
_INT_LOW = -_INT_BOUND
# Compared first: CPython's fast path for comparing ints takes only one-digit ints (below
# 2**30) on both sides, so most ints are let through without the slower comparison above.
_SMALL = (1 << 30) - 1
_SMALL_LOW = -_SMALL
_TOO_LONG = (f"is an int of more than {_INT_DIGITS} digits; state keeps ints of at most {_INT_DIGITS} digits "
             f"(Python's default int/str conversion limit, which json.loads applies when reading them back): "
             f"store it as a string instead, e.g. hex(n) (int(s, 16) reads it back)")


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
            if not ((type(v) is int and (_SMALL_LOW < v < _SMALL or _INT_LOW < v < _INT_BOUND))
                    or type(v) in _PLAIN_SCALARS):
                out[k] = _plain_copy(v)
        return out
    if kind is list or kind is tuple:
        return [v if (type(v) is int and (_SMALL_LOW < v < _SMALL or _INT_LOW < v < _INT_BOUND))
                or type(v) in _PLAIN_SCALARS else _plain_copy(v) for v in value]
    if kind is float and math.isfinite(value):  # callers pass other scalars through without a call
        return value
    raise _NeedsConversion


def _convert(key: str, value: Any, where: str) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        raise StateSerializationError(
            key, f"{where} is {value!r}, and JSON has no NaN or Infinity: store None or a string instead"
        )
    if value is None or isinstance(value, bool):  # bool has no subclasses
        return value
    # Subclasses (enum members too) become their plain value; the base class's own method reads
    # it whatever the subclass overrides (str() of a str-mixin Enum member is 'Colour.RED').
    if isinstance(value, int):
        plain = int.__int__(value)
        if not _INT_LOW < plain < _INT_BOUND:
            raise StateSerializationError(key, f"{where} {_TOO_LONG}")
        return plain
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, float):
        return float.__float__(value)
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise StateSerializationError(
                    key, f"{where} has a dict key {k!r} of type {type(k).__name__}; JSON objects need string keys"
                )
            out[str.__str__(k)] = _convert(key, v, f"{where}[{k!r}]")
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
        return self._data.execution.result.has_state(key)

    def keys(self) -> list[str]:
        return self._data.execution.result.state_keys()

    def __repr__(self) -> str:
        return f"StateNamespace({self._data.execution.result.get_state()!r})"
