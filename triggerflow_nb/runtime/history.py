"""``StepLog``: the history of an execution, recorded as it runs.

Each chunk run (a step) is one row, filled when it starts and when it ends; every state and
flow_data write goes into one write log, in the order the writes happened, with the step
that made it (None: a write from outside a chunk, or retry() undoing one). That order is
what makes ``state_at`` exact under concurrency: the state right after step k finished is
the state now with every later write undone, newest first.

Recording is kept cheap enough to be on by default. While a step runs, its row is the chunk
run's own ``data``; when it ends, a tuple of plain values (nothing the garbage collector has
to follow, so a long history does not slow its passes down). A state
write is logged as references, not copies: state replaces a value on every write except an
append, which grows a list in place, so a list is logged with its length then,
``(list, length)``, and nothing ever shortens a state list in place (``StateStore.undo``
replaces it). Inputs, results and emitted values are JSON copies (immutable scalars as they
are; checked when read or saved): a chunk that changes its input afterwards does not change
what was recorded.
"""

from __future__ import annotations

import warnings
from time import perf_counter
from typing import Any

from .._validate import flag, positive_int
from ..errors import HistoryError, HistoryLimitWarning, StateSerializationError
from ..layers.state import copy_state_value, to_state_value
from ..reproducibility import shows_wall_clock
from .steps import (
    ABSENT,
    NOT_RECORDED_KEY,
    STEP_CANCELLED,
    STEP_FAILED,
    STEP_RUNNING,
    Emit,
    NotRecorded,
    StepHistory,
    StepRecord,
    Write,
)

STATE = "state"
FLOW_DATA = "flow_data"
DEFAULT_LIMIT = 10_000

_SMALL = (1 << 30) - 1
# Immutable: recorded as they are (the walker checks a value's class against this first). An int too
# long or a float that is not finite is JSON only after ``recorded()``, which reading and saving apply.
AS_IS = frozenset((str, bool, type(None), int, float))


def step_log(execution_id: str, history: Any, limit: Any) -> StepLog | None:
    """An execution's step log (``history=False``: None), its arguments checked."""
    if history is not True and not flag("history", history):
        return None
    return StepLog(execution_id, positive_int("history_limit", limit))  # type: ignore[arg-type]  # not None


def logged(value: Any) -> Any:
    """A state value as the write log holds it: a list with its length now (lists only grow in place)."""
    return (value, len(value)) if value.__class__ is list else value


def recorded(value: Any) -> Any:
    """``value`` as the history keeps it: a JSON copy, or ``NotRecorded`` naming its type."""
    cls = value.__class__
    if cls is str or cls is bool or value is None or (cls is int and -_SMALL <= value <= _SMALL):
        return value
    try:
        return to_state_value("a recorded value", value)
    except (StateSerializationError, RecursionError):
        return NotRecorded(f"{cls.__module__}.{cls.__qualname__}")


# A finished step's row: (chunk, input, result, started, ended, writes_to, status, error, began_by).
# ``writes_to`` is where the write log stood when it ended, counted from the log's very first write;
# ``began_by`` how many steps had begun by then (a clock of steps: the order a timeline draws in
# reproducible mode, and what ran beside a step).
CHUNK, INPUT, RESULT, STARTED, ENDED, WRITES_TO, STATUS, ERROR, BEGAN_BY = range(9)


def _fields(row: Any) -> tuple[Any, ...]:
    """A row as a finished step's tuple; a running step's row is its data (no result, end or position)."""
    if row.__class__ is tuple:
        return row
    return (row._node.id, row._input_record, None, row._started, None, None, STEP_RUNNING, None, None)


