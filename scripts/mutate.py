"""Mutation testing: do the tests notice when the engine's code is changed?

    .venv/bin/python scripts/mutate.py                 # every group, gate at 90 %
    .venv/bin/python scripts/mutate.py walker --jobs 2 --show-survivors
    .venv/bin/python scripts/mutate.py store distributed --jobs 1 --min-score 85

Each mutant is one small change (see ``mutation/sites.py``). The runner imports the test
suite once, then forks a child per mutant that swaps in the mutated function (``patch.py``)
and runs only the tests that reach the changed lines, stopping at the first failure. A mutant
is *killed* when a test fails or it runs past its time bound (its selection's, or one test's far
past that test's unmutated time), *survives* when every test passes. Results go to
``build/mutation/<group>.json``; the exit status is non-zero when a group's kill rate is under
``--min-score``. Survivors judged equivalent (no test could tell them apart) are listed with the
reason in ``mutation/equivalent.txt``.

The store and distributed groups run their package's tests (``tests/store`` starts a PostgreSQL
server, ``tests/distributed`` a Dask LocalCluster; each mutant's child starts its own, in a
process group and a scratch directory of its own that the runner removes after it). Dask
workers are processes of their own: the ``mutation/dask_worker.py`` preload swaps the mutant
into them too and reports the lines they run to the coverage map. Code that runs only in
other subprocesses (the store tests' writer processes) is neither mutated nor traced there.
Before the mutants, the group's tests run once unmutated in a forked child, as the mutants'
tests run: a test that fails only there would otherwise "kill" every mutant it reaches.
"""

from __future__ import annotations

import argparse
import ast
import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MUTATION = Path(__file__).resolve().parent / "mutation"
sys.path.insert(0, str(MUTATION))

GROUPS: dict[str, list[str]] = {
    "state": ["triggerflow_nb/layers/state.py"],
    "snapshot": ["triggerflow_nb/runtime/snapshot.py", "triggerflow_nb/persistence/save_load.py",
                 "triggerflow_nb/persistence/consistency.py", "triggerflow_nb/persistence/files.py"],
    "walker": ["triggerflow_nb/runtime/walker.py"],
    # The execution handle and its parts (the task scope's are in "tasks").
    "execution": ["triggerflow_nb/runtime/execution.py", "triggerflow_nb/runtime/lifecycle.py",
                  "triggerflow_nb/runtime/state_store.py", "triggerflow_nb/runtime/walk_state.py",
                  "triggerflow_nb/runtime/interrupts.py", "triggerflow_nb/runtime/resource_host.py",
                  "triggerflow_nb/runtime/stream.py", "triggerflow_nb/runtime/chunk_port.py",
                  "triggerflow_nb/runtime/result.py", "triggerflow_nb/runtime/retry.py",
                  "triggerflow_nb/runtime/sub_flow.py", "triggerflow_nb/runtime/snapshot_assembly.py",
                  "triggerflow_nb/runtime/outside.py"],
    # The step history: recording, reading back, the public records, one chunk alone, the load check.
    "history": ["triggerflow_nb/runtime/history.py", "triggerflow_nb/runtime/steps.py",
                "triggerflow_nb/runtime/chunk_run.py", "triggerflow_nb/persistence/history_check.py"],
    # The other TriggerFlow's flow-config format, both ways.
    "flow_config": ["triggerflow_nb/persistence/flow_config.py", "triggerflow_nb/persistence/flow_config_format.py",
                    "triggerflow_nb/persistence/flow_config_in.py", "triggerflow_nb/persistence/flow_config_out.py",
                    "triggerflow_nb/persistence/flow_config_parse.py"],
    "tasks": ["triggerflow_nb/runtime/scope.py", "triggerflow_nb/runtime/tasks.py", "triggerflow_nb/runtime/work.py"],
    # A store's static table and views (notebook/store_table.py, store_views.py) and the slot they come
    # through are tested by the store's tests; notebook/store_browser.py (the ipywidgets table) is left out: UI code.
    "store": ["triggerflow_nb/store/base.py", "triggerflow_nb/store/errors.py", "triggerflow_nb/store/postgres.py",
              "triggerflow_nb/store/records.py", "triggerflow_nb/store/resume.py",
              "triggerflow_nb/store/snapshot_rows.py", "triggerflow_nb/store/sql_store.py",
              "triggerflow_nb/store/sqlite.py", "triggerflow_nb/notebook/store_table.py",
              "triggerflow_nb/notebook/store_views.py", "triggerflow_nb/_store_views.py"],
    # Also the executor protocol and the body check (definition/) and the walker's side of a remote
    # fan-out (runtime/remote_fan_out.py): tests/distributed tests them.
    "distributed": ["triggerflow_nb/distributed/__init__.py", "triggerflow_nb/distributed/batch_outcome.py",
                    "triggerflow_nb/distributed/batch_runner.py", "triggerflow_nb/definition/remote_body.py",
                    "triggerflow_nb/distributed/dask.py", "triggerflow_nb/distributed/errors.py",
                    "triggerflow_nb/definition/item_executor.py", "triggerflow_nb/runtime/remote_fan_out.py",
                    "triggerflow_nb/distributed/shipping.py", "triggerflow_nb/distributed/worker_data.py",
                    "triggerflow_nb/distributed/worker_loop.py", "triggerflow_nb/distributed/worker_resources.py"],
}
FAST_TESTS = ["tests/engine", "tests/seed", "tests/persistence", "tests/patterns", "tests/reliability"]
# The tests each group runs (default FAST_TESTS): only those that reach a package's code, so that
# its runs need not wait on (nor break with) unrelated suites.
GROUP_TESTS = {"store": ["tests/store", "tests/persistence", "tests/reliability"], "distributed": ["tests/distributed"]}
MIN_SCORE = {"store": 85.0, "distributed": 85.0}  # the gate of the others: 90 %
OUT = ROOT / "build" / "mutation"
GRACE_SECONDS = 20.0  # a mutant past its bound gets SIGINT (pytest tears its fixtures down), then SIGKILL
# One test past this (floor plus a multiple of its unmutated time) is a hang: without it a mutant
# that hangs its first test waits out the bound of the whole selection (minutes, not seconds).
# The floor covers a session fixture (a PostgreSQL server, a Dask cluster) set up by a test
# other than the one that paid for it in the coverage run.
TEST_FLOOR_SECONDS = 30.0
TEST_FACTOR = 5.0

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
    """The name the package imports the file as: a package's ``__init__.py`` is the package itself
    (as ``pkg.__init__`` it would load a second copy, which no test uses)."""
    return path.removesuffix(".py").removesuffix("/__init__").replace("/", ".")


