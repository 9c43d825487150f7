"""Detached work (``emit_nowait``) waits in the loop's ready queue as a callback of its own,
without an ``asyncio.Handle``: the loop must treat it exactly as it treats a Handle."""

import asyncio
import contextvars
import subprocess
import sys
import textwrap

from triggerflow_nb.runtime.tasks import EagerQueue

BOUND = 10.0


def run(main, debug=False):
    """On a new asyncio loop of its own (asyncio.run may reuse one once a test made a loop re-entrant)."""
    with asyncio.Runner(debug=debug, loop_factory=asyncio.new_event_loop) as runner:
        return runner.run(asyncio.wait_for(main, BOUND))


def test_a_failure_in_a_queued_pieces_callback_reaches_the_loops_exception_handler_and_the_loop_goes_on():
    """As a Handle reports an exception of its callback, instead of stopping the loop."""
    reported, ran = [], []

    def drained():
        raise ValueError("drain hook broke")

    async def piece():
        ran.append("piece")

    async def main():
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(lambda loop, context: reported.append(context))
        queue = EagerQueue(loop, on_suspended=lambda task: None, on_drained=drained)
        queue.put(piece(), None, contextvars.copy_context())
        await asyncio.sleep(0)  # the piece runs at this turn, then its drain hook fails
        ran.append("loop went on")

    run(main())
    assert ran == ["piece", "loop went on"]
    assert len(reported) == 1
    context = reported[0]
    assert context["message"].startswith("Exception in callback <bound method EagerQueue._start_next of ")
    assert (type(context["exception"]), str(context["exception"])) == (ValueError, "drain hook broke")
    assert repr(context["handle"]) == "<EagerQueue piece 'test_a_failure_in_a_queued_pieces_callback_reaches_the_loops_exception_handler_and_the_loop_goes_on.<locals>.piece'>"


def test_a_debug_loop_names_a_slow_emit_nowait_handler_by_its_piece():
    """In asyncio's debug mode a slow callback is logged; a piece is named, not a crash in the loop.
    In a fresh interpreter: once a loop was made re-entrant (nest_asyncio2), asyncio's own loop
    class runs callbacks without the debug checks."""
    script = textwrap.dedent("""
        import asyncio
        from triggerflow_nb import TriggerFlow

        flow = TriggerFlow(name="slow-nowait")

        async def kick(data):
            data.emit_nowait("Go", 1)

        async def go(data):
            await data.async_set_state("went", data.input)

        flow.to(kick)
        flow.when("Go").to(go)

        async def main():
            asyncio.get_running_loop().slow_callback_duration = 0.0  # every callback counts as slow
            return await flow.async_start(None)

        print(asyncio.run(main(), debug=True))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=BOUND * 3)
    assert (done.returncode, done.stdout) == (0, "{'went': 1}\n")
    slow = [line.rsplit(" took ", 1)[0] for line in done.stderr.splitlines() if line.startswith("Executing ")]
    assert slow.count("Executing <EagerQueue piece 'GraphWalker.walk'>") == 1
