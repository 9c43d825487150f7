"""Which tests execute which lines of the target files: run once, before any mutant.

A mutant is only run against the tests that reach its lines (fastest first, stopping at the
first failure), which is what keeps a run of a thousand mutants within minutes. Written as a
tiny pytest plugin around ``sys.settrace`` so the project needs no coverage dependency; only
frames of the target files get a line tracer, so the rest of the suite runs at full speed.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import Any

import pytest


class LineRecorder:
    def __init__(self, target_files: set[str]) -> None:
        self._targets = target_files
        self._lines: set[tuple[str, int]] = set()
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
        threading.settrace(self._global_trace)
        sys.settrace(self._global_trace)
        started = time.perf_counter()
        yield
        sys.settrace(None)
        threading.settrace(None)  # type: ignore[arg-type]
        self.durations[item.nodeid] = time.perf_counter() - started
        self.by_test[item.nodeid] = sorted(self._lines)


def record(target_files: list[str], pytest_args: list[str], out_path: str) -> int:
    recorder = LineRecorder(set(target_files))
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
