"""The README's flow-config example runs as written and prints what its comment says."""

from readme_examples import marked_example, printed


def test_readme_flow_config_example_prints_what_it_promises():
    code = marked_example("flow config example")
    promised = [line[2:] for line in code.splitlines() if line.startswith("# ")]
    assert printed(code).splitlines() == promised == ["{'out': 16} True"]
