"""The public records of an execution's history: ``StepRecord``, ``Write``, ``Emit``.

What ``execution.history()`` returns: one ``StepRecord`` per chunk run (a step), in start
order, each with the state and flow_data writes and the emits it made. Records are frozen
and hold JSON values only (``as_dict()`` gives them as JSON); a value that is not JSON (a
live object handed on as a chunk's input, say) is kept as a ``NotRecorded`` naming its type.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any, Final, Literal

from ..reproducibility import shows_wall_clock

StepStatus = Literal["running", "completed", "failed", "paused", "cancelled"]
WriteLayer = Literal["state", "flow_data"]

STEP_RUNNING: Final = "running"
STEP_COMPLETED: Final = "completed"
STEP_FAILED: Final = "failed"
STEP_PAUSED: Final = "paused"
STEP_CANCELLED: Final = "cancelled"
STEP_STATUSES: Final = (STEP_RUNNING, STEP_COMPLETED, STEP_FAILED, STEP_PAUSED, STEP_CANCELLED)


class _Absent:
    """The value of a key that did not exist: ``Write.before`` of a first write, ``after`` of a delete."""

    _instance: _Absent | None = None

    def __new__(cls) -> _Absent:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "ABSENT"

    def __reduce__(self) -> str:
        return "ABSENT"

    def __bool__(self) -> bool:
        return False


ABSENT: Final = _Absent()


@dataclass(frozen=True, slots=True)
class NotRecorded:
    """Stands for a value that is not JSON (a live object, a NaN): only its type is recorded."""

    type: str

    def __repr__(self) -> str:
        return f"<not recorded: {self.type}>"

    def as_json(self) -> dict[str, str]:
        return {NOT_RECORDED_KEY: self.type}


NOT_RECORDED_KEY: Final = "$not_recorded"


@dataclass(frozen=True, slots=True)
class Write:
    """One write a step made: ``before`` and ``after`` are ``ABSENT`` where the key did not exist."""

    layer: WriteLayer
    key: str
    before: Any
    after: Any

    def as_dict(self) -> dict[str, Any]:
        """As JSON: ``before`` / ``after`` are left out where the key did not exist."""
        out: dict[str, Any] = {"layer": self.layer, "key": self.key}
        if self.before is not ABSENT:
            out["before"] = json_form(self.before)
        if self.after is not ABSENT:
            out["after"] = json_form(self.after)
        return out

    def __repr__(self) -> str:
        return f"Write({self.layer} {self.key!r}: {self.before!r} -> {self.after!r})"


@dataclass(frozen=True, slots=True)
class Emit:
    """An event a step emitted, with the value it carried."""

    event: str
    value: Any

    def as_dict(self) -> dict[str, Any]:
        return {"event": self.event, "value": json_form(self.value)}


@dataclass(frozen=True, slots=True)
class StepRecord:
    """One chunk run. ``started_at`` (seconds after the execution was created, monotonic clock)
    and ``duration`` are None in reproducible mode, where displays show no times."""

    seq: int
    chunk: str
    input: Any
    result: Any
    status: StepStatus
    error: str | None
    writes: list[Write]
    emits: list[Emit]
    started_at: float | None
    duration: float | None

    def as_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "chunk": self.chunk, "input": json_form(self.input),
                "result": json_form(self.result), "status": self.status, "error": self.error,
                "writes": [w.as_dict() for w in self.writes], "emits": [e.as_dict() for e in self.emits],
                "started_at": self.started_at, "duration": self.duration}

    def __repr__(self) -> str:
        error = f", error={self.error!r}" if self.error else ""
        return (f"StepRecord(seq={self.seq}, chunk={self.chunk!r}, status={self.status!r}, input={self.input!r}, "
                f"result={self.result!r}, writes={len(self.writes)}, emits={len(self.emits)}{error})")


def json_form(value: Any) -> Any:
    return value.as_json() if value.__class__ is NotRecorded else value


class StepHistory(list[StepRecord]):
    """``execution.history()``: a list of ``StepRecord`` that a notebook shows as a table."""

    def _repr_html_(self) -> str:
        times = shows_wall_clock()
        head = "".join(f"<th>{name}</th>" for name in
                       ("seq", "chunk", "status", "input", "result", "writes", "emits", *(("ms",) if times else ())))
        rows = []
        for step in self:
            cells = [str(step.seq), step.chunk, step.status + (f": {step.error}" if step.error else ""),
                     _short(step.input), _short(step.result),
                     "<br>".join(html.escape(f"{w.layer} {w.key!r}: {_brief(w.before)} → {_brief(w.after)}")
                                 for w in step.writes),
                     "<br>".join(html.escape(f"{e.event}: {_brief(e.value)}") for e in step.emits)]
            escaped = [html.escape(c) for c in cells[:5]] + cells[5:]
            if times:
                escaped.append("" if step.duration is None else f"{step.duration * 1000:.2f}")
            rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in escaped) + "</tr>")
        return (f"<table class='tfnb-history'><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
                f"<p>{len(self)} step(s)</p>")


def _brief(value: Any, width: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def _short(value: Any) -> str:
    return _brief(value, 60)
