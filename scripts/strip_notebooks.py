#!/usr/bin/env python
"""Keep the stored notebooks clean: no outputs, no execution counts, no widget state.

    python scripts/strip_notebooks.py            # strip notebooks/*.ipynb in place
    python scripts/strip_notebooks.py --check    # exit 1 and list what is not clean
    python scripts/strip_notebooks.py PATH ...   # only these files

Run it after working on a notebook in JupyterLab, before committing. The executed
versions belong in build/ (scripts/demo.sh writes them there), not in notebooks/.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = REPO / "notebooks"

# Notebook-level metadata worth keeping; everything else (widget state, execution
# timing, a particular kernel's language_info details) is an artefact of a run.
KEEP_NOTEBOOK_METADATA = {"kernelspec"}
KEEP_CELL_METADATA = {"tags"}


def problems(nb: nbformat.NotebookNode) -> list[str]:
    """What makes a notebook not clean, one line per finding (empty when it is clean)."""
    found = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            if cell.get("outputs"):
                found.append(f"cell {index} has {len(cell.outputs)} output(s)")
            if cell.get("execution_count") is not None:
                found.append(f"cell {index} has execution_count {cell.execution_count}")
        extra = set(cell.get("metadata", {})) - KEEP_CELL_METADATA
        if extra:
            found.append(f"cell {index} has run metadata {sorted(extra)}")
        if cell.get("attachments"):
            found.append(f"cell {index} has attachments")
    extra = set(nb.metadata) - KEEP_NOTEBOOK_METADATA - {"language_info"}
    if extra:
        found.append(f"notebook metadata has {sorted(extra)}")
    if set(nb.metadata.get("language_info", {})) - {"name"}:
        found.append("notebook metadata has a run's language_info details")
    return found


def strip(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        cell.metadata = {k: v for k, v in cell.get("metadata", {}).items() if k in KEEP_CELL_METADATA}
        cell.pop("attachments", None)
    language = nb.metadata.get("language_info", {}).get("name", "python")
    nb.metadata = {k: v for k, v in nb.metadata.items() if k in KEEP_NOTEBOOK_METADATA}
    nb.metadata["language_info"] = {"name": language}
    return nb


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="*", type=Path, help="notebooks (default: notebooks/*.ipynb)")
    parser.add_argument("--check", action="store_true", help="report instead of rewriting; exit 1 if any is dirty")
    args = parser.parse_args(argv)

    paths = args.paths or sorted(NOTEBOOK_DIR.glob("*.ipynb"))
    dirty = 0
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        found = problems(nb)
        if not found:
            continue
        dirty += 1
        if args.check:
            print(f"{path}: " + "; ".join(found))
        else:
            nbformat.validate(strip(nb))
            path.write_text(nbformat.writes(nb) + "\n", encoding="utf-8")
            print(f"stripped {path}")
    if args.check and dirty:
        print(f"{dirty} notebook(s) have outputs or run metadata: run python scripts/strip_notebooks.py")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
