"""Executions meet stores: save one, load one, and resume one under a lease.

Only the public methods of a flow and an execution are used (``save``, ``load``,
``continue_with``, ``get_pending_interrupts``, ``close``), so the runtime never imports a store.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Optional

from ..errors import InterruptError, SaveError
from .base import ExecutionStore, check_id, check_seconds
from .errors import LeaseLostError, StoreConfigError, StoreError
from .records import Lease

logger = logging.getLogger("triggerflow_nb")

# The version each execution last loaded from or wrote to a store, so the next save checks it.
_versions: weakref.WeakKeyDictionary[Any, tuple[int, int]] = weakref.WeakKeyDictionary()


def _check_store(store: Any) -> None:
    if not isinstance(store, ExecutionStore):
        raise StoreConfigError(f"store must be an ExecutionStore (SQLiteStore(path), PostgresStore(dsn)), "
                               f"got {type(store).__name__}")


def stored_version(execution: Any, store: ExecutionStore) -> Optional[int]:
    """The version ``execution`` last loaded from or saved to ``store``; None if it never did."""
    known = _versions.get(execution)
    return known[1] if known and known[0] == id(store) else None


def remember_version(execution: Any, store: ExecutionStore, version: int) -> int:
    """Note that ``execution`` last loaded ``version`` from or saved it to ``store``: its next save checks it."""
    _versions[execution] = (id(store), version)
    return version


def save_execution(execution: Any, store: ExecutionStore, *, expected_version: Optional[int] = None,
                   lease: Optional[Lease] = None) -> int:
    """Save ``execution`` into ``store`` and return the new version.

    The first save creates the row; later saves of the same execution object check the version
    it last saw (pass ``expected_version`` to override), so a save never silently overwrites
    someone else's.
    """
    _check_store(store)
    if expected_version is None:
        expected_version = stored_version(execution, store)
    version = store.put(execution, expected_version=expected_version, lease=lease)
    return remember_version(execution, store, version)


async def async_save_execution(execution: Any, store: ExecutionStore, *, expected_version: Optional[int] = None,
                               lease: Optional[Lease] = None) -> int:
    _check_store(store)
    if expected_version is None:
        expected_version = stored_version(execution, store)
    snapshot = await execution.async_save()  # taken on the loop, written in a thread
    snapshot["execution_id"] = getattr(execution, "loaded_from", None) or snapshot["execution_id"]
    version = await store.async_put(snapshot, expected_version=expected_version, lease=lease)
    return remember_version(execution, store, version)


def load_execution(flow: Any, store: ExecutionStore, execution_id: str, *,
                   runtime_resources: Optional[dict[str, Any]] = None, prompt: Optional[bool] = None) -> Any:
    """A fresh execution of ``flow`` loaded from the store, without a lease (to inspect, or to save back
    with the version check). In a notebook, missing resources show the re-injection prompt."""
    _check_store(store)
    stored = store.get(check_id(execution_id))
    execution = flow.create_execution(auto_close=False)
    remember_version(execution, store, stored.version)
    return execution.load(stored.snapshot, runtime_resources=runtime_resources, prompt=prompt)


async def async_load_execution(flow: Any, store: ExecutionStore, execution_id: str, *,
                               runtime_resources: Optional[dict[str, Any]] = None,
                               prompt: Optional[bool] = None) -> Any:
    _check_store(store)
    stored = await store.async_get(check_id(execution_id))
    execution = flow.create_execution(auto_close=False)
    remember_version(execution, store, stored.version)
    return await execution.async_load(stored.snapshot, runtime_resources=runtime_resources, prompt=prompt)


def _pick_interrupt(execution: Any, interrupt_id: Optional[str]) -> str:
    pending = list(execution.get_pending_interrupts())
    name = getattr(execution, "loaded_from", None) or execution.id  # the id the store knows it by
    if interrupt_id is not None:
        return interrupt_id  # continue_with names it if unknown
    if len(pending) == 1:
        return pending[0]
    if not pending:
        raise InterruptError(f"execution {name} waits on no interrupt: there is nothing to resume")
    raise InterruptError(f"execution {name} waits on {len(pending)} interrupts {pending}: pass "
                         f"interrupt_id= to say which one to resume")


class _Heartbeat:
    """Renews the lease every ttl/3 while the resumed path runs.

    A renew that fails for a passing reason (a store busy or briefly unreachable) is tried
    again after ttl/10, or half the time the lease has left when that is shorter, but never
    sooner than ttl/100 (so a store that stays down is not hammered in the lease's last
    moments), for as long as the lease lasts; only a refusal (``LeaseLostError``: the lease
    expired or was taken over) or the lease's own expiry stops it. What went wrong is kept
    (``trouble``), for the final save's error or a warning when renewing recovered.
    """

    def __init__(self, store: ExecutionStore, lease: Lease, *, now: Callable[[], float] = time.time,
                 pause: Optional[Callable[[float], bool]] = None):
        """``now`` (epoch seconds) and ``pause(seconds)`` (True once stopped) are the clock and the wait
        between renewals: a test hands in its own to check the cadence without waiting for it."""
        self.store, self.lease = store, lease
        self.failures: list[str] = []  # each failed renew, as "TypeName: message"
        self.gave_up: Optional[str] = None
        self._stop = threading.Event()
        self._now = now
        self._pause = self._stop.wait if pause is None else pause
        self._thread = threading.Thread(target=self._beat, name=f"lease {lease.execution_id[:8]}", daemon=True)

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def _beat(self) -> None:
        wait = self.lease.ttl / 3
        while not self._pause(wait):
            try:
                self.lease = self.store.renew(self.lease)
                wait = self.lease.ttl / 3
            except LeaseLostError as exc:
                self.failures.append(f"{type(exc).__name__}: {exc}")
                self.gave_up = "the store refused the renewal"
                return
            except Exception as exc:  # a store hiccup, whatever raised it: try again while the lease lasts
                self.failures.append(f"{type(exc).__name__}: {exc}")
                left = self.lease.until - self._now()
                if left <= 0:
                    self.gave_up = "the lease expired before a renewal got through"
                    return
                wait = max(min(self.lease.ttl / 10, left / 2), self.lease.ttl / 100)

    def trouble(self) -> str:
        """What the renewals met, in a sentence ('' if every one got through)."""
        if not self.failures:
            return ""
        outcome = f"then {self.gave_up}" if self.gave_up else "a later one got through"
        return (f"{len(self.failures)} lease renewal(s) of {self.lease.owner!r} failed ({self.failures[-1]} the last), "
                f"{outcome}")

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join(timeout=self.lease.ttl)


@contextmanager
def _reporting(beat: _Heartbeat) -> Iterator[None]:
    """Around the final save: a refused one says what the heartbeat met; a recovered heartbeat is logged."""
    try:
        yield
    except LeaseLostError as exc:
        if beat.failures:
            exc.add_note(beat.trouble())
        raise
    if beat.failures:
        logger.warning("execution %s: %s; the result was saved", beat.lease.execution_id, beat.trouble())


def _start_resume(store: Any, execution_id: Any, owner: Any, ttl: Any) -> tuple[ExecutionStore, float]:
    _check_store(store)
    check_id(execution_id)
    check_id(owner, "owner")
    return store, check_seconds(ttl, "ttl")


def _own(lease: Optional[Lease], execution_id: str, owner: str) -> Optional[Lease]:
    if lease is None:
        return None
    if not isinstance(lease, Lease) or (lease.execution_id, lease.owner) != (execution_id, owner):
        raise StoreConfigError(f"lease= must be the Lease of owner {owner!r} on execution {execution_id!r} (from "
                               f"claim() or next_runnable()), got {lease!r}")
    return lease


def resume(flow: Any, store: ExecutionStore, execution_id: str, *, owner: str,
           runtime_resources: Optional[dict[str, Any]] = None, interrupt_id: Optional[str] = None,
           payload: Any = None, ttl: float = 60.0, close_when_done: bool = True,
           lease: Optional[Lease] = None) -> Any:
    """Claim ``execution_id``, load it into a fresh execution of ``flow`` with ``runtime_resources``,
    continue its interrupt with ``payload``, save the outcome under the lease, release it.

    Exactly one caller gets past the claim (the others get ``LeaseHeldError`` before any chunk
    runs). When nothing is left pending the execution is closed first, so the store holds the
    close snapshot. Returns the execution. A worker loop that already holds the lease (from
    ``store.next_runnable``) passes it as ``lease=`` and no second claim is made.
    """
    store, ttl = _start_resume(store, execution_id, owner, ttl)
    lease = _own(lease, execution_id, owner) or store.claim(execution_id, owner, ttl)
    try:
        stored = store.get(execution_id)
        execution = flow.create_execution(auto_close=False, runtime_resources=runtime_resources)
        execution.load(stored.snapshot, prompt=False)
        remember_version(execution, store, stored.version)
        chosen = _pick_interrupt(execution, interrupt_id)
        with _Heartbeat(store, lease) as beat:
            try:
                execution.continue_with(chosen, payload)
                if close_when_done and not execution.get_pending_interrupts():
                    execution.close()
            except BaseException:
                if _failed(execution):
                    _save_failure(execution, store, beat.lease)
                raise
            with _reporting(beat):
                save_execution(execution, store, lease=beat.lease)
            lease = beat.lease
        return execution
    finally:
        _release(store, lease)


async def async_resume(flow: Any, store: ExecutionStore, execution_id: str, *, owner: str,
                       runtime_resources: Optional[dict[str, Any]] = None, interrupt_id: Optional[str] = None,
                       payload: Any = None, ttl: float = 60.0, close_when_done: bool = True,
                       lease: Optional[Lease] = None) -> Any:
    """The async twin of :func:`resume`."""
    store, ttl = _start_resume(store, execution_id, owner, ttl)
    lease = _own(lease, execution_id, owner) or await _claim_or_give_back(store, execution_id, owner, ttl)
    try:
        stored = await store.async_get(execution_id)
        execution = flow.create_execution(auto_close=False, runtime_resources=runtime_resources)
        await execution.async_load(stored.snapshot, prompt=False)
        remember_version(execution, store, stored.version)
        chosen = _pick_interrupt(execution, interrupt_id)
        with _Heartbeat(store, lease) as beat:
            try:
                await execution.async_continue_with(chosen, payload)
                if close_when_done and not execution.get_pending_interrupts():
                    await execution.async_close()
            except BaseException:
                if _failed(execution):
                    await _in_thread_to_the_end(_save_failure, execution, store, beat.lease)
                raise
            with _reporting(beat):
                await async_save_execution(execution, store, lease=beat.lease)
            lease = beat.lease
        return execution
    finally:
        # A cancel here (wait_for's timeout, a worker shutting down) must not leave the lease held until it expires.
        await _in_thread_to_the_end(_release, store, lease)


async def _claim_or_give_back(store: ExecutionStore, execution_id: str, owner: str, ttl: float) -> Lease:
    """``claim`` in a worker thread, which a cancel cannot stop: whichever of the claim and the
    cancel comes second gives the lease back, so that a cancelled resume leaves none held."""
    handover = threading.Lock()
    taken: list[Lease] = []  # the lease, once handed to the awaiting side
    abandoned = threading.Event()  # set (under handover) when the awaiting side was cancelled

    def claim() -> Lease:
        lease = store.claim(execution_id, owner, ttl)
        with handover:
            if not abandoned.is_set():
                taken.append(lease)
                return lease
        _release(store, lease)  # nobody waits for it any more
        return lease

    try:
        return await asyncio.to_thread(claim)
    except asyncio.CancelledError:
        with handover:
            abandoned.set()
        if taken:  # claimed just before the cancel came, but never received
            await _in_thread_to_the_end(_release, store, taken[0])
        raise


async def _in_thread_to_the_end(function: Callable[..., Any], *args: Any) -> Any:
    """``function(*args)`` in a worker thread that starts now and that no cancel stops: a cancel,
    even the loop's shutdown cancelling every task, only stops the waiting. (A shielded
    ``asyncio.to_thread`` task may be cancelled by that shutdown before it started its thread.)"""
    running = asyncio.get_running_loop().run_in_executor(None, function, *args)
    return await asyncio.shield(running)


def _failed(execution: Any) -> bool:
    """Whether a resume that raised ended the run for real (a chunk failed). A resume cut short
    (KeyboardInterrupt, a cancelled await, a wrong interrupt id) ended nothing: the row keeps its
    last waiting version, so that the run can be resumed again."""
    return bool(execution.get_status() == "failed")


def _save_failure(execution: Any, store: ExecutionStore, lease: Lease) -> None:
    """Record a failed resume in the store so that workers do not pick the run up again and again."""
    try:
        save_execution(execution, store, lease=lease)
    except (SaveError, StoreError):
        pass  # the original error is the one to report; the row keeps its last good snapshot


def _release(store: ExecutionStore, lease: Lease) -> None:
    try:
        store.release(lease)
    except LeaseLostError:
        pass  # taken over after expiry: the new owner's lease must stay, and our save was already refused
