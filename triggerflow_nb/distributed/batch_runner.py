"""What runs on a worker: one batch of items through their body, results back pickled.

The job (handlers and worker context) is unpickled once per worker and job, not once
per batch. The batch stops at its first failing item (the driver cancels the rest);
results are pickled here, one by one, so that one that cannot travel fails its own item
(batch_outcome).
"""

from __future__ import annotations

import threading
import traceback
from inspect import isawaitable
from typing import Any

import cloudpickle

from .batch_outcome import Failure, pack
from .worker_data import WorkerData
from .worker_loop import run_on_worker_loop

_jobs_lock = threading.Lock()
_jobs: dict[str, Any] = {}  # job token -> (steps by body, context); only the latest few are kept
_KEEP_JOBS = 8


def _job(token: str, job_blob: bytes) -> Any:
    with _jobs_lock:
        job = _jobs.get(token)
        if job is None:
            job = _jobs[token] = cloudpickle.loads(job_blob)
            while len(_jobs) > _KEEP_JOBS:
                del _jobs[next(iter(_jobs))]
        return job


def _worker_address() -> str:
    try:
        from distributed import get_worker

        return get_worker().address
    except Exception:  # run outside a Dask worker (a unit test calling it directly)
        import os

        return f"pid {os.getpid()}"


class NotRebuiltOnWorker(Exception):
    """The job or the batch does not unpickle on this worker; carries the worker's address."""

    def __init__(self, worker: str, detail: str):
        super().__init__(worker, detail)
        self.worker = worker
        self.detail = detail


def run_batch(token: str, job_blob: bytes, batch_blob: bytes) -> bytes:
    worker = _worker_address()
    try:
        bodies, context = _job(token, job_blob)
        batch = cloudpickle.loads(batch_blob)
    except Exception as exc:  # a module the handlers or items need is missing here; the driver says which items
        raise NotRebuiltOnWorker(worker, f"{type(exc).__name__}: {exc}") from exc
    indexes: list[int] = []
    chunks: list[str] = []
    values: list[Any] = []
    failure: Failure | None = None
    for index, body_index, item in batch:
        value = item
        chunk = ""
        try:
            for chunk, handler in bodies[body_index]:
                value = handler(WorkerData(context, chunk, value, index))
                if isawaitable(value):
                    value = run_on_worker_loop(value)
        except BaseException as exc:  # SystemExit, KeyboardInterrupt too: they fail the item, not the worker
            failure = (index, chunk, exc, traceback.format_exc())
            break
        indexes.append(index)
        chunks.append(chunk)
        values.append(value)
    return pack(worker, indexes, chunks, values, failure)
