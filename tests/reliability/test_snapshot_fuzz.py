"""A snapshot fuzzer: mutate valid snapshots; each mutant loads and continues, or is refused cleanly.

Valid snapshots come from flows that pause inside for_each items, if/match arms, batch
branches, after a half-collected and-join, around a sub-flow step, and inside a hit_all case,
a side branch and a collect branch (with another branch delivered). Each mutant (a key
dropped, an entry duplicated, a frame or node retargeted, a number renumbered, a type or
status swapped, NaN/cyclic/deep values injected) must either

* load, and continue (every pending interrupt resumed, then close) to a dict, which for an
  unchanged mutant is exactly the uninterrupted run's close snapshot, or
* raise a ``SnapshotError`` (or ``MissingResourceError``, when it asks for a resource nobody
  passed) with the target execution untouched and ``inspect_load`` saying so;

never any other exception.

The same mutants, written as raw JSON text into a store row (through SQL, past put()'s checks,
some cut short or nested too deep to parse), are met by ``load_execution`` and ``resume`` as
by ``load``: refused with the same typed error (``CorruptRowError`` when the text is not this
execution's JSON snapshot) and the row left as it was, no lease held; or loaded, and resumed
to a typed outcome. Random text in a summary column never breaks ``list()``: the row is listed,
marked unreadable exactly when ``get()`` refuses it.

``TF_FUZZ_EXAMPLES`` sets the number of mutants (CI: small).
"""

import copy
import json
import math
import os

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from specs import open_store, raw

from triggerflow_nb import MissingResourceError, SnapshotError, TriggerFlow, TriggerFlowError
from triggerflow_nb.store import CorruptRowError, load_execution, resume
from triggerflow_nb.store.snapshot_rows import summary_column

EXAMPLES = int(os.environ.get("TF_FUZZ_EXAMPLES", "150"))
# A property is one pytest test however many examples run: its hang guard (pytest-timeout,
# 300 s per test) grows with them, or a long run is cut as a hang halfway through.
pytestmark = pytest.mark.timeout(300 + 2 * EXAMPLES)


def for_each_flow():
    flow = TriggerFlow(name="fz-each")

    async def item(data):
        if data.input % 2 and not data.is_resume:
            await data.async_pause_for(type="check", resume_to="self", interrupt_id=f"item-{data.input}")
            return None
        return [data.input, data.resume.value if data.resume else None]

    flow.to(lambda data: data.input, name="items").for_each(name="each").to(item).end_for_each() \
        .to(lambda data: data.set_state("items", data.input), name="store")
    return flow, [1, 2, 3]


def branches_flow():
    flow = TriggerFlow(name="fz-branches")

    async def ask(data):
        await data.async_pause_for(type="ask", interrupt_id=f"ask-{data.input}")

    chain = flow.to(lambda data: data.input, name="first")
    chain.if_condition(lambda data: data.input > 0, name="positive").to(ask, name="ask_if") \
        .else_condition().to(lambda data: "neg", name="neg").end_condition() \
        .match(name="m").case("yes").to(lambda data: "matched", name="matched").case_else() \
        .to(lambda data: data.input, name="other").end_match() \
        .to(lambda data: data.set_state("branch", data.input), name="store")
    return flow, 5


def batch_and_join_flow():
    flow = TriggerFlow(name="fz-batch")

    async def left(data):
        await data.async_pause_for(type="left", interrupt_id="left")

    flow.to(lambda data: data.input, name="start").batch(("l", left), ("r", lambda data: data.input * 10)) \
        .to(lambda data: data.set_state("batch", data.input), name="store")
    flow.when(["A", "B"], mode="and").to(lambda data: data.set_state("joined", data.input), name="joined")

    async def emit_a(data):
        await data.async_emit("A", 1)
        await data.async_pause_for(type="then-b", resume_to={"event": "B"}, interrupt_id="b")

    flow.to(emit_a, name="emit_a")
    return flow, 2


def sub_flow_flow():
    child = TriggerFlow(name="fz-child")
    child.to(lambda data: data.set_state("child", data.input * 3), name="triple")
    flow = TriggerFlow(name="fz-sub")

    async def before(data):
        await data.async_pause_for(type="before", interrupt_id="before")

    flow.to(before).to_sub_flow(child, write_back={"state.from_child": "snapshot.child"}) \
        .to(lambda data: data.set_state("after", True), name="after")
    return flow, 4


