"""One real LocalCluster (2 worker processes) for the whole session; every wait is bounded.

The test modules are pickled by value, so worker processes (which cannot import them)
run the handlers defined in the tests, as they would run handlers defined in a notebook.
"""

import logging
import os
import time

import pytest

dask = pytest.importorskip("dask")  # the test extra installs it; skipping only hides a broken set-up locally
distributed = pytest.importorskip("distributed")
import cloudpickle  # noqa: E402
from dask_keys import scheduler_task_keys  # noqa: E402

WORKERS = 2


@pytest.fixture(scope="session")
def dask_client():
    # "A worker lost mid-batch is retried once": the scheduler reschedules a task after one
    # worker death and gives up (KilledWorker) at the second. Read when the scheduler starts.
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        cluster = distributed.LocalCluster(n_workers=WORKERS, threads_per_worker=1, processes=True,
                                           dashboard_address=":0", silence_logs=logging.CRITICAL)
    client = distributed.Client(cluster, timeout=30)
    try:
        client.wait_for_workers(WORKERS, timeout=60)
        yield client
    finally:
        client.close(timeout=15)
        cluster.close(timeout=15)


@pytest.fixture
def client(dask_client, request):
    """The session's client with both workers up (a test may have killed one)."""
    cloudpickle.register_pickle_by_value(request.module)
    dask_client.wait_for_workers(WORKERS, timeout=60)
    yield dask_client
    cloudpickle.unregister_pickle_by_value(request.module)
    # Every fan-out lets go of its tasks (done, failed or cancelled): none may linger on the cluster.
    deadline = time.monotonic() + 10
    while scheduler_task_keys(dask_client):
        if time.monotonic() > deadline:
            pytest.fail(f"tasks left on the cluster: {scheduler_task_keys(dask_client)}")
        time.sleep(0.05)


@pytest.fixture
def worker_pids(client):
    return set(client.run(os.getpid).values())
