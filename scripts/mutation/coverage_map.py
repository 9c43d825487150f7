"""Which tests execute which lines of the target files: run once, before any mutant.

A mutant is only run against the tests that reach its lines (fastest first, stopping at the
first failure), which is what keeps a run of a thousand mutants within minutes. Written as a
tiny pytest plugin around ``sys.settrace`` so the project needs no coverage dependency; only
frames of the target files get a line tracer, so the rest of the suite runs at full speed.

Lines that run in Dask worker processes are written there by ``WorkerLines`` (installed by
the ``dask_worker`` preload) to one file per worker; the recorder gives each test what the
workers appended to those files while it ran.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest


class LineRecorder:
    def __init__(self, target_files: set[str], worker_lines: Path | None = None) -> None:
        self._targets = target_files
        self._lines: set[tuple[str, int]] = set()
        self._worker_lines = worker_lines
        self.by_test: dict[str, list[tuple[str, int]]] = {}
        self.durations: dict[str, float] = {}

    def _global_trace(self, frame: Any, event: str, arg: Any) -> Any:
        if frame.f_code.co_filename in self._targets:
            self._lines.add((frame.f_code.co_filename, frame.f_lineno))
            return self._local_trace
        return None

    def _local_trace(self, frame: Any, event: str, arg: Any) -> Any:
        if event == "line":
            self._lines.add((frame.f_code.co_filename, frame.f_lineno))
        return self._local_trace

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: Any) -> Any:
        self._lines = set()
        offsets = self._worker_offsets()
        threading.settrace(self._global_trace)
        sys.settrace(self._global_trace)
        started = time.perf_counter()
        yield
        sys.settrace(None)
        threading.settrace(None)  # type: ignore[arg-type]
        self.durations[item.nodeid] = time.perf_counter() - started
        self._lines.update(self._worker_lines_since(offsets))
        self.by_test[item.nodeid] = sorted(self._lines)

    def _worker_offsets(self) -> dict[Path, int]:
        if self._worker_lines is None:
            return {}
        return {path: path.stat().st_size for path in self._worker_lines.glob("*.lines")}

    def _worker_lines_since(self, offsets: dict[Path, int]) -> set[tuple[str, int]]:
        """What the workers ran since ``offsets`` (work a test left running may land in the next test)."""
        found: set[tuple[str, int]] = set()
        if self._worker_lines is None:
            return found
        for path in self._worker_lines.glob("*.lines"):
            with open(path, "rb") as handle:
                handle.seek(offsets.get(path, 0))
                text = handle.read().decode()
            for row in text.splitlines(keepends=True):
                if row.endswith("\n"):  # a row being written right now is left out
                    file, line = row.rstrip("\n").rsplit("\t", 1)
                    found.add((file, int(line)))
        return found


class WorkerLines:
    """In a Dask worker process: append each target line it runs to ``<directory>/<pid>.lines``.

    A line is written once per entry into the target files (a call into them from other
    code), not once per run of it, so the files stay small; whichever test is running when
    the line lands gets it.
    """

    def __init__(self, target_files: list[str], directory: str) -> None:
        self._targets = set(target_files)
        self._seen: set[tuple[str, int]] = set()
        self._fd = os.open(os.path.join(directory, f"{os.getpid()}.lines"),
                           os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def install(self) -> None:
        threading.settrace(self._global_trace)
        sys.settrace(self._global_trace)

    def _note(self, frame: Any) -> None:
        key = (frame.f_code.co_filename, frame.f_lineno)
        if key not in self._seen:
            self._seen.add(key)
            os.write(self._fd, f"{key[0]}\t{key[1]}\n".encode())  # one O_APPEND write: rows never interleave

    def _global_trace(self, frame: Any, event: str, arg: Any) -> Any:
        if frame.f_code.co_filename in self._targets:
            caller = frame.f_back
            if caller is None or caller.f_code.co_filename not in self._targets:
                self._seen = set()  # a new entry (a batch, a call from a handler): write its lines again
            self._note(frame)
            return self._local_trace
        return None

    def _local_trace(self, frame: Any, event: str, arg: Any) -> Any:
        if event == "line":
            self._note(frame)
        return self._local_trace


def record(target_files: list[str], pytest_args: list[str], out_path: str, worker_lines: str | None = None) -> int:
    recorder = LineRecorder(set(target_files), Path(worker_lines) if worker_lines else None)
    code = pytest.main([*pytest_args, "-q", "-p", "no:cacheprovider"], plugins=[recorder])
    with open(out_path, "w", encoding="utf-8") as handle:
        json.dump({"by_test": recorder.by_test, "durations": recorder.durations}, handle)
    return int(code)


def tests_reaching(coverage: dict[str, Any], path: str, first: int, last: int) -> list[str]:
    """Tests that executed any line of ``path`` in ``first..last``, fastest first."""
    wanted = set(range(first, last + 1))
    hits = [test for test, lines in coverage["by_test"].items()
            if any(file == path and line in wanted for file, line in lines)]
    return sorted(hits, key=lambda test: coverage["durations"].get(test, 0.0))
