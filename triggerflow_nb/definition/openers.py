"""Every block opener of the chain DSL, also on the flow itself, starting at START.

Code ported from TriggerFlow opens blocks on the flow (``flow.batch(...)``,
``flow.if_condition(...)``); each method here is the chain method of the same name
on a chain that starts at the start boundary, so the start input is its input.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .builder import Chain, WiringHost
from .graph import FILLED_AND_UPDATE, HIT_FIRST, START_ID, SubFlowDefinition


class FlowOpeners:
    """``flow.if_condition``, ``flow.match``, ``flow.batch``, ``flow.for_each``, ``flow.to_sub_flow``,
    ``flow.side_branch`` and ``flow.collect``: see the ``Chain`` methods for what each does."""

    def _at_start(self) -> Chain:
        host: WiringHost = self  # type: ignore[assignment]  # mixed into FlowDefinition, which is one
        return Chain(host, START_ID)

    def if_condition(self, predicate: Callable[[Any], Any], name: str | None = None) -> Chain:
        """``Chain.if_condition`` at START: the predicate sees the start input."""
        return self._at_start().if_condition(predicate, name)

    def match(self, name: str | None = None, mode: str = HIT_FIRST) -> Chain:
        """``Chain.match`` at START: the cases test the start input."""
        return self._at_start().match(name, mode)

    def batch(self, *branches: tuple[str, Callable[..., Any] | str], concurrency: int | None = None,
              name: str | None = None, executor: Any = None) -> Chain:
        """``Chain.batch`` at START: every branch gets the start input."""
        return self._at_start().batch(*branches, concurrency=concurrency, name=name, executor=executor)

    def for_each(self, concurrency: int | None = None, name: str | None = None, executor: Any = None) -> Chain:
        """``Chain.for_each`` at START: the start input is fanned out."""
        return self._at_start().for_each(concurrency, name, executor)

    def to_sub_flow(self, sub_flow: SubFlowDefinition, capture: dict[str, Any] | None = None,
                    write_back: dict[str, Any] | None = None, name: str | None = None) -> Chain:
        """``Chain.to_sub_flow`` at START: the sub-flow starts with the start input."""
        return self._at_start().to_sub_flow(sub_flow, capture, write_back, name)

    def side_branch(self, handler: Callable[..., Any] | str, name: str | None = None) -> Chain:
        """``Chain.side_branch`` at START: the handler gets the start input, and so does what follows."""
        return self._at_start().side_branch(handler, name)

    def collect(self, collection_name: str, branch_id: str | None = None, mode: str = FILLED_AND_UPDATE) -> Chain:
        """``Chain.collect`` at START: the start input is this branch's value."""
        return self._at_start().collect(collection_name, branch_id, mode)