class StepLog:
    """One execution's steps, its write log and its emits; trimmed to the last ``limit`` steps.

    ``rows[i]`` is the row of step ``first_seq + i`` (steps are numbered as they begin): the running
    chunk's data while it runs, then a tuple (see ``CHUNK`` ...) of plain values the garbage
    collector need not follow. The walker fills rows itself, inline on its hot path: when a step
    begins it numbers the data (``_seq``, from ``next_seq``), records its input, appends it and
    trims when ``trim_at`` is reached; when it returns it replaces the row by the tuple. A step
    that raises is recorded by ``fail``. Writes and emits name the seq of the step that made them.
    """

    __slots__ = ("execution_id", "limit", "trim_at", "rows", "first_seq", "next_seq", "writes", "dropped_writes",
                 "emits", "dropped", "_clock_zero")

    def __init__(self, execution_id: str, limit: int = DEFAULT_LIMIT):
        self.execution_id = execution_id
        self.limit = limit
        self.rows: list[Any] = []  # never replaced: the walker binds it once per path
        self.first_seq = 0  # the oldest seq kept
        self.next_seq = 0
        self.trim_at = limit + (limit >> 3)  # the seq that trims: in batches, amortised, not per step
        # (seq or None, STATE, key, before) or (seq or None, FLOW_DATA, key, before, after); never replaced.
        # A state write's value after it is the next write's before, or the value now: found when read.
        self.writes: list[tuple[Any, ...]] = []
        self.dropped_writes = 0  # how many writes were trimmed off the front of the log
        self.emits: list[tuple[int, str, Any]] = []  # (seq, event, value)
        self.dropped = 0
        self._clock_zero = perf_counter()

    # -- recording -----------------------------------------------------------------------------------

    def fail(self, data: Any, error: BaseException, cancelled: bool) -> None:
        index = data._seq - self.first_seq
        if index >= 0:
            self.rows[index] = (data._node.id, data._input_record, None, data._started, perf_counter(),
                                self.dropped_writes + len(self.writes), STEP_CANCELLED if cancelled else STEP_FAILED,
                                f"{type(error).__name__}: {error}", self.next_seq)

    def flow_data_write(self, seq: int, key: str, before: Any, after: Any) -> None:
        self.writes.append((seq, FLOW_DATA, key, before if before is ABSENT else recorded(before),
                            after if after is ABSENT else recorded(after)))

    def trim(self) -> None:
        """Keep the last ``limit`` steps, and the writes a kept step made or state_at() of one needs."""
        drop = self.next_seq - self.limit - self.first_seq
        if drop <= 0:
            return
        if not self.dropped:
            warnings.warn(HistoryLimitWarning(
                f"execution {self.execution_id} ran more than {self.limit:,} steps: its history keeps the "
                f"last {self.limit:,} and drops older ones (create the execution with a larger history_limit= "
                f"to keep more, or history=False to record none)"), stacklevel=2)
        del self.rows[:drop]
        self.dropped += drop
        self.first_seq += drop
        self.trim_at = self.first_seq + self.limit + (self.limit >> 3)
        cut = self._needed_from(self.first_seq) - self.dropped_writes
        if cut > 0:
            del self.writes[:cut]
            self.dropped_writes += cut
        self.emits = [emit for emit in self.emits if emit[0] >= self.first_seq]

    def _needed_from(self, first: int) -> int:
        """The first write that a step from ``first`` on made, or that state_at() of one would undo."""
        if not self.writes:
            return self.dropped_writes
        rows = self.rows[max(0, first - self.first_seq):]
        needed = min((row[WRITES_TO] for row in rows if row.__class__ is tuple),
                     default=self.dropped_writes + len(self.writes))
        for position, write in enumerate(self.writes, self.dropped_writes):
            if position >= needed:
                break
            if write[0] is not None and write[0] >= first:
                return position
        return needed

    # -- reading -----------------------------------------------------------------------------------

    def _kept(self) -> list[tuple[int, tuple[Any, ...]]]:
        """(seq, fields) of the last ``limit`` steps, in start order (a trim may be due but not done)."""
        rows = self.rows
        start = max(0, len(rows) - self.limit)
        return [(self.first_seq + index, _fields(rows[index])) for index in range(start, len(rows))]

    def row(self, seq: Any, what: str) -> tuple[Any, ...]:
        if isinstance(seq, bool) or not isinstance(seq, int):
            raise HistoryError(f"{what} takes a step's seq (an int), got {seq!r}")
        first = max(self.first_seq, self.next_seq - self.limit)
        if first <= seq < self.next_seq:
            return _fields(self.rows[seq - self.first_seq])
        if 0 <= seq < first:
            raise HistoryError(
                f"{what}: step {seq} of execution {self.execution_id} was dropped (the history keeps the last "
                f"{self.limit:,} steps; create the execution with a larger history_limit=)")
        raise HistoryError(f"{what}: execution {self.execution_id} has no step {seq} ({_range(first, self.next_seq)})")

    def _rewind(self, current: dict[str, Any], stop: int, afters: list[Any] | None = None) -> dict[str, Any]:
        """``current`` with the state writes from the log's end back to index ``stop`` undone, newest
        first (values as the log holds them); what each write left its key holding goes into ``afters``."""
        values = {key: logged(value) for key, value in current.items()}
        writes = self.writes
        for index in range(len(writes) - 1, stop - 1, -1):
            write = writes[index]
            if write[1] != STATE:
                if afters is not None:
                    afters[index] = write[4]
                continue
            key, before = write[2], write[3]
            if afters is not None:
                afters[index] = values.get(key, ABSENT)
            if before is ABSENT:
                values.pop(key, None)
            else:
                values[key] = before
        return values

    def steps(self, current: dict[str, Any]) -> StepHistory:
        """Every kept step as a ``StepRecord``, in start order; ``current`` is the state now."""
        kept = self._kept()
        first = kept[0][0] if kept else self.next_seq
        writes: dict[int, list[Write]] = {}
        afters: list[Any] = [None] * len(self.writes)
        self._rewind(current, 0, afters)
        for write, after in zip(self.writes, afters, strict=True):
            seq = write[0]
            if seq is not None and seq >= first:
                writes.setdefault(seq, []).append(Write(write[1], write[2], _value(write[3]), _value(after)))
        emits: dict[int, list[Emit]] = {}
        for seq, event, value in self.emits:
            if seq >= first:
                emits.setdefault(seq, []).append(Emit(event, _copy(value)))
        times = shows_wall_clock()
        return StepHistory(
            StepRecord(seq, row[CHUNK], _copy(row[INPUT]), _copy(row[RESULT]), row[STATUS], row[ERROR],
                       writes.get(seq, []), emits.get(seq, []), *self._times(row, times))
            for seq, row in kept)

    def _times(self, row: tuple[Any, ...], times: bool) -> tuple[float | None, float | None]:
        if not times:
            return None, None
        ended = row[ENDED]
        return round(row[STARTED] - self._clock_zero, 6), None if ended is None else round(ended - row[STARTED], 6)

    def spans(self) -> list[tuple[int, str, str, float, float, float, float, str | None]]:
        """Each kept step as (seq, chunk, status, start, end in seconds, start, end in steps begun, error);
        a running step ends now."""
        now, zero, begun = perf_counter(), self._clock_zero, self.next_seq
        return [(seq, row[CHUNK], row[STATUS], row[STARTED] - zero, (now if row[ENDED] is None else row[ENDED]) - zero,
                 float(seq), float(begun if row[BEGAN_BY] is None else row[BEGAN_BY]), row[ERROR])
                for seq, row in self._kept()]

    def state_at(self, seq: Any, current: dict[str, Any]) -> dict[str, Any]:
        """The state right after step ``seq`` finished: ``current`` with every later write undone."""
        row = self.row(seq, "state_at()")
        if row[ENDED] is None:
            raise HistoryError(f"state_at(): step {seq} ({row[CHUNK]!r}) of execution {self.execution_id} "
                               f"has not finished yet")
        values = self._rewind(current, row[WRITES_TO] - self.dropped_writes)
        return {key: _state_value(value) for key, value in values.items()}

    # -- saving and loading ------------------------------------------------------------------------

    def capture(self) -> dict[str, Any]:
        """The history as JSON: the kept steps, the write log from where they need it, their emits.
        Taken at a settled point (see snapshot_assembly.capture): every kept step has ended."""
        kept = self._kept()
        first = kept[0][0] if kept else self.next_seq
        base = self._needed_from(first)
        times = shows_wall_clock()
        steps = []
        for seq, row in kept:
            started, duration = self._times(row, times)
            steps.append({"seq": seq, "chunk": row[CHUNK], "input": _saved(row[INPUT]), "result": _saved(row[RESULT]),
                          "status": row[STATUS], "error": row[ERROR], "writes_to": row[WRITES_TO],
                          "began_by": row[BEGAN_BY], "started_at": started, "duration": duration})
        writes = []
        for seq, layer, key, before, *after in self.writes[base - self.dropped_writes:]:
            entry: dict[str, Any] = {"step": seq, "layer": layer, "key": key}
            if before is not ABSENT:
                entry["before"] = _saved(_value(before))
            if after and after[0] is not ABSENT:  # flow_data only: a state write's after is found when read
                entry["after"] = _saved(after[0])
            writes.append(entry)
        return {"limit": self.limit, "dropped": first, "first_seq": first, "writes_base": base, "steps": steps,
                "writes": writes, "emits": [{"step": seq, "event": event, "value": _saved(value)}
                                            for seq, event, value in self.emits if seq >= first]}

    def restore(self, saved: dict[str, Any]) -> None:
        """Take a validated snapshot's history (its own copy). Loaded steps keep their seqs; times
        are kept relative to this process's clock as they were to the saving one's."""
        zero = self._clock_zero
        self.rows.clear()
        for entry in saved["steps"]:
            started = zero + (entry["started_at"] or 0.0)
            self.rows.append((entry["chunk"], _loaded(entry["input"]), _loaded(entry["result"]), started,
                              started + (entry["duration"] or 0.0), entry["writes_to"], entry["status"],
                              entry["error"], entry["began_by"]))  # seqs are consecutive: checked on load
        self.first_seq = saved["first_seq"]
        self.next_seq = saved["first_seq"] + len(saved["steps"])
        self.dropped = saved["dropped"]
        self.trim_at = self.first_seq + self.limit + (self.limit >> 3)
        self.dropped_writes = saved["writes_base"]
        self.writes[:] = [(w["step"], w["layer"], w["key"], _loaded(w.get("before", ABSENT)))
                          + ((_loaded(w.get("after", ABSENT)),) if w["layer"] == FLOW_DATA else ())
                          for w in saved["writes"]]
        self.emits = [(e["step"], e["event"], _loaded(e["value"])) for e in saved["emits"]]


def _range(first: int, after_last: int) -> str:
    if first >= after_last:
        return "no step has run yet"
    return f"its steps are {first} to {after_last - 1}"


def _value(logged: Any) -> Any:
    """A logged value as it was (a recorded flow_data value may be ``NotRecorded``)."""
    return _state_value(logged) if logged.__class__ is tuple else _copy(logged)


def _state_value(logged: Any) -> Any:
    """A state value as the write log holds it, as it was: a copy (a list at its length then)."""
    if logged.__class__ is tuple:
        items, length = logged
        return copy_state_value(items[:length])
    return copy_state_value(logged)


def _copy(value: Any) -> Any:
    return value if value.__class__ is NotRecorded or value is ABSENT else recorded(value)


def _saved(value: Any) -> Any:
    value = _copy(value)
    return value.as_json() if value.__class__ is NotRecorded else value


def _loaded(value: Any) -> Any:
    if value.__class__ is dict and len(value) == 1 and NOT_RECORDED_KEY in value:
        return NotRecorded(value[NOT_RECORDED_KEY])
    return value

