"""The worker side of a batch, run in this process: what travels back, exactly (no cluster)."""

import asyncio
import io
import os
import pickle
import threading
import uuid

import cloudpickle

from triggerflow_nb.definition.item_executor import WorkerContext
from triggerflow_nb.distributed import RemoteSerializationError
from triggerflow_nb.distributed.batch_outcome import pack, unpack
from triggerflow_nb.distributed.batch_runner import run_batch

CANNOT_SEND = ("the result of chunk {chunk!r} for item {index} ({kind}) cannot be sent back from the worker: "
               "cannot pickle '_thread.lock' object; return plain data (numbers, strings, lists, dicts)")


def pickled_alone(*values):
    """The bytes one pickler writes for ``values``, as pack writes the values it keeps."""
    buffer = io.BytesIO()
    pickler = cloudpickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    for value in values:
        pickler.dump(value)
    return buffer.getvalue()


def test_a_value_that_fails_half_written_leaves_no_bytes_behind():
    # 200 KB of bytes are written out before the lock fails: the envelope keeps only the first value.
    big_then_lock = [b"x" * 200_000, threading.Lock()]
    worker, indexes, chunks, values, head, _ = pickle.loads(
        pack("w", [4, 5], ["c4", "c5"], ["first", big_then_lock], None))
    assert (worker, indexes, chunks) == ("w", [4], ["c4"])
    assert values == pickled_alone("first")
    assert head == (5, "c5", "RemoteSerializationError: " + CANNOT_SEND.format(chunk="c5", index=5, kind="list"), "")


def test_the_first_value_that_does_not_pickle_ends_the_batch():
    records = unpack(pack("w", [0, 1, 2, 3], ["a", "b", "c", "d"], [10, threading.Lock(), 30, threading.RLock()],
                          None))
    assert [r[:4] for r in records] == [("ok", 0, 10), ("error", 1, "b", "w")]
    message = CANNOT_SEND.format(chunk="b", index=1, kind="lock")
    assert type(records[1][4]) is RemoteSerializationError and str(records[1][4]) == message
    assert records[1][5:] == (f"RemoteSerializationError: {message}", "")


def test_run_batch_stops_at_the_first_failing_item():
    def check(d):
        if d.input == "bad":
            raise ValueError(f"bad item {d.item_index}")
        return d.input * 2

    job = cloudpickle.dumps(([(("check", check),)], WorkerContext("ex", "for_each@first", {})))
    batch = cloudpickle.dumps([(0, 0, 1), (1, 0, "bad"), (2, 0, 3), (3, 0, "bad")])
    records = unpack(run_batch(uuid.uuid4().hex, job, batch))
    assert [r[:4] for r in records] == [("ok", 0, 2), ("error", 1, "check", f"pid {os.getpid()}")]
    assert type(records[1][4]) is ValueError and str(records[1][4]) == "bad item 1"
    assert records[1][5] == "ValueError: bad item 1"
    assert records[1][6].splitlines()[-1] == "ValueError: bad item 1"


def test_async_handlers_run_on_the_process_worker_loop_a_daemon_thread():
    async def double(d):
        await asyncio.sleep(0)
        return (d.input * 2, threading.current_thread().name)

    job = cloudpickle.dumps(([(("double", double),)], WorkerContext("ex", "for_each@first", {})))
    records = unpack(run_batch(uuid.uuid4().hex, job, cloudpickle.dumps([(0, 0, 21)])))
    assert records == [("ok", 0, (42, "triggerflow_nb-worker-loop"))]
    loops = [thread for thread in threading.enumerate() if thread.name == "triggerflow_nb-worker-loop"]
    # A daemon: the loop, which runs forever, never keeps the process from exiting.
    assert loops and all(thread.daemon for thread in loops)


def _count_load(path):
    with open(path, "a") as file:
        file.write("load\n")
    return "context"


class CountsLoads:
    """Unpickling it writes a line to ``path``: how often a worker rebuilt the job."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (_count_load, (self.path,))


def test_a_worker_keeps_the_eight_latest_jobs(tmp_path):
    log = tmp_path / "loads"
    blob = cloudpickle.dumps(([], CountsLoads(str(log))))
    empty = cloudpickle.dumps([])

    def run(token):
        run_batch(token, blob, empty)
        return len(log.read_text().splitlines())

    tokens = [uuid.uuid4().hex for _ in range(9)]
    assert [run(token) for token in tokens[:8]] == [1, 2, 3, 4, 5, 6, 7, 8]  # each new job is rebuilt once
    assert run(tokens[0]) == 8  # the eight latest are kept: the oldest of them too
    assert run(tokens[8]) == 9  # a ninth pushes the oldest out...
    assert run(tokens[1]) == 9
    assert run(tokens[0]) == 10  # ...which is then rebuilt
