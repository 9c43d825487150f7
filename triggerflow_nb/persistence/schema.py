"""The saved-execution snapshot: its schema (a pydantic model) and its notebook-friendly dict type.

Snapshots are validated by this model when loaded; everything after that trusts them.
"""

from __future__ import annotations

from typing import Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = 1
SNAPSHOT_KIND = "triggerflow_nb.execution"

Frame = list[Union[str, int]]  # ["then", node_id] or ["slot", activation_id, key]


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


class SavedExecution(dict):
    """A saved execution: a plain JSON-compatible dict that also shows a readable summary in Jupyter."""

    def _repr_html_(self) -> str | None:
        try:
            from ..notebook.saved_view import render_saved_html
        except ImportError:
            return None
        return render_saved_html(self)

    def __repr__(self) -> str:
        return (f"<saved execution {self.get('execution_id', '?')[:8]} of flow {self.get('flow_name')!r}: "
                f"{self.get('status')}, state keys {list(self.get('state', {}))}, "
                f"{sum(1 for i in self.get('interrupts', []) if i.get('status') == 'waiting')} pending interrupt(s), "
                f"resources {self.get('resource_keys')}>")
