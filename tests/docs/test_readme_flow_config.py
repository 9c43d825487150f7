"""The README's flow-config example runs as written and prints what its comment says."""

import contextlib
import io
import pathlib
import re

README = pathlib.Path(__file__).resolve().parents[2] / "README.md"


def test_readme_flow_config_example_prints_what_it_promises():
    text = README.read_text(encoding="utf-8")
    code = re.search(r"<!-- flow config example[^>]*-->\n```python\n(.*?)```", text, re.S).group(1)
    promised = [line[2:] for line in code.splitlines() if line.startswith("# ")]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, str(README), "exec"), {"__name__": "readme_flow_config"})
    assert out.getvalue().splitlines() == promised == ["{'out': 16} True"]
