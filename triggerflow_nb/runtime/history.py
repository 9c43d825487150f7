"""``StepLog``: the history of an execution, recorded as it runs.

Each chunk run (a step) is one row, made when it starts and completed when it ends; every
state and flow_data write goes into one write log, in the order the writes happened, with
the step that made it (None: a write from outside a chunk, or retry() undoing one). That
order is what makes ``state_at`` exact under concurrency: the state right after step k
finished is the state now with every later write undone, newest first.

Recording is kept cheap enough to be on by default. A row is a plain list. A state write is
logged as references, not copies: state replaces a value on every write except an append,
which grows a list in place, so a list is logged with its length then, ``(list, length)``,
and nothing ever shortens a state list in place (``StateStore.undo`` replaces it). Inputs,
results and emitted values are copied as JSON (plain scalars as they are): a chunk that
changes its input afterwards does not change what was recorded.
"""

from __future__ import annotations

import warnings
from time import perf_counter
from typing import Any

from ..errors import HistoryError, HistoryLimitWarning, StateSerializationError
from ..layers.state import copy_state_value, to_state_value
from ..reproducibility import shows_wall_clock
from .steps import (
    ABSENT,
    NOT_RECORDED_KEY,
    STEP_CANCELLED,
    STEP_COMPLETED,
    STEP_FAILED,
    STEP_PAUSED,
    STEP_RUNNING,
    Emit,
    NotRecorded,
    StepHistory,
    StepRecord,
    Write,
)

# A row's fields.
SEQ, CHUNK, INPUT, WRITES_FROM, STARTED, DURATION, RESULT, STATUS, ERROR, WRITES_TO = range(10)

STATE = "state"
FLOW_DATA = "flow_data"
DEFAULT_LIMIT = 10_000

_SMALL = (1 << 30) - 1


def recorded(value: Any) -> Any:
    """``value`` as the history keeps it: a JSON copy, or ``NotRecorded`` naming its type."""
    cls = value.__class__
    if cls is str or cls is bool or value is None or (cls is int and -_SMALL <= value <= _SMALL):
        return value
    try:
        return to_state_value("a recorded value", value)
    except (StateSerializationError, RecursionError):
        return NotRecorded(f"{cls.__module__}.{cls.__qualname__}")


