"""Mutation testing: do the fast tests notice when the engine's code is changed?

    .venv/bin/python scripts/mutate.py                 # every group, gate at 90 %
    .venv/bin/python scripts/mutate.py walker --jobs 2 --show-survivors

Each mutant is one small change (see ``mutation/sites.py``). The runner imports the test
suite once, then forks a child per mutant that swaps in the mutated function (``patch.py``)
and runs only the tests that reach the changed lines, stopping at the first failure. A mutant
is *killed* when a test fails or it runs past its time bound, *survives* when every test
passes. Results go to ``build/mutation/<group>.json``; the exit status is non-zero when a
group's kill rate is under ``--min-score``. Survivors judged equivalent (no test could tell
them apart) are listed with the reason in ``mutation/equivalent.txt``.
"""

from __future__ import annotations

import argparse
import ast
import functools
import json
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent / "mutation"))

GROUPS: dict[str, list[str]] = {
    "state": ["triggerflow_nb/layers/state.py"],
    "snapshot": ["triggerflow_nb/runtime/snapshot.py", "triggerflow_nb/persistence/save_load.py",
                 "triggerflow_nb/persistence/consistency.py", "triggerflow_nb/persistence/files.py"],
    "walker": ["triggerflow_nb/runtime/walker.py"],
    "execution": ["triggerflow_nb/runtime/execution.py"],
    "tasks": ["triggerflow_nb/runtime/scope.py", "triggerflow_nb/runtime/tasks.py"],
}
FAST_TESTS = ["tests/engine", "tests/seed", "tests/persistence", "tests/patterns", "tests/reliability"]
OUT = ROOT / "build" / "mutation"

@dataclass
class Outcome:
    path: str
    index: int
    line: int
    function: str
    description: str
    result: str  # killed | survived | uncovered (survived, reached by no test) | timeout | unpatchable | error
    tests_run: int
    seconds: float


def _module_name(path: str) -> str:
    return path.removesuffix(".py").replace("/", ".")


