"""Preloaded into every Dask worker process the tests start (``distributed.worker.preload``).

The Dask tests run their handlers in worker processes that the LocalCluster spawns fresh: a
mutant swapped into the test process would not be there, and the coverage map would not see
the lines they run. The runner sets the preload (an environment variable Dask reads when a
worker starts) and says what to do here through two more:

- ``TFNB_MUTANT`` ("module|path|index"): swap in the same mutant as the test process.
- ``TFNB_WORKER_LINES`` (a directory) and ``TFNB_WORKER_TARGETS`` (a JSON list of files):
  write each line of the target files the worker runs to ``<directory>/<pid>.lines``, for
  the coverage map (``coverage_map.WorkerLines``).

With neither set (a plain test run that happens to inherit the preload) it does nothing.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any


def dask_setup(worker: Any) -> None:
    sys.path.insert(0, os.environ["TFNB_MUTATION_DIR"])  # Dask imports this file from a copy elsewhere
    mutant = os.environ.get("TFNB_MUTANT")
    if mutant:
        from patch import apply_mutant

        module, path, index = mutant.split("|")
        apply_mutant(module, path, int(index))
    lines_dir = os.environ.get("TFNB_WORKER_LINES")
    if lines_dir:
        from coverage_map import WorkerLines

        WorkerLines(json.loads(os.environ["TFNB_WORKER_TARGETS"]), lines_dir).install()