def new_blocks_flow():
    flow = TriggerFlow(name="fz-blocks")

    async def case_wait(data):
        await data.async_pause_for(type="case", interrupt_id="case")

    async def side_wait(data):
        if data.is_resume:
            await data.async_set_state("side", data.resume.value)
            return None
        await data.async_pause_for(type="side", resume_to="self", interrupt_id="side")

    async def branch_wait(data):
        await data.async_pause_for(type="branch", interrupt_id="branch")

    flow.to(lambda data: data.input, name="first").side_branch(side_wait, name="side_wait") \
        .match(mode="hit_all", name="m").case(lambda data: data.input > 1, name="gt1").to(case_wait, name="case_wait") \
        .case(lambda data: data.input > 2, name="gt2").to(lambda data: "gt2", name="gt2_arm") \
        .end_match().to(lambda data: data.set_state("hits", data.input), name="hits")
    flow.to(lambda data: data.input * 2, name="quick").collect("c", "quick")
    flow.to(branch_wait, name="branch_wait").collect("c", "slow") \
        .to(lambda data: data.set_state("collected", data.input), name="collected")
    return flow, 3


def self_resume_flow():
    """A chunk that pauses with resume_to="self" and max_resumes, continued once before the save:
    the snapshot carries its resume_count and max_resumes (a third element: what to continue first)."""
    flow = TriggerFlow(name="fz-resumes")

    async def ask(data):
        if data.is_resume:
            await data.async_append_state("answers", data.resume.value)
        if len(data.get_state("answers", [])) < 2:
            await data.async_pause_for(type="again", resume_to="self", max_resumes=3,
                                       interrupt_id=f"ask-{len(data.get_state('answers', []))}")
            return None
        return data.get_state("answers")

    flow.to(ask, name="ask").to(lambda data: data.set_state("done", data.input), name="store")
    return flow, None, ["ask-0"]


BUILDERS = [for_each_flow, branches_flow, batch_and_join_flow, sub_flow_flow, new_blocks_flow, self_resume_flow]
# A half-collected join (or collect) is history, not structure: see the skipped-steps check below.
HISTORY_DEPENDENT = {"joined", "collected"}
PAYLOAD = "ok"


def run_to_pause(builder):
    flow, value, *before_save = builder()
    ex = flow.create_execution(auto_close=False)
    ex.start(value)
    for interrupt_id in before_save[0] if before_save else ():
        ex.continue_with(interrupt_id, PAYLOAD)
    return ex


def finish(ex):
    for interrupt_id in sorted(ex.get_pending_interrupts()):
        ex.continue_with(interrupt_id, PAYLOAD)
    return ex.close()


@pytest.fixture(scope="module")
def originals():
    out = []
    for builder in BUILDERS:
        ex = run_to_pause(builder)
        saved = json.loads(json.dumps(ex.save()))
        expected = finish(ex)
        out.append((builder, saved, expected))
    return out


