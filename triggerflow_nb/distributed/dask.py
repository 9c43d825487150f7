"""``DaskExecutor``: run a for_each/batch body on Dask distributed workers, in batches.

One Dask task per item costs milliseconds (scheduler round trips), so items travel in
batches of ``batch_size``: one task runs a batch through the body and sends its results
back together. The handlers and the worker context are pickled once per fan-out and each
batch carries those bytes with its items. (Scattering them once instead was tried: the job
then lives on one worker, so losing that worker cancels every batch rather than retrying
one, and tasks with a dependency skip the scheduler's queue, so a cancel reaches batches
already waiting on workers.) Works with a synchronous ``Client`` (the usual notebook
one, whose loop runs in a thread of its own) and with ``Client(asynchronous=True)``.

A worker that dies mid-batch is rescheduled by Dask's scheduler up to its
``distributed.scheduler.allowed-failures`` setting (set it to 1 for "retry once");
after that the batch's items fail with ``RemoteWorkerLostError``.
"""

from __future__ import annotations

import asyncio
import uuid
from inspect import isawaitable
from typing import Any

import cloudpickle
from distributed import Client, Future

from ..definition.item_executor import OnBatch, RemoteJob
from ..environments.manager import normalize_requests
from .batch_outcome import unpack
from .batch_runner import NotRebuiltOnWorker, run_batch
from .errors import ExecutorConfigError, RemoteItemError, RemoteSerializationError, RemoteWorkerLostError
from .worker_resources import release_worker_resources


