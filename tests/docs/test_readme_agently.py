"""The README's "Coming from Agently's TriggerFlow" example runs as written and prints what its comments say."""

import contextlib
import io
import pathlib
import re

README = pathlib.Path(__file__).resolve().parents[2] / "README.md"


def test_readme_agently_example_prints_what_it_promises():
    text = README.read_text(encoding="utf-8")
    code = re.search(r"<!-- agently example[^>]*-->\n```python\n(.*?)```", text, re.S).group(1)
    promised = [line[2:] for line in code.splitlines() if line.startswith("# ")]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, str(README), "exec"), {"__name__": "readme_agently"})
    assert out.getvalue().splitlines() == promised
    assert len(promised) == 3


def test_the_hook_names_in_the_readme_are_the_ones_execution_on_takes():
    from triggerflow_nb.observe import HOOK_EVENTS

    text = README.read_text(encoding="utf-8")
    row = next(line for line in text.splitlines() if line.startswith("| `execution.on(event_type, callback)`"))
    assert re.findall(r'`"([a-z_*]+)"`', row) == [*HOOK_EVENTS, "*"]
