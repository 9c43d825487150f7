"""Every exception a user of triggerflow_nb can catch.

All of them derive from :class:`TriggerFlowError`, and every message names the
thing involved (key, chunk, event, interrupt) and says what to do about it. The
whole tree (``· module`` marks the errors defined beside the stores and the Dask
executor; the rest are here and in ``triggerflow_nb``)::

    TriggerFlowError
    ├── BlueprintError
    │   └── FlowConfigError
    ├── ChunkError
    │   └── RemoteItemError  · triggerflow_nb.distributed
    ├── EnvironmentProviderError
    ├── ExecutorConfigError  · triggerflow_nb.distributed
    ├── FlowDefinitionError
    │   └── RemoteBodyError
    ├── HistoryError
    ├── InterruptError
    ├── InvalidArgumentError
    ├── LifecycleError
    ├── MissingResourceError
    ├── PauseNotSupportedError
    ├── RemoteOperationError  · triggerflow_nb.distributed
    ├── RemoteResourceError  · triggerflow_nb.distributed
    ├── RemoteSerializationError  · triggerflow_nb.distributed
    ├── RemoteStateWriteError  · triggerflow_nb.distributed
    ├── RemoteWorkerLostError  · triggerflow_nb.distributed
    ├── SaveError
    ├── SnapshotError
    │   ├── FingerprintMismatchError
    │   ├── InvalidSnapshotError
    │   └── SchemaVersionError
    ├── StateSerializationError
    └── StoreError  · triggerflow_nb.store
        ├── CorruptRowError  · triggerflow_nb.store
        ├── ExecutionExistsError  · triggerflow_nb.store
        ├── ExecutionNotFoundError  · triggerflow_nb.store
        ├── LeaseHeldError  · triggerflow_nb.store
        ├── LeaseLostError  · triggerflow_nb.store
        ├── StoreBrowserUnavailableError  · triggerflow_nb.store
        ├── StoreBusyError  · triggerflow_nb.store
        ├── StoreConfigError  · triggerflow_nb.store
        │   └── InvalidIdError (also InvalidSnapshotError)  · triggerflow_nb.store
        ├── StoreUnavailableError  · triggerflow_nb.store
        │   ├── StoreFullError  · triggerflow_nb.store
        │   ├── StoreLockedError  · triggerflow_nb.store
        │   └── WriteInDoubtError  · triggerflow_nb.store
        └── VersionConflictError  · triggerflow_nb.store

Warnings are not errors: ``ResourceTypeWarning`` (a re-injected resource of another
type than the saved one) and ``HistoryLimitWarning`` (an execution's history dropped its
oldest steps) derive from ``UserWarning``.
"""

from __future__ import annotations

from collections.abc import Iterator


class TriggerFlowError(Exception):
    """Base class of every error raised by triggerflow_nb."""


class InvalidArgumentError(TriggerFlowError, TypeError, ValueError):
    """A public call got an argument of the wrong type or value.

    It is a ``TypeError`` and a ``ValueError`` too, so ``except TypeError`` and
    ``except ValueError`` written against the builtins keep working.
    """


class FlowDefinitionError(TriggerFlowError, ValueError):
    """The flow's wiring is malformed (an unclosed branch, a stray ``end_condition``...)."""


class RemoteBodyError(FlowDefinitionError):
    """A for_each/batch body that an executor cannot run: only a plain chain of chunks is supported.

    Raised when the flow is defined (``definition/remote_body.py``); also exported by
    ``triggerflow_nb.distributed``, beside the executors."""


class LifecycleError(TriggerFlowError, RuntimeError):
    """A call that the execution's lifecycle state does not allow (emit after seal, start twice...)."""


class StateSerializationError(TriggerFlowError, TypeError):
    """A value written to state is not JSON-compatible."""

    def __init__(self, key: str, detail: str):
        self.key = key
        super().__init__(
            f"state key {key!r}: {detail}. State must stay serializable (it goes into the close "
            f"snapshot and save()); put live objects such as clients, locks, sockets or callbacks "
            f"into runtime_resources instead (create_execution(runtime_resources={{{key!r}: obj}}) "
            f"and data.require_resource({key!r}))."
        )


