"""State values at the write boundary: floats, non-finite numbers, cycles, depth, copies.

Each case pins one rule of ``layers/state.py`` exactly (the mutation run in
``scripts/mutate.py`` showed these were not pinned before).
"""

import enum
import json
import math

import pytest

from triggerflow_nb import StateSerializationError, TriggerFlow

ADVICE = (
    "State must stay serializable (it goes into the close snapshot and save()); put live objects such as "
    "clients, locks, sockets or callbacks into runtime_resources instead "
    "(create_execution(runtime_resources={'k': obj}) and data.require_resource('k')). (in chunk 'step')"
)


def run_chunk(fn, value=None):
    flow = TriggerFlow(name="state-values")
    flow.to(fn, name="step")
    return flow.start(value)


def test_finite_floats_are_stored_as_they_are_at_top_level_and_nested():
    def step(data):
        data.set_state("f", 1.5)
        data.set_state("nested", {"xs": [0.25, -2.0], "t": (3.5,)})
        data.set_state("mixed", {"ok": True, "n": None, "i": 7, "f": 1e-3})

    assert run_chunk(step) == {"f": 1.5, "nested": {"xs": [0.25, -2.0], "t": [3.5]},
                               "mixed": {"ok": True, "n": None, "i": 7, "f": 1e-3}}


@pytest.mark.parametrize("value, where", [
    (math.nan, "value is nan"),
    (math.inf, "value is inf"),
    (-math.inf, "value is -inf"),
    ({"a": [1.0, math.nan]}, "value['a'][1] is nan"),
    ([{"x": math.inf}], "value[0]['x'] is inf"),
])
def test_nan_and_infinity_are_refused_naming_where_they_sit(value, where):
    def step(data):
        data.set_state("k", value)

    with pytest.raises(StateSerializationError) as info:
        run_chunk(step)
    assert str(info.value) == (
        f"state key 'k': {where}, and JSON has no NaN or Infinity: store None or a string instead. {ADVICE}"
    )


def _cyclic():
    value = {"name": "loop"}
    value["self"] = value
    return value


def _deep(levels):
    value = []
    for _ in range(levels):
        value = [value]
    return value


@pytest.mark.parametrize("make", [_cyclic, lambda: _deep(100_000)], ids=["cyclic", "deep"])
def test_cyclic_and_too_deep_values_are_refused_not_a_recursion_error(make):
    value = make()

    def step(data):
        data.set_state("k", value)

    with pytest.raises(StateSerializationError) as info:
        run_chunk(step)
    assert str(info.value) == (
        f"state key 'k': the value is cyclic, or nested too deeply to store as JSON. {ADVICE}"
    )


def test_reads_are_deep_copies_of_dicts_in_dicts_and_lists_in_lists():
    seen = {}

    def step(data):
        data.set_state("tree", {"inner": {"leaf": [1]}, "rows": [[1, 2], {"k": "v"}]})
        first = data.get_state("tree")
        first["inner"]["leaf"].append(99)
        first["rows"][0].append(99)
        first["rows"][1]["k"] = "changed"
        whole = data.get_state()
        whole["tree"]["inner"]["extra"] = 1
        seen["second"] = data.get_state("tree")

    run_chunk(step)
    assert seen["second"] == {"inner": {"leaf": [1]}, "rows": [[1, 2], {"k": "v"}]}


def test_state_namespace_delete_keys_contains_getitem_and_repr():
    seen = {}

    def step(data):
        data.state.set("a", 1)
        data.state.set("b", [2])
        data.state.delete("a")
        seen["keys"] = data.state.keys()
        seen["contains"] = ("a" in data.state, "b" in data.state)
        seen["repr"] = repr(data.state)
        with pytest.raises(KeyError) as info:
            data.state["a"]
        seen["missing"] = info.value.args
        data.state.set("none", None)
        seen["none"] = data.state["none"]

    assert run_chunk(step) == {"b": [2], "none": None}
    assert seen == {"keys": ["b"], "contains": (False, True), "repr": "StateNamespace({'b': [2]})",
                    "missing": ("a",), "none": None}


HUGE = ("is an int of more than 4300 digits; state keeps ints of at most 4300 digits (Python's default int/str "
        "conversion limit, which json.loads applies when reading them back): store it as a string instead, e.g. "
        "hex(n) (int(s, 16) reads it back)")


@pytest.mark.parametrize("value, where", [
    (10 ** 5000, "value"),
    (-(10 ** 4300), "value"),
    ({"a": [1, 10 ** 4300]}, "value['a'][1]"),
    ((10 ** 9000,), "value[0]"),
], ids=["top", "negative", "nested", "tuple"])  # pytest cannot print such ints as ids either
def test_ints_too_long_for_json_are_refused_at_write_naming_where_they_sit(value, where):
    def step(data):
        data.set_state("k", value)

    with pytest.raises(StateSerializationError) as info:
        run_chunk(step)
    assert str(info.value) == f"state key 'k': {where} {HUGE}. {ADVICE}"


def test_the_longest_int_allowed_is_stored_and_saved():
    longest = 10 ** 4300 - 1  # 4300 nines
    flow = TriggerFlow(name="state-values")
    flow.to(lambda data: data.set_state("n", [longest, -longest]), name="step")
    execution = flow.create_execution(auto_close=False)
    execution.start(None)
    saved = execution.save()
    assert saved["state"] == {"n": [longest, -longest]}
    assert execution.close() == {"n": [longest, -longest]}


class Colour(str, enum.Enum):  # noqa: UP042 - the mixin, whose str() is "Colour.RED", not its value
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 3


class Tag(str):
    pass


class Count(int):
    pass


class Ratio(float):
    pass


def test_str_int_and_float_subclasses_and_enum_members_are_stored_as_their_plain_value():
    def step(data):
        data.set_state("colour", Colour.RED)
        data.set_state("level", Level.HIGH)
        data.set_state("nested", {"tag": Tag("x"), "counts": [Count(2), Ratio(0.5)], Tag("key"): Level.HIGH})

    snapshot = run_chunk(step)
    assert snapshot == {"colour": "red", "level": 3, "nested": {"tag": "x", "counts": [2, 0.5], "key": 3}}
    plain = [snapshot["colour"], snapshot["level"], snapshot["nested"]["tag"], *snapshot["nested"]["counts"],
             snapshot["nested"]["key"], *snapshot["nested"]]
    assert [type(v) for v in plain] == [str, int, str, int, float, int, str, str, str]
    assert json.dumps(snapshot) == ('{"colour": "red", "level": 3, "nested": {"tag": "x", "counts": [2, 0.5], '
                                    '"key": 3}}')
