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

import asyncio
import inspect
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from .._validate import seconds
from ..errors import EnvironmentProviderError, InvalidArgumentError

logger = logging.getLogger("triggerflow_nb")

Starter = Callable[[dict[str, Any]], Awaitable[Any]]
Releaser = Callable[[Any], Awaitable[None]]
HealthCheck = Callable[[Any], Awaitable[bool]]


@dataclass
class Provider:
    kind: str
    start: Starter
    release: Releaser | None = None
    health_check: HealthCheck | None = None
    timeout: float | None = None  # per call of start/health_check/release; None: the manager's default


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
        raise InvalidArgumentError(f"execution_environments must be a list, got {type(requests).__name__}")
    out = []
    for request in requests:
        if isinstance(request, str):
            request = {"kind": request}
        if not isinstance(request, dict) or not isinstance(request.get("kind"), str):
            raise InvalidArgumentError(
                f"an execution environment request is a kind name or a dict with 'kind', got {request!r}"
            )
        unknown = set(request) - {"kind", "key", "config"}
        if unknown:
            raise InvalidArgumentError(
                f"execution environment request has unknown keys {sorted(unknown)}; use kind, key, config"
            )
        config = request.get("config") or {}
        if not isinstance(config, dict):
            raise InvalidArgumentError(f"execution environment 'config' must be a dict, got {type(config).__name__}")
        try:
            json.dumps(config)
        except TypeError as exc:
            raise InvalidArgumentError(
                f"execution environment config must be JSON-compatible (it is saved): {exc}"
            ) from None
        out.append({"kind": request["kind"], "key": request.get("key") or request["kind"], "config": config})
    keys = [r["key"] for r in out]
    if len(set(keys)) != len(keys):
        raise InvalidArgumentError(f"execution_environments mount two resources under one key: {keys}")
    return out


def entry_id_of(request: dict[str, Any]) -> str:
    """The id of the running resource a normalized request asks for: one per kind, key and config
    (executions asking for the same one share it)."""
    return f"{request['kind']}:{request['key']}:{json.dumps(request['config'], sort_keys=True)}"


