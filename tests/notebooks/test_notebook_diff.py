"""scripts/notebook_diff.py: what it masks (widget model ids only) and what it must still catch."""

from __future__ import annotations

import copy

import notebook_diff
import pytest

VIEW = notebook_diff.WIDGET_VIEW
STATE = notebook_diff.WIDGET_STATE


def executed(ids: list[str], *, label: str = "closed", extra_mime: str = "static: 3 items") -> dict:
    """An executed notebook: a stream, a rich output with a widget view and a static fallback, widget state."""
    panel, header, layout, orphan = ids
    return {
        "cells": [
            {"cell_type": "code", "execution_count": 1, "source": "print('hi')",
             "outputs": [{"output_type": "stream", "name": "stdout", "text": "hi\n"}]},
            {"cell_type": "code", "execution_count": 2, "source": "execution.watch()",
             "outputs": [{"output_type": "execute_result", "execution_count": 2, "metadata": {},
                          "data": {"text/plain": "ExecutionPanel(...)",
                                   "text/x-triggerflow-fallback": extra_mime,
                                   VIEW: {"model_id": panel, "version_major": 2, "version_minor": 0}}}]},
        ],
        "metadata": {"widgets": {STATE: {"version_major": 2, "version_minor": 0, "state": {
            orphan: {"model_name": "LayoutModel", "state": {"width": "10px"}},
            layout: {"model_name": "LayoutModel", "state": {"width": None}},
            header: {"model_name": "HTMLModel", "state": {"value": f"<b>{label}</b>",
                                                          "layout": f"IPY_MODEL_{layout}"}},
            panel: {"model_name": "VBoxModel", "state": {"children": [f"IPY_MODEL_{header}"],
                                                         "layout": f"IPY_MODEL_{layout}"}},
        }}}},
    }


RUN_1 = ["a" * 32, "b" * 32, "c" * 32, "d" * 32]
RUN_2 = ["1" * 32, "2" * 32, "3" * 32, "4" * 32]


def test_two_runs_that_differ_only_in_model_ids_match():
    first, second = executed(RUN_1), executed(RUN_2)
    assert notebook_diff.differences(first, second) == []
    assert notebook_diff.canonical(first) == notebook_diff.canonical(second)
    names = notebook_diff.model_id_names(first)
    assert names == {"a" * 32: "model-1", "b" * 32: "model-2", "c" * 32: "model-3", "d" * 32: "unreached-model-1"}


def test_a_changed_static_fallback_of_any_mimetype_is_caught():
    found = notebook_diff.differences(executed(RUN_1), executed(RUN_2, extra_mime="static: 4 items"))
    assert found == ["cell 1, output 0 (execute_result), data text/x-triggerflow-fallback: "
                     "'static: 3 items' against 'static: 4 items'"]


def test_a_changed_widget_state_is_caught_under_its_stable_name():
    found = notebook_diff.differences(executed(RUN_1), executed(RUN_2, label="failed"))
    assert found == ["widget state of model-2: '  \"value\": \"<b>closed</b>\"' against '  \"value\": \"<b>failed</b>\"'"]


def test_a_reference_to_another_model_is_a_difference_not_masked():
    second = executed(RUN_2)
    states = second["metadata"]["widgets"][STATE]["state"]
    states["1" * 32]["state"]["layout"] = "IPY_MODEL_" + "4" * 32  # the panel now points at the orphan layout
    assert notebook_diff.differences(executed(RUN_1), second) != []


@pytest.mark.parametrize("change, expected", [
    (lambda nb: nb["cells"][0]["outputs"][0].update(text="/tmp/ipykernel_1/2.py:6: RuntimeWarning\n"),
     "cell 0, output 0 (stream), text: 'hi' against '/tmp/ipykernel_1/2.py:6: RuntimeWarning'"),
    (lambda nb: nb["cells"][0]["outputs"][0].update(name="stderr"),
     "cell 0, output 0 (stream), name: 'stdout' against 'stderr'"),
    (lambda nb: nb["cells"][1].update(execution_count=3), "cell 1: execution count 2 against 3"),
    (lambda nb: nb["cells"][1]["outputs"][0]["metadata"].update({"text/html": {"isolated": True}}),
     "cell 1, output 0 (execute_result), metadata text/html: 'null' against '{'"),
    (lambda nb: nb["cells"][0]["outputs"].append({"output_type": "stream", "name": "stdout", "text": "x"}),
     "cell 0: 1 outputs against 2"),
])
def test_every_other_field_is_compared(change, expected):
    second = copy.deepcopy(executed(RUN_2))
    change(second)
    assert expected in notebook_diff.differences(executed(RUN_1), second)


def test_the_command_line_exits_1_and_lists_differences(tmp_path, capsys):
    import json

    (tmp_path / "a.ipynb").write_text(json.dumps(executed(RUN_1)))
    (tmp_path / "b.ipynb").write_text(json.dumps(executed(RUN_2)))
    (tmp_path / "c.ipynb").write_text(json.dumps(executed(RUN_2, label="failed")))
    assert notebook_diff.main([str(tmp_path / "a.ipynb"), str(tmp_path / "b.ipynb")]) == 0
    assert capsys.readouterr().out == ""
    assert notebook_diff.main([str(tmp_path / "a.ipynb"), str(tmp_path / "c.ipynb")]) == 1
    assert capsys.readouterr().out.startswith("widget state of model-2: ")
