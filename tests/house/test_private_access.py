"""No top-level folder of the package reads another folder's private attributes.

A read ``x._name`` (``x`` not ``self`` or ``cls``) in folder F counts when ``_name`` is defined
nowhere in F: not as a function, class or module name there, not assigned as ``self._name``,
not in a ``__slots__``. Such reads are the coupling import-linter cannot see: the reader breaks
when the owner renames its internals. What one folder needs of another is a public name on
its owner (the execution's parts, FlowDefinition's ``handlers``, the environment manager's
``provider(kind)``...).
"""

from __future__ import annotations

import ast
import collections
import pathlib

import triggerflow_nb

PACKAGE = pathlib.Path(triggerflow_nb.__file__).parent

# (file, attribute, read from) -> times, each with the reason it cannot be a public name. None.
ALLOWED: dict[tuple[str, str, str], int] = {}


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


def test_no_folder_reads_another_folders_private_attributes():
    assert dict(cross_folder_reads()) == ALLOWED, "a private attribute of another folder is read: make it public"


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
