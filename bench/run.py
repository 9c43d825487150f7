"""Single entry point of the benchmark harness.

    .venv/bin/python bench/run.py                 # triggerflow_nb + raw asyncio floor
    .venv/bin/python bench/run.py --peers         # + agently and LangGraph (bench/.venv-peers)
    .venv/bin/python bench/run.py --json out.json # also save every result
    .venv/bin/python bench/run.py --peers-json out.json  # reuse peer results saved earlier
    .venv/bin/python bench/run.py --only async   # just the async workloads (or --only sync)
    .venv/bin/python bench/run.py --only history # just history on against off (bench/history_cost.py)

Each workload script runs in its own subprocess, one after the other (the
machine has two cores; running them side by side would skew the timings).
Their progress goes to stderr; their single JSON line is collected here and
turned into a Markdown table followed by the "Targets" checks.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
PEERS_PYTHON = os.path.join(HERE, ".venv-peers", "bin", "python")

# (column name, script, python, timeout in seconds)
OURS = ("triggerflow_nb", "workloads_triggerflow_nb.py", sys.executable, 900)
RAW = ("raw asyncio", "workloads_raw.py", sys.executable, 300)
AGENTLY = ("agently", "workloads_agently.py", PEERS_PYTHON, 1500)
LANGGRAPH = ("langgraph", "workloads_langgraph.py", PEERS_PYTHON, 1200)
HISTORY = ("history", "history_cost.py", sys.executable, 300)

# Table rows in display order, with their unit.
ROWS = [
    ("chain_50", "µs/chunk"),
    ("emit_loop_2000", "µs/iteration"),
    ("for_each_1000", "µs/item"),
    ("for_each_10000", "µs/item"),
    ("for_each_100000", "µs/item"),
    ("concurrent_500", "µs/execution"),
    ("concurrent_2000", "µs/execution"),
    ("concurrent_10000", "µs/execution"),
    ("save_10000", "ms"),
    ("load_10000", "ms"),
    ("idle_execution_bytes", "bytes/execution"),
    ("collect_4", "µs/execution"),  # triggerflow_nb only (bench/_dsl_workloads.py)
    ("hit_all_3", "µs/execution"),
    # async chunks that await their state writes and emits (bench/_tf_async_workloads.py)
    ("async_chain_50", "µs/chunk"),
    ("async_emit_nowait_2000", "µs/iteration"),
    ("async_emit_nowait_10000", "µs/iteration"),
    ("async_emit_nowait_50000", "µs/iteration"),
    ("async_emit_2000", "µs/iteration"),
    ("async_emit_10000", "µs/iteration"),
    ("async_emit_50000", "µs/iteration"),
    ("async_for_each_1000", "µs/item"),
    ("async_for_each_10000", "µs/item"),
    ("async_for_each_100000", "µs/item"),
    ("async_concurrent_10000", "µs/execution"),
    ("async_inflight_bytes", "bytes/item"),
    ("async_for_each_peak_bytes", "bytes/item"),
]
MEMORY_ROWS = ("idle_execution_bytes", "async_inflight_bytes", "async_for_each_peak_bytes")
# Rows measured in time (lower is faster); the memory rows are sizes.
TIME_ROWS = [name for name, _ in ROWS if name not in MEMORY_ROWS]
ASYNC_TIME_ROWS = [name for name in TIME_ROWS if name.startswith("async_")]

# history_cost.py's rows: (row, unit); the script itself judges its targets
HISTORY_ROWS = [
    ("history_chain_50", "µs/chunk"),
    ("history_async_chain_50", "µs/chunk"),
    ("history_emit_loop_2000", "µs/iteration"),
    ("history_bytes_per_step", "bytes/step"),
    ("history_for_each_1000", "µs/item"),
    ("history_for_each_100000", "µs/item"),
]

IDLE_BYTES_LIMIT = 10_000  # "under 10 KB", taken as 10,000 bytes
SAVE_LOAD_LIMIT_MS = 50.0
INFLIGHT_BYTES_LIMIT = 600  # per in-flight async for_each item


# ---------------------------------------------------------------------------
# running the workload scripts
# ---------------------------------------------------------------------------


def run_script(column: str, script: str, python: str, timeout: int, args: tuple[str, ...] = ()) -> dict[str, Any]:
    """Run one workload script; return its JSON, or {"errors": {...}} on failure."""
    path = os.path.join(HERE, script)
    print(f"== {column}: {os.path.relpath(python)} {os.path.relpath(path)}", file=sys.stderr, flush=True)
    started = time.perf_counter()
    try:
        # stderr is inherited so the scripts' progress lines show up live.
        proc = subprocess.run(
            [python, path, *args],
            stdout=subprocess.PIPE,
            stderr=None,
            text=True,
            timeout=timeout,
            cwd=HERE,
        )
    except subprocess.TimeoutExpired:
        return {"errors": {"run": f"timed out after {timeout}s"}}
    except OSError as error:
        return {"errors": {"run": f"could not start: {error}"}}
    elapsed = time.perf_counter() - started
    print(f"== {column}: done in {elapsed:.0f}s (exit {proc.returncode})", file=sys.stderr, flush=True)
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    try:
        return json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        return {"errors": {"run": f"exit {proc.returncode}, no JSON on stdout: {proc.stdout[-500:]!r}"}}


def ensure_peers_env() -> None:
    subprocess.run(["bash", os.path.join(HERE, "peers_env.sh")], check=True)


# ---------------------------------------------------------------------------
# formatting
# ---------------------------------------------------------------------------


def num(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def fmt(value: Any) -> str:
    v = num(value)
    if v is None:
        return "—"
    if v >= 100:
        return f"{v:,.0f}"
    if v >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def fmt_ratio(ratio: float | None) -> str:
    if ratio is None:
        return "—"
    return f"{ratio:,.0f}×" if ratio >= 10 else f"{ratio:.2f}×"


def ratio(numerator: Any, denominator: Any) -> float | None:
    a, b = num(numerator), num(denominator)
    if a is None or b is None or b <= 0:
        return None
    return a / b


def markdown_table(results: dict[str, dict[str, Any]]) -> str:
    ours = results.get(OURS[0], {})
    raw = results.get(RAW[0], {})
    agently = results.get(AGENTLY[0], {})
    langgraph = results.get(LANGGRAPH[0], {})
    header = [
        "workload",
        "unit",
        "triggerflow_nb",
        "raw asyncio",
        "agently",
        "langgraph",
        "speed-up vs agently",
        "speed-up vs langgraph",
        "ratio to raw floor",
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * 2 + ["---:"] * 7) + "|"]
    for name, unit in ROWS:
        cells = [ours.get(name), raw.get(name), agently.get(name), langgraph.get(name)]
        if all(num(c) is None for c in cells) and name == "concurrent_2000":
            continue  # only shown when some tool had to be capped to 2,000
        lines.append(
            "| "
            + " | ".join(
                [
                    name,
                    unit,
                    *(fmt(c) for c in cells),
                    fmt_ratio(ratio(agently.get(name), ours.get(name))),
                    fmt_ratio(ratio(langgraph.get(name), ours.get(name))),
                    fmt_ratio(ratio(ours.get(name), raw.get(name))),
                ]
            )
            + " |"
        )
    return "\n".join(lines)


def notes_section(results: dict[str, dict[str, Any]]) -> str:
    out = []
    for tool, data in results.items():
        for key, text in (data.get("notes") or {}).items():
            out.append(f"- {tool} / {key}: {text}")
        for key, text in (data.get("errors") or {}).items():
            out.append(f"- **{tool} / {key} ERROR**: {text}")
    return "\n".join(out) if out else "- none"


# ---------------------------------------------------------------------------
# targets
# ---------------------------------------------------------------------------


def check_targets(results: dict[str, dict[str, Any]]) -> list[tuple[str, str, str]]:
    """Return (target, PASS|FAIL|n.a., detail) for each project target."""
    ours = results.get(OURS[0], {})
    raw = results.get(RAW[0], {})
    agently = results.get(AGENTLY[0], {})
    langgraph = results.get(LANGGRAPH[0], {})
    targets = []

    def verdict(ok: bool | None) -> str:
        return "n.a." if ok is None else ("PASS" if ok else "FAIL")

    # 1. at least 100x faster than agently wherever both have a number
    speedups = {n: ratio(agently.get(n), ours.get(n)) for n in TIME_ROWS}
    speedups = {n: r for n, r in speedups.items() if r is not None}
    if speedups:
        slow = {n: r for n, r in speedups.items() if r < 100}
        detail = (
            "min " + fmt_ratio(min(speedups.values())) + f" over {len(speedups)} workloads"
            + (("; below: " + ", ".join(f"{n} {fmt_ratio(r)}" for n, r in slow.items())) if slow else "")
        )
        targets.append(("≥100× faster than agently on every workload it runs", verdict(not slow), detail))
    else:
        targets.append(("≥100× faster than agently on every workload it runs", "n.a.", "no agently results"))

    # 2. at least 20x faster than LangGraph on chain_50
    r = ratio(langgraph.get("chain_50"), ours.get("chain_50"))
    targets.append(
        ("≥20× faster than LangGraph on chain_50", verdict(None if r is None else r >= 20), fmt_ratio(r))
    )

    # 3. chain step within 3x of the raw asyncio floor
    r = ratio(ours.get("chain_50"), raw.get("chain_50"))
    targets.append(
        (
            "chain step within 3× of the raw asyncio floor",
            verdict(None if r is None else r <= 3),
            f"{fmt(ours.get('chain_50'))} vs {fmt(raw.get('chain_50'))} µs/chunk = {fmt_ratio(r)}",
        )
    )

    # 4. for_each per-item cost flat from 1,000 to 100,000 items
    r = ratio(ours.get("for_each_100000"), ours.get("for_each_1000"))
    targets.append(
        (
            "for_each per-item cost at 100,000 within 1.5× of 1,000",
            verdict(None if r is None else r <= 1.5),
            f"{fmt(ours.get('for_each_100000'))} vs {fmt(ours.get('for_each_1000'))} µs/item = {fmt_ratio(r)}",
        )
    )

    # 5. idle execution footprint
    b = num(ours.get("idle_execution_bytes"))
    targets.append(
        (
            f"under 10 KB ({IDLE_BYTES_LIMIT:,} bytes) per idle execution",
            verdict(None if b is None else b < IDLE_BYTES_LIMIT),
            f"{fmt(b)} bytes",
        )
    )

    # 6. save and load at 10,000 state keys
    s, l = num(ours.get("save_10000")), num(ours.get("load_10000"))
    ok = None if s is None or l is None else (s < SAVE_LOAD_LIMIT_MS and l < SAVE_LOAD_LIMIT_MS)
    targets.append(
        (
            f"save and load each under {SAVE_LOAD_LIMIT_MS:g} ms at 10,000 keys",
            verdict(ok),
            f"save {fmt(s)} ms, load {fmt(l)} ms",
        )
    )
    # 7. async workloads: 100x agently on each it runs, flat series, small in-flight items
    speedups = {n: ratio(agently.get(n), ours.get(n)) for n in ASYNC_TIME_ROWS}
    speedups = {n: r for n, r in speedups.items() if r is not None}
    if speedups:
        slow = {n: r for n, r in speedups.items() if r < 100}
        detail = (f"min {fmt_ratio(min(speedups.values()))} over {len(speedups)} async workloads"
                  + (("; below: " + ", ".join(f"{n} {fmt_ratio(r)}" for n, r in slow.items())) if slow else ""))
        targets.append(("≥100× faster than agently on every async workload it runs", verdict(not slow), detail))
    else:
        targets.append(("≥100× faster than agently on every async workload it runs", "n.a.", "no agently results"))
    for label, small, large, limit in (
        ("async for_each per-item cost 1k → 100k within 1.3×", "async_for_each_1000", "async_for_each_100000", 1.3),
        ("awaited emit loop 2k → 50k within 1.5×", "async_emit_2000", "async_emit_50000", 1.5),
    ):
        r = ratio(ours.get(large), ours.get(small))
        targets.append((label, verdict(None if r is None else r <= limit),
                        f"{fmt(ours.get(large))} vs {fmt(ours.get(small))} = {fmt_ratio(r)}"))
    for label, row in (("in-flight (every item waiting at once)", "async_inflight_bytes"),
                       ("1,000,000 items, none waiting", "async_for_each_peak_bytes")):
        b = num(ours.get(row))
        targets.append((f"≤ {INFLIGHT_BYTES_LIMIT} bytes per async for_each item, {label}",
                        verdict(None if b is None else b <= INFLIGHT_BYTES_LIMIT), f"{fmt(b)} bytes"))
    return targets


def targets_section(targets: list[tuple[str, str, str]]) -> str:
    lines = ["| target | result | detail |", "|---|---|---|"]
    lines += [f"| {name} | **{result}** | {detail} |" for name, result, detail in targets]
    return "\n".join(lines)


def history_table(data: dict[str, Any]) -> str:
    """history_cost.py's rows: off, on, on ÷ off and the verdict of the row's target, if it has one."""
    judged = {t["row"]: t for t in data.get("targets") or []}
    lines = ["| row | unit | history off | history on | on ÷ off | target | result |",
             "|---|---|---:|---:|---:|---|---|"]
    for name, unit in HISTORY_ROWS:
        target = judged.get(name)
        if target is None:
            verdict = "—"
        else:
            value = num(target.get("value"))
            shown = "" if value is None else (f" (+{value:,.0f} bytes)" if unit == "bytes/step" else f" ({fmt_ratio(value)})")
            verdict = f"**{target['result']}**{shown}"
        lines.append("| " + " | ".join([
            name, unit, fmt(data.get(f"{name}_off")), fmt(data.get(f"{name}_on")),
            fmt_ratio(num(data.get(f"{name}_ratio"))), target["target"] if target else "—", verdict]) + " |")
    return "\n".join(lines)


def history_section(data: dict[str, Any]) -> str:
    return "\n\n".join([
        "## History cost",
        "Each row run with `create_execution(history=False)` and `history=True`, interleaved in one process, "
        "best batch of each (CPU time; see bench/history_cost.py).",
        history_table(data),
        "### Notes and errors",
        notes_section({HISTORY[0]: data}),
    ])


# ---------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--peers", action="store_true", help="also run agently and LangGraph (creates bench/.venv-peers)")
    parser.add_argument("--peers-json", metavar="PATH", help="reuse peer results from an earlier --json file")
    parser.add_argument("--json", metavar="PATH", help="write all results to this file")
    parser.add_argument("--only", choices=("sync", "async", "history"),
                        help="run only the sync or the async workloads, or only history on against off")
    args = parser.parse_args(argv)

    results: dict[str, dict[str, Any]] = {}
    if args.peers_json:
        with open(args.peers_json, encoding="utf-8") as fh:
            saved = json.load(fh)["results"]
        for column in (AGENTLY[0], LANGGRAPH[0]):
            if column in saved:
                results[column] = saved[column]

    if args.only == "history":  # history on against off, nothing else
        history = run_script(*HISTORY)
        report = history_section(history)
        print(report)
        if args.json:
            with open(args.json, "w", encoding="utf-8") as fh:
                json.dump({"results": {HISTORY[0]: history}, "report_markdown": report}, fh, indent=2,
                          ensure_ascii=False)
            print(f"\nresults written to {args.json}", file=sys.stderr)
        return 0

    only = ("--only", args.only) if args.only else ()
    results[OURS[0]] = run_script(*OURS, only)
    if args.only != "async":  # the raw floor and LangGraph have sync workloads only
        results[RAW[0]] = run_script(*RAW)
    if args.peers:
        ensure_peers_env()
        results[AGENTLY[0]] = run_script(*AGENTLY, only)
        if args.only != "async":
            results[LANGGRAPH[0]] = run_script(*LANGGRAPH)

    history = run_script(*HISTORY) if args.only is None else None

    table = markdown_table(results)
    targets = check_targets(results)
    versions = ", ".join(
        f"{tool} {data.get('meta', {}).get('version') or ''}".strip() for tool, data in results.items()
    )
    report = "\n\n".join(
        [
            "## Results",
            f"Lower is better everywhere; speed-ups are peer ÷ triggerflow_nb, ratio to raw floor is "
            f"triggerflow_nb ÷ raw asyncio. Tools: {versions}.",
            table,
            "### Notes and errors",
            notes_section(results),
            "## Targets",
            targets_section(targets),
            *([history_section(history)] if history is not None else []),
        ]
    )
    print(report)

    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(
                {
                    "results": {**results, **({HISTORY[0]: history} if history is not None else {})},
                    "targets": [{"target": t, "result": r, "detail": d} for t, r, d in targets],
                    "report_markdown": report,
                },
                fh,
                indent=2,
                ensure_ascii=False,
            )
        print(f"\nresults written to {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
