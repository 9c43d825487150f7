"""A batch's outcome on its way back from a worker: item values read back one at a time.

One pickled list of results would fail as a whole when a single value cannot be rebuilt in
the notebook process (its class lives only on workers, its reducer refuses), naming no
item. So the worker writes the values one after another with one pickler, and the notebook
reads them with one unpickler, one ``load()`` per item: the first that cannot be read fails
its own item, naming its index, its chunk and the worker, and the items before it keep their
results. The pickler and the unpickler keep their memo across items, so an object shared by
several results stays shared, as in one pickle. A batch stops at its first failing item;
the handler's exception (if any) travels apart, after the values.

The envelope is plain data, pickled as bytes (what Dask moves fastest):
``(worker, indexes, chunks, values, error_head, error_blob)``, with ``chunks`` the chunk that
produced each value and ``error_head`` ``(index, chunk, "Type: message", traceback)`` or None.
"""

from __future__ import annotations

import io
import pickle
from typing import Any

import cloudpickle

from ..definition.item_executor import Record
from .errors import RemoteSerializationError

PLAIN_DATA = "return plain data (numbers, strings, lists, dicts)"

# What stopped a batch on the worker: (item index, chunk, exception, traceback text).
Failure = tuple[int, str, BaseException, str]


def pack(worker: str, indexes: list[int], chunks: list[str], values: list[Any], failure: Failure | None) -> bytes:
    """The first value that does not pickle becomes its item's failure; the values after it are dropped."""
    buffer = io.BytesIO()
    pickler = cloudpickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    for position, value in enumerate(values):
        mark = buffer.tell()
        try:
            pickler.dump(value)
        except Exception as exc:
            buffer.truncate(mark)  # its memo is now ahead of the bytes kept: nothing more is written with it
            error = RemoteSerializationError(
                f"the result of chunk {chunks[position]!r} for item {indexes[position]} ({type(value).__name__}) "
                f"cannot be sent back from the worker: {exc}; {PLAIN_DATA}")
            failure = (indexes[position], chunks[position], error, "")
            indexes, chunks = indexes[:position], chunks[:position]
            break
    error_head = error_blob = None
    if failure is not None:
        index, chunk, raised, remote_traceback = failure
        error_head = (index, chunk, f"{type(raised).__name__}: {raised}", remote_traceback)
        try:
            error_blob = cloudpickle.dumps(raised, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:
            pass  # it does not travel: its type name and message (in the head) still do
    return pickle.dumps((worker, indexes, chunks, buffer.getvalue(), error_head, error_blob),
                        protocol=pickle.HIGHEST_PROTOCOL)


def unpack(packed: bytes) -> list[Record]:
    """The executor protocol's records (see definition/item_executor.py: Record), values read one item at a time."""
    worker, indexes, chunks, values, error_head, error_blob = pickle.loads(packed)
    load = pickle.Unpickler(io.BytesIO(values)).load
    records: list[Record] = []
    append = records.append
    for index, chunk in zip(indexes, chunks, strict=True):
        try:
            value = load()
        except Exception as exc:
            error = RemoteSerializationError(
                f"the result of chunk {chunk!r} for item {index} cannot be rebuilt in the notebook process: "
                f"{type(exc).__name__}: {exc}; {PLAIN_DATA} or make its type importable here")
            error.__cause__ = exc
            append(("error", index, chunk, worker, error, f"RemoteSerializationError: {error}", ""))
            return records
        append(("ok", index, value))
    if error_head is not None:
        index, chunk, text, remote_traceback = error_head
        try:
            original = pickle.loads(error_blob) if error_blob is not None else None
        except Exception:  # the handler's exception does not rebuild here: its type name and message still tell
            original = None
        append(("error", index, chunk, worker, original, text, remote_traceback))
    return records
