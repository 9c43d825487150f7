"""runtime_resources: live objects, kept by identity and never serialized."""

from __future__ import annotations

from typing import Any

from ..errors import InvalidArgumentError, MissingResourceError


def describe_resource(value: Any) -> str:
    """The recorded type name that helps a person re-inject a resource after load()."""
    cls = type(value)
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


class RuntimeResources:
    """An execution's resources: its own entries over the flow-level defaults.

    Flow-level defaults are read through (not copied) so that
    ``flow.update_runtime_resources`` reaches executions that already exist;
    execution-level entries win on a clash.
    """

    __slots__ = ("_own", "_flow_level", "managed_keys", "_removed")

    def __init__(self, own: dict[str, Any] | None, flow_level: dict[str, Any]):
        if own is not None and not isinstance(own, dict):
            raise InvalidArgumentError(
                f"runtime_resources must be a dict of name -> live object, got {type(own).__name__}"
            )
        for key in own or ():
            if not isinstance(key, str):
                raise InvalidArgumentError(f"runtime_resources keys must be strings, got {key!r}")
        self._own: dict[str, Any] = dict(own) if own else {}
        self._flow_level = flow_level
        self._removed: set[str] = set()
        self.managed_keys: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:
        if key in self._own:
            return self._own[key]
        if key in self._removed:
            return default
        return self._flow_level.get(key, default)

    def require(self, key: str, context: str = "") -> Any:
        sentinel = _MISSING
        value = self.get(key, sentinel)
        if value is sentinel:
            raise MissingResourceError([key], self.keys(), context)
        return value

    def set(self, key: str, value: Any) -> None:
        if not isinstance(key, str):
            raise InvalidArgumentError(f"a runtime resource key must be a string, got {key!r}")
        self._own[key] = value
        self._removed.discard(key)

    def delete(self, key: str) -> None:
        self._own.pop(key, None)
        if key in self._flow_level:
            self._removed.add(key)
        self.managed_keys.discard(key)

    def __contains__(self, key: str) -> bool:
        return self.get(key, _MISSING) is not _MISSING

    def keys(self) -> list[str]:
        merged = [k for k in self._flow_level if k not in self._removed and k not in self._own]
        return sorted(merged + list(self._own))

    def items(self) -> list[tuple[str, Any]]:
        return [(k, self.get(k)) for k in self.keys()]

    def level_of(self, key: str) -> str:
        if key in self.managed_keys:
            return "managed"
        return "execution" if key in self._own else "flow"

    def describe(self) -> dict[str, dict[str, Any]]:
        """Per key: the recorded type, where it came from, and whether the manager owns it."""
        return {
            key: {
                "type": describe_resource(value),
                "level": "execution" if key in self._own else "flow",
                "managed": key in self.managed_keys,
            }
            for key, value in self.items()
        }


_MISSING = object()
