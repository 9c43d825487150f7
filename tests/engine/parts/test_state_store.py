"""``StateStore`` (runtime/state_store.py) on its own: the write checks, the retry journal,
the key trackers, the channel events and its snapshot slice.

Built directly: the store reads only ``.state`` of its lifecycle, and a chunk's ``data``
only through ``_undo`` and ``_where()``.
"""

import copy
import json
import math
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from triggerflow_nb.errors import InvalidArgumentError, LifecycleError, StateSerializationError
from triggerflow_nb.observe import Channel, StateChanged, StateRejected
from triggerflow_nb.runtime.state_store import ABSENT, StateStore

OUTSIDE = "from outside a chunk"
ADVICE = ("State must stay serializable (it goes into the close snapshot and save()); put live objects such as "
          "clients, locks, sockets or callbacks into runtime_resources instead (create_execution(runtime_resources="
          "{{'{key}': obj}}) and data.require_resource('{key}')).")


class Chunk:
    """What the store reads of a chunk run's ``data``: its journal and where it writes from."""

    def __init__(self, name="step"):
        self.name = name
        self._undo = None

    def _where(self):
        return f"in chunk {self.name!r}"


def make_store(state="open", observe=None):
    channel = Channel()
    events = []
    if observe is not None:
        channel.subscribe(events.append, state_changes=observe)
    lifecycle = SimpleNamespace(state=state)
    return StateStore("ex-1", lifecycle, channel), lifecycle, events


def rejected(key, detail, where):
    return f"state key {key!r}: {detail}. {ADVICE.format(key=key)}{where}"


# -- writes ----------------------------------------------------------------------------------------


def test_set_append_and_del_change_the_values_and_each_publishes_one_state_changed_event():
    store, _, events = make_store(observe=True)
    store.apply("set", "a", 1, OUTSIDE)
    store.apply("append", "l", "x", OUTSIDE)
    store.apply("append", "l", "y", OUTSIDE)
    store.apply("append", "a", 2, OUTSIDE)  # a scalar becomes the first item of a list
    store.apply("set", "gone", {"k": [1]}, OUTSIDE)
    store.apply("del", "gone", None, OUTSIDE)
    assert store.values == {"a": [1, 2], "l": ["x", "y"]}
    assert events == [StateChanged("ex-1", "a", "set"), StateChanged("ex-1", "l", "append"),
                      StateChanged("ex-1", "l", "append"), StateChanged("ex-1", "a", "append"),
                      StateChanged("ex-1", "gone", "set"), StateChanged("ex-1", "gone", "del")]


def test_deleting_a_missing_key_is_no_error_and_is_still_announced_as_a_delete():
    store, _, events = make_store(observe=True)
    store.apply("del", "never", None, OUTSIDE)
    assert (store.values, events) == ({}, [StateChanged("ex-1", "never", "del")])


def test_a_subscriber_without_state_changes_gets_no_state_changed_but_still_hears_a_rejection():
    store, _, events = make_store(observe=False)
    store.apply("set", "a", 1, OUTSIDE)
    with pytest.raises(StateSerializationError):
        store.apply("set", "b", {1, 2}, OUTSIDE)
    assert events == [StateRejected("ex-1", "b", rejected("b", "value is a builtins.set, which is not JSON-compatible",
                                                          " (from outside a chunk)"))]


def test_a_written_value_is_a_copy_and_so_is_every_read():
    store, _, _ = make_store()
    mine = {"n": [1]}
    store.apply("set", "v", mine, OUTSIDE)
    mine["n"].append(2)
    got = store.get("v")
    got["n"].append(3)
    everything = store.get()
    everything["v"]["n"].append(4)
    everything["new"] = 1
    assert store.values == {"v": {"n": [1]}}
    assert store.get("missing", [0]) == [0]


def test_a_tuple_is_stored_as_a_list():
    store, _, _ = make_store()
    store.apply("set", "t", (1, (2, 3)), OUTSIDE)
    assert store.values == {"t": [1, [2, 3]]} and type(store.values["t"][1]) is list


