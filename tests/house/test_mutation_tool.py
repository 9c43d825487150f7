"""scripts/mutate.py's parts: the sites it finds, and that a mutant really changes the running code."""

import importlib
import importlib.util
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts" / "mutation"))

import ast  # noqa: E402

from patch import Unpatchable, apply_mutant  # noqa: E402
from sites import find_sites  # noqa: E402

SOURCE = '''
LIMIT = 3  # module level: not mutated (it ran at import)


def within(value, limit=LIMIT):
    """Docstrings are not mutated."""
    if value < limit and value is not None:
        return True
    log(f"{value} is out")  # an f-string is text: not mutated
    return False


def log(message):
    raise ValueError(message)  # which error is raised is not mutated


class Box:
    def bigger(self, n):
        return n + 1
'''


def test_sites_cover_comparisons_booleans_constants_returns_and_calls_only_inside_functions():
    sites = [(s.function, s.line, s.description) for s in find_sites(ast.parse(SOURCE))]
    assert sites == [
        ("within", 7, "And -> Or"),
        ("within", 7, "Lt -> LtE"),
        ("within", 7, "IsNot -> Is"),
        ("within", 8, "return x -> return None"),
        ("within", 8, "True -> False"),
        ("within", 9, "call statement removed"),
        ("within", 10, "return x -> return None"),
        ("within", 10, "False -> True"),
        ("Box.bigger", 19, "return x -> return None"),
        ("Box.bigger", 19, "Add -> Sub"),
        ("Box.bigger", 19, "1 -> 2"),
    ]


def test_a_mutant_swaps_the_code_of_the_live_function(tmp_path, monkeypatch):
    module_file = tmp_path / "mutant_target.py"
    module_file.write_text(SOURCE)
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("mutant_target")
    try:
        bound = module.Box().bigger  # taken before the swap: it must see the mutant too
        assert module.within(2) is True and bound(1) == 2
        site = apply_mutant("mutant_target", str(module_file), 1)  # `<` becomes `<=`
        assert site.description == "Lt -> LtE"
        assert module.within(3) is True
        apply_mutant("mutant_target", str(module_file), 9)  # `n + 1` becomes `n - 1`
        assert bound(1) == 0
    finally:
        sys.modules.pop("mutant_target", None)


def test_a_function_replaced_by_its_decorator_is_not_patchable(tmp_path, monkeypatch):
    module_file = tmp_path / "wrapped_target.py"
    module_file.write_text("def deco(fn):\n    return lambda *a: fn(*a)\n\n@deco\ndef g(x):\n    return x == 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.import_module("wrapped_target")
    try:
        with pytest.raises(Unpatchable, match="^g: not a plain function at import$"):
            apply_mutant("wrapped_target", str(module_file), 2)  # inside g, which the module no longer holds
    finally:
        sys.modules.pop("wrapped_target", None)


def _mutation_runner(monkeypatch):
    spec = importlib.util.spec_from_file_location(
        "mutation_runner", Path(__file__).resolve().parents[2] / "scripts" / "mutate.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


# Run in a fresh interpreter: the runner forks, and a fork of the (multi-threaded) pytest process
# may deadlock its child (Python 3.12+ warns about exactly that).
_HANG_CHECK = """
import importlib.util, os, sys, time
spec = importlib.util.spec_from_file_location("mutation_runner", sys.argv[1])
runner = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = runner
spec.loader.exec_module(runner)
runner.TEST_FLOOR_SECONDS = 1.0
child = runner._Child("", "", None, [sys.argv[2]], 600.0, {})  # no recorded times: the floor alone
deadline = time.perf_counter() + 30.0
try:
    while True:
        pid, status = os.waitpid(child.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() > deadline:
            sys.exit("the hanging test was not cut")
        child.check_time(time.perf_counter())
        time.sleep(0.05)
finally:
    child.finished()
print(child.stalled_test)
print(round(child.interrupted_at - child.began, 1))
print(runner._result(child, status, unreached=False))
"""


def test_a_test_far_past_its_own_time_is_cut_as_a_hang(tmp_path):
    """One hanging test ends the child within seconds, not at the whole selection's bound."""
    import subprocess

    tests = tmp_path / "test_hangs.py"
    tests.write_text("import time\n\ndef test_quick():\n    pass\n\ndef test_hangs():\n    time.sleep(60)\n")
    runner = Path(__file__).resolve().parents[2] / "scripts" / "mutate.py"
    done = subprocess.run([sys.executable, "-c", _HANG_CHECK, str(runner), str(tests)], capture_output=True,
                          text=True, timeout=90, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    stalled, after, result = done.stdout.split()
    assert stalled.endswith("test_hangs.py::test_hangs")  # its id is relative to the rootdir pytest picks
    assert float(after) < 10.0 and result == "timeout"


def test_a_packages_init_is_mutated_as_the_package_itself(monkeypatch):
    """As ``pkg.__init__`` the mutant would go into a second copy of the package that no test imports."""
    runner = _mutation_runner(monkeypatch)
    assert runner._module_name("triggerflow_nb/distributed/__init__.py") == "triggerflow_nb.distributed"
    assert runner._module_name("triggerflow_nb/runtime/walker.py") == "triggerflow_nb.runtime.walker"
