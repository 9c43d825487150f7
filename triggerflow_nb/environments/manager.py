"""The execution-environment manager.

A provider registered under a *kind* knows how to start a live resource (async),
optionally check that a running one is healthy, and release it (async).
``execution_environments=[...]`` on an execution asks the manager to start or
reuse such a resource and mount it into the execution's runtime_resources; the
manager releases it when the last execution using it closes, exactly once,
also when the execution failed or was cancelled. Resources passed by hand in
``runtime_resources`` are never touched by it.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import EnvironmentProviderError

Starter = Callable[[dict[str, Any]], Awaitable[Any]]
Releaser = Callable[[Any], Awaitable[None]]
HealthCheck = Callable[[Any], Awaitable[bool]]


@dataclass
class Provider:
    kind: str
    start: Starter
    release: Releaser | None = None
    health_check: HealthCheck | None = None


@dataclass
class _Entry:
    kind: str
    key: str
    config: dict[str, Any]
    resource: Any
    refcount: int = 0


@dataclass
class Lease:
    """One execution's hold on a managed resource."""

    key: str
    kind: str
    resource: Any
    entry_id: str
    released: bool = field(default=False, repr=False)


def normalize_requests(requests: list[Any]) -> list[dict[str, Any]]:
    """Accept ``"kind"`` or ``{"kind": ..., "key": ..., "config": {...}}``; return plain dicts."""
    if not isinstance(requests, (list, tuple)):
        raise TypeError(f"execution_environments must be a list, got {type(requests).__name__}")
    out = []
    for request in requests:
        if isinstance(request, str):
            request = {"kind": request}
        if not isinstance(request, dict) or not isinstance(request.get("kind"), str):
            raise TypeError(f"an execution environment request is a kind name or a dict with 'kind', got {request!r}")
        unknown = set(request) - {"kind", "key", "config"}
        if unknown:
            raise TypeError(f"execution environment request has unknown keys {sorted(unknown)}; use kind, key, config")
        config = request.get("config") or {}
        if not isinstance(config, dict):
            raise TypeError(f"execution environment 'config' must be a dict, got {type(config).__name__}")
        try:
            json.dumps(config)
        except TypeError as exc:
            raise TypeError(f"execution environment config must be JSON-compatible (it is saved): {exc}") from None
        out.append({"kind": request["kind"], "key": request.get("key") or request["kind"], "config": config})
    keys = [r["key"] for r in out]
    if len(set(keys)) != len(keys):
        raise ValueError(f"execution_environments mount two resources under one key: {keys}")
    return out


class ExecutionEnvironmentManager:
    def __init__(self) -> None:
        self._providers: dict[str, Provider] = {}
        self._entries: dict[str, _Entry] = {}

    def register(self, kind: str, start: Starter, *, release: Releaser | None = None,
                 health_check: HealthCheck | None = None, replace: bool = False) -> None:
        """Register how to start (and release) resources of ``kind``."""
        if not isinstance(kind, str) or not kind:
            raise TypeError(f"a provider kind must be a non-empty string, got {kind!r}")
        for name, fn in (("start", start), ("release", release), ("health_check", health_check)):
            if fn is not None and not inspect.iscoroutinefunction(fn):
                raise TypeError(f"provider {kind!r}: {name} must be an async function")
        if start is None:
            raise TypeError(f"provider {kind!r}: start is required")
        if kind in self._providers and not replace:
            raise ValueError(f"a provider for {kind!r} is already registered; pass replace=True to replace it")
        self._providers[kind] = Provider(kind, start, release, health_check)

    def unregister(self, kind: str) -> None:
        self._providers.pop(kind, None)

    def active(self) -> dict[str, int]:
        """Running managed resources and how many executions hold each."""
        return {entry_id: e.refcount for entry_id, e in self._entries.items()}

    @staticmethod
    def _entry_id(request: dict[str, Any]) -> str:
        return f"{request['kind']}:{request['key']}:{json.dumps(request['config'], sort_keys=True)}"

    async def acquire(self, request: dict[str, Any]) -> Lease:
        provider = self._providers.get(request["kind"])
        if provider is None:
            raise EnvironmentProviderError(
                f"no execution environment provider for kind {request['kind']!r}; register one with "
                f"triggerflow_nb.execution_environment.register({request['kind']!r}, start=..., release=...)"
            )
        entry_id = self._entry_id(request)
        entry = self._entries.get(entry_id)
        if entry is not None and provider.health_check is not None and not await provider.health_check(entry.resource):
            # Unhealthy: start a fresh one for newcomers; holders keep theirs until they release it.
            self._entries.pop(entry_id)
            entry = None
        if entry is None:
            try:
                resource = await provider.start(dict(request["config"]))
            except Exception as exc:
                raise EnvironmentProviderError(
                    f"provider {request['kind']!r} failed to start resource {request['key']!r}: {exc!r}"
                ) from exc
            entry = _Entry(request["kind"], request["key"], request["config"], resource)
            self._entries[entry_id] = entry
        entry.refcount += 1
        return Lease(request["key"], request["kind"], entry.resource, entry_id)

    async def acquire_all(self, requests: list[dict[str, Any]]) -> list[Lease]:
        leases: list[Lease] = []
        try:
            for request in requests:
                leases.append(await self.acquire(request))
        except BaseException:
            await self.release_all(leases)  # nothing half-mounted is left running
            raise
        return leases

    async def release(self, lease: Lease) -> None:
        if lease.released:
            return
        lease.released = True
        entry = self._entries.get(lease.entry_id)
        if entry is None or entry.resource is not lease.resource:
            entry = _Entry(lease.kind, lease.key, {}, lease.resource, 1)  # replaced after a failed health check
        else:
            entry.refcount -= 1
            if entry.refcount > 0:
                return
            del self._entries[lease.entry_id]
        provider = self._providers.get(lease.kind)
        if provider is not None and provider.release is not None:
            await provider.release(entry.resource)

    async def release_all(self, leases: list[Lease]) -> None:
        errors = []
        for lease in leases:
            try:
                await self.release(lease)
            except Exception as exc:  # keep releasing the others; report at the end
                errors.append(f"{lease.key}: {exc!r}")
        if errors:
            raise EnvironmentProviderError(f"releasing managed resources failed: {'; '.join(errors)}")


execution_environment = ExecutionEnvironmentManager()
