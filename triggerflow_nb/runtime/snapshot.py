"""An execution as one plain value: its shape, written down once.

The runtime owns this conversion. Each stateful part of an execution captures and
restores its own slice (``Lifecycle``, ``StateStore``, ``InterruptBook``, ``ResourceHost``,
``WalkState``) with the helpers here; ``snapshot_assembly`` puts the slices together.
Persistence receives an ``ExecutionSnapshot`` (a JSON-compatible dict of that shape),
validates it and stores it; it never touches an execution's insides.
"""

from __future__ import annotations

from typing import Any, Final, Literal, NotRequired, Optional, Union

from typing_extensions import TypedDict

from ..errors import SaveError, StateSerializationError
from ..layers.state import to_state_value
from .frames import Frames
from .status import ExecutionStatus, InterruptStatus, LifecycleState, NodeStatus

SCHEMA_VERSION: Final = 2  # 2: the fingerprint is taken from the graph's one description (describe())
SNAPSHOT_KIND: Final = "triggerflow_nb.execution"

# A frame as saved: [kind, id, index] (JSON has no tuples). See runtime/frames.py.
SavedFrame = list[Union[str, int]]

# Extra keys are refused when persistence validates a snapshot (pydantic reads this).
_CLOSED_SHAPE = {"extra": "forbid", "strict": True, "allow_inf_nan": False}


class InterruptRecord(TypedDict):
    id: str
    type: str
    payload: Any
    resume_to: Union[Literal["next", "self"], dict[str, str]]
    chunk: str
    input: Any  # the paused chunk's input (for resume_to="self"); None once resumed
    continuation: list[SavedFrame]  # empty once resumed
    status: InterruptStatus
    created_at: float
    resumed_at: Optional[float]
    # resume_to="self" only, absent when 0 / None (and in snapshots older than them): the resumes of
    # this chunk's pause before this interrupt opened, and the most its pause_for allows.
    resume_count: NotRequired[int]
    max_resumes: NotRequired[Optional[int]]


class ActivationRecord(TypedDict):
    """A batch, for_each or hit_all match in progress: its finished slots and how many are still out."""

    id: str
    node: str
    keys: Optional[list[str]]  # batch branch names; None for a for_each or a match
    slots: list[Any]
    remaining: int
    continuation: list[SavedFrame]
    arms: NotRequired[list[int]]  # hit_all match only: the case (arm index) each slot runs


class JoinRecord(TypedDict):
    """An and-join that has seen some of its events, or a collect some of its branches (in one fan-out
    scope; ``seen`` is then branch id -> value)."""

    node: str
    scope: str
    seen: dict[str, Any]


class ResourceRecord(TypedDict):
    type: str
    level: Literal["flow", "execution", "managed"]
    managed: bool


class EnvironmentRequest(TypedDict):
    kind: str
    key: str
    config: dict[str, Any]


class ContinuationRecord(TypedDict):
    """What is needed to continue the graph: open fan-outs, partial joins, node progress."""

    activations: list[ActivationRecord]
    activation_counter: int
    joins: list[JoinRecord]
    node_status: dict[str, NodeStatus]


class StepEntry(TypedDict):
    """A step as saved (see runtime/history.py); ``writes_to`` is where the write log stood when it finished,
    ``began_by`` how many steps had begun by then."""

    seq: int
    chunk: str
    input: Any
    result: Any
    status: Literal["completed", "failed", "paused", "cancelled"]
    error: Optional[str]
    writes_to: int
    began_by: int
    started_at: Optional[float]
    duration: Optional[float]


class WriteEntry(TypedDict):
    """A write as saved: ``before`` / ``after`` are absent where the key did not exist. A state write
    has no ``after``: it is the next write's ``before``, or the value in the snapshot's state."""

    step: Optional[int]
    layer: Literal["state", "flow_data"]
    key: str
    before: NotRequired[Any]
    after: NotRequired[Any]


class EmitEntry(TypedDict):
    step: int
    event: str
    value: Any


class HistoryRecord(TypedDict):
    """The steps kept (the last ``limit``; ``dropped`` older ones), the write log from the oldest kept
    step's start (``writes_base``: its position in the whole log) and the kept steps' emits."""

    limit: int
    dropped: int
    first_seq: int
    writes_base: int
    steps: list[StepEntry]
    writes: list[WriteEntry]
    emits: list[EmitEntry]


class ExecutionSnapshot(TypedDict):
    schema_version: Literal[2]
    kind: Literal["triggerflow_nb.execution"]
    execution_id: str
    flow_name: str
    flow_fingerprint: str
    status: ExecutionStatus
    lifecycle_state: LifecycleState
    started: bool
    created_at: float
    started_at: Optional[float]
    closed_at: Optional[float]
    saved_at: float
    close_reason: Optional[str]
    error: Optional[str]
    state: dict[str, Any]
    interrupts: list[InterruptRecord]
    resource_keys: list[str]
    resources: dict[str, ResourceRecord]
    required_resource_keys: list[str]
    environments: list[EnvironmentRequest]
    continuation: ContinuationRecord
    history: NotRequired[HistoryRecord]  # absent: saved with history=False, or by an execution without history


SNAPSHOT_SHAPES: tuple[type, ...] = (
    InterruptRecord, ActivationRecord, JoinRecord, ResourceRecord, EnvironmentRequest, ContinuationRecord,
    StepEntry, WriteEntry, EmitEntry, HistoryRecord, ExecutionSnapshot,
)
for _shape in SNAPSHOT_SHAPES:
    _shape.__pydantic_config__ = _CLOSED_SHAPE  # type: ignore[attr-defined]


# -- the parts' helpers ---------------------------------------------------------------------------------

def json_value(value: Any, what: str) -> Any:
    """``value`` as saved, or a SaveError that says which value of the run cannot be saved."""
    try:
        return to_state_value(what, value)
    except StateSerializationError as exc:
        raise SaveError(
            f"cannot save: {what} is not JSON-compatible ({type(value).__module__}.{type(value).__qualname__}). "
            f"Values that wait in a paused path must be serializable; keep live objects in runtime_resources"
        ) from exc


def saved_frames(frames: Frames) -> list[SavedFrame]:
    return [list(frame) for frame in frames]


def frames_of(saved: list[SavedFrame]) -> Frames:
    return tuple((str(f[0]), str(f[1]), int(f[2])) for f in saved)


def error_text(error: BaseException | None) -> str | None:
    return None if error is None else f"{type(error).__name__}: {error}"