def _record_coverage(files: list[str], tests: list[str], out: Path) -> dict:
    script = (
        "import sys; sys.path.insert(0, 'scripts/mutation');"
        "import suite; suite.fixed_examples();"
        "import coverage_map;"
        f"sys.exit(coverage_map.record({[str(ROOT / f) for f in files]!r}, {tests!r}, {str(out)!r}))"
    )
    started = time.perf_counter()
    code = subprocess.call([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.DEVNULL)
    if code != 0:
        sys.exit(f"the unmutated tests fail (pytest exit {code}): fix them before mutation testing")
    print(f"coverage map recorded in {time.perf_counter() - started:.0f}s", flush=True)
    return json.loads(out.read_text())


def _line_index(coverage: dict) -> dict[tuple[str, int], list[str]]:
    index: dict[tuple[str, int], list[str]] = defaultdict(list)
    for test, lines in coverage["by_test"].items():
        for file, line in lines:
            index[(file, line)].append(test)
    return index


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    # Checked below, not with choices=: argparse checks an empty list against choices and refuses it.
    parser.add_argument("groups", nargs="*", help=f"any of {', '.join(GROUPS)}; default: every group")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--min-score", type=float, default=90.0)
    parser.add_argument("--reuse-coverage", action="store_true", help="keep build/mutation/coverage.json")
    parser.add_argument("--show-survivors", action="store_true")
    args = parser.parse_args()
    os.chdir(ROOT)
    OUT.mkdir(parents=True, exist_ok=True)

    unknown = [g for g in args.groups if g not in GROUPS]
    if unknown:
        parser.error(f"unknown group(s) {', '.join(unknown)}: choose from {', '.join(GROUPS)}")
    args.groups = args.groups or list(GROUPS)
    files = [f for group in args.groups for f in GROUPS[group]]
    coverage_path = OUT / "coverage.json"
    if args.reuse_coverage and coverage_path.exists():
        coverage = json.loads(coverage_path.read_text())
    else:
        coverage = _record_coverage(files, FAST_TESTS, coverage_path)
    lines_to_tests = _line_index(coverage)
    durations = coverage["durations"]

    import suite
    suite.fixed_examples()
    suite.import_tests(FAST_TESTS)  # once, in the parent: every fork inherits them
    failing = []
    for group in args.groups:
        outcomes = _run_group(group, args.jobs, lines_to_tests, durations)
        (OUT / f"{group}.json").write_text(json.dumps([asdict(o) for o in outcomes], indent=1))
        score = _summarise(group, outcomes, args.show_survivors)
        if score < args.min_score:
            failing.append(group)
    if failing:
        print(f"under {args.min_score:.0f}% killed: {', '.join(failing)}")
        return 1
    return 0


def _run_group(group: str, jobs: int, lines_to_tests: dict, durations: dict) -> list[Outcome]:
    import suite
    from sites import find_sites

    pending = []
    outcomes: list[Outcome] = []
    everything = sorted(durations, key=lambda t: durations[t])
    for path in GROUPS[group]:
        absolute = str(ROOT / path)
        sites = find_sites(ast.parse(Path(path).read_text(encoding="utf-8")))
        for site in sites:
            tests = sorted({t for line in range(site.line, site.end_line + 1)
                            for t in lines_to_tests.get((absolute, line), ())},
                           key=lambda t: durations.get(t, 0.0))
            # No recorded test reaches the site (or the tracer missed it, e.g. it runs after a
            # RecursionError, which switches tracing off): try it against every test.
            pending.append((path, absolute, site, tests or everything, not tests))
    running: dict[int, tuple] = {}
    started_all = time.perf_counter()
    done = 0
    while pending or running:
        while pending and len(running) < jobs:
            path, absolute, site, tests, unreached = pending.pop(0)
            bound = 20.0 + 3.0 * sum(durations.get(t, 0.0) for t in tests)
            pid = os.fork()
            if pid == 0:
                suite.run_mutant(_module_name(path), absolute, site.index, tests)
            running[pid] = (path, site, tests, unreached, time.perf_counter(), bound)
        pid, status = os.waitpid(-1, os.WNOHANG)
        if pid == 0:
            now = time.perf_counter()
            for child, (*_, began, bound) in list(running.items()):
                if now - began > bound:
                    os.kill(child, signal.SIGKILL)
            time.sleep(0.01)
            continue
        path, site, tests, unreached, began, bound = running.pop(pid)
        seconds = time.perf_counter() - began
        if os.WIFSIGNALED(status):
            result = "timeout" if os.WTERMSIG(status) == signal.SIGKILL else "killed"
        else:
            code = os.WEXITSTATUS(status)
            result = {0: "survived", 1: "killed", suite.UNPATCHABLE_EXIT: "unpatchable"}.get(code, "error")
            if result == "survived" and unreached:
                result = "uncovered"  # no test reaches it: survived by absence, not by weak asserts
        outcomes.append(Outcome(path, site.index, site.line, site.function, site.description,
                                result, len(tests), round(seconds, 2)))
        done += 1
        if done % 50 == 0:
            print(f"  {group}: {done} mutants run ({time.perf_counter() - started_all:.0f}s)", flush=True)
    outcomes.sort(key=lambda o: (o.path, o.index))
    return outcomes


def _summarise(group: str, outcomes: list[Outcome], show_survivors: bool) -> float:
    counts: dict[str, int] = defaultdict(int)
    for outcome in outcomes:
        counts[outcome.result] += 1
    counted = len(outcomes) - counts["unpatchable"]
    caught = counts["killed"] + counts["timeout"] + counts["error"]
    score = 100.0 * caught / counted if counted else 100.0
    equivalent = _equivalent_keys()
    survivors = [o for o in outcomes if o.result in ("survived", "uncovered")]
    judged = sum(1 for o in survivors if _key(o) in equivalent)
    print(f"{group}: {score:.1f}% killed ({caught}/{counted}; survived {counts['survived']}, "
          f"uncovered {counts['uncovered']}, timeout {counts['timeout']}, error {counts['error']}, "
          f"not patchable {counts['unpatchable']}); {judged} survivors judged equivalent", flush=True)
    if show_survivors:
        for o in survivors:
            mark = "  (equivalent)" if _key(o) in equivalent else ""
            print(f"  {o.path}:{o.line} [{o.function}] {o.description} ({o.result}){mark}\n"
                  f"      {_source_line(o.path, o.line)}")
    return score


@functools.cache
def _source_lines(path: str) -> list[str]:
    return Path(path).read_text(encoding="utf-8").splitlines()


def _source_line(path: str, line: int) -> str:
    return _source_lines(path)[line - 1].strip()


def _key(outcome: Outcome) -> str:
    return f"{outcome.path} | {outcome.function} | {outcome.description} | {_source_line(outcome.path, outcome.line)}"


def _equivalent_keys() -> set[str]:
    listing = Path(__file__).resolve().parent / "mutation" / "equivalent.txt"
    if not listing.exists():
        return set()
    keys = set()
    for raw in listing.read_text(encoding="utf-8").splitlines():
        entry = raw.rsplit("  # ", 1)[0].strip()  # the last "  # ": the source line may hold a comment of its own
        if entry and not entry.startswith("#"):
            keys.add(entry)
    return keys


if __name__ == "__main__":
    sys.exit(main())
