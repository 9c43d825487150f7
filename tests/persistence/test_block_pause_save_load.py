"""Pause inside a collect branch, a hit_all case and a side branch: save, load in a fresh
process, continue; the result is the uninterrupted run's, and the snapshot says where the run stood."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from block_pause_flows import BUILDERS

from triggerflow_nb.persistence import save_to_file

HERE = Path(__file__).resolve().parent

EXPECTED = {
    "collect_flow": {"joined": {"quick": 10, "approved": "ok"}, "heard": ["approved", "quick"]},
    "collect_in_for_each_flow": {"items": [{"checked": "ok", "scaled": 100}, {"checked": 2, "scaled": 200},
                                           {"checked": "ok", "scaled": 300}]},
    "hit_all_flow": {"hits": ["approved ok", "gt2"]},
    "side_branch_flow": {"main": [2], "side": [2, "ok"]},
}


def paused(name):
    flow, value = BUILDERS[name]()
    execution = flow.create_execution(auto_close=False)
    execution.start(value)
    return execution


def resume_all(execution):
    for interrupt_id in sorted(execution.get_pending_interrupts()):
        execution.continue_with(interrupt_id, "ok")
    return execution.close()


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_resuming_in_process_gives_the_expected_result(name):
    assert resume_all(paused(name)) == EXPECTED[name]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_a_fresh_process_loads_the_snapshot_and_continues_to_the_same_result(name, tmp_path):
    path = tmp_path / "saved.json"
    save_to_file(paused(name).save(), str(path))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, str(HERE / "block_pause_resume.py"), name, str(path)],
                          capture_output=True, text=True, timeout=100, env=env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == EXPECTED[name]


def test_a_half_filled_collect_is_saved_as_a_join_of_its_branch():
    saved = paused("collect_flow").save()
    assert saved["continuation"]["joins"] == [{"node": "collect[both]", "scope": "", "seen": {"quick": 10}}]
    assert saved["continuation"]["node_status"]["collect[both]"] == "waiting"


def test_collect_joins_in_a_for_each_are_saved_per_item_scope_and_dropped_with_a_finished_item():
    saved = paused("collect_in_for_each_flow").save()  # item 1 (of 0, 1, 2) has finished
    assert saved["continuation"]["joins"] == [
        {"node": "collect[per_item]", "scope": "each#1:0", "seen": {"scaled": 100}},
        {"node": "collect[per_item]", "scope": "each#1:2", "seen": {"scaled": 300}},
    ]
    (activation,) = saved["continuation"]["activations"]
    assert (activation["slots"], activation["remaining"]) == ([None, {"checked": 2, "scaled": 200}, None], 2)
    assert "arms" not in activation


def test_a_hit_all_activation_records_which_case_each_slot_runs():
    saved = paused("hit_all_flow").save()
    (activation,) = saved["continuation"]["activations"]
    assert {k: activation[k] for k in ("id", "node", "keys", "slots", "remaining", "arms")} == {
        "id": "m#1", "node": "m", "keys": None, "slots": [None, "gt2"], "remaining": 1, "arms": [0, 2]}
    (interrupt,) = saved["interrupts"]
    assert interrupt["continuation"] == [["slot", "m#1", 0]]


def test_a_side_branch_pause_keeps_its_fan_out_frame_and_the_main_path_finished():
    saved = paused("side_branch_flow").save()
    assert saved["state"] == {"main": [2]}
    (interrupt,) = saved["interrupts"]
    assert (interrupt["chunk"], interrupt["continuation"]) == ("side_wait", [["slot", "each#1", 0]])
    assert saved["continuation"]["activations"] == []