def _tests_for(groups: list[str]) -> list[str]:
    return list(dict.fromkeys(t for g in groups for t in GROUP_TESTS.get(g, FAST_TESTS)))


def _use_worker_preload(targets: list[str]) -> None:
    """Dask workers started from here on (by the coverage run or a mutant's tests) load the
    ``dask_worker`` preload; Dask reads these variables when it is imported in the worker."""
    os.environ["DASK_DISTRIBUTED__WORKER__PRELOAD"] = json.dumps([str(MUTATION / "dask_worker.py")])
    os.environ["TFNB_MUTATION_DIR"] = str(MUTATION)
    os.environ["TFNB_WORKER_TARGETS"] = json.dumps(targets)


def _record_coverage(files: list[str], tests: list[str], out: Path) -> dict:
    targets = [str(ROOT / f) for f in files]
    worker_lines = out.with_suffix(".worker-lines")
    shutil.rmtree(worker_lines, ignore_errors=True)
    worker_lines.mkdir(parents=True)
    script = (
        "import sys; sys.path.insert(0, 'scripts/mutation');"
        "import suite; suite.fixed_examples();"
        "import coverage_map;"
        f"sys.exit(coverage_map.record({targets!r}, {tests!r}, {str(out)!r}, {str(worker_lines)!r}))"
    )
    started = time.perf_counter()
    env = {**os.environ, "TFNB_WORKER_LINES": str(worker_lines)}
    log = out.with_suffix(".log")
    with open(log, "wb") as output:
        code = subprocess.call([sys.executable, "-c", script], cwd=ROOT, stdout=output, stderr=output, env=env)
    shutil.rmtree(worker_lines, ignore_errors=True)
    if code != 0:
        sys.exit(f"the unmutated tests fail (pytest exit {code}; see {log}): fix them before mutation testing")
    print(f"coverage map recorded in {time.perf_counter() - started:.0f}s", flush=True)
    coverage = json.loads(out.read_text())
    coverage.update(files=targets, tests=tests)
    out.write_text(json.dumps(coverage))
    return coverage


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
    parser.add_argument("--min-score", type=float, default=None,
                        help="the gate in %% killed (default 90, store and distributed 85)")
    parser.add_argument("--reuse-coverage", action="store_true",
                        help="keep build/mutation/coverage-<groups>.json from an earlier run")
    parser.add_argument("--show-survivors", action="store_true")
    parser.add_argument("--only", metavar="TEXT", help="only the group files whose path contains TEXT (a re-check)")
    args = parser.parse_args()
    os.chdir(ROOT)
    OUT.mkdir(parents=True, exist_ok=True)

    unknown = [g for g in args.groups if g not in GROUPS]
    if unknown:
        parser.error(f"unknown group(s) {', '.join(unknown)}: choose from {', '.join(GROUPS)}")
    args.groups = args.groups or list(GROUPS)
    files = [f for group in args.groups for f in GROUPS[group]]
    tests = _tests_for(args.groups)
    _use_worker_preload([str(ROOT / f) for f in files])
    coverage_path = OUT / f"coverage-{'+'.join(args.groups)}.json"  # one per selection: runs may overlap
    coverage = json.loads(coverage_path.read_text()) if args.reuse_coverage and coverage_path.exists() else None
    if coverage is not None and (coverage.get("tests") != tests
                                 or not {str(ROOT / f) for f in files} <= set(coverage.get("files", []))):
        print("the kept coverage map was recorded for other files or tests: recording it again", flush=True)
        coverage = None
    if coverage is None:
        coverage = _record_coverage(files, tests, coverage_path)
    lines_to_tests = _line_index(coverage)
    durations = coverage["durations"]

    for path in files:
        _source(path)  # read with the import below: the code that runs is the code that is mutated
    import suite
    suite.fixed_examples()
    suite.import_tests(tests)  # once, in the parent: every fork inherits them
    failing = []
    for group in args.groups:
        _check_forked_tests(group, _tests_for([group]), durations)
        outcomes = _run_group(group, args.jobs, lines_to_tests, durations, args.show_survivors, args.only)
        results = OUT / (f"{group}-only.json" if args.only else f"{group}.json")
        results.write_text(json.dumps([asdict(o) for o in outcomes], indent=1))
        score = _summarise(group, outcomes, args.show_survivors)
        gate = args.min_score if args.min_score is not None else MIN_SCORE.get(group, 90.0)
        if score < gate:
            failing.append(f"{group} ({score:.1f}% < {gate:.0f}%)")
    if failing:
        print(f"under the gate: {', '.join(failing)}")
        return 1
    return 0


