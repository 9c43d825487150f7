"""Helpers shared by the control-flow pattern tests."""

import asyncio

import pytest


class Overlap:
    """Records when handlers enter and leave, to prove (or rule out) concurrency without a clock.

    ``log`` is the exact enter/exit sequence; ``max_active`` is the most handlers seen
    inside at once.
    """

    def __init__(self):
        self.log = []
        self.active = 0
        self.max_active = 0

    def enter(self, name):
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        self.log.append(("enter", name))

    def exit(self, name):
        self.active -= 1
        self.log.append(("exit", name))

    async def hold(self, name, seconds=0.02):
        """Enter, stay inside for ``seconds`` (yielding to the loop), leave."""
        self.enter(name)
        try:
            await asyncio.sleep(seconds)
        finally:
            self.exit(name)


@pytest.fixture
def overlap():
    return Overlap()


@pytest.fixture
def sink():
    """A plain list a final chunk appends to, so results are compared exactly (tuples stay tuples)."""
    return []
