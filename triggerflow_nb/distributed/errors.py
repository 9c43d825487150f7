"""The typed errors of running for_each/batch items elsewhere (on Dask workers).

Each derives from TriggerFlowError and says what to do instead. ``RemoteBodyError`` (a body an
executor cannot run) is found when the flow is defined: it is in ``triggerflow_nb.errors``.
"""

from __future__ import annotations

from typing import Any

from ..errors import ChunkError, TriggerFlowError


class ExecutorConfigError(TriggerFlowError, TypeError):
    """An executor was built with arguments of the wrong type or range (a client, a batch size...)."""


class RemoteSerializationError(TriggerFlowError, TypeError):
    """A handler or an item cannot be shipped to workers (it does not pickle, or captures a live resource)."""


class RemoteResourceError(TriggerFlowError, LookupError):
    """A handler on a worker asked for a runtime resource that workers do not have."""


class RemoteStateWriteError(TriggerFlowError, RuntimeError):
    """A handler on a worker tried to write state; workers see a read-only snapshot."""


class RemoteOperationError(TriggerFlowError, RuntimeError):
    """A handler on a worker used something only the notebook process has (emit, pause, stream, flow_data)."""


class RemoteWorkerLostError(TriggerFlowError, RuntimeError):
    """A worker died while running a batch, also on Dask's retry."""


class RemoteItemError(ChunkError):
    """An item's handler raised on a worker; names the chunk, the item index and the worker.

    ``original`` (also ``__cause__``) is the handler's exception when it could be shipped
    back; otherwise a RuntimeError carrying its type name and message.
    """

    def __init__(self, chunk_name: str, original: BaseException, *, item_index: int, block_id: str,
                 worker: str, remote_traceback: str = ""):
        super().__init__(chunk_name, original)
        self.item_index = item_index
        self.block_id = block_id
        self.worker = worker
        self.remote_traceback = remote_traceback
        self.args = (f"{self.args[0]} (item {item_index} of {block_id!r}, on Dask worker {worker})",)


def in_item_context(exc: TriggerFlowError, chunk_name: str, item_index: int, block_id: str, worker: str) -> Any:
    """One of our own typed errors raised on a worker, with where it happened added to its message."""
    text = str(exc.args[0]) if exc.args else type(exc).__name__
    exc.args = (f"{text} (item {item_index} of {block_id!r}, on Dask worker {worker})",)
    exc.chunk_name = chunk_name  # type: ignore[attr-defined]
    exc.item_index = item_index  # type: ignore[attr-defined]
    exc.worker = worker  # type: ignore[attr-defined]
    return exc