@pytest.mark.parametrize("state", ["open", "sealed"])
def test_writes_are_accepted_while_open_and_while_sealed(state):
    store, _, _ = make_store(state)
    store.apply("set", "k", 1, OUTSIDE)
    assert store.values == {"k": 1}


@pytest.mark.parametrize("op", ["set", "append", "del"])
def test_every_write_to_a_closed_store_is_refused_naming_key_writer_and_execution(op):
    store, lifecycle, events = make_store(observe=True)
    store.apply("set", "k", 1, OUTSIDE)
    lifecycle.state = "closed"
    events.clear()
    with pytest.raises(LifecycleError) as outside:
        store.apply(op, "k", 2, OUTSIDE)
    chunk = Chunk("step")
    with pytest.raises(LifecycleError) as inside:
        store.apply(op, "k", 2, chunk)
    assert str(outside.value) == "cannot write state key 'k' from outside a chunk: execution ex-1 is closed"
    assert str(inside.value) == "cannot write state key 'k' in chunk 'step': execution ex-1 is closed"
    assert (store.values, chunk._undo, events) == ({"k": 1}, None, [])


def test_the_closed_check_comes_before_the_key_check():
    store, _, _ = make_store("closed")
    with pytest.raises(LifecycleError, match=r"^cannot write state key 1 from outside a chunk: execution ex-1 is closed$"):
        store.apply("set", 1, 1, OUTSIDE)


@pytest.mark.parametrize("key", [1, None, b"k", ("a",), 1.5])
def test_a_key_that_is_not_a_str_is_refused_before_anything_is_journaled(key):
    store, _, events = make_store(observe=True)
    chunk = Chunk()
    with pytest.raises(InvalidArgumentError) as info:
        store.apply("set", key, 1, chunk)
    assert str(info.value) == f"state keys must be strings, got {key!r}"
    assert (store.values, chunk._undo, events) == ({}, None, [])


@pytest.mark.parametrize("value, detail", [
    ({"s"}, "value is a builtins.set, which is not JSON-compatible"),
    (math.nan, "value is nan, and JSON has no NaN or Infinity: store None or a string instead"),
    (-math.inf, "value is -inf, and JSON has no NaN or Infinity: store None or a string instead"),
    ({"ok": [1, object()]}, "value['ok'][1] is a builtins.object, which is not JSON-compatible"),
    ({2: "a"}, "value has a dict key 2 of type int; JSON objects need string keys"),
    (10 ** 4300, "value is an int of more than 4300 digits; state keeps ints of at most 4300 digits (Python's "
                 "default int/str conversion limit, which json.loads applies when reading them back): store it as "
                 "a string instead, e.g. hex(n) (int(s, 16) reads it back)"),
], ids=["set", "nan", "-inf", "nested-object", "int-dict-key", "huge-int"])
@pytest.mark.parametrize("op", ["set", "append"])
def test_a_value_that_is_not_json_is_refused_announced_and_leaves_state_untouched(op, value, detail):
    store, _, events = make_store(observe=True)
    store.apply("set", "k", [1], OUTSIDE)
    events.clear()
    notified = []
    store.add_tracker(({}, lambda: notified.append(1)))
    with pytest.raises(StateSerializationError) as outside:
        store.apply(op, "k", value, OUTSIDE)
    with pytest.raises(StateSerializationError) as inside:
        store.apply(op, "k", value, Chunk("step"))
    assert str(outside.value) == rejected("k", detail, " (from outside a chunk)")
    assert str(inside.value) == rejected("k", detail, " (in chunk 'step')")
    assert outside.value.key == "k"
    assert store.values == {"k": [1]}
    assert events == [StateRejected("ex-1", "k", str(outside.value)), StateRejected("ex-1", "k", str(inside.value))]
    assert notified == []


