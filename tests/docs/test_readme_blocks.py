"""The README's blocks example runs as written and prints exactly what its comments say."""

from readme_examples import marked_example, printed


def test_readme_blocks_example_prints_what_it_promises():
    code = marked_example("blocks example")
    promised = [line[2:] for line in code.splitlines() if line.startswith("# ") and not line.startswith("# A ")
                and line[2:3] in ("a", "{")]
    assert printed(code).splitlines() == promised
    assert len(promised) == 2