class StepLog:
    """One execution's steps, its write log and its emits; trimmed to the last ``limit`` steps."""

    __slots__ = ("execution_id", "limit", "rows", "first_seq", "writes", "writes_base", "emits", "dropped",
                 "_clock_zero")

    def __init__(self, execution_id: str, limit: int = DEFAULT_LIMIT):
        self.execution_id = execution_id
        self.limit = limit
        self.rows: list[list[Any]] = []
        self.first_seq = 0  # the seq of rows[0]
        self.writes: list[tuple[Any, ...]] = []  # (seq or None, layer, key, before, after)
        self.writes_base = 0  # the position of writes[0] in the whole log
        self.emits: list[tuple[int, str, Any]] = []  # (seq, event, value)
        self.dropped = 0
        self._clock_zero = perf_counter()

    # -- recording (the walker and the chunk port call these) -------------------------------------

    def begin(self, chunk: str, value: Any) -> list[Any]:
        rows = self.rows
        row = [self.first_seq + len(rows), chunk, recorded(value), self.writes_base + len(self.writes),
               perf_counter(), None, None, STEP_RUNNING, None, None]
        rows.append(row)
        if len(rows) > self.limit + (self.limit >> 3):  # trimmed in batches: amortised, not per step
            self._trim()
        return row

    def finish(self, row: list[Any], out: Any, paused: bool) -> None:
        row[DURATION] = perf_counter() - row[STARTED]
        row[RESULT] = recorded(out)
        row[STATUS] = STEP_PAUSED if paused else STEP_COMPLETED
        row[WRITES_TO] = self.writes_base + len(self.writes)

    def fail(self, row: list[Any], error: BaseException, cancelled: bool) -> None:
        row[DURATION] = perf_counter() - row[STARTED]
        row[STATUS] = STEP_CANCELLED if cancelled else STEP_FAILED
        row[ERROR] = f"{type(error).__name__}: {error}"
        row[WRITES_TO] = self.writes_base + len(self.writes)

    def state_write(self, step: list[Any] | None, key: str, before: Any, after: Any) -> None:
        """``before`` / ``after``: the value, ``(list, length)`` for a list, ``ABSENT`` for no key."""
        self.writes.append((None if step is None else step[SEQ], STATE, key, before, after))

    def flow_data_write(self, step: list[Any] | None, key: str, before: Any, after: Any) -> None:
        self.writes.append((None if step is None else step[SEQ], FLOW_DATA, key,
                            before if before is ABSENT else recorded(before),
                            after if after is ABSENT else recorded(after)))

    def emitted(self, step: list[Any], event: str, value: Any) -> None:
        self.emits.append((step[SEQ], event, recorded(value)))

    def _trim(self) -> None:
        drop = len(self.rows) - self.limit
        if not self.dropped:
            warnings.warn(HistoryLimitWarning(
                f"execution {self.execution_id} ran more than {self.limit:,} steps: its history keeps the "
                f"last {self.limit:,} and drops older ones (create the execution with a larger history_limit= "
                f"to keep more, or history=False to record none)"), stacklevel=2)
        del self.rows[:drop]
        self.first_seq += drop
        self.dropped += drop
        # Writes before the oldest kept step's start belong to dropped steps, or came before any
        # kept one: neither a kept step's writes nor state_at() of a kept step needs them.
        keep_from = self.rows[0][WRITES_FROM] - self.writes_base
        del self.writes[:keep_from]
        self.writes_base += keep_from
        first = self.first_seq
        self.emits = [emit for emit in self.emits if emit[0] >= first]

    # -- reading -----------------------------------------------------------------------------------

    def _kept(self) -> list[list[Any]]:
        """The last ``limit`` rows: the log holds up to an eighth more between two trims."""
        rows = self.rows
        return rows if len(rows) <= self.limit else rows[len(rows) - self.limit:]

    def row(self, seq: Any, what: str) -> list[Any]:
        if isinstance(seq, bool) or not isinstance(seq, int):
            raise HistoryError(f"{what} takes a step's seq (an int), got {seq!r}")
        kept = self._kept()
        first = kept[0][SEQ] if kept else self.first_seq
        index = seq - first
        if not 0 <= index < len(kept):
            if 0 <= seq < first:
                raise HistoryError(
                    f"{what}: step {seq} of execution {self.execution_id} was dropped (the history keeps the last "
                    f"{self.limit:,} steps; create the execution with a larger history_limit=)")
            raise HistoryError(f"{what}: execution {self.execution_id} has no step {seq} ({_range(kept)})")
        return kept[index]

    def steps(self) -> StepHistory:
        """Every kept step as a ``StepRecord``, in start order."""
        kept = self._kept()
        first = kept[0][SEQ] if kept else self.first_seq
        writes: dict[int, list[Write]] = {}
        for seq, layer, key, before, after in self.writes:
            if seq is not None and seq >= first:
                writes.setdefault(seq, []).append(Write(layer, key, _value(before), _value(after)))
        emits: dict[int, list[Emit]] = {}
        for seq, event, value in self.emits:
            if seq >= first:
                emits.setdefault(seq, []).append(Emit(event, _copy(value)))
        times = shows_wall_clock()
        zero = self._clock_zero
        return StepHistory(
            StepRecord(row[SEQ], row[CHUNK], _copy(row[INPUT]), _copy(row[RESULT]), row[STATUS], row[ERROR],
                       writes.get(row[SEQ], []), emits.get(row[SEQ], []),
                       round(row[STARTED] - zero, 6) if times else None,
                       None if row[DURATION] is None or not times else round(row[DURATION], 6))
            for row in kept)

    def state_at(self, seq: Any, current: dict[str, Any]) -> dict[str, Any]:
        """The state right after step ``seq`` finished: ``current`` with every later write undone."""
        row = self.row(seq, "state_at()")
        if row[WRITES_TO] is None:
            raise HistoryError(f"state_at(): step {seq} ({row[CHUNK]!r}) of execution {self.execution_id} "
                               f"has not finished yet")
        values = dict(current)
        writes = self.writes
        for index in range(len(writes) - 1, row[WRITES_TO] - self.writes_base - 1, -1):
            _, layer, key, before, _ = writes[index]
            if layer != STATE:
                continue
            if before is ABSENT:
                values.pop(key, None)
            else:
                values[key] = _value(before)
        copied: dict[str, Any] = copy_state_value(values)
        return copied

    # -- saving and loading ------------------------------------------------------------------------

    def capture(self) -> dict[str, Any]:
        """The history as JSON: steps, the write log (from the oldest kept step's start) and emits."""
        times = shows_wall_clock()
        zero = self._clock_zero
        kept = self._kept()
        first = kept[0][SEQ] if kept else self.first_seq
        writes_from = kept[0][WRITES_FROM] if kept else self.writes_base + len(self.writes)
        steps = [{"seq": row[SEQ], "chunk": row[CHUNK], "input": _saved(row[INPUT]), "result": _saved(row[RESULT]),
                  "status": row[STATUS], "error": row[ERROR], "writes_from": row[WRITES_FROM],
                  "writes_to": row[WRITES_TO],
                  "started_at": round(row[STARTED] - zero, 6) if times else None,
                  "duration": None if row[DURATION] is None or not times else round(row[DURATION], 6)}
                 for row in kept]
        writes = []
        for seq, layer, key, before, after in self.writes[writes_from - self.writes_base:]:
            entry: dict[str, Any] = {"step": seq, "layer": layer, "key": key}
            if before is not ABSENT:
                entry["before"] = _saved(_value(before))
            if after is not ABSENT:
                entry["after"] = _saved(_value(after))
            writes.append(entry)
        return {"limit": self.limit, "dropped": self.dropped + first - self.first_seq, "first_seq": first,
                "writes_base": writes_from, "steps": steps, "writes": writes,
                "emits": [{"step": seq, "event": event, "value": _saved(value)} for seq, event, value in self.emits
                          if seq >= first]}

    def restore(self, saved: dict[str, Any]) -> None:
        """Take a validated snapshot's history (its own copy). Loaded steps keep their seqs; times
        are kept relative to this process's clock as they were to the saving one's."""
        self.dropped = saved["dropped"]
        self.first_seq = saved["first_seq"]
        self.writes_base = saved["writes_base"]
        zero = self._clock_zero
        self.rows = [[s["seq"], s["chunk"], _loaded(s["input"]), s["writes_from"],
                      zero + (s["started_at"] or 0.0), s["duration"], _loaded(s["result"]), s["status"], s["error"],
                      s["writes_to"]] for s in saved["steps"]]
        self.writes = [(w["step"], w["layer"], w["key"], _loaded(w.get("before", ABSENT)),
                        _loaded(w.get("after", ABSENT))) for w in saved["writes"]]
        self.emits = [(e["step"], e["event"], _loaded(e["value"])) for e in saved["emits"]]


def _range(kept: list[list[Any]]) -> str:
    if not kept:
        return "no step has run yet"
    return f"its steps are {kept[0][SEQ]} to {kept[-1][SEQ]}"


def _value(logged: Any) -> Any:
    """A logged value as it was: a ``(list, length)`` is that list's first ``length`` items."""
    if logged.__class__ is tuple:
        items, length = logged
        return copy_state_value(items[:length])
    return _copy(logged)


def _copy(value: Any) -> Any:
    return value if value.__class__ is NotRecorded or value is ABSENT else copy_state_value(value)


def _saved(value: Any) -> Any:
    return value.as_json() if value.__class__ is NotRecorded else value


def _loaded(value: Any) -> Any:
    if value.__class__ is dict and len(value) == 1 and NOT_RECORDED_KEY in value:
        return NotRecorded(value[NOT_RECORDED_KEY])
    return value

