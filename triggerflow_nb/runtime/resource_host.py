"""``ResourceHost``: an execution's runtime resources and the managed environments behind some.

Runtime resources are live objects (clients, callbacks, loggers): never saved, only their
keys and types are. Managed environments (see ``triggerflow_nb.execution_environment``) are
acquired when the execution starts (or is loaded), mounted under their keys, and released
when it closes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, cast

from ..environments.manager import Lease, execution_environment, normalize_requests
from ..errors import InvalidArgumentError, LifecycleError
from ..layers.resources import RuntimeResources
from ..observe import Channel, ResourcesChanged
from .snapshot import EnvironmentRequest, ResourceRecord
from .status import CLOSED, LifecycleState


class ResourceHost:
    __slots__ = ("resources", "requests", "leases", "_owner", "_channel")

    def __init__(self, owner: str, channel: Channel, given: dict[str, Any] | None, flow_level: dict[str, Any],
                 environment_requests: list[Any] | None):
        self.resources = RuntimeResources(given, flow_level)
        # The managed environments this execution asked for, as plain data (saved with it).
        self.requests = [] if environment_requests is None else _normalize_environment_requests(environment_requests)
        if self.requests:
            check_managed_keys_are_free(self.requests, given)
        self.leases: list[Lease] = []
        self._owner = owner
        self._channel = channel

    def set(self, name: str, value: Any) -> None:
        self.resources.set(name, value)
        if self._channel.active:
            self._channel.publish(ResourcesChanged(self._owner))

    def delete(self, name: str) -> None:
        self.resources.delete(name)
        if self._channel.active:
            self._channel.publish(ResourcesChanged(self._owner))

    async def mount(self, closed_meanwhile: Callable[[], bool]) -> None:
        """Acquire and mount the managed environments; ``closed_meanwhile()`` says whether the
        execution closed while they started (they are then released again, never leaked)."""
        if not self.requests:
            return
        leases = await execution_environment.acquire_all(self.requests)
        if closed_meanwhile():
            # Closed while mounting, and the cancellation did not reach us (asyncio.wait_for drops
            # one that races with a finished call): give the resources back, never leak them.
            await execution_environment.release_all(leases)
            raise LifecycleError(f"execution {self._owner} was closed while its managed environments were starting")
        self.adopt(leases)

    async def mount_then(self, closed_meanwhile: Callable[[], bool], work: Callable[[], Awaitable[None]]) -> None:
        """Mount, then run ``work()`` (made only once mounted: a failed mount leaves nothing unawaited)."""
        await self.mount(closed_meanwhile)
        await work()

    def adopt(self, leases: list[Lease]) -> None:
        """Mount acquired managed resources under their keys; they are released when this closes."""
        self.leases.extend(leases)
        for lease in leases:
            self.resources.set(lease.key, lease.resource)
            self.resources.managed_keys.add(lease.key)

    async def release(self, timeout: float | None) -> None:
        leases, self.leases = self.leases, []
        if leases:
            await execution_environment.release_all(leases, timeout=timeout)

    @staticmethod
    async def acquire_for_restore(requests: list[dict[str, Any]], lifecycle: LifecycleState) -> list[Lease]:
        """Managed resources a snapshot needs, acquired before it is applied: a provider that
        fails leaves the target untouched (nothing half-loaded)."""
        if lifecycle == CLOSED or not requests:
            return []
        return await execution_environment.acquire_all(requests)

    def capture(self) -> tuple[list[str], dict[str, ResourceRecord], list[EnvironmentRequest]]:
        """The resource keys, what each is (never the object), and the managed environment requests."""
        return (self.resources.keys(), cast(dict[str, ResourceRecord], self.resources.describe()),
                [{"kind": r["kind"], "key": r["key"], "config": dict(r["config"])} for r in self.requests])

    def restore(self, given: dict[str, Any], requests: list[EnvironmentRequest]) -> None:
        for key, value in given.items():
            self.resources.set(key, value)
        if requests:
            self.requests = [dict(r) for r in requests]


def check_managed_keys_are_free(requests: list[dict[str, Any]], given: dict[str, Any] | None) -> None:
    """A key is either managed (the manager starts and releases it) or passed by hand, never both."""
    clash = sorted({r["key"] for r in requests} & set(given or {}))
    if clash:
        raise InvalidArgumentError(
            f"runtime resource key(s) {clash} are both passed in runtime_resources and requested as managed "
            f"execution_environments: keep one (a managed resource is started and released for you)"
        )


def _normalize_environment_requests(requests: list[Any] | None) -> list[dict[str, Any]]:
    if not requests:
        if requests is not None and not isinstance(requests, (list, tuple)):
            raise InvalidArgumentError(f"execution_environments must be a list, got {type(requests).__name__}")
        return []
    return normalize_requests(requests)
