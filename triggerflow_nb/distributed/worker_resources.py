"""Resources a worker builds for itself, from the same managed-environment providers.

Live objects never travel: what ships is the request (kind, key, JSON config) and the
provider's functions. Each worker process starts a resource once, on first use, keeps it
for later batches and executions, and releases it when asked (``DaskExecutor.
release_worker_resources()``) or when the worker shuts down.
"""

from __future__ import annotations

import atexit
import threading
from typing import Any

from ..environments.manager import ExecutionEnvironmentManager, Lease, entry_id_of
from .worker_loop import run_on_worker_loop

_lock = threading.Lock()
_manager = ExecutionEnvironmentManager()
_leases: dict[str, Lease] = {}  # entry id -> the one lease this worker holds on it


def acquire_on_worker(request: dict[str, Any], provider: Any) -> Any:
    """The worker's resource for ``request`` (started on first use, then reused)."""
    entry_id = entry_id_of(request)
    with _lock:  # two task threads asking at once start it once
        lease = _leases.get(entry_id)
        if lease is None:
            _manager.register(provider.kind, provider.start, release=provider.release,
                              health_check=provider.health_check, replace=True)
            lease = run_on_worker_loop(_manager.acquire(request))
            _leases[entry_id] = lease
        return lease.resource


def release_worker_resources() -> int:
    """Release every resource this worker started; returns how many."""
    with _lock:
        leases = list(_leases.values())
        _leases.clear()
    if leases:
        run_on_worker_loop(_manager.release_all(leases))
    return len(leases)


atexit.register(release_worker_resources)  # a worker that shuts down cleanly releases what it holds