class ExecutionEnvironmentManager:
    def __init__(self, default_timeout: float = 30.0) -> None:
        self._providers: dict[str, Provider] = {}
        self._entries: dict[str, _Entry] = {}
        self._background: set[asyncio.Task[None]] = set()  # releases that outlived a close timeout
        self.default_timeout = default_timeout

    @property
    def default_timeout(self) -> float:
        """Seconds a provider's start, health_check or release may take unless it sets its own."""
        return self._default_timeout

    @default_timeout.setter
    def default_timeout(self, value: float) -> None:
        checked = seconds("default_timeout", value)
        assert checked is not None
        self._default_timeout = checked

    def register(self, kind: str, start: Starter, *, release: Releaser | None = None,
                 health_check: HealthCheck | None = None, replace: bool = False,
                 timeout: float | None = None) -> None:
        """Register how to start (and release) resources of ``kind``.

        ``timeout``: seconds each call of ``start``, ``health_check`` and ``release`` may take
        (default: the manager's ``default_timeout``); past it, the call is cancelled and an
        ``EnvironmentProviderError`` names the provider and the key.
        """
        timeout = seconds(f"provider {kind!r}: timeout", timeout, allow_none=True)
        if not isinstance(kind, str) or not kind:
            raise InvalidArgumentError(f"a provider kind must be a non-empty string, got {kind!r}")
        for name, fn in (("start", start), ("release", release), ("health_check", health_check)):
            if fn is not None and not inspect.iscoroutinefunction(fn):
                raise InvalidArgumentError(f"provider {kind!r}: {name} must be an async function")
        if start is None:
            raise InvalidArgumentError(f"provider {kind!r}: start is required")
        if kind in self._providers and not replace:
            raise InvalidArgumentError(
                f"a provider for {kind!r} is already registered; pass replace=True to replace it"
            )
        self._providers[kind] = Provider(kind, start, release, health_check, timeout)

    def unregister(self, kind: str) -> None:
        self._providers.pop(kind, None)

    def has_provider(self, kind: str) -> bool:
        """Whether a provider is registered for ``kind`` (without it, acquiring fails)."""
        return kind in self._providers

    def provider(self, kind: str) -> Provider | None:
        """The provider registered for ``kind``, or None (Dask workers get it to start their own resources)."""
        return self._providers.get(kind)

    def active(self) -> dict[str, int]:
        """Running managed resources and how many executions hold each."""
        return {entry_id: e.refcount for entry_id, e in self._entries.items()}

    async def acquire(self, request: dict[str, Any]) -> Lease:
        provider = self._providers.get(request["kind"])
        if provider is None:
            raise EnvironmentProviderError(
                f"no execution environment provider for kind {request['kind']!r}; register one with "
                f"triggerflow_nb.execution_environment.register({request['kind']!r}, start=..., release=...)"
            )
        entry_id = entry_id_of(request)
        entry = self._entries.get(entry_id)
        if entry is not None and provider.health_check is not None and not await self._call(
                provider, "check the health of", request["key"], provider.health_check(entry.resource)):
            # Unhealthy: start a fresh one for newcomers; holders keep theirs until they release it.
            self._entries.pop(entry_id)
            entry = None
        if entry is None:
            resource = await self._call(provider, "start", request["key"], provider.start(dict(request["config"])))
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
            await self._call(provider, "release", lease.key, provider.release(entry.resource))

    async def release_all(self, leases: list[Lease], *, timeout: float | None = None) -> None:
        """Release every lease (each within its provider's time limit, all within ``timeout``);
        report every failure at the end, after trying them all.

        A release still running when ``timeout`` is up goes on in the background, owned by the
        manager and bounded by its provider's limit, so the caller returns on time and the
        resource is still released (or its failure logged), never forgotten.
        """
        errors = []
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        for lease in leases:
            remaining = None if deadline is None else max(0.0, deadline - loop.time())
            releasing = loop.create_task(self.release(lease))
            try:
                await asyncio.wait_for(asyncio.shield(releasing), remaining)
            except TimeoutError:
                self._finish_in_background(releasing)
                errors.append(f"{lease.key!r}: not released within the close timeout (still being released "
                              f"in the background, within its provider's limit)")
            except Exception as exc:  # keep releasing the others; report at the end
                errors.append(f"{lease.key!r}: {exc}")
        if errors:
            raise EnvironmentProviderError(f"releasing managed resources failed: {'; '.join(errors)}")

    def _finish_in_background(self, releasing: asyncio.Task[None]) -> None:
        self._background.add(releasing)
        releasing.add_done_callback(self._background_done)

    def _background_done(self, releasing: asyncio.Task[None]) -> None:
        self._background.discard(releasing)
        if not releasing.cancelled() and releasing.exception() is not None:
            logger.warning("a managed resource released in the background failed: %s", releasing.exception())

    async def _call(self, provider: Provider, action: str, key: str, call: Awaitable[Any]) -> Any:
        """Await one provider call within its time limit; any failure becomes a typed error."""
        limit = provider.timeout if provider.timeout is not None else self._default_timeout
        try:
            return await asyncio.wait_for(call, limit)
        except TimeoutError:
            raise EnvironmentProviderError(
                f"provider {provider.kind!r} did not {action} resource {key!r} within {limit:g}s; raise its "
                f"limit with execution_environment.register({provider.kind!r}, ..., timeout=...)"
            ) from None
        except EnvironmentProviderError:
            raise
        except Exception as exc:
            raise EnvironmentProviderError(
                f"provider {provider.kind!r} failed to {action} resource {key!r}: {exc!r}"
            ) from exc


execution_environment = ExecutionEnvironmentManager()
