"""errors.py promises that every error a user can catch derives from TriggerFlowError."""

import ast
import pathlib

import triggerflow_nb

PACKAGE = pathlib.Path(triggerflow_nb.__file__).parent
BUILTINS = {"TypeError", "ValueError", "KeyError", "RuntimeError", "LookupError"}
# Raised and caught inside the package, never reaching a caller.
INTERNAL = {
    ("runtime/tasks.py", "TypeError"),  # StartedInline.__await__: only its task drives it
    ("persistence/files.py", "ValueError"),  # json's parse_constant hook; load_from_file converts it
    ("runtime/sub_flow.py", "KeyError"),  # a write_back path: the sub-flow step wraps it in a ChunkError
    ("layers/state.py", "KeyError"),  # data.state[key] keeps the mapping protocol: a missing key is a KeyError
    ("distributed/worker_data.py", "KeyError"),  # the same mapping protocol, on a worker's read-only state
}


def test_no_public_call_raises_a_bare_builtin_error():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and isinstance(node.exc.func, ast.Name):
                name = node.exc.func.id
                if name in BUILTINS and (relative, name) not in INTERNAL:
                    found.append(f"{relative}:{node.lineno} raise {name}")
    assert found == []
