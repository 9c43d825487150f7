"""No top-level folder of the package reads another folder's private attributes (a ratchet).

A read ``x._name`` (``x`` not ``self`` or ``cls``) in folder F counts when ``_name`` is defined
nowhere in F: not as a function, class or module name there, not assigned as ``self._name``,
not in a ``__slots__``. Such reads are the coupling import-linter cannot see: the reader breaks
when the owner renames its internals.

``DEBT`` lists the reads that are still there, by file, attribute and the expression read from,
with how many times. It only shrinks: a new cross-folder read fails the test, and so does a
listed one that is gone (delete its line). The restructuring of the execution into named parts
(issue 24) is what removes the rest; each line below says which part will own the read.
"""

from __future__ import annotations

import ast
import collections
import pathlib

import triggerflow_nb

PACKAGE = pathlib.Path(triggerflow_nb.__file__).parent

# (file, attribute, read from) -> times. The owner to be: FlowHost's public names (graph,
# handlers), the execution's parts (walk state, channel, resources, state trackers), and the
# remote fan-out moved into runtime/.
DEBT: dict[tuple[str, str, str], int] = {
    ("distributed/fan_out.py", "_graph", "execution.flow"): 1,
    ("distributed/fan_out.py", "_chunk_failed", "execution"): 1,
    ("distributed/fan_out.py", "_environment_requests", "execution"): 1,
    ("distributed/fan_out.py", "_channel", "execution"): 6,
    ("distributed/fan_out.py", "_node_status", "execution"): 2,
    ("distributed/fan_out.py", "_resources", "execution"): 1,
    ("distributed/fan_out.py", "_handlers", "flow"): 1,
    ("distributed/shipping.py", "_resources", "execution"): 1,
    ("layers/state.py", "_state", "self._data.execution"): 3,
    ("observe.py", "_state_trackers", "execution"): 2,
    ("observe.py", "_state_trackers", "self._execution"): 2,
}


def _folder(path: pathlib.Path, package: pathlib.Path) -> str:
    parts = path.relative_to(package).parts
    return parts[0] if len(parts) > 1 else parts[0].removesuffix(".py")


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def cross_folder_reads(package: pathlib.Path = PACKAGE) -> collections.Counter[tuple[str, str, str]]:
    defined: dict[str, set[str]] = collections.defaultdict(set)
    reads: list[tuple[str, str, str, str]] = []
    for path in sorted(package.rglob("*.py")):
        folder, relative = _folder(path, package), path.relative_to(package).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and _private(node.name):
                defined[node.name].add(folder)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store) and _private(node.id):
                defined[node.id].add(folder)
            elif isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__slots__"
                                                      for t in node.targets):
                for element in getattr(node.value, "elts", []):
                    if isinstance(element, ast.Constant) and isinstance(element.value, str):
                        defined[element.value].add(folder)
            elif isinstance(node, ast.Attribute) and _private(node.attr):
                if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
                    if isinstance(node.ctx, ast.Store):
                        defined[node.attr].add(folder)
                    continue
                reads.append((folder, relative, node.attr, ast.unparse(node.value)))
    # A private name defined nowhere in the package is the standard library's (sys._getframe,
    # asyncio's _asyncio_future_blocking): not ours to restructure.
    return collections.Counter((relative, attr, read_from) for folder, relative, attr, read_from in reads
                               if defined.get(attr) and folder not in defined[attr])


def test_no_new_private_read_across_folders_and_the_debt_only_shrinks():
    found = cross_folder_reads()
    new = {key: count for key, count in found.items() if count > DEBT.get(key, 0)}
    paid = {key: count for key, count in DEBT.items() if found.get(key, 0) < count}
    assert new == {}, "a private attribute of another folder is read: make it public on its owner"
    assert paid == {}, "these reads are gone: lower or delete their DEBT lines"


def test_the_scan_counts_what_it_should_and_nothing_else(tmp_path):
    (tmp_path / "owner").mkdir()
    (tmp_path / "owner" / "part.py").write_text(
        "class Part:\n    __slots__ = ('_slot',)\n    def __init__(self):\n        self._field = 1\n"
        "    def _helper(self):\n        return self._field\n")
    (tmp_path / "reader.py").write_text(
        "import sys\n"
        "def use(part, frame):\n"
        "    own = 1\n    _local = part\n"
        "    return part._field, part._helper(), part._slot, part._field, sys._getframe(), _local._local_name\n")
    assert cross_folder_reads(tmp_path) == {("reader.py", "_field", "part"): 2, ("reader.py", "_helper", "part"): 1,
                                            ("reader.py", "_slot", "part"): 1}
