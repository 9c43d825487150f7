"""``WalkState``: where an execution's walk stands, as one record.

The walker mutates it, the remote fan-out fills its activations, the notebook panel reads
its node statuses, retry() takes the failed chunk from it, and a snapshot captures and
restores it (the ``continuation`` of an ``ExecutionSnapshot``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .activation import Activation
from .frames import Frames
from .snapshot import ActivationRecord, ContinuationRecord, frames_of, json_value, saved_frames
from .status import FAILED, NodeStatus

if TYPE_CHECKING:
    from .runtime_data import TriggerFlowRuntimeData


class WalkState:
    __slots__ = ("node_status", "activations", "activation_counter", "joins", "failed_chunk")

    def __init__(self) -> None:
        self.node_status: dict[str, NodeStatus] = {}
        # Fan-outs still open (items running or paused), by activation id.
        self.activations: dict[str, Activation] = {}
        self.activation_counter = 0
        # And-joins and collects that have seen part of what they wait for: (node, scope) -> seen.
        self.joins: dict[tuple[str, str], dict[str, Any]] = {}
        # The data of the chunk run whose failure ended the execution (the first one: retry() re-runs it).
        self.failed_chunk: TriggerFlowRuntimeData | None = None

    def open_activation(self, node_id: str, keys: list[str] | None, count: int, frames: Frames,
                        arms: list[int] | None) -> Activation:
        self.activation_counter += 1
        activation = Activation(f"{node_id}#{self.activation_counter}", node_id, keys, count, frames, arms)
        self.activations[activation.id] = activation
        return activation

    def fan_out_progress(self) -> dict[str, tuple[str, int, int]]:
        """The open fan-outs: activation id -> (node id, items done, items in all)."""
        return {a.id: (a.node_id, len(a.slots) - a.remaining, len(a.slots)) for a in self.activations.values()}

    def forget_failures(self) -> None:
        """retry(): the failed statuses go; the chunk runs again."""
        self.failed_chunk = None
        self.node_status = {n: s for n, s in self.node_status.items() if s != FAILED}

    def capture(self) -> ContinuationRecord:
        return {
            "activations": [_activation_record(a) for a in self.activations.values()],
            "activation_counter": self.activation_counter,
            "joins": [
                {"node": node_id, "scope": scope, "seen": json_value(seen, f"what join {node_id!r} has collected")}
                for (node_id, scope), seen in self.joins.items()
            ],
            "node_status": dict(self.node_status),
        }

    def restore(self, record: ContinuationRecord) -> None:
        self.activations = {}
        for a in record["activations"]:
            activation = Activation(a["id"], a["node"], a["keys"], len(a["slots"]), frames_of(a["continuation"]),
                                    a.get("arms"))
            activation.slots = list(a["slots"])
            activation.remaining = a["remaining"]
            activation.awaiting = False  # no fan-out step awaits it in this process: resumed items finish it
            self.activations[a["id"]] = activation
        self.activation_counter = record["activation_counter"]
        self.joins = {(j["node"], j["scope"]): dict(j["seen"]) for j in record["joins"]}
        self.node_status = dict(record["node_status"])


def _activation_record(activation: Activation) -> ActivationRecord:
    record: ActivationRecord = {
        "id": activation.id, "node": activation.node_id,
        "keys": None if activation.keys is None else list(activation.keys),  # a copy: the run goes on with its own
        "slots": [json_value(v, f"a finished item of {activation.node_id!r}") for v in activation.slots],
        "remaining": activation.remaining, "continuation": saved_frames(activation.frames),
    }
    if activation.arms is not None:
        record["arms"] = list(activation.arms)
    return record