def test_an_empty_where_text_adds_nothing_to_the_rejection():
    store, _, _ = make_store()
    with pytest.raises(StateSerializationError) as info:
        store.apply("set", "k", {"s"}, "")
    assert str(info.value) == rejected("k", "value is a builtins.set, which is not JSON-compatible", "")


# -- the retry journal ---------------------------------------------------------------------------------


def test_a_chunk_write_journals_what_it_replaced_once_per_key():
    store, _, _ = make_store()
    store.restore({"kept": 1, "over": "old", "lst": [1, 2]})
    chunk = Chunk()
    store.apply("set", "over", "new", chunk)
    store.apply("set", "over", "newer", chunk)  # the first old value stays in the journal
    store.apply("set", "fresh", 1, chunk)
    store.apply("append", "lst", 3, chunk)
    store.apply("append", "lst", 4, chunk)
    assert list(chunk._undo) == ["over", "fresh", "lst"]
    assert chunk._undo["over"] == "old" and chunk._undo["fresh"] is ABSENT
    lst, length = chunk._undo["lst"]
    assert (lst is store.values["lst"], length) == (True, 2)  # the live list and its length then


def test_a_write_from_outside_a_chunk_is_never_journaled():
    store, _, _ = make_store()
    chunk = Chunk()
    store.apply("set", "a", 1, OUTSIDE)
    store.apply("set", "a", 2, chunk)
    store.apply("set", "a", 3, OUTSIDE)
    assert chunk._undo == {"a": 1}


def test_undo_removes_created_keys_restores_replaced_ones_and_cuts_appended_lists_back():
    store, _, _ = make_store()
    store.restore({"kept": 1, "over": {"v": 1}, "lst": [1, 2], "gone": "x", "grown": 5})
    before = copy.deepcopy(store.values)
    chunk = Chunk()
    store.apply("set", "over", "new", chunk)
    store.apply("set", "fresh", [9], chunk)
    store.apply("append", "fresh", 10, chunk)
    store.apply("append", "lst", 3, chunk)
    store.apply("append", "lst", 4, chunk)
    store.apply("del", "gone", None, chunk)
    store.apply("append", "grown", 6, chunk)
    store.undo(chunk._undo)
    assert store.values == before


def test_undo_of_a_list_that_was_replaced_then_deleted_puts_the_original_list_back_at_its_length():
    store, _, _ = make_store()
    store.restore({"lst": [1]})
    original = store.values["lst"]
    chunk = Chunk()
    store.apply("append", "lst", 2, chunk)
    store.apply("set", "lst", "scalar", chunk)
    store.apply("del", "lst", None, chunk)
    store.apply("append", "lst", "again", chunk)
    store.undo(chunk._undo)
    # A copy at its old length: the original is never shortened in place (the history holds it by reference).
    assert store.values == {"lst": [1]} and store.values["lst"] is not original and original == [1, 2]


def test_undo_of_an_absent_key_that_is_absent_again_is_no_error():
    store, _, _ = make_store()
    chunk = Chunk()
    store.apply("set", "k", 1, chunk)
    store.apply("del", "k", None, OUTSIDE)
    store.undo(chunk._undo)
    store.undo({"never": ABSENT})
    assert store.values == {}


def test_undo_of_an_empty_journal_changes_nothing():
    store, _, _ = make_store()
    store.restore({"a": [1]})
    store.undo({})
    assert store.values == {"a": [1]}


