"""The README's "Coming from Agently's TriggerFlow" example runs as written and prints what its comments say."""

import re

from readme_examples import README, marked_example, printed


def test_readme_agently_example_prints_what_it_promises():
    code = marked_example("agently example")
    promised = [line[2:] for line in code.splitlines() if line.startswith("# ")]
    assert printed(code).splitlines() == promised
    assert len(promised) == 3


def test_the_hook_names_in_the_readme_are_the_ones_execution_on_takes():
    from triggerflow_nb.observe import HOOK_EVENTS

    text = README.read_text(encoding="utf-8")
    row = next(line for line in text.splitlines() if line.startswith("| `execution.on(event_type, callback)`"))
    assert re.findall(r'`"([a-z_*]+)"`', row) == [*HOOK_EVENTS, "*"]
