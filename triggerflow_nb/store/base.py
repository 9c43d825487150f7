"""``ExecutionStore``: the interface every store keeps, with argument checks and async twins.

The async twins run the blocking call in a worker thread (``asyncio.to_thread``): each call
is one short SQL statement, so a thread hop is cheaper than a second driver.
"""

from __future__ import annotations

import abc
import asyncio
import builtins
import math
from typing import Any, Optional

from .. import _store_views
from .errors import InvalidIdError, StoreConfigError
from .records import Lease, Page, StoredExecution

MAX_ID_LENGTH = 255  # PostgreSQL indexes ids and flow names: 255 four-byte characters stay far below its limit
ID_RULE = (f"ids and names are 1 to {MAX_ID_LENGTH} characters of text without NUL characters or lone "
           f"surrogates")


def storable_text(text: str) -> bool:
    """Text every backend keeps as is: PostgreSQL refuses NUL characters, and lone surrogates
    are not UTF-8. Checked up front so that both stores refuse the same names the same way."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


def id_problem(value: Any) -> Optional[str]:
    """What breaks the id rule (ID_RULE) in ``value``, or None. One rule for every store, checked
    before the database, so that both backends refuse the same ids the same way."""
    if not isinstance(value, str) or not value:
        return f"must be a non-empty string, got {value!r}"
    if len(value) > MAX_ID_LENGTH:
        return f"{value[:40]!r}... is {len(value)} characters long"
    if not storable_text(value):
        return f"{value!r} contains a NUL character or a lone surrogate"
    return None


def check_id(execution_id: Any, what: str = "execution_id") -> str:
    problem = id_problem(execution_id)
    if problem is not None:
        raise InvalidIdError(what, execution_id, problem, ID_RULE)
    return execution_id


def check_version(value: Any, what: str = "expected_version") -> Optional[int]:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise StoreConfigError(f"{what} must be None (create) or a version >= 1 from put()/get(), got {value!r}")
    return value


def check_seconds(value: Any, what: str, *, allow_zero: bool = False) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise StoreConfigError(f"{what} must be a finite number of seconds {bound}, got {value!r}")
    return float(value)


def check_lease(lease: Any) -> None:
    if not isinstance(lease, Lease):
        raise StoreConfigError(f"lease must be the Lease that claim() returned, got {type(lease).__name__}")


class ExecutionStore(abc.ABC):
    """One row per execution: its latest JSON snapshot, a version, and a lease with a fencing token."""

    # -- writing ------------------------------------------------------------------------------------
    @abc.abstractmethod
    def put(self, execution: Any, *, expected_version: Optional[int] = None, lease: Optional[Lease] = None) -> int:
        """Store a snapshot and return its new version.

        ``expected_version=None`` creates the row (version 1) and refuses an existing id; an int
        updates only if the row is still at that version. Under a ``lease`` the save also needs
        the lease's fence to be current and unexpired; without one, a live lease of another
        owner refuses it.
        """

    def create(self, execution: Any) -> int:
        """Store a new execution at version 1; ``ExecutionExistsError`` if its id is already stored."""
        return self.put(execution, expected_version=None)

    @abc.abstractmethod
    def delete(self, execution_id: str, *, expected_version: Optional[int] = None) -> None:
        """Remove a row; refused while someone else holds a live lease on it."""

    @abc.abstractmethod
    def prune(self, *, keep_latest: Optional[int] = None, older_than: Optional[float] = None,
              flow: Optional[str] = None, include_pending: bool = False) -> list[str]:
        """Delete old rows; return their ids. Never a leased row, nor (by default) a paused one."""

    # -- reading ------------------------------------------------------------------------------------
    @abc.abstractmethod
    def get(self, execution_id: str) -> StoredExecution:
        """The stored snapshot, its version and lease."""

    @abc.abstractmethod
    def list(self, *, flow: Optional[str] = None, status: Optional[str] = None, has_pending: Optional[bool] = None,
             older_than: Optional[float] = None, limit: int = 50, cursor: Optional[str] = None) -> Page:
        """Summaries, newest save first; never the snapshot bodies."""

    # -- ownership ----------------------------------------------------------------------------------
    @abc.abstractmethod
    def claim(self, execution_id: str, owner: str, ttl: float = 60.0, *,
              expected_version: Optional[int] = None) -> Lease:
        """Take the lease if it is free or expired (and, if given, the row is still at
        ``expected_version``), in one atomic statement; bumps the fence."""

    @abc.abstractmethod
    def renew(self, lease: Lease, ttl: Optional[float] = None) -> Lease:
        """Extend a lease that is still current by ``ttl`` (default: the ttl it was claimed with) from now."""

    @abc.abstractmethod
    def release(self, lease: Lease) -> None:
        """Give a current lease back."""

    @abc.abstractmethod
    def next_runnable(self, flow: str, owner: str, ttl: float = 60.0) -> Optional[Lease]:
        """Claim the oldest unleased open execution of ``flow`` that waits on an interrupt, or None."""

    @abc.abstractmethod
    def close(self) -> None:
        """Close the connection."""

    def __enter__(self) -> ExecutionStore:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- async twins --------------------------------------------------------------------------------
    async def async_put(self, execution: Any, *, expected_version: Optional[int] = None,
                        lease: Optional[Lease] = None) -> int:
        return await asyncio.to_thread(self.put, execution, expected_version=expected_version, lease=lease)

    async def async_create(self, execution: Any) -> int:
        return await asyncio.to_thread(self.create, execution)

    async def async_get(self, execution_id: str) -> StoredExecution:
        return await asyncio.to_thread(self.get, execution_id)

    async def async_list(self, *, flow: Optional[str] = None, status: Optional[str] = None,
                         has_pending: Optional[bool] = None, older_than: Optional[float] = None, limit: int = 50,
                         cursor: Optional[str] = None) -> Page:
        return await asyncio.to_thread(lambda: self.list(flow=flow, status=status, has_pending=has_pending,
                                                         older_than=older_than, limit=limit, cursor=cursor))

    async def async_delete(self, execution_id: str, *, expected_version: Optional[int] = None) -> None:
        await asyncio.to_thread(self.delete, execution_id, expected_version=expected_version)

    async def async_prune(self, *, keep_latest: Optional[int] = None, older_than: Optional[float] = None,
                          flow: Optional[str] = None, include_pending: bool = False) -> builtins.list[str]:
        # builtins.list: `list` is a method here
        return await asyncio.to_thread(lambda: self.prune(keep_latest=keep_latest, older_than=older_than, flow=flow,
                                                          include_pending=include_pending))

    async def async_claim(self, execution_id: str, owner: str, ttl: float = 60.0, *,
                          expected_version: Optional[int] = None) -> Lease:
        return await asyncio.to_thread(self.claim, execution_id, owner, ttl, expected_version=expected_version)

    async def async_renew(self, lease: Lease, ttl: Optional[float] = None) -> Lease:
        return await asyncio.to_thread(self.renew, lease, ttl)

    async def async_release(self, lease: Lease) -> None:
        await asyncio.to_thread(self.release, lease)

    async def async_next_runnable(self, flow: str, owner: str, ttl: float = 60.0) -> Optional[Lease]:
        return await asyncio.to_thread(self.next_runnable, flow, owner, ttl)

    # -- notebook -----------------------------------------------------------------------------------
    # The views are the notebook layer's, which sits above the stores: they come through the slot it
    # fills (triggerflow_nb._store_views). browse() is defined by SQLStore.

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        views = _store_views.provided()
        if views is None:  # no notebook layer to draw the table: the plain repr
            return {"text/plain": repr(self)}
        return views.static_bundle(self, limit=20)