class MissingResourceError(TriggerFlowError, KeyError):
    """A runtime resource that a chunk or a load needs was not injected."""

    def __init__(self, missing: list[str] | tuple[str, ...], present: list[str] | tuple[str, ...], context: str = ""):
        self.missing = list(missing)
        self.present = sorted(present)
        names = ", ".join(repr(k) for k in self.missing)
        what = "runtime resource" if len(self.missing) == 1 else "runtime resources"
        where = f" {context}" if context else ""
        present_txt = ", ".join(repr(k) for k in self.present) if self.present else "none"
        self.message = (
            f"missing {what} {names}{where}; present: {present_txt}. Inject it with "
            f"flow.create_execution(runtime_resources={{...}}), flow.update_runtime_resources(...), "
            f"or load(saved, runtime_resources={{...}})."
        )
        super().__init__(self.message)

    def __str__(self) -> str:  # KeyError would otherwise print the message in quotes
        return self.message


class ChunkError(TriggerFlowError, RuntimeError):
    """A chunk raised. The original exception is ``__cause__``; the execution ended ``failed``."""

    def __init__(self, chunk_name: str, original: BaseException):
        self.chunk_name = chunk_name
        self.original = original
        super().__init__(f"chunk {chunk_name!r} raised {type(original).__name__}: {original}")


class InterruptError(TriggerFlowError, LookupError):
    """An interrupt id that is unknown or already resumed, or pending interrupts blocking close()."""


class PauseNotSupportedError(TriggerFlowError, RuntimeError):
    """A chunk paused where it cannot be resumed: inside ``flow.start()``, which returns no handle
    to resume with, or with ``resume_to={"event": ...}`` inside a fan-out item, whose block waits
    for the item's result."""


class HistoryError(TriggerFlowError, LookupError):
    """A step asked of an execution's history that it does not hold: history is off, the step does not
    exist (or was dropped past ``history_limit``), has not finished, or cannot be forked from exactly."""


class SnapshotError(TriggerFlowError, ValueError):
    """Base class of the errors raised when a saved snapshot is refused."""


class InvalidSnapshotError(SnapshotError):
    """The snapshot is not a dict, is corrupt, or fails validation."""


class SchemaVersionError(SnapshotError):
    """The snapshot was written with a schema version this package does not read."""


class FingerprintMismatchError(SnapshotError):
    """The snapshot belongs to a different flow definition."""


class SaveError(TriggerFlowError, TypeError):
    """An execution cannot be saved (e.g. a value in flight between chunks is not serializable)."""


class BlueprintError(TriggerFlowError, ValueError):
    """A blueprint is malformed or names a handler that was not registered."""


class FlowConfigError(BlueprintError):
    """A flow config (the other TriggerFlow's definition format) cannot be read or written here:
    it is malformed, names a handler that was not registered, or uses a construct that has no
    equivalent on the other side (the message names it)."""


class EnvironmentProviderError(TriggerFlowError, LookupError):
    """No provider registered for a requested managed execution environment, or it failed."""


# Where an error raised to a caller keeps its untrimmed traceback (see _tracebacks.trim).
FULL_TRACEBACK = "__triggerflow_full_traceback__"


def exception_chain(error: BaseException) -> Iterator[BaseException]:
    """``error`` and every exception of its ``__cause__`` / ``__context__`` chain, each once."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        exc = pending.pop()
        if exc is None or id(exc) in seen:
            continue
        seen.add(id(exc))
        yield exc
        pending.extend((exc.__cause__, exc.__context__))


def full_traceback(error: BaseException) -> str:
    """The whole traceback of ``error`` and of its causes, engine frames included.

    Errors raised to callers show only the user's frames; the engine's are kept on the
    error and put back here, for a bug report or a look inside.
    """
    import traceback

    swapped: list[tuple[BaseException, object]] = []
    for exc in exception_chain(error):
        full = getattr(exc, FULL_TRACEBACK, None)
        if full is not None:
            swapped.append((exc, exc.__traceback__))
            exc.__traceback__ = full
    try:
        return "".join(traceback.format_exception(error))
    finally:
        for exc, trimmed in swapped:
            exc.__traceback__ = trimmed  # type: ignore[assignment]


class HistoryLimitWarning(UserWarning):
    """An execution ran more steps than its ``history_limit``: the oldest steps are dropped from its history."""


class ResourceTypeWarning(UserWarning):
    """load() got a runtime resource of another type than the one recorded when the execution was saved.

    A warning, not an error: a new type may be intended (a test double, a new client class).
    """
