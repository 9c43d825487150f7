"""Reproducible mode: seeded ids that a fresh process repeats, unique within a process, per flow.

The mode is process-wide, so every test here switches it on with ``with reproducible(...)``
(which switches it back) and the autouse fixture checks nothing leaked out of a test. What a
fresh process does is checked in real subprocesses with ``TRIGGERFLOW_NB_REPRODUCIBLE`` set.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import subprocess
import sys
import threading
import time
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import triggerflow_nb
from triggerflow_nb import InvalidArgumentError, TriggerFlow, TriggerFlowRuntimeData, reproducible
from triggerflow_nb.reproducibility import (
    ENVIRONMENT_VARIABLE,
    new_execution_id,
    random_hex,
    reproducible_seed,
    seed_from_environment,
)

HEX32 = re.compile(r"[0-9a-f]{32}")


@pytest.fixture(autouse=True)
def mode_is_off_around_each_test():
    assert reproducible_seed() is None, "an earlier test left reproducible mode on"
    yield
    assert reproducible_seed() is None, "this test left reproducible mode on"


def approval_flow(name: str) -> TriggerFlow:
    flow = TriggerFlow(name=name)

    async def ask(data: TriggerFlowRuntimeData):
        await data.async_pause_for(type="approval", payload=data.input)
        await data.async_pause_for(type="second look", payload=data.input)

    flow.to(ask, name="ask")
    return flow


def run_in_fresh_process(code: str, seed: str | None) -> list:
    env = {k: v for k, v in os.environ.items() if k != ENVIRONMENT_VARIABLE}
    if seed is not None:
        env[ENVIRONMENT_VARIABLE] = seed
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


# What a notebook does: executions of two flows, each pausing twice, in a given order of flows.
SCRIPT = """
import json
from triggerflow_nb import TriggerFlow

def approval_flow(name):
    flow = TriggerFlow(name=name)
    async def ask(data):
        await data.async_pause_for(type="approval", payload=data.input)
        await data.async_pause_for(type="second look", payload=data.input)
    flow.to(ask, name="ask")
    return flow

flows = {{"billing": approval_flow("billing"), "shipping": approval_flow("shipping")}}
seen = []
for name in {order!r}:
    execution = flows[name].start_execution(1)
    seen.append([name, execution.id, sorted(execution.get_pending_interrupts())])
