"""The README's runnable examples: find one by the HTML comment that marks it, run it, read what it printed."""

import contextlib
import io
import pathlib
import re

README = pathlib.Path(__file__).resolve().parents[2] / "README.md"


def marked_example(marker: str) -> str:
    """The python block right after ``<!-- <marker> ... -->``."""
    text = README.read_text(encoding="utf-8")
    return re.search(rf"<!-- {re.escape(marker)}[^>]*-->\n```python\n(.*?)```", text, re.S).group(1)


def printed(code: str, namespace: dict | None = None) -> str:
    """What ``code`` prints when run (in ``namespace``, or a fresh one)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, str(README), "exec"), namespace if namespace is not None else {"__name__": "readme"})
    return out.getvalue()
