"""Agently TriggerFlow workloads. Run inside bench/.venv-peers:

    bench/.venv-peers/bin/python bench/workloads_agently.py

Prints one JSON object on stdout (see _benchlib.py for the conventions).
The workloads themselves live in _tf_workloads.py and are shared with
workloads_triggerflow_nb.py, so both engines run identical code.
"""

from __future__ import annotations

import os
import sys
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _benchlib import Recorder, emit, only_arg, stdout_to_stderr  # noqa: E402
from _tf_workloads import Adapter, run_all  # noqa: E402


class AgentlyAdapter(Adapter):
    # Agently's async_set_state returns a deep copy of the whole state after
    # every write, so writing 10,000 keys one by one is quadratic (about 35 s
    # on the reference machine). The state is therefore filled in one private
    # StateData.update() call; only save() and load() are timed, so this does
    # not flatter agently's numbers.
    fill_note = "agently state filled via the private execution._runtime_data.update() (public per-key set is quadratic)"

    async def fill_state(self, flow_cls, keys):
        flow = flow_cls(name="bench_save_load")
        flow.to(lambda d: d.input)
        execution = flow.create_execution(auto_close=False)
        await execution.async_start(0)
        execution._runtime_data.update({f"k{i}": i for i in range(keys)})
        return flow, execution


def main() -> None:
    from importlib.metadata import version

    warnings.simplefilter("ignore")
    rec = Recorder("agently", version("agently"))
    with stdout_to_stderr():
        from agently import TriggerFlow

        run_all(rec, TriggerFlow, AgentlyAdapter(), only=only_arg())
    emit(rec)


if __name__ == "__main__":
    main()
