"""triggerflow_nb workloads. Run with the project's venv:

    .venv/bin/python bench/workloads_triggerflow_nb.py

Prints one JSON object on stdout. The workloads are the ones in
_tf_workloads.py, shared word for word with workloads_agently.py; only the
public API is used. Every workload is guarded, so a missing feature shows up
as null plus its error text under "errors" instead of aborting the run.
"""

from __future__ import annotations

import os
import sys
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
# Import the package from this checkout even when it is not pip-installed.
sys.path.insert(1, os.path.dirname(HERE))

from _benchlib import Recorder, emit, log, only_arg, stdout_to_stderr  # noqa: E402
from _dsl_workloads import run_dsl  # noqa: E402
from _tf_workloads import run_all  # noqa: E402

ALL_KEYS = (
    "chain_50",
    "emit_loop_2000",
    "for_each_1000",
    "for_each_10000",
    "for_each_100000",
    "concurrent_500",
    "concurrent_10000",
    "save_load_10000",
    "save_10000",
    "load_10000",
    "idle_execution_bytes",
    "collect_4",
    "hit_all_3",
)


def _version() -> str | None:
    try:
        from importlib.metadata import version

        return version("triggerflow_nb")
    except Exception:
        import triggerflow_nb

        return getattr(triggerflow_nb, "__version__", None)


def main() -> None:
    rec = Recorder("triggerflow_nb")
    with stdout_to_stderr():
        try:
            from triggerflow_nb import TriggerFlow, TriggerFlowRuntimeData  # noqa: F401
        except Exception as error:  # engine not importable: report, do not crash
            log(traceback.format_exc())
            for key in ALL_KEYS:
                rec.results[key] = None
            rec.errors["import"] = f"{type(error).__name__}: {error}"
        else:
            rec.meta["version"] = _version()
            only = only_arg()
            run_all(rec, TriggerFlow, only=only)
            if only != "async":  # triggerflow_nb only: not in the workloads shared with peers
                run_dsl(rec, TriggerFlow)
    emit(rec)


if __name__ == "__main__":
    main()