seen.append(["unnamed flow", TriggerFlow().name, []])
print(json.dumps(seen))
"""


def test_a_fresh_process_repeats_the_ids_and_other_flows_do_not_shift_them():
    alone = run_in_fresh_process(SCRIPT.format(order=["shipping", "shipping"]), "0")
    again = run_in_fresh_process(SCRIPT.format(order=["shipping", "shipping"]), "0")
    mixed = run_in_fresh_process(SCRIPT.format(order=["billing", "shipping", "billing", "billing", "shipping"]), "0")

    assert alone == again
    shipping_alone = [row for row in alone if row[0] == "shipping"]
    shipping_mixed = [row for row in mixed if row[0] == "shipping"]
    assert shipping_mixed == shipping_alone  # three billing runs in between changed nothing
    assert alone[-1] == mixed[-1]  # the unnamed flow's name too
    runs = mixed[:-1]
    ids = [row[1] for row in runs] + [i for row in runs for i in row[2]]
    assert len(ids) == len(set(ids)) == 15  # 5 executions, each with its 2 pending interrupts
    assert all(HEX32.fullmatch(i) for i in ids)
    # The ids are the documented hash: seed, flow name, count of that flow's earlier executions.
    expected = hashlib.blake2b(json.dumps([0, "execution", "shipping", 1]).encode(), digest_size=16).hexdigest()
    assert shipping_alone[1][1] == expected


def test_another_seed_gives_other_ids_and_no_seed_gives_random_ones():
    order = ["shipping"]
    seed_0 = run_in_fresh_process(SCRIPT.format(order=order), "0")
    seed_7 = run_in_fresh_process(SCRIPT.format(order=order), "7")
    random_1 = run_in_fresh_process(SCRIPT.format(order=order), None)
    random_2 = run_in_fresh_process(SCRIPT.format(order=order), "")  # empty: off
    assert seed_0[0][1] != seed_7[0][1]
    assert random_1[0][1] != random_2[0][1]
    assert random_1[0][2] != random_2[0][2]
    assert {seed_0[0][1], seed_7[0][1]}.isdisjoint({random_1[0][1], random_2[0][1]})


def test_random_ids_are_version_4_uuids_in_hex_and_never_repeat():
    ids = [random_hex() for _ in range(20_000)] + [new_execution_id("any") for _ in range(100)]
    assert len(set(ids)) == len(ids)
    for text in ids:
        parsed = uuid.UUID(hex=text)
        assert (parsed.hex, parsed.version, parsed.variant) == (text, 4, uuid.RFC_4122)
    # Every bit but the six fixed ones varies (over 20,000 ids, a stuck bit would show).
    ones = [sum(int(text, 16) >> bit & 1 for text in ids) for bit in range(128)]
    fixed = {127 - 48, 127 - 49, 127 - 50, 127 - 51, 127 - 64, 127 - 65}
    assert [bit for bit in range(128) if bit not in fixed and not 0 < ones[bit] < len(ids)] == []


def test_interrupt_ids_are_numbered_per_execution():
    flow = approval_flow("interrupts")
    with reproducible(seed=3):
        first = flow.start_execution("a")  # opens two interrupts
        second = flow.start_execution("b")  # its own two: numbered from 0 again, under its own id
    for execution in (first, second):
        expected = [hashlib.blake2b(json.dumps([3, "interrupt", execution.id, n]).encode(),
                                    digest_size=16).hexdigest() for n in range(2)]
        assert list(execution.get_pending_interrupts()) == expected
    assert set(first.get_pending_interrupts()).isdisjoint(second.get_pending_interrupts())


def test_a_hand_picked_interrupt_id_that_takes_the_seeded_one_is_skipped():
    flow = TriggerFlow(name="picked")
    with reproducible(seed=4):
        probe = flow.create_execution(auto_close=False)
        taken = hashlib.blake2b(json.dumps([4, "interrupt", probe.id, 0]).encode(), digest_size=16).hexdigest()

        async def ask(data: TriggerFlowRuntimeData):
            await data.async_pause_for(type="mine", interrupt_id=taken)
            await data.async_pause_for(type="generated")

        flow.to(ask, name="ask")
        probe.start(1)
        probe.continue_with(taken, "go")
    pending = list(probe.get_pending_interrupts())
    assert pending == [hashlib.blake2b(json.dumps([4, "interrupt", probe.id, 1]).encode(), digest_size=16).hexdigest()]
    probe.close(pending_interrupts="cancel")


def test_ids_never_repeat_in_a_process_even_when_the_mode_is_switched_on_again():
    flow = TriggerFlow(name="again")
    with reproducible(seed=11):
        first = [flow.create_execution(auto_close=False).id for _ in range(3)]
    with reproducible(seed=11):  # a notebook's first cell run again
        second = [flow.create_execution(auto_close=False).id for _ in range(3)]
    assert len(set(first + second)) == 6


def test_two_flow_objects_with_one_name_share_the_count():
    a, b = TriggerFlow(name="same name"), TriggerFlow(name="same name")
    with reproducible(seed=12):
        ids = [flow.create_execution(auto_close=False).id for flow in (a, b, a, b)]
    assert len(set(ids)) == 4


def test_with_block_restores_the_previous_mode_and_enabled_false_switches_off():
    with reproducible(seed=1) as outer:
        assert repr(outer) == "<triggerflow_nb reproducible mode: on, seed=1>"
        with reproducible(seed=2):
            assert reproducible_seed() == 2
        assert reproducible_seed() == 1
        with reproducible(enabled=False) as off:
            assert repr(off) == "<triggerflow_nb reproducible mode: off (random ids)>"
            ids = {TriggerFlow(name="off").create_execution().id for _ in range(2)}
            assert reproducible_seed() is None
        assert reproducible_seed() == 1
    assert len(ids) == 2 and all(HEX32.fullmatch(i) for i in ids)
    assert triggerflow_nb.reproducible is reproducible


@pytest.mark.parametrize("seed", [True, -1, "0", 1.5, None])
def test_a_bad_seed_is_refused(seed):
    with pytest.raises(InvalidArgumentError) as caught:
        reproducible(seed=seed)
    assert str(caught.value) == f"reproducible(seed=...) must be an int >= 0, got {seed!r}"
    assert reproducible_seed() is None


def test_a_bad_enabled_is_refused():
    with pytest.raises(InvalidArgumentError) as caught:
        reproducible(seed=0, enabled=1)
    assert str(caught.value) == "reproducible(enabled=...) must be True or False, got 1"


@pytest.mark.parametrize("value, seed", [(None, None), ("", None), ("  ", None), ("0", 0), (" 42\n", 42)])
def test_the_environment_variable(value, seed):
    assert seed_from_environment(value) == seed


@pytest.mark.parametrize("value", ["x", "-1", "1.0", "²", "on"])
def test_a_bad_environment_variable_is_refused_with_what_to_do(value):
    with pytest.raises(InvalidArgumentError) as caught:
        seed_from_environment(value)
    assert str(caught.value) == (
        f"TRIGGERFLOW_NB_REPRODUCIBLE={value!r}: set it to a seed (an int >= 0, e.g. 0) to run in reproducible "
        f"mode, or unset it (or leave it empty) for random ids")


def test_a_bad_environment_variable_stops_the_import_with_that_message():
    env = {**os.environ, ENVIRONMENT_VARIABLE: "yes"}
    out = subprocess.run([sys.executable, "-c", "import triggerflow_nb"], capture_output=True, text=True,
                         timeout=60, env=env)
    assert out.returncode == 1
    assert out.stderr.strip().splitlines()[-1] == (
        "triggerflow_nb.errors.InvalidArgumentError: TRIGGERFLOW_NB_REPRODUCIBLE='yes': set it to a seed "
        "(an int >= 0, e.g. 0) to run in reproducible mode, or unset it (or leave it empty) for random ids")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=5, unique=True),
       st.integers(min_value=0, max_value=2**70))
def test_any_flow_names_and_seeds_give_distinct_hex_ids(names, seed):
    with reproducible(seed=seed):
        ids = [new_execution_id(name) for name in names for _ in range(3)]
    assert len(set(ids)) == len(ids)
    assert all(HEX32.fullmatch(i) for i in ids)


# -- under load ----------------------------------------------------------------------------------

@pytest.mark.timeout(120)
def test_ten_thousand_concurrent_executions_get_unique_ids():
    flows = [approval_flow(f"load-{n}") for n in range(4)]

    async def run_all():
        return await asyncio.gather(*(flows[n % 4].async_start_execution(n) for n in range(10_000)))

    started = time.perf_counter()
    with reproducible(seed=5):
        executions = asyncio.run(run_all())
    seconds = time.perf_counter() - started
    execution_ids = [e.id for e in executions]
    interrupt_ids = [i for e in executions for i in e.get_pending_interrupts()]
    assert len(interrupt_ids) == 20_000  # each opened its two pauses
    assert len(set(execution_ids)) == 10_000
    assert len(set(interrupt_ids)) == 20_000
    assert set(execution_ids).isdisjoint(interrupt_ids)
    assert seconds < 60, f"10,000 executions took {seconds:.1f}s"


@pytest.mark.timeout(120)
def test_executions_created_from_eight_threads_at_once_get_unique_ids():
    flow = TriggerFlow(name="threads")
    flow.to(lambda data: data.input, name="echo")
    ids: list[str] = []
    barrier = threading.Barrier(8)

    def create() -> None:
        barrier.wait(timeout=30)
        mine = [flow.create_execution(auto_close=False).id for _ in range(1_250)]
        ids.extend(mine)

    with reproducible(seed=6):
        threads = [threading.Thread(target=create) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    assert len(ids) == len(set(ids)) == 10_000
    # Exactly the first 10,000 of the flow's sequence, whichever thread got which.
    expected = {hashlib.blake2b(json.dumps([6, "execution", "threads", n]).encode(), digest_size=16).hexdigest()
                for n in range(10_000)}
    assert set(ids) == expected


# -- snapshots load anywhere ---------------------------------------------------------------------

SAVE_SCRIPT = """
import json, sys
from triggerflow_nb import TriggerFlow

