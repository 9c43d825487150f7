"""Does a snapshot's step history make sense for itself?

The schema checked the shape and the types; this checks what ``runtime/history.py`` relies on
when it reads a loaded history back (``history()``, ``state_at()``):

* ``limit`` is at least 1, ``dropped``, ``first_seq`` and ``writes_base`` are not negative,
  and at most ``limit`` steps are kept;
* the steps are numbered ``first_seq``, ``first_seq + 1``, ... with no gap, none of them is
  still running (a snapshot is taken at a settled point), and only a failed or cancelled one
  carries an error;
* where the write log stood when each step finished lies in the saved log (``writes_base``
  to its end), and the steps begun by then include it and no step after the last kept;
* every write and emit names a step that can have made it (a kept step, an older dropped
  one for a write, or none for a write from outside a chunk), and only a flow_data write
  carries its ``after`` (a state write's is read off the next write or the state).

The check is linear in the size of the history.
"""

from __future__ import annotations

from ..errors import InvalidSnapshotError
from ..runtime.snapshot import HistoryRecord

_FINISHED = ("completed", "failed", "paused", "cancelled")
_WITH_ERROR = ("failed", "cancelled")


def check_history(history: HistoryRecord) -> None:
    limit, first, base = history["limit"], history["first_seq"], history["writes_base"]
    if limit < 1 or history["dropped"] < 0 or first < 0 or base < 0:
        raise _corrupt(f"limit {limit}, dropped {history['dropped']}, first_seq {first} and writes_base {base} "
                       f"must be a positive limit and counts of at least 0")
    steps = history["steps"]
    if len(steps) > limit:
        raise _corrupt(f"{len(steps)} steps kept under a limit of {limit}")
    end = base + len(history["writes"])
    for offset, step in enumerate(steps):
        seq = step["seq"]
        if seq != first + offset:
            raise _corrupt(f"step {seq} is where step {first + offset} should be: steps are numbered without gaps")
        if step["status"] not in _FINISHED:
            raise _corrupt(f"step {seq} is {step['status']!r}: a saved step has finished")
        if (step["error"] is not None) != (step["status"] in _WITH_ERROR):
            raise _corrupt(f"step {seq} is {step['status']!r} with error {step['error']!r}: only a failed or "
                           f"cancelled step has an error")
        if not base <= step["writes_to"] <= end:
            raise _corrupt(f"step {seq} finished at write {step['writes_to']}, outside the log ({base} to {end})")
        if not seq < step["began_by"] <= first + len(steps):
            raise _corrupt(f"step {seq} finished when {step['began_by']} steps had begun: not after itself, or "
                           f"more than were kept")
    last = first + len(steps) - 1
    for position, write in enumerate(history["writes"], base):
        if write["step"] is not None and not 0 <= write["step"] <= last:
            raise _corrupt(f"write {position} is by step {write['step']}, which never ran")
        if write["layer"] == "state" and "after" in write:
            raise _corrupt(f"write {position} is a state write with an 'after': that is read off the state")
    for emit in history["emits"]:
        if not first <= emit["step"] <= last:
            raise _corrupt(f"an emit of {emit['event']!r} is by step {emit['step']}, which is not kept")


def _corrupt(detail: str) -> InvalidSnapshotError:
    return InvalidSnapshotError(f"corrupt snapshot: history: {detail}")
