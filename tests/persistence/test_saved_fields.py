"""Fields of a saved execution that only an exact comparison pins: the error, the file bytes,
and a loaded closed execution's stream."""

import json
import time

import pytest

from triggerflow_nb import TriggerFlow
from triggerflow_nb.persistence import load_from_file, save_to_file


def _flow(fail: bool):
    flow = TriggerFlow(name="fields")

    def step(data):
        data.set_state("café", "crème ✓")
        if fail:
            raise ValueError("boom")
        data.put_into_stream("one item")

    flow.to(step)
    return flow


def test_a_completed_execution_saves_no_error_and_a_failed_one_saves_its_error():
    ok = _flow(fail=False).create_execution(auto_close=False)
    ok.start(None)
    ok.close()
    assert ok.save()["error"] is None

    failed = _flow(fail=True).create_execution(auto_close=False)
    with pytest.raises(Exception, match="boom"):
        failed.start(None)
    assert failed.save()["error"] == "ChunkError: chunk 'step' raised ValueError: boom"


def test_the_file_is_strict_json_indented_by_one_with_unicode_kept(tmp_path):
    ex = _flow(fail=False).create_execution(auto_close=False)
    ex.start(None)
    ex.close()
    saved = ex.save()
    path = save_to_file(saved, tmp_path / "run.json")
    text = path.read_text(encoding="utf-8")
    assert text == json.dumps(saved, indent=1, ensure_ascii=False)
    assert '\n "state": {\n  "café": "crème ✓"\n },' in text
    assert not (tmp_path / "run.json.tmp").exists()
    assert load_from_file(path) == saved


def test_a_loaded_closed_execution_has_a_finished_stream():
    ex = _flow(fail=False).create_execution(auto_close=False)
    ex.start(None)
    ex.close()
    target = _flow(fail=False).create_execution(auto_close=False)
    target.load(ex.save())
    began = time.monotonic()
    assert list(target.get_runtime_stream(timeout=30)) == []  # the stream is not saved; it is closed, not waiting
    assert time.monotonic() - began < 10