flow = TriggerFlow(name="portable")
async def ask(data):
    await data.async_pause_for(type="approval", payload=data.input)
flow.to(ask, name="ask").to(lambda data: data.set_state("answer", data.input), name="record")
execution = flow.start_execution({"amount": 5})
print(json.dumps(execution.save()))
"""


def portable_flow() -> TriggerFlow:
    flow = TriggerFlow(name="portable")

    async def ask(data: TriggerFlowRuntimeData):
        await data.async_pause_for(type="approval", payload=data.input)

    flow.to(ask, name="ask").to(lambda data: data.set_state("answer", data.input), name="record")
    return flow


def test_a_snapshot_saved_in_reproducible_mode_loads_and_continues_without_it():
    saved = run_in_fresh_process(SAVE_SCRIPT, "0")
    (interrupt_id,) = [i["id"] for i in saved["interrupts"]]
    restored = portable_flow().create_execution(auto_close=False).load(saved)
    assert restored.loaded_from == saved["execution_id"] != restored.id
    restored.continue_with(interrupt_id, "approved")
    assert restored.close() == {"answer": "approved"}


def test_a_random_mode_snapshot_loads_and_continues_in_reproducible_mode():
    saved = run_in_fresh_process(SAVE_SCRIPT, None)
    (interrupt_id,) = [i["id"] for i in saved["interrupts"]]
    with reproducible(seed=8):
        restored = portable_flow().create_execution(auto_close=False).load(saved)
        restored.continue_with(interrupt_id, "approved")
        assert restored.close() == {"answer": "approved"}
