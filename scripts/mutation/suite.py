"""The test suite as the mutation runner uses it: imported once, then run per mutant in a fork."""

from __future__ import annotations

import contextlib
import io
import os

import pytest


def fixed_examples() -> None:
    """Same hypothesis examples for every mutant; no example database carried between mutants."""
    from hypothesis import Phase, settings

    # No explain phase: it swaps sys.settrace for its own tracer, which would blind the coverage map.
    phases = [phase for phase in Phase if phase is not Phase.explain]
    settings.register_profile("mutation", database=None, derandomize=True, deadline=None, phases=phases)
    settings.load_profile("mutation")


def import_tests(folders: list[str]) -> None:
    """Collect (and so import) every test module in this process, so forks inherit them."""
    with contextlib.redirect_stdout(io.StringIO()):
        code = pytest.main([*folders, "--collect-only", "-q", "-p", "no:cacheprovider"])
    if code != 0:
        raise SystemExit(f"collecting {folders} failed (pytest exit {code})")


UNPATCHABLE_EXIT = 90
PROGRESS_FILE = "current-test"  # in the child's scratch directory: the id of the test it is on


class _Progress:
    """Writes each test's id as it starts: the runner reads how long the child has been on it."""

    def __init__(self, path: str) -> None:
        self.path = path

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logstart(self, nodeid: str, location: object) -> None:
        with open(self.path, "w", encoding="utf-8") as file:
            file.write(nodeid)


def run_mutant(module: str, path: str, index: int | None, tests: list[str], scratch: str,
               log: str | None = None, source: str | None = None) -> None:
    """In a forked child: apply the mutant (``index`` None: none), run ``tests`` until the first
    failure, exit.

    The child leads a process group of its own, so that the runner can end it together with
    every server and Dask worker it started, and keeps its temporary files (databases, server
    directories, worker scratch space) under ``scratch``, which the runner deletes afterwards.
    Dask workers are separate processes: ``TFNB_MUTANT`` makes the ``dask_worker`` preload
    swap the same mutant into each of them. ``source`` is the file as the runner numbered its
    sites, so that a file changed since (others commit while a run goes on) is mutated as read;
    the workers, which import the package afresh, read it from disk.
    """
    os.setpgid(0, 0)
    import signal
    import tempfile

    # The runner's SIGINT past the bound must reach pytest even when the runner itself was
    # started in the background, where SIGINT is ignored and the ignoring is inherited.
    signal.signal(signal.SIGINT, signal.default_int_handler)

    os.environ["TMPDIR"] = tempfile.tempdir = scratch
    output = os.open(log or os.devnull, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(output, 1)
    os.dup2(output, 2)
    from patch import Unpatchable, apply_mutant

    if index is not None:
        try:
            apply_mutant(module, path, index, source)
        except Unpatchable:
            os._exit(UNPATCHABLE_EXIT)
        os.environ["TFNB_MUTANT"] = f"{module}|{path}|{index}"
    progress = _Progress(os.path.join(scratch, PROGRESS_FILE))
    code = pytest.main([*tests, "-x", "-q", "-p", "no:cacheprovider"], plugins=[progress])
    os._exit(int(code))
