"""Where we are running: inside a Jupyter kernel or not, and the notebook's variables."""

from __future__ import annotations

import sys
from typing import Any


def _shell() -> Any:
    # Only look at IPython if something already imported it: a plain script must not pay for it.
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return None
    get_ipython = getattr(ipython, "get_ipython", None)
    return get_ipython() if get_ipython is not None else None


def in_notebook() -> bool:
    """True inside a Jupyter kernel (a ZMQInteractiveShell), False in scripts and terminal IPython."""
    shell = _shell()
    if shell is None:
        return False
    zmqshell = sys.modules.get("ipykernel.zmqshell")
    if zmqshell is not None and isinstance(shell, zmqshell.ZMQInteractiveShell):
        return True
    return type(shell).__name__ == "ZMQInteractiveShell"


def user_namespace() -> dict[str, Any]:
    """The notebook's variables (IPython's ``user_ns``); an empty dict outside IPython."""
    shell = _shell()
    return shell.user_ns if shell is not None else {}
