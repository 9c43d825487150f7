"""The sync API inside a running event loop: what every Jupyter cell does."""

import asyncio
import gc
import subprocess
import sys
import threading
import warnings

from triggerflow_nb import TriggerFlow


def make_flow():
    flow = TriggerFlow()

    async def step(data):
        await asyncio.sleep(0.001)
        data.set_state("v", data.input)

    flow.to(step)
    flow.when("E").to(lambda d: d.append_state("e", d.input))
    return flow


def test_sync_api_called_from_inside_a_running_loop():
    flow = make_flow()

    async def cell():  # a notebook cell: sync calls while the kernel's loop runs
        assert flow.start(1) == {"v": 1}
        ex = flow.start_execution(2)
        ex.emit("E", "x")
        return ex.close()

    assert asyncio.run(cell()) == {"v": 2, "e": ["x"]}


def test_sync_calls_outside_a_loop_share_one_loop_across_calls():
    flow = make_flow()
    ex = flow.start_execution(3)  # returns with the execution open
    ex.emit("E", 1)  # a later sync call continues it on the same loop
    assert ex.close() == {"v": 3, "e": [1]}


def test_plain_import_does_not_load_notebook_stack():
    code = (
        "import sys, triggerflow_nb\n"
        "flow = triggerflow_nb.TriggerFlow(); flow.to(lambda d: d.set_state('x', 1)); flow.start()\n"
        "import triggerflow_nb.distributed\n"  # the executor package too: Dask loads on first DaskExecutor
        "bad = [m for m in ('ipywidgets', 'IPython', 'graphviz', 'ipykernel', 'dask', 'distributed', 'cloudpickle')"
        " if m in sys.modules]\n"
        "print(bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_worker_threads_private_loop_is_closed_once_the_thread_is_gone():
    """A script that runs flows from worker threads leaves no event loop (nor its sockets) open
    behind each finished thread: the garbage collector would otherwise warn about every one."""
    flow = TriggerFlow(name="threaded")
    flow.to(lambda data: data.set_state("done", data.input), name="work")
    seen = {}

    def work():
        seen["snapshot"] = flow.start(3)
        seen["loop"] = asyncio.get_event_loop_policy().get_event_loop()

    thread = threading.Thread(target=work)
    thread.start()
    thread.join(10)
    assert not thread.is_alive() and seen["snapshot"] == {"done": 3}
    loop = seen.pop("loop")
    assert not loop.is_closed()  # open for as long as its Thread object lives
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)
        del thread
        gc.collect()
    assert loop.is_closed()
