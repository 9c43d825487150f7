"""One supported range, said the same everywhere: pyproject, the scripts that test it, Binder, the README.

The range is Python 3.11-3.13. CI runs the whole suite on the oldest and the core and
notebook-kernel tests on the others (scripts/test.sh); nothing in the package or the tests
may lean on an asyncio API newer than the oldest supported version.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SUPPORTED = ["3.11", "3.12", "3.13"]

# asyncio names and keywords that appeared after 3.11: code here must run on 3.11.
NEWER_ASYNCIO_NAMES = {"eager_task_factory", "create_eager_task_factory", "QueueShutDown", "TaskGroup._abort"}
NEWER_KEYWORDS = {"eager_start"}  # Task(..., eager_start=True), loop.create_task(..., eager_start=...)


def test_pyproject_claims_exactly_the_supported_range():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert project["project"]["requires-python"] == f">={SUPPORTED[0]}"
    assert project["tool"]["ruff"]["target-version"] == "py" + SUPPORTED[0].replace(".", "")
    assert project["tool"]["mypy"]["python_version"] == SUPPORTED[0]


def test_the_test_command_covers_every_other_supported_python():
    out = subprocess.run(["bash", "-c", "source scripts/venv.sh && echo $OTHER_PYTHONS"], cwd=REPO,
                         capture_output=True, text=True, check=True, timeout=30, env={"PATH": "/usr/bin:/bin"})
    assert out.stdout.split() == SUPPORTED[1:]
    assert "bash scripts/test.sh" in (REPO / ".ci" / "run").read_text()


def test_this_interpreter_is_a_supported_one():
    assert f"{sys.version_info.major}.{sys.version_info.minor}" in SUPPORTED


def test_binder_and_the_readme_name_the_range():
    assert (REPO / "binder" / "runtime.txt").read_text().strip() == f"python-{SUPPORTED[-1]}"
    readme = (REPO / "README.md").read_text()
    assert f"**Python {SUPPORTED[0]}, {SUPPORTED[1]} and {SUPPORTED[2]}**" in readme


def test_python_for_names_a_missing_interpreter_and_what_to_do():
    out = subprocess.run(["bash", "scripts/python_for.sh", "3.99"], cwd=REPO, capture_output=True, text=True,
                         timeout=30)
    assert out.returncode == 1 and out.stdout == ""
    assert out.stderr.startswith("python_for.sh: no working Python 3.99 on this machine")
    assert out.stderr.rstrip().endswith("Install it (pyenv install 3.99, or apt-get install python3.99) and run again.")


def _newer_asyncio_uses(tree: ast.AST) -> list[int]:
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in NEWER_ASYNCIO_NAMES:
            lines.append(node.lineno)
        elif isinstance(node, ast.Call):
            named = {k.arg for k in node.keywords}
            is_asyncio_run = ast.unparse(node.func) == "asyncio.run"
            if named & NEWER_KEYWORDS or (is_asyncio_run and "loop_factory" in named):  # asyncio.run's is 3.12
                lines.append(node.lineno)
    return lines


def test_no_code_uses_an_asyncio_api_newer_than_the_oldest_supported_python():
    found = [
        f"{path.relative_to(REPO)}:{line}"
        for folder in ("triggerflow_nb", "tests")
        for path in sorted((REPO / folder).rglob("*.py"))
        for line in _newer_asyncio_uses(ast.parse(path.read_text(encoding="utf-8")))
    ]
    assert found == []


def test_the_scan_finds_what_it_looks_for():
    code = ("asyncio.Task(c, eager_start=True)\nloop.set_task_factory(asyncio.eager_task_factory)\n"
            "asyncio.run(main(), loop_factory=f)\nasyncio.Runner(loop_factory=f)\n")
    assert sorted(_newer_asyncio_uses(ast.parse(code))) == [1, 2, 3]  # not line 4: Runner takes it on 3.11