class _Child:
    """One forked child running tests: its own process group and scratch directory."""

    def __init__(self, module: str, path: str, index: int | None, tests: list[str], bound: float,
                 durations: dict[str, float], log: str | None = None, source: str | None = None) -> None:
        import suite

        self.scratch = tempfile.mkdtemp(prefix="tfnb-mutant-")
        os.chmod(self.scratch, 0o755)  # the PostgreSQL test server runs as the postgres user
        self.progress = os.path.join(self.scratch, suite.PROGRESS_FILE)
        self.durations = durations
        self.began = time.perf_counter()
        self.bound = bound
        self.interrupted_at: float | None = None
        self.stalled_test: str | None = None
        pid = os.fork()
        if pid == 0:
            try:
                suite.run_mutant(module, path, index, tests, self.scratch, log, source)
            finally:
                os._exit(70)
        try:
            os.setpgid(pid, pid)  # also here: no race with a kill before the child has done it
        except OSError:
            pass  # the child has done it already (or exec'd... it does not), or has exited
        self.pid = pid

    def check_time(self, now: float) -> None:
        """Past its bound: SIGINT (pytest tears its fixtures down: servers, clusters); then SIGKILL."""
        if self.interrupted_at is None and (now - self.began > self.bound or self._test_stalled()):
            self.interrupted_at = now
            os.kill(self.pid, signal.SIGINT)
        elif self.interrupted_at is not None and now - self.interrupted_at > GRACE_SECONDS:
            self._kill_group()

    def _test_stalled(self) -> bool:
        """The test the child is on (it writes the id when the test starts) is far past its time."""
        try:
            started = os.stat(self.progress).st_mtime
        except FileNotFoundError:
            return False
        running = time.time() - started
        if running < TEST_FLOOR_SECONDS:
            return False
        with open(self.progress, encoding="utf-8") as file:
            test = file.read()
        if running > TEST_FLOOR_SECONDS + TEST_FACTOR * self.durations.get(test, 0.0):
            self.stalled_test = test
            return True
        return False

    def _kill_group(self) -> None:
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def finished(self) -> None:
        """After waitpid: end whatever the child left running, remove its files."""
        self._kill_group()
        shutil.rmtree(self.scratch, ignore_errors=True)


