"""Running for_each/batch items elsewhere: ``for_each(executor=DaskExecutor(client, batch_size=...))``.

Importing this package does not import dask; ``DaskExecutor`` loads it on first use
(``pip install triggerflow_nb[dask]``).
"""

from __future__ import annotations

from typing import Any

# The protocol and the body check are part of the flow definition (``for_each(executor=...)``
# is checked when the flow is defined); exported here too, beside the executors.
from ..definition.item_executor import ItemExecutor, RemoteJob, WorkerContext
from ..errors import RemoteBodyError
from .errors import (
    ExecutorConfigError,
    RemoteItemError,
    RemoteOperationError,
    RemoteResourceError,
    RemoteSerializationError,
    RemoteStateWriteError,
    RemoteWorkerLostError,
)


def __getattr__(name: str) -> Any:
    if name == "DaskExecutor":
        try:
            from .dask import DaskExecutor
        except ImportError as exc:
            raise ImportError(
                f"DaskExecutor needs Dask distributed: pip install 'triggerflow_nb[dask]' ({exc})"
            ) from exc
        return DaskExecutor
    raise AttributeError(f"module 'triggerflow_nb.distributed' has no attribute {name!r}")


__all__ = [
    "DaskExecutor", "ExecutorConfigError", "ItemExecutor", "RemoteBodyError", "RemoteItemError",
    "RemoteJob", "RemoteOperationError", "RemoteResourceError", "RemoteSerializationError",
    "RemoteStateWriteError", "RemoteWorkerLostError", "WorkerContext",
]
