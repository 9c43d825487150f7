"""binder/ is enough to run the notebooks: build the environment the way Binder does, run them.

repo2docker (what mybinder.org runs) installs binder/apt.txt with apt and then runs
``pip install -r binder/requirements.txt`` from the repository root. This test does the
pip half in a clean venv made in a tmp dir, from a copy of the repository (so the real
checkout is not touched), registers a kernel from that venv under a unique name, and runs
every notebook with it. The apt half is checked by the presence of ``dot``, which
scripts/setup_env.sh installs from the same Debian package that binder/apt.txt names.

Needs PyPI (pip's cache makes a second run quick).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from pathlib import Path

import nbformat
import pytest
import run_notebooks
from nb_expectations import check_notebook, stdout

REPO = Path(__file__).resolve().parents[2]

# What a fresh clone would not have: local environments, build output, caches.
NOT_IN_A_CLONE = shutil.ignore_patterns(
    ".git", ".venv", ".venv-*", "build", "*.egg-info", "__pycache__", ".pytest_cache", ".hypothesis",
    ".ipynb_checkpoints", "node_modules",
)


def test_binder_files_say_what_binder_needs():
    assert (REPO / "binder" / "apt.txt").read_text().split() == ["graphviz"]
    requirements = [
        line.split("#")[0].strip() for line in (REPO / "binder" / "requirements.txt").read_text().splitlines()
    ]
    requirements = [r for r in requirements if r]
    assert "-e ." in requirements, "binder/requirements.txt must install this repository"
    assert any(r.startswith("jupyterlab") for r in requirements)
    assert any(r.startswith("ipywidgets") for r in requirements)
    assert (REPO / "binder" / "runtime.txt").read_text().strip().startswith("python-3.")
    assert shutil.which("dot"), "graphviz's dot is missing: run scripts/setup_env.sh"
    readme = (REPO / "README.md").read_text()
    assert "(https://mybinder.org/v2/gh/OWNER/triggerflow_nb/HEAD?urlpath=lab/tree/notebooks/01_quickstart.ipynb)" in readme
    assert "[![Binder](https://mybinder.org/badge_logo.svg)]" in readme


def _run(cmd: list[str], cwd: Path, timeout: int) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PIP_REQUIRE_VIRTUALENV")}
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"


def _runtime_python() -> str:
    """The interpreter binder/runtime.txt names (Binder builds with that one), found as the
    project's scripts find it; a machine without it fails here, saying what to install."""
    version = (REPO / "binder" / "runtime.txt").read_text().strip().removeprefix("python-")
    found = subprocess.run(["bash", str(REPO / "scripts" / "python_for.sh"), version], capture_output=True, text=True)
    assert found.returncode == 0, found.stderr
    return found.stdout.strip()


@pytest.fixture(scope="module")
def binder_kernel(tmp_path_factory):
    """A kernel from a clean venv where only binder/requirements.txt was installed."""
    root = tmp_path_factory.mktemp("binder")
    clone = root / "repo"
    shutil.copytree(REPO, clone, ignore=NOT_IN_A_CLONE)
    venv = root / "venv"
    _run([_runtime_python(), "-m", "venv", str(venv)], root, 120)
    python = venv / "bin" / "python"
    _run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", "-r", "binder/requirements.txt"],
         clone, 900)

    name = f"tfnb-binder-{uuid.uuid4().hex[:8]}"
    prefix = root / "jupyter"
    _run([str(python), "-m", "ipykernel", "install", "--prefix", str(prefix), "--name", name], root, 120)
    kernels = prefix / "share" / "jupyter"
    assert (kernels / "kernels" / name / "kernel.json").exists()

    old = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = str(kernels) + (os.pathsep + old if old else "")
    try:
        yield {"name": name, "venv": venv, "clone": clone, "workdir": root}
    finally:
        if old is None:
            os.environ.pop("JUPYTER_PATH", None)
        else:
            os.environ["JUPYTER_PATH"] = old


@pytest.mark.timeout(1200)
def test_kernel_runs_in_the_binder_venv_with_the_package_installed_from_the_clone(binder_kernel):
    probe = nbformat.v4.new_notebook()
    probe.cells = [nbformat.v4.new_code_cell(
        "import sys, triggerflow_nb, ipywidgets, graphviz\n"
        "print(sys.prefix)\n"
        "print(triggerflow_nb.__file__)\n"
        "print(ipywidgets.__version__.split('.')[0])\n"
        "print('</svg>' in graphviz.Digraph(body=['a -> b']).pipe(format='svg').decode())\n"
        "print('%d.%d' % sys.version_info[:2])"
    )]
    path = binder_kernel["workdir"] / "probe.ipynb"
    nbformat.write(probe, path)
    result = run_notebooks.execute_notebook(path, binder_kernel["workdir"], kernel_name=binder_kernel["name"])
    prefix, package, widgets_major, svg, version = stdout(result.executed.cells[0]).splitlines()
    assert Path(prefix) == binder_kernel["venv"]
    assert f"python-{version}" == (REPO / "binder" / "runtime.txt").read_text().strip()
    assert Path(package).is_relative_to(binder_kernel["clone"])
    assert widgets_major == "8"
    assert svg == "True"  # graphviz found `dot` and drew an SVG


@pytest.mark.timeout(1200)
@pytest.mark.parametrize("path", run_notebooks.notebook_paths(), ids=lambda p: p.stem)
def test_notebook_runs_in_the_binder_environment(binder_kernel, path, tmp_path):
    notebook = binder_kernel["clone"] / "notebooks" / path.name
    result = run_notebooks.execute_notebook(notebook, tmp_path, kernel_name=binder_kernel["name"])
    check_notebook(path.stem, result.executed)
