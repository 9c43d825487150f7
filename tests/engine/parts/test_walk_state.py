"""``WalkState`` (runtime/walk_state.py) on its own: activations and their ids, fan-out
progress, forgetting failures for retry(), and its snapshot slice (the ``continuation``)."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from triggerflow_nb.errors import SaveError
from triggerflow_nb.runtime.activation import Activation
from triggerflow_nb.runtime.status import NODE_STATUSES
from triggerflow_nb.runtime.walk_state import WalkState

NOT_SAVABLE = ("cannot save: {what} is not JSON-compatible ({kind}). Values that wait in a paused path must be "
               "serializable; keep live objects in runtime_resources")


def round_trip(record):
    return json.loads(json.dumps(record))


def test_a_fresh_walk_state_is_empty_and_captures_as_an_empty_continuation():
    walk = WalkState()
    assert (walk.node_status, walk.activations, walk.activation_counter, walk.joins, walk.failed_chunk) == (
        {}, {}, 0, {}, None)
    assert walk.capture() == {"activations": [], "activation_counter": 0, "joins": [], "node_status": {}}
    assert walk.fan_out_progress() == {}


def test_activation_ids_number_every_fan_out_of_the_run_whatever_its_node():
    walk = WalkState()
    first = walk.open_activation("fan", ["x", "y"], 2, (("then", "if1", 0),), None)
    second = walk.open_activation("each", None, 3, (), None)
    third = walk.open_activation("fan", None, 1, (), [2])
    assert [first.id, second.id, third.id] == ["fan#1", "each#2", "fan#3"]
    assert walk.activations == {"fan#1": first, "each#2": second, "fan#3": third}
    assert walk.activation_counter == 3
    assert (first.node_id, first.keys, first.slots, first.remaining, first.frames, first.awaiting, first.arms) == (
        "fan", ["x", "y"], [None, None], 2, (("then", "if1", 0),), True, None)
    assert third.arms == [2] and third.arm(0) == 2


def test_fan_out_progress_counts_done_items_per_open_activation():
    walk = WalkState()
    batch = walk.open_activation("fan", ["x", "y"], 2, (), None)
    each = walk.open_activation("each", None, 4, (), None)
    empty = walk.open_activation("none", None, 0, (), None)
    batch.remaining = 1
    each.remaining = 0
    assert walk.fan_out_progress() == {"fan#1": ("fan", 1, 2), "each#2": ("each", 4, 4), "none#3": ("none", 0, 0)}
    del walk.activations[empty.id]
    assert list(walk.fan_out_progress()) == ["fan#1", "each#2"]


def test_forget_failures_drops_only_the_failed_statuses_and_the_failed_chunk():
    walk = WalkState()
    walk.node_status = {"a": "done", "b": "failed", "c": "waiting", "d": "cancelled", "e": "failed", "f": "running"}
    walk.failed_chunk = object()
    walk.forget_failures()
    assert walk.node_status == {"a": "done", "c": "waiting", "d": "cancelled", "f": "running"}
    assert walk.failed_chunk is None
    walk.forget_failures()  # nothing left to forget
    assert walk.node_status == {"a": "done", "c": "waiting", "d": "cancelled", "f": "running"}


def filled():
    walk = WalkState()
    batch = walk.open_activation("fan", ["x", "y"], 2, (("then", "if1", 1), ("slot", "outer#0", 3)), None)
    batch.slots[1] = {"v": (1, 2)}
    batch.remaining = 1
    match = walk.open_activation("hit", None, 2, (), [0, 2])
    match.remaining = 2
    walk.joins[("join", "")] = {"A": [1]}
    walk.joins[("collect", "fan#1/0")] = {"b1": None}
    walk.node_status = {"fan": "waiting", "hit": "waiting", "before": "done"}
    return walk


def test_capture_writes_activations_joins_and_statuses_as_plain_json():
    assert filled().capture() == {
        "activations": [
            {"id": "fan#1", "node": "fan", "keys": ["x", "y"], "slots": [None, {"v": [1, 2]}], "remaining": 1,
             "continuation": [["then", "if1", 1], ["slot", "outer#0", 3]]},
            {"id": "hit#2", "node": "hit", "keys": None, "slots": [None, None], "remaining": 2, "continuation": [],
             "arms": [0, 2]},
        ],
        "activation_counter": 2,
        "joins": [{"node": "join", "scope": "", "seen": {"A": [1]}},
                  {"node": "collect", "scope": "fan#1/0", "seen": {"b1": None}}],
        "node_status": {"fan": "waiting", "hit": "waiting", "before": "done"},
    }


def test_capture_shares_nothing_with_the_live_walk_state():
    walk = filled()
    record = walk.capture()
    record["activations"][0]["keys"].append("z")
    record["activations"][0]["slots"][1]["v"].append(3)
    record["activations"][1]["arms"].append(9)
    record["joins"][0]["seen"]["A"].append(2)
    record["node_status"]["fan"] = "done"
    assert walk.capture() == filled().capture()


def test_restore_replaces_everything_and_leaves_no_fan_out_step_awaiting():
    walk = WalkState()
    walk.open_activation("old", None, 1, (), None)
    walk.joins[("old", "")] = {"X": 1}
    walk.node_status = {"old": "done"}
    walk.restore(round_trip(filled().capture()))
    assert list(walk.activations) == ["fan#1", "hit#2"]
    batch, match = walk.activations["fan#1"], walk.activations["hit#2"]
    assert (batch.id, batch.node_id, batch.keys, batch.slots, batch.remaining, batch.frames, batch.awaiting,
            batch.arms) == ("fan#1", "fan", ["x", "y"], [None, {"v": [1, 2]}], 1,
                            (("then", "if1", 1), ("slot", "outer#0", 3)), False, None)
    assert (match.arms, match.awaiting, match.arm(1)) == ([0, 2], False, 2)
    assert walk.activation_counter == 2
    assert walk.joins == {("join", ""): {"A": [1]}, ("collect", "fan#1/0"): {"b1": None}}
    assert walk.node_status == {"fan": "waiting", "hit": "waiting", "before": "done"}
    assert walk.open_activation("next", None, 1, (), None).id == "next#3"  # the numbering goes on


def test_restore_keeps_the_failed_chunk_that_the_walk_state_had():
    walk = WalkState()
    marker = object()
    walk.failed_chunk = marker
    walk.restore(round_trip(filled().capture()))
    assert walk.failed_chunk is marker


@pytest.mark.parametrize("where, what, kind", [
    ("slot", "a finished item of 'fan'", "builtins.set"),
    ("join", "what join 'join' has collected", "builtins.dict"),  # the type of the whole ``seen`` dict
])
def test_a_value_that_cannot_be_saved_is_refused_naming_where_it_waits(where, what, kind):
    walk = filled()
    if where == "slot":
        walk.activations["fan#1"].slots[0] = {1, 2}
    else:
        walk.joins[("join", "")]["B"] = {1, 2}
    with pytest.raises(SaveError) as info:
        walk.capture()
    assert str(info.value) == NOT_SAVABLE.format(what=what, kind=kind)


def test_a_nan_in_a_slot_cannot_be_saved():
    walk = filled()
    walk.activations["fan#1"].slots[0] = float("nan")
    with pytest.raises(SaveError, match=r"^cannot save: a finished item of 'fan' is not JSON-compatible \(builtins.float\)"):
        walk.capture()


# -- round trips ----------------------------------------------------------------------------------

NAMES = st.text(st.characters(codec="ascii", categories=["L", "N"]), min_size=1, max_size=6)
JSON = st.recursive(st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=3),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=2), inner, max_size=3),
                    max_leaves=5)
FRAMES = st.lists(st.tuples(st.sampled_from(["then", "slot"]), NAMES, st.integers(0, 5)), max_size=3).map(tuple)


@st.composite
def activations(draw, index):
    size = draw(st.integers(0, 4))
    kind = draw(st.sampled_from(["batch", "for_each", "hit_all"]))
    keys = draw(st.lists(NAMES, min_size=size, max_size=size, unique=True)) if kind == "batch" else None
    arms = draw(st.lists(st.integers(0, 6), min_size=size, max_size=size)) if kind == "hit_all" else None
    node = draw(NAMES)
    activation = Activation(f"{node}#{index}", node, keys, size, draw(FRAMES), arms)
    activation.slots = draw(st.lists(JSON, min_size=size, max_size=size))
    activation.remaining = draw(st.integers(0, size))
    return activation


@st.composite
def walk_states(draw):
    walk = WalkState()
    count = draw(st.integers(0, 4))
    for index in range(1, count + 1):
        activation = draw(activations(index))
        walk.activations[activation.id] = activation
    walk.activation_counter = count + draw(st.integers(0, 3))
    walk.joins = draw(st.dictionaries(st.tuples(NAMES, st.text(max_size=5)), st.dictionaries(NAMES, JSON, max_size=3),
                                      max_size=3))
    walk.node_status = draw(st.dictionaries(NAMES, st.sampled_from(NODE_STATUSES), max_size=5))
    return walk


@settings(max_examples=100, deadline=None)
@given(walk_states())
def test_any_walk_state_survives_capture_json_and_restore_into_a_fresh_one(walk):
    record = walk.capture()
    fresh = WalkState()
    fresh.restore(round_trip(record))
    assert fresh.capture() == record
    assert fresh.activation_counter == walk.activation_counter
    assert fresh.joins == walk.joins and fresh.node_status == walk.node_status
    for activation_id, live in walk.activations.items():
        restored = fresh.activations[activation_id]
        assert (restored.node_id, restored.keys, restored.remaining, restored.frames, restored.arms, restored.awaiting) == (
            live.node_id, live.keys, live.remaining, live.frames, live.arms, False)
        assert restored.slots == round_trip(live.slots)
    assert list(fresh.activations) == list(walk.activations)
