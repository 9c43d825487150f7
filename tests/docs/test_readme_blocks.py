"""The README's blocks example runs as written and prints exactly what its comments say."""

import contextlib
import io
import pathlib
import re

README = pathlib.Path(__file__).resolve().parents[2] / "README.md"


def test_readme_blocks_example_prints_what_it_promises():
    text = README.read_text(encoding="utf-8")
    code = re.search(r"<!-- blocks example[^>]*-->\n```python\n(.*?)```", text, re.S).group(1)
    promised = [line[2:] for line in code.splitlines() if line.startswith("# ") and not line.startswith("# A ")
                and line[2:3] in ("a", "{")]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, str(README), "exec"), {"__name__": "readme_blocks"})
    assert out.getvalue().splitlines() == promised
    assert len(promised) == 2
