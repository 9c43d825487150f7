"""A still picture of a flow in a notebook cell (rendering lives in ``export.svg``)."""

from __future__ import annotations

from typing import Any

from ..definition.flow import FlowDefinition
from ..export.svg import flow_mimebundle


class GraphPicture:
    """A still picture of a flow (coloured by an execution's status, if given) for display in a cell."""

    def __init__(self, flow: FlowDefinition, execution: Any = None):
        self.flow = flow
        self.execution = execution

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return flow_mimebundle(self.flow, self.execution)

    def __repr__(self) -> str:
        return f"<graph of flow {self.flow.name!r}>"
