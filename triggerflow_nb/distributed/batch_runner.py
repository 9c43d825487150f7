"""What runs on a worker: one batch of items through their body, results back as bytes.

The job (handlers and worker context) is unpickled once per worker and job, not once
per batch. The batch stops at its first failing item (the driver cancels the rest);
results are pickled here so that one that cannot travel fails its own item by index.
"""

from __future__ import annotations

import threading
import traceback
from inspect import isawaitable
from typing import Any

import cloudpickle

from .errors import RemoteSerializationError
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


def _error_record(index: int, chunk: str, worker: str, exc: BaseException) -> tuple:
    try:
        shipped: BaseException | None = cloudpickle.loads(cloudpickle.dumps(exc))
    except Exception:
        shipped = None  # it does not travel: the type name and message still do
    text = f"{type(exc).__name__}: {exc}"
    return ("error", index, chunk, worker, shipped, text, traceback.format_exc())


def run_batch(token: str, job_blob: bytes, batch_blob: bytes) -> bytes:
    bodies, context = _job(token, job_blob)
    batch = cloudpickle.loads(batch_blob)
    worker = _worker_address()
    records: list[tuple] = []
    for index, body_index, item in batch:
        value = item
        chunk = ""
        try:
            for chunk, handler in bodies[body_index]:
                value = handler(WorkerData(context, chunk, value, index))
                if isawaitable(value):
                    value = run_on_worker_loop(value)
        except Exception as exc:
            records.append(_error_record(index, chunk, worker, exc))
            break
        records.append(("ok", index, value))
    try:
        return cloudpickle.dumps(records)
    except Exception:
        return cloudpickle.dumps(_first_unshippable(records, worker))


def _first_unshippable(records: list[tuple], worker: str) -> list[tuple]:
    """Keep the results that pickle; the first that does not becomes its item's error."""
    kept = []
    for record in records:
        try:
            cloudpickle.dumps(record)
        except Exception as exc:
            error = RemoteSerializationError(
                f"the result of item {record[1]} ({type(record[2]).__name__}) cannot be sent back from the "
                f"worker: {exc}; return plain data (numbers, strings, lists, dicts)")
            kept.append(("error", record[1], "", worker, error, f"RemoteSerializationError: {error}", ""))
            break
        kept.append(record)
    return kept