def paths(value, prefix=()):
    """Every path to a node of a JSON tree (dict keys and list indexes), down to a depth that
    leaves out the insides of injected cyclic or deep values."""
    yield prefix
    if len(prefix) > 12:
        return
    if isinstance(value, dict):
        for key, item in value.items():
            yield from paths(item, prefix + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from paths(item, prefix + (index,))


def get(tree, path):
    for part in path:
        tree = tree[part]
    return tree


def cyclic():
    loop = []
    loop.append(loop)
    return loop


def deep():
    root = node = {}
    for _ in range(3000):
        node["n"] = {}
        node = node["n"]
    return root


REPLACEMENTS = st.sampled_from([
    None, 0, -1, 1, 2, 99, True, "", "x", "waiting", "resumed", "cancelled", "closed", "idle", "done",
    "each#1", "each#9", "then", "slot", [], {}, ["then", "m", 0], ["slot", "each#1", 5], ["slot", "nope#1", 0],
    "m#1", ["slot", "m#1", 1], [0, 1], [1], "collect[c]", {"quick": 6, "slow": 1}, "filled_then_empty",
    float("nan"), math.inf, {"event": ""}, {"event": "B", "x": 1},
])


@st.composite
def mutants(draw, originals, poisons=(None, "cyclic", "deep")):
    builder, saved, expected = draw(st.sampled_from(originals))
    mutant = copy.deepcopy(saved)

    def pick_path():
        candidates = [p for p in paths(mutant) if p and p[0] not in ("flow_fingerprint", "schema_version")]
        return draw(st.sampled_from(candidates))

    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        path = pick_path()
        parent, key = get(mutant, path[:-1]), path[-1]
        action = draw(st.sampled_from(["drop", "duplicate", "replace", "swap_type"]))
        if action == "drop":
            del parent[key]
        elif action == "duplicate" and isinstance(parent, list):
            parent.insert(key, copy.deepcopy(parent[key]))
        elif action == "swap_type":
            value = parent[key]
            parent[key] = str(value) if not isinstance(value, str) else ([value] if draw(st.booleans()) else 7)
        else:
            parent[key] = copy.deepcopy(draw(REPLACEMENTS))  # a fresh copy: later mutations edit it in place
    poison = draw(st.sampled_from(poisons))
    if poison is not None:  # last: nothing walks the tree after it
        path = pick_path()
        get(mutant, path[:-1])[path[-1]] = cyclic() if poison == "cyclic" else deep()
    return builder, saved, expected, mutant


def observe(ex):
    return (ex.status, ex.lifecycle_state, ex.get_state(), ex.get_pending_interrupts(), ex.node_status(),
            ex.is_fresh())


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                        HealthCheck.too_slow])
@given(data=st.data())
def test_every_mutant_loads_and_continues_or_is_refused_cleanly(originals, data):
    builder, saved, expected, mutant = data.draw(mutants(originals))
    flow = builder()[0]
    target = flow.create_execution(auto_close=False)
    before = observe(target)
    report = target.inspect_load(mutant)
    try:
        target.load(mutant)
    except (SnapshotError, MissingResourceError) as exc:  # a valid snapshot may ask for a resource
        event(f"refused: {type(exc).__name__}")
        assert observe(target) == before, "a refused snapshot changed the target"
        assert report["ready"] is False, "inspect_load said ready for a snapshot load() refuses"
        if isinstance(exc, MissingResourceError):
            assert report["missing_resource_keys"] == exc.missing
        return
    assert report["ready"] is True, f"inspect_load refused what load() took: {report['diagnostics']}"
    for step in target.history():  # whatever the mutant left in the history reads back
        assert json.loads(json.dumps(step.as_dict())) == step.as_dict()
        assert isinstance(target.state_at(step.seq), dict)
    pending = set(target.get_pending_interrupts())
    try:
        result = finish(target)
    except TriggerFlowError as exc:
        event(f"loaded, then the run failed: {type(exc).__name__}")
        return  # the run itself failed (a chunk raised on a value it now gets): reported, typed
    assert isinstance(result, dict)
    original_pending = {i["id"] for i in saved["interrupts"] if i["status"] == "waiting"}
    if pending == original_pending:  # the same paths were resumed: the rest of the graph must have run
        # A half-collected join is history, not structure: a snapshot without it is a valid other
        # past (the first event never came), so what the join writes may rightly be missing.
        skipped = (set(expected) - set(saved["state"]) - HISTORY_DEPENDENT) - set(result)
        assert not skipped, f"the continuation silently skipped the steps that write {sorted(skipped)}"
    event("loaded and continued" + (" (unchanged)" if mutant == saved else ""))
    if mutant == saved:
        assert result == expected


def test_the_originals_continue_to_the_uninterrupted_result(originals):
    for builder, saved, expected in originals:
        flow = builder()[0]
        target = flow.create_execution(auto_close=False)
        target.load(saved)
        assert finish(target) == expected, builder.__name__


# -- the same mutants in a store row ---------------------------------------------------------------

TABLE = "tfnb_executions"
ROW = "snapshot, version, owner, lease_until, status, waiting, state_keys, resource_keys"
DEEP = "\x00deep"  # stands where deeply nested JSON text goes (json.dumps would refuse to nest so deep)


@st.composite
def row_texts(draw, originals):
    """A mutant as the JSON text of a row: as json.dumps writes it (NaN included), with deeply
    nested JSON at a random place, or cut short."""
    builder, saved, expected, mutant = draw(mutants(originals, poisons=(None,)))
    damage = draw(st.sampled_from([None, "deep", "cut"]))
    if damage == "deep":
        path = draw(st.sampled_from([p for p in paths(mutant) if p]))
        get(mutant, path[:-1])[path[-1]] = DEEP
    text = json.dumps(mutant)
    if damage == "deep":
        text = text.replace(json.dumps(DEEP), '{"n":' * 3000 + "{}" + "}" * 3000)
    elif damage == "cut":
        text = text[:draw(st.integers(min_value=0, max_value=len(text) - 1))]
    return builder, saved, text


def expected_refusal(builder, execution_id, text):
    """What load_execution must raise for this row text (None: it loads), and the pending
    interrupts of the execution it loads into: load() in memory is the oracle."""
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return CorruptRowError, None, []
    if not isinstance(value, dict) or value.get("execution_id") != execution_id:
        return CorruptRowError, None, []
    flow = builder()[0]
    try:
        loaded = flow.create_execution(auto_close=False).load(value)
    except (SnapshotError, MissingResourceError) as exc:
        return type(exc), str(exc), []
    return None, None, sorted(loaded.get_pending_interrupts())


