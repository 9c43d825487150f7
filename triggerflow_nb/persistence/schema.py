"""The saved-execution snapshot schema (pydantic), used to validate snapshots when loaded.

Everything after validation trusts the snapshot.
"""

from __future__ import annotations

from typing import Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field

from .saved import SCHEMA_VERSION, SNAPSHOT_KIND  # noqa: F401  (the Literal types below mirror them)

Frame = list[Union[str, int]]  # ["then", node_id, arm_index] or ["slot", activation_id, key]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class InterruptModel(_Strict):
    id: str
    type: str
    payload: Any = None
    resume_to: Union[Literal["next", "self"], dict[str, str]]
    chunk: str
    input: Any = None
    continuation: list[Frame]
    status: Literal["waiting", "resumed", "cancelled"]
    created_at: float
    resumed_at: Optional[float] = None


class ActivationModel(_Strict):
    id: str
    node: str
    keys: Optional[list[str]]
    slots: list[Any]
    remaining: int = Field(ge=0)
    continuation: list[Frame]


class JoinModel(_Strict):
    node: str
    scope: str
    seen: dict[str, Any]


class ResourceDescription(_Strict):
    type: str
    level: Literal["flow", "execution", "managed"]
    managed: bool


class EnvironmentRequestModel(_Strict):
    kind: str
    key: str
    config: dict[str, Any] = Field(default_factory=dict)


class ContinuationModel(_Strict):
    """What is needed to continue the graph: open fan-outs, partial joins, node progress."""

    activations: list[ActivationModel] = Field(default_factory=list)
    activation_counter: int = Field(default=0, ge=0)
    joins: list[JoinModel] = Field(default_factory=list)
    node_status: dict[str, str] = Field(default_factory=dict)


class SnapshotModel(_Strict):
    schema_version: Literal[1]
    kind: Literal["triggerflow_nb.execution"]
    execution_id: str
    flow_name: str
    flow_fingerprint: str
    status: str
    lifecycle_state: Literal["open", "sealed", "closed"]
    started: bool
    created_at: float
    started_at: Optional[float] = None
    closed_at: Optional[float] = None
    saved_at: float
    close_reason: Optional[str] = None
    error: Optional[str] = None
    state: dict[str, Any]
    interrupts: list[InterruptModel]
    resource_keys: list[str]
    resources: dict[str, ResourceDescription]
    required_resource_keys: list[str] = Field(default_factory=list)
    environments: list[EnvironmentRequestModel] = Field(default_factory=list)
    continuation: ContinuationModel
