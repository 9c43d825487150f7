"""``WalkerView``: what the walker's helpers (collects, sub-flow steps, remote fan-outs) use of it.

Named as a protocol so that those modules, which the walker imports, never import it back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from ..definition.graph import FlowGraph
from ..observe import Channel
from .frames import Frames
from .host import ChunkHost
from .resource_host import ResourceHost
from .walk_state import WalkState


class WalkerView(Protocol):
    execution_id: str
    graph: FlowGraph
    handlers: dict[str, tuple[Callable[..., Any], bool]]
    walk_state: WalkState
    channel: Channel
    resources: ResourceHost
    port: ChunkHost
    inline: bool

    def chunk_failed(self, node_id: str, exc: BaseException, data: Any = None) -> None: ...

    async def dispatch_event(self, event: str, payload: Any, frames: Frames) -> None: ...