def written(spec, store, saved, text):
    """A fresh row for ``saved``, its snapshot column then overwritten with ``text``; the row as read back."""
    raw(spec, f"DELETE FROM {TABLE}")
    assert store.put(saved) == 1
    raw(spec, f"UPDATE {TABLE} SET snapshot = ? WHERE execution_id = ?", (text, saved["execution_id"]))
    return row(spec, saved["execution_id"])


def row(spec, execution_id):
    [found] = raw(spec, f"SELECT {ROW} FROM {TABLE} WHERE execution_id = ?", (execution_id,))
    return found


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                        HealthCheck.too_slow])
@given(data=st.data())
def test_a_mutant_in_a_store_row_loads_as_in_memory_or_is_refused_with_the_row_untouched(store_spec, originals,
                                                                                        data):
    builder, saved, text = data.draw(row_texts(originals))
    execution_id = saved["execution_id"]
    refusal, message, pending = expected_refusal(builder, execution_id, text)
    with open_store(store_spec) as store:
        before = written(store_spec, store, saved, text)
        flow = builder()[0]
        if refusal is not None:
            for attempt in ("load_execution", "resume"):
                with pytest.raises(refusal) as info:
                    if attempt == "load_execution":
                        load_execution(flow, store, execution_id)
                    else:
                        resume(flow, store, execution_id, owner="fuzzer", payload=PAYLOAD)
                if message is not None:
                    assert str(info.value) == message
                assert row(store_spec, execution_id) == before, f"a refused {attempt} changed the row"
            event(f"refused: {refusal.__name__}")
            return
        assert sorted(load_execution(flow, store, execution_id).get_pending_interrupts()) == pending
        assert row(store_spec, execution_id) == before, "load_execution changed the row"
        try:
            resume(flow, store, execution_id, owner="fuzzer", payload=PAYLOAD,
                   interrupt_id=pending[0] if pending else None)
        except TriggerFlowError as exc:  # typed: nothing to resume, a chunk failed on what it got, ...
            event(f"loaded, resume raised {type(exc).__name__}")
        else:
            event("loaded and resumed")
        after = row(store_spec, execution_id)
        assert after[2:4] == (None, None), "resume left a lease held"
        assert after[1] in (before[1], before[1] + 1), "one resume saved more than one version"
        if after[1] == before[1]:
            assert after == before, "the row changed without a new version"
        else:
            assert store.get(execution_id).snapshot["execution_id"] == execution_id  # what it saved reads back


SUMMARY_TEXTS = st.one_of(
    st.sampled_from(["not json", "", "null", "{}", "[]", "[1]", '["a"]', '[["a"]]', '[["a", "b"]]', '[["a", 1]]',
                     '[["a", "b", "c"]]', '["a", null]', "NaN", "[NaN]", '"text"', "[" * 3000 + "]" * 3000]),
    st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                 lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
                 max_leaves=6).map(json.dumps),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=20),
)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(column=st.sampled_from(["waiting", "state_keys", "resource_keys"]), text=SUMMARY_TEXTS, data=st.data())
def test_random_text_in_a_summary_column_never_breaks_list(store_spec, originals, column, text, data):
    with open_store(store_spec) as store:
        raw(store_spec, f"DELETE FROM {TABLE}")
        for _, saved, _ in originals:
            store.put(saved)
        damaged = data.draw(st.sampled_from([saved["execution_id"] for _, saved, _ in originals]))
        raw(store_spec, f"UPDATE {TABLE} SET {column} = ? WHERE execution_id = ?", (text, damaged))
        try:
            summary_column(damaged, column, text)
            readable = True
        except CorruptRowError:
            readable = False
        listed = {s.execution_id: s for s in store.list(limit=100)}
        assert sorted(listed) == sorted(saved["execution_id"] for _, saved, _ in originals)
        pending = {s.execution_id for s in store.list(has_pending=True, limit=100)}
        assert pending == set(listed)  # every original waits; the damaged row too (pending_count is intact)
        for execution_id, summary in listed.items():
            if execution_id == damaged and not readable:
                with pytest.raises(CorruptRowError) as info:
                    store.get(execution_id)
                assert summary.unreadable == str(info.value)
                event(f"{column}: listed as unreadable")
            else:
                assert summary.unreadable is None
                assert store.get(execution_id).snapshot["execution_id"] == execution_id