def _check_forked_tests(group: str, tests: list[str], durations: dict) -> None:
    """The group's tests, unmutated, run as a mutant's run: each must pass there too."""
    log = OUT / f"{group}-unmutated.log"
    bound = 60.0 + 3.0 * sum(seconds for t, seconds in durations.items() if t.startswith(tuple(tests)))
    child = _Child("", "", None, tests, bound, durations, str(log))
    started = time.perf_counter()
    try:
        while True:
            pid, status = os.waitpid(child.pid, os.WNOHANG)
            if pid:
                break
            child.check_time(time.perf_counter())
            time.sleep(0.05)
    finally:
        child.finished()
    if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0 or child.interrupted_at is not None:
        stalled = f", stalled in {child.stalled_test}" if child.stalled_test else ""
        sys.exit(f"{group}: the unmutated tests fail when run in a forked child as the mutants' tests are "
                 f"(status {status}{stalled}); see {log}")
    print(f"{group}: unmutated tests pass in a forked child ({time.perf_counter() - started:.0f}s)", flush=True)


def _run_group(group: str, jobs: int, lines_to_tests: dict, durations: dict,
               show_survivors: bool = False, only: str | None = None) -> list[Outcome]:
    from sites import find_sites

    pending = []
    outcomes: list[Outcome] = []
    selection = _tests_for([group])
    everything = sorted((t for t in durations if t.split("::")[0].startswith(tuple(selection))),
                        key=lambda t: durations[t])
    for path in GROUPS[group]:
        if only and only not in path:
            continue
        absolute = str(ROOT / path)
        source = _source(path)
        sites = find_sites(ast.parse(source))
        for site in sites:
            tests = sorted({t for line in range(site.line, site.end_line + 1)
                            for t in lines_to_tests.get((absolute, line), ())},
                           key=lambda t: durations.get(t, 0.0))
            # No recorded test reaches the site (or the tracer missed it, e.g. it runs after a
            # RecursionError, which switches tracing off): try it against every test.
            pending.append((path, absolute, site, tests or everything, not tests, source))
    running: dict[int, tuple[_Child, str, object, list[str], bool]] = {}
    started_all = time.perf_counter()
    done = 0
    try:
        while pending or running:
            while pending and len(running) < jobs:
                path, absolute, site, tests, unreached, source = pending.pop(0)
                bound = 20.0 + 3.0 * sum(durations.get(t, 0.0) for t in tests)
                child = _Child(_module_name(path), absolute, site.index, tests, bound, durations, source=source)
                running[child.pid] = (child, path, site, tests, unreached)
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                now = time.perf_counter()
                for child, *_ in running.values():
                    child.check_time(now)
                time.sleep(0.01)
                continue
            child, path, site, tests, unreached = running.pop(pid)
            child.finished()
            outcomes.append(Outcome(path, site.index, site.line, site.function, site.description,  # type: ignore[attr-defined]
                                    _result(child, status, unreached), len(tests),
                                    round(time.perf_counter() - child.began, 2)))
            done += 1
            if show_survivors and outcomes[-1].result in ("survived", "uncovered"):
                print(f"  survived so far: {outcomes[-1].path}:{outcomes[-1].line} {outcomes[-1].description}",
                      flush=True)
            if done % 50 == 0:
                print(f"  {group}: {done} mutants run ({time.perf_counter() - started_all:.0f}s)", flush=True)
    finally:  # interrupted (Ctrl-C reaches only this process group): end the children too
        for child, *_ in running.values():
            child._kill_group()
            os.waitpid(child.pid, 0)
            child.finished()
    print(f"  {group}: {done} mutants in {time.perf_counter() - started_all:.0f}s", flush=True)
    outcomes.sort(key=lambda o: (o.path, o.index))
    return outcomes


def _result(child: _Child, status: int, unreached: bool) -> str:
    import suite

    if child.interrupted_at is not None:
        return "timeout"
    if os.WIFSIGNALED(status):
        return "killed"
    result = {0: "survived", 1: "killed", suite.UNPATCHABLE_EXIT: "unpatchable"}.get(os.WEXITSTATUS(status), "error")
    if result == "survived" and unreached:
        result = "uncovered"  # no test reaches it: survived by absence, not by weak asserts
    return result


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
def _source(path: str) -> str:
    """A target file as first read in this run: sites, mutants and survivors' lines all use it."""
    return Path(path).read_text(encoding="utf-8")


def _source_lines(path: str) -> list[str]:
    return _source(path).splitlines()


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
