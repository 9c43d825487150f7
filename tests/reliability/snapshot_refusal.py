"""Shared by the snapshot-rule tests: edit a copy of a valid snapshot, and check a refusal whole."""

import copy

import pytest

from triggerflow_nb import InvalidSnapshotError


def mutate(saved, edit):
    snapshot = copy.deepcopy(saved)
    edit(snapshot)
    return snapshot


def refused(snapshot, message, flow):
    """load() refuses ``snapshot`` into a fresh execution of ``flow()`` with exactly ``message``,
    inspect_load says exactly that, and the target is left untouched."""
    target = flow().create_execution(auto_close=False)
    before = (target.status, target.get_state(), target.get_pending_interrupts(), target.node_status())
    report = target.inspect_load(snapshot)
    with pytest.raises(InvalidSnapshotError) as info:
        target.load(snapshot)
    assert str(info.value) == "corrupt snapshot: " + message
    assert report == {"ready": False, "missing_resource_keys": [],
                      "diagnostics": [f"InvalidSnapshotError: corrupt snapshot: {message}"]}
    assert (target.status, target.get_state(), target.get_pending_interrupts(), target.node_status()) == before
    assert target.is_fresh()
