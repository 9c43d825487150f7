"""Shared timing and reporting helpers for the bench/ workload scripts.

Each workload script runs as its own process (possibly in another virtual
env), so this module depends on the standard library only.

Conventions shared by every script:

* time is taken with ``time.perf_counter``;
* a small workload gets one warm-up run, then three timed batches, and the
  best (minimum) batch is kept; a batch repeats the run until it lasts at
  least ``min_batch_s`` so that fast engines are not timed on one tiny call;
* a large workload (thousands of executions or items) is timed once after
  the warm-up of its small sibling;
* the script prints exactly one JSON object on stdout; anything the engines
  print while running is diverted to stderr.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import platform
import sys
import time
import traceback
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

# Unit of each reported workload. Keys not listed here are in µs per unit.
UNITS: dict[str, str] = {
    "chain_50": "µs/chunk",
    "emit_loop_2000": "µs/iteration",
    "for_each_1000": "µs/item",
    "for_each_10000": "µs/item",
    "for_each_100000": "µs/item",
    "concurrent_500": "µs/execution",
    "concurrent_2000": "µs/execution",
    "concurrent_10000": "µs/execution",
    "save_load_10000": "ms/operation",
    "save_10000": "ms",
    "load_10000": "ms",
    "idle_execution_bytes": "bytes/execution",
    "async_chain_50": "µs/chunk",
    "async_emit_nowait_2000": "µs/iteration",
    "async_emit_nowait_10000": "µs/iteration",
    "async_emit_nowait_50000": "µs/iteration",
    "async_emit_2000": "µs/iteration",
    "async_emit_10000": "µs/iteration",
    "async_emit_50000": "µs/iteration",
    "async_for_each_1000": "µs/item",
    "async_for_each_10000": "µs/item",
    "async_for_each_100000": "µs/item",
    "async_concurrent_10000": "µs/execution",
    "async_inflight_bytes": "bytes/item",
    "async_for_each_peak_bytes": "bytes/item",
    # history off and on (bench/history_cost.py); each timing row also has _ratio, on ÷ off
    "history_chain_50_off": "µs/chunk",
    "history_chain_50_on": "µs/chunk",
    "history_chain_50_ratio": "ratio",
    "history_async_chain_50_off": "µs/chunk",
    "history_async_chain_50_on": "µs/chunk",
    "history_async_chain_50_ratio": "ratio",
    "history_emit_loop_2000_off": "µs/iteration",
    "history_emit_loop_2000_on": "µs/iteration",
    "history_emit_loop_2000_ratio": "ratio",
    "history_for_each_1000_off": "µs/item",
    "history_for_each_1000_on": "µs/item",
    "history_for_each_1000_ratio": "ratio",
    "history_for_each_100000_off": "µs/item",
    "history_for_each_100000_on": "µs/item",
    "history_for_each_100000_ratio": "ratio",
    "history_bytes_per_step_off": "bytes/step",
    "history_bytes_per_step_on": "bytes/step",
    "history_bytes_per_step": "bytes/step",  # on minus off
    "history_for_each_flatness": "ratio",  # 100,000 ÷ 1,000 items, history on
    "history_for_each_flatness_off": "ratio",
}

# Thresholds used by the capping rules in the TriggerFlow workloads.
FOR_EACH_SLOW_US_PER_ITEM = 1000.0  # above this at 1,000 items, 100,000 is skipped
FOR_EACH_100K_BUDGET_S = 120.0  # projected wall time above which 100,000 is skipped
CONCURRENT_BUDGET_S = 180.0  # a capped concurrent run should stay under this


def for_each_100k_skip_reason(per_item_1000: float | None, per_item_10000: float | None) -> str | None:
    """Why the 100,000-item run should be skipped, or None to run it.

    Two rules: a hard one (over 1 ms/item at 1,000 items), and a projection
    for engines whose per-item cost grows with the list. The growth seen
    from 1,000 to 10,000 items tends to get worse, not better, over the next
    decade (LangGraph 1.2: 3.5x, then 11x), so it is raised to the power 1.5.
    """
    if per_item_1000 is None or per_item_10000 is None:
        return "skipped: the smaller for_each runs failed"
    if per_item_1000 > FOR_EACH_SLOW_US_PER_ITEM:
        return (
            f"skipped: for_each_1000 cost {per_item_1000 / 1000:.2f} ms/item "
            f"(> {FOR_EACH_SLOW_US_PER_ITEM / 1000:g} ms/item); for_each_10000 is reported instead"
        )
    growth = max(1.0, per_item_10000 / per_item_1000)
    projected_s = per_item_10000 * growth**1.5 * 100_000 / 1e6
    if projected_s > FOR_EACH_100K_BUDGET_S:
        return (
            f"skipped: per-item cost grew {growth:.1f}x from 1,000 to 10,000 items, so 100,000 items "
            f"project to about {projected_s:.0f}s (> {FOR_EACH_100K_BUDGET_S:.0f}s budget); "
            "for_each_10000 is reported instead"
        )
    return None


def timed_best(
    run: Callable[[], Any],
    *,
    units_per_run: int,
    repeats: int = 3,
    min_batch_s: float = 0.2,
    warmup: bool = True,
) -> float:
    """Return the best µs per unit of ``run()`` over ``repeats`` batches."""
    t0 = time.perf_counter()
    if warmup:
        run()
    first = time.perf_counter() - t0
    per_batch = max(1, math.ceil(min_batch_s / first)) if first > 0 else 1
    best = math.inf
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(per_batch):
            run()
        best = min(best, (time.perf_counter() - t) / per_batch)
    return best / units_per_run * 1e6


async def async_timed_best(
    run: Callable[[], Awaitable[Any]],
    *,
    units_per_run: int,
    repeats: int = 3,
    min_batch_s: float = 0.2,
    warmup: bool = True,
) -> float:
    """Async twin of :func:`timed_best` (``run`` is a coroutine factory)."""
    t0 = time.perf_counter()
    if warmup:
        await run()
    first = time.perf_counter() - t0
    per_batch = max(1, math.ceil(min_batch_s / first)) if first > 0 else 1
    best = math.inf
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(per_batch):
            await run()
        best = min(best, (time.perf_counter() - t) / per_batch)
    return best / units_per_run * 1e6


def timed_once(run: Callable[[], Any], *, units_per_run: int) -> float:
    """µs per unit of a single run (for the large workloads)."""
    t = time.perf_counter()
    run()
    return (time.perf_counter() - t) / units_per_run * 1e6


class Recorder:
    """Collects results, notes and errors; one per workload script."""

    def __init__(self, tool: str, version: str | None = None) -> None:
        self.results: dict[str, Any] = {}
        self.notes: dict[str, str] = {}
        self.errors: dict[str, str] = {}
        self.meta: dict[str, Any] = {
            "tool": tool,
            "version": version,
            "python": platform.python_version(),
        }
        self._started = time.perf_counter()

    def set(self, key: str, value: float | int | None) -> None:
        self.results[key] = None if value is None else round(float(value), 3)
        log(f"{self.meta['tool']}: {key} = {self.results[key]} {UNITS.get(key, '')}")

    def note(self, key: str, text: str) -> None:
        self.notes[key] = text

    @contextlib.contextmanager
    def guard(self, *keys: str) -> Iterator[None]:
        """Run one workload; on failure record null for ``keys`` and the error."""
        t = time.perf_counter()
        log(f"{self.meta['tool']}: running {keys[0]} ...")
        try:
            yield
        except Exception as error:  # one missing feature must not sink the others
            for key in keys:
                self.results.setdefault(key, None)
            self.errors[keys[0]] = f"{type(error).__name__}: {error}"
            log(traceback.format_exc())
        finally:
            log(f"{self.meta['tool']}: {keys[0]} took {time.perf_counter() - t:.1f}s wall")

    def dump(self) -> dict[str, Any]:
        self.meta["wall_s"] = round(time.perf_counter() - self._started, 1)
        out: dict[str, Any] = dict(self.results)
        out["units"] = {k: UNITS.get(k, "µs/unit") for k in self.results}
        out["notes"] = self.notes
        out["errors"] = self.errors
        out["meta"] = self.meta
        return out


def only_arg() -> str | None:
    """``--only sync`` or ``--only async`` on a workload script's command line: run that half."""
    args = sys.argv[1:]
    if "--only" in args:
        value = args[args.index("--only") + 1]
        if value not in ("sync", "async"):
            raise SystemExit(f"--only takes sync or async, got {value!r}")
        return value
    return None


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def check(rec: Recorder, key: str, ok: bool, what: str) -> None:
    """Record a failed correctness check without discarding the timing."""
    if not ok:
        rec.errors[f"{key}:check"] = what
        log(f"CHECK FAILED {key}: {what}")


def state_of(snapshot: Any, key: str) -> Any:
    """Read ``key`` from a close snapshot (a plain state dict in agently)."""
    if isinstance(snapshot, dict):
        if key in snapshot:
            return snapshot[key]
        for nested in ("state", "runtime_data"):
            if isinstance(snapshot.get(nested), dict) and key in snapshot[nested]:
                return snapshot[nested][key]
    return None


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Keep stdout clean for the JSON line whatever the engines print."""
    with contextlib.redirect_stdout(sys.stderr):
        yield


def emit(recorder: Recorder) -> None:
    sys.stdout.write(json.dumps(recorder.dump(), ensure_ascii=False) + "\n")
    sys.stdout.flush()


def run_async(coro: Awaitable[Any]) -> Any:
    """``asyncio.run`` in a fresh loop, so workloads do not share loop state."""
    return asyncio.run(coro)  # type: ignore[arg-type]