class DaskExecutor:
    """``for_each(executor=DaskExecutor(client, batch_size=500))``: items run on ``client``'s workers.

    ``environments=[...]`` (the same requests as ``execution_environments``) names resources
    each worker builds for itself with a registered provider; the execution's own managed
    environments are rebuilt on workers too. Live ``runtime_resources`` never travel.
    """

    label = "Dask"

    def __init__(self, client: Any, batch_size: int = 500, *, environments: list[Any] | None = None):
        if not isinstance(client, Client):
            raise ExecutorConfigError(
                f"DaskExecutor needs a dask.distributed.Client (e.g. Client(LocalCluster(n_workers=2)) or "
                f"Client('tcp://scheduler:8786')), got {type(client).__name__}"
            )
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ExecutorConfigError(f"DaskExecutor(batch_size=...) must be a positive int, got {batch_size!r}")
        try:
            self.environments = normalize_requests(list(environments or []))
        except (TypeError, ValueError) as exc:
            raise ExecutorConfigError(f"DaskExecutor(environments=...): {exc}") from None
        self.client = client
        self.batch_size = batch_size

    def __repr__(self) -> str:
        scheduler = getattr(self.client.scheduler, "address", None)  # None once the client is closed
        return f"<DaskExecutor batch_size={self.batch_size} scheduler={scheduler!r}>"

    # -- running a job ------------------------------------------------------------------------

    async def run_job(self, job: RemoteJob, on_batch: OnBatch) -> None:
        if self.client.status in ("closing", "closed"):  # Dask would say only "can't send update-graph"
            raise ExecutorConfigError(
                f"the Dask client of {job.block_id!r} is {self.client.status}: connect a new Client and pass "
                f"DaskExecutor(new_client, ...) to the block (re-run its cell)"
            )
        loop = asyncio.get_running_loop()
        token = uuid.uuid4().hex
        try:
            job_blob = cloudpickle.dumps((job.bodies, job.context))
        except Exception as exc:
            raise RemoteSerializationError(
                f"the body or worker context of {job.block_id!r} cannot be shipped to Dask workers: {exc}") from exc
        spans = [(start, min(start + self.batch_size, len(job.items)))
                 for start in range(0, len(job.items), self.batch_size)]
        window = job.max_batches_in_flight or len(spans)
        next_span = iter(enumerate(spans))
        running: dict[asyncio.Future, tuple[Any, tuple[int, int]]] = {}
        try:
            while True:
                while len(running) < window:
                    step = next(next_span, None)
                    if step is None:
                        break
                    self._start(loop, running, job, token, job_blob, *step)
                if not running:
                    return
                done, _ = await asyncio.wait(list(running), return_when=asyncio.FIRST_COMPLETED)
                for finished in done:
                    # No local name holds the Dask future: a traceback kept by a failed execution
                    # would keep the task's result alive on the cluster.
                    on_batch(self._records(job, running.pop(finished)[1], finished.result()))
        finally:
            if running:  # failed or cancelled: nothing of this fan-out keeps running for nobody
                outstanding = [dask_future for dask_future, _ in running.values()]
                running.clear()
                try:
                    await _settle(self.client.cancel(outstanding, force=True))
                except Exception:
                    pass
                del outstanding

    def _start(self, loop: asyncio.AbstractEventLoop, running: dict, job: RemoteJob, token: str, job_blob: bytes,
               number: int, span: tuple[int, int]) -> None:
        dask_future = self._submit(job, token, job_blob, number, span)
        running[self._bridge(loop, dask_future)] = (dask_future, span)

    def _submit(self, job: RemoteJob, token: str, job_blob: bytes, number: int, span: tuple[int, int]) -> Any:
        start, end = span
        batch = [(i, job.body_of[i], job.items[i]) for i in range(start, end)]
        try:
            batch_blob = cloudpickle.dumps(batch)
        except Exception:
            for i, _, item in batch:
                try:
                    cloudpickle.dumps(item)
                except Exception as exc:
                    raise RemoteSerializationError(
                        f"item {i} of {job.block_id!r} ({type(item).__name__}) cannot be shipped to Dask workers: "
                        f"{exc}; items must pickle (plain data travels best)") from exc
            raise
        return self.client.submit(run_batch, token, job_blob, batch_blob, pure=False,
                                  key=f"triggerflow_nb-{job.block_id}-{token[:8]}-{number}")

    @staticmethod
    def _bridge(loop: asyncio.AbstractEventLoop, dask_future: Any) -> asyncio.Future:
        """An asyncio future of this loop that gets the Dask task's outcome, whatever loop the client uses."""
        outcome: asyncio.Future = loop.create_future()

        def deliver(finished: Any) -> None:  # runs in Dask's callback thread
            try:
                if finished.status == "finished":
                    result: Any = ("ok", finished.result())
                elif finished.status == "cancelled":
                    result = ("cancelled", None)
                else:
                    result = ("error", finished.exception())
            except BaseException as exc:
                result = ("error", exc)
            if not loop.is_closed():
                loop.call_soon_threadsafe(_set_if_pending, outcome, result)

        dask_future.add_done_callback(deliver)
        return outcome

    def _records(self, job: RemoteJob, span: tuple[int, int], outcome: tuple[str, Any]) -> list[tuple]:
        kind, value = outcome
        if kind == "ok":
            return unpack(value)
        start, end = span
        items = f"items {start}..{end - 1}" if end - start > 1 else f"item {start}"
        if kind == "cancelled":
            raise RemoteWorkerLostError(f"the Dask task running {items} of {job.block_id!r} was cancelled "
                                        f"outside this execution (client closed or cluster restarted?)")
        if isinstance(value, NotRebuiltOnWorker):  # no item ran: the batch's first item fails, in its first chunk
            error = RemoteSerializationError(
                f"{items} of {job.block_id!r} could not start on Dask worker {value.worker}: the body's handlers or "
                f"the items cannot be rebuilt there ({value.detail}); install every module they use on the workers, "
                f"for the same Python as the notebook, or define the handlers in a notebook cell (they then travel "
                f"by value)")
            chunk = job.bodies[job.body_of[start]][0][0]
            return [("error", start, chunk, value.worker, error, f"RemoteSerializationError: {error}", "")]
        if type(value).__name__ == "KilledWorker":
            raise RemoteWorkerLostError(
                f"Dask workers died while running {items} of {job.block_id!r}, also after Dask's retry: {value}")
        raise RemoteItemError(job.block_id, value, item_index=start, block_id=job.block_id, worker="unknown")

    # -- worker resources ----------------------------------------------------------------------

    async def async_release_worker_resources(self) -> dict[str, int]:
        """Release the resources every worker built for itself; worker address -> how many."""
        return await _settle(self.client.run(release_worker_resources))

    def release_worker_resources(self) -> dict[str, int]:
        from .._loop_bridge import run_sync

        return run_sync(self.async_release_worker_resources())


def _set_if_pending(future: asyncio.Future, result: Any) -> None:
    if not future.done():
        future.set_result(result)


async def _settle(result: Any) -> Any:
    """A Client call returns a value (sync client) or an awaitable (asynchronous client).

    A Dask Future is awaitable too, but it is a value here (e.g. what scatter() returns).
    """
    if isawaitable(result) and not isinstance(result, Future):
        return await result
    return result
