"""What the walker hands an item executor, and the small protocol every executor follows.

The walker stays in charge of the flow: it builds a ``RemoteJob`` (the body's handlers,
the items, a read-only copy of state, what workers need to build their own resources)
and awaits ``executor.run_job(job, on_batch)``. The executor calls ``on_batch(records)``
each time a batch of items finishes, in any order; the walker puts every result into
its item's slot, so results are joined in item order exactly as a local for_each does.

The protocol is part of the flow definition (``for_each(executor=...)`` is checked against
it when the flow is defined, and ``Node.executor`` is typed by it); the executors themselves,
``DaskExecutor`` included, live in ``triggerflow_nb.distributed``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from ..errors import FlowDefinitionError

# One chunk of a body: (node id, handler). A body is the chain of them an item runs through.
Step = tuple[str, Callable[..., Any]]
Body = tuple[Step, ...]


@dataclass
class WorkerContext:
    """Plain data (and provider code) a worker needs besides the handlers and items."""

    execution_id: str
    block_id: str
    state: dict[str, Any]  # a copy of state at fan-out time; read-only on workers
    environments: list[dict[str, Any]] = field(default_factory=list)  # {"kind", "key", "config"} requests
    providers: dict[str, Any] = field(default_factory=dict)  # kind -> Provider (its functions ship)
    driver_only_keys: list[str] = field(default_factory=list)  # live resources that stay in the notebook


@dataclass
class RemoteJob:
    """One fan-out to run elsewhere: ``bodies[body_of[i]]`` runs on ``items[i]``."""

    block_id: str
    bodies: list[Body]
    body_of: list[int]
    items: list[Any]
    context: WorkerContext
    max_batches_in_flight: int | None = None  # from the block's concurrency=


# A batch's outcome, one record per item that ran:
#   ("ok", index, value)
#   ("error", index, chunk_id, worker, exception or None, "Type: message", remote traceback text)
Record = tuple[Any, ...]
OnBatch = Callable[[list[Record]], None]


@runtime_checkable
class ItemExecutor(Protocol):
    """Runs a fan-out's items somewhere else and reports finished batches."""

    label: str  # shown on the graph node, e.g. "Dask"

    def run_job(self, job: RemoteJob, on_batch: OnBatch) -> Awaitable[None]:
        """Run every item; call ``on_batch`` per finished batch; raise to fail the fan-out.

        When the awaiting task is cancelled (or ``on_batch`` raises), work not yet done
        must be cancelled before this returns.
        """
        ...


def check_executor(executor: Any, method: str) -> None:
    """Refuse anything that is not an item executor, at definition time."""
    if isinstance(executor, type):  # the class itself passes the attribute checks below
        raise FlowDefinitionError(
            f"{method}(executor=...) got the class {executor.__name__}, not an executor: create one, "
            f"e.g. {executor.__name__}(client, batch_size=500)"
        )
    if not isinstance(executor, ItemExecutor) or not isinstance(getattr(executor, "label", None), str):
        raise FlowDefinitionError(
            f"{method}(executor=...) must be None or an item executor such as "
            f"triggerflow_nb.distributed.DaskExecutor(client, batch_size=...), got {type(executor).__name__}"
        )