JSON_SCALARS = st.none() | st.booleans() | st.integers(-10, 10) | st.text(max_size=3)
JSON_VALUES = st.recursive(JSON_SCALARS, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=2), inner, max_size=3), max_leaves=6)
KEYS = st.sampled_from(["a", "b", "c", "d"])
BAD = st.sampled_from([{"set"}, math.nan, math.inf, object(), {1: "int key"}])
OPS = st.lists(st.tuples(st.sampled_from(["set", "append", "del"]), KEYS, JSON_VALUES | BAD), max_size=12)


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(KEYS, JSON_VALUES | st.lists(JSON_SCALARS, max_size=3)), OPS)
def test_any_chunk_writes_then_undo_restore_the_exact_prior_state(initial, ops):
    store, _, _ = make_store()
    store.restore(json.loads(json.dumps(initial)))
    before = copy.deepcopy(store.values)
    chunk = Chunk()
    for op, key, value in ops:
        try:
            store.apply(op, key, value, chunk)
        except StateSerializationError:
            pass
    store.undo(chunk._undo or {})
    assert store.values == before
    assert json.dumps(store.values, sort_keys=True) == json.dumps(before, sort_keys=True)


# -- trackers ------------------------------------------------------------------------------------------


def test_a_tracker_is_notified_once_per_round_and_collects_changed_keys_in_first_change_order():
    store, _, _ = make_store()
    keys, notified = {}, []
    tracker = (keys, lambda: notified.append(list(keys)))
    store.add_tracker(tracker)
    store.apply("set", "b", 1, OUTSIDE)
    store.apply("set", "a", 1, OUTSIDE)
    store.apply("set", "b", 2, OUTSIDE)
    store.apply("del", "missing", None, OUTSIDE)
    assert (list(keys), notified) == (["b", "a", "missing"], [["b"]])
    keys.clear()  # what StateKeyTracker.take() does: a new round
    store.apply("append", "a", 3, OUTSIDE)
    assert (list(keys), notified) == (["a"], [["b"], ["a"]])


def test_trackers_are_independent_and_removing_one_twice_is_harmless():
    store, _, _ = make_store()
    first = ({}, lambda: None)
    second = ({}, lambda: None)
    store.add_tracker(first)
    store.add_tracker(second)
    assert store.trackers == (first, second)
    store.remove_tracker(first)
    store.remove_tracker(first)
    assert store.trackers == (second,)
    store.apply("set", "k", 1, OUTSIDE)
    assert (first[0], second[0]) == ({}, {"k": None})
    store.remove_tracker(second)
    store.remove_tracker(second)
    assert store.trackers == ()


def test_removing_a_tracker_compares_identity_not_equality():
    store, _, _ = make_store()
    notify = lambda: None  # noqa: E731
    mine = ({}, notify)
    equal = ({}, notify)
    store.add_tracker(mine)
    store.remove_tracker(equal)
    assert store.trackers == (mine,) and store.trackers[0] is mine


def test_a_refused_write_notifies_no_tracker():
    store, lifecycle, _ = make_store()
    keys = {}
    store.add_tracker((keys, lambda: None))
    with pytest.raises(InvalidArgumentError):
        store.apply("set", 3, 1, OUTSIDE)
    lifecycle.state = "closed"
    with pytest.raises(LifecycleError):
        store.apply("set", "k", 1, OUTSIDE)
    assert keys == {}


# -- the snapshot slice ------------------------------------------------------------------------------


def test_capture_is_a_copy_that_survives_json_and_restores_into_a_fresh_store_exactly():
    store, _, _ = make_store()
    store.apply("set", "n", {"deep": [1, {"x": None}]}, OUTSIDE)
    store.apply("append", "l", 1.5, OUTSIDE)
    store.apply("set", "s", "text", OUTSIDE)
    captured = store.capture()
    captured["n"]["deep"].append("mutated")
    assert store.values["n"] == {"deep": [1, {"x": None}]}
    slice_ = json.loads(json.dumps(store.capture()))
    fresh, _, _ = make_store()
    fresh.restore(slice_)
    assert fresh.capture() == store.capture() == {"n": {"deep": [1, {"x": None}]}, "l": [1.5], "s": "text"}
    assert list(fresh.capture()) == ["n", "l", "s"]


def test_restore_takes_the_given_dict_as_the_whole_state():
    store, _, _ = make_store()
    store.apply("set", "old", 1, OUTSIDE)
    given = {"new": [1]}
    store.restore(given)
    assert store.values is given and store.get() == {"new": [1]}
