"""``pause_for(..., resume_to="self", max_resumes=N)`` (issue 32, item 8).

A chunk paused with ``resume_to="self"`` is re-run by each continue and may pause again: its
pause is resumed again and again. ``max_resumes=N`` bounds that: the (N+1)-th continue is
refused with an ``InterruptError`` and the interrupt stays pending. ``resume_count`` (how
many continues there were before this interrupt opened) and ``max_resumes`` show in
``get_pending_interrupts()`` and travel in saved snapshots; snapshots without them (older
ones, and runs that count nothing) still load.
"""

import asyncio
import copy

import pytest

from triggerflow_nb import (
    ChunkError,
    InterruptError,
    InvalidArgumentError,
    InvalidSnapshotError,
    TriggerFlow,
)


def asking_flow(max_resumes=2, name="asking", ids=True):
    """A chunk that asks until it has three answers, pausing for itself each time."""
    flow = TriggerFlow(name=name)

    async def ask(data):
        if data.is_resume:
            await data.async_append_state("answers", data.resume.value)
        answers = data.get_state("answers", [])
        if len(answers) < 3:
            record = await data.async_pause_for(type="answer", payload={"asked": len(answers)}, resume_to="self",
                                                max_resumes=max_resumes,
                                                interrupt_id=f"ask-{len(answers)}" if ids else None)
            await data.async_append_state("records", [record["resume_count"], record["max_resumes"]])
            return None
        return answers

    flow.to(ask, name="ask").to(lambda d: d.set_state("done", d.input), name="done")
    return flow


def pending_counts(ex):
    return {i: (info["resume_count"], info["max_resumes"]) for i, info in ex.get_pending_interrupts().items()}


def test_the_count_grows_with_each_continue_and_shows_in_pending_interrupts():
    ex = asking_flow(max_resumes=5).create_execution(auto_close=False)
    ex.start(None)
    assert pending_counts(ex) == {"ask-0": (0, 5)}
    ex.continue_with("ask-0", "a")
    assert pending_counts(ex) == {"ask-1": (1, 5)}
    ex.continue_with("ask-1", "b")
    assert pending_counts(ex) == {"ask-2": (2, 5)}
    assert ex.get_interrupt("ask-0")["resume_count"] == 0  # the resumed one keeps its own count
    ex.continue_with("ask-2", "c")
    assert ex.close() == {"answers": ["a", "b", "c"], "records": [[0, 5], [1, 5], [2, 5]],
                          "done": ["a", "b", "c"]}


def test_the_n_plus_first_continue_is_refused_and_the_interrupt_stays_pending():
    ex = asking_flow(max_resumes=2, name="limited").create_execution(auto_close=False)
    ex.start(None)
    ex.continue_with("ask-0", "a")
    ex.continue_with("ask-1", "b")
    assert pending_counts(ex) == {"ask-2": (2, 2)}
    with pytest.raises(InterruptError) as info:
        ex.continue_with("ask-2", "c")
    assert str(info.value) == (
        "interrupt 'ask-2' cannot be continued: chunk 'ask' paused with resume_to='self' and max_resumes=2, and "
        "was resumed 2 time(s) already; the interrupt stays pending: close(pending_interrupts='cancel') ends the "
        "execution"
    )
    assert (ex.status, pending_counts(ex)) == ("waiting", {"ask-2": (2, 2)})
    assert ex.get_state() == {"answers": ["a", "b"], "records": [[0, 2], [1, 2], [2, 2]]}
    with pytest.raises(InterruptError, match=r"^execution \w+ has pending interrupts \['ask-2'\]"):
        ex.close()
    assert ex.close(pending_interrupts="cancel") == {"answers": ["a", "b"], "records": [[0, 2], [1, 2], [2, 2]]}


def test_max_resumes_zero_refuses_the_first_continue():
    ex = asking_flow(max_resumes=0, name="never").create_execution(auto_close=False)
    ex.start(None)
    with pytest.raises(InterruptError, match=r"^interrupt 'ask-0' cannot be continued: chunk 'ask' paused with "
                                             r"resume_to='self' and max_resumes=0, and was resumed 0 time\(s\)"):
        ex.continue_with("ask-0", "a")
    ex.close(pending_interrupts="cancel")


def test_without_a_limit_the_count_is_kept_and_nothing_is_refused():
    ex = asking_flow(max_resumes=None, name="unlimited", ids=False).create_execution(auto_close=False)
    ex.start(None)
    counts = []
    while ex.get_pending_interrupts():
        [(interrupt_id, info)] = ex.get_pending_interrupts().items()
        counts.append((info["resume_count"], info["max_resumes"]))
        ex.continue_with(interrupt_id, len(counts))
    assert counts == [(0, None), (1, None), (2, None)]
    assert ex.close()["done"] == [1, 2, 3]


def test_the_async_continue_is_refused_the_same_way():
    async def main():
        ex = asking_flow(max_resumes=1, name="async-limit").create_execution(auto_close=False)
        await ex.async_start(None)
        await ex.async_continue_with("ask-0", "a")
        with pytest.raises(InterruptError, match=r"^interrupt 'ask-1' cannot be continued"):
            await ex.async_continue_with("ask-1", "b")
        return await ex.async_close(pending_interrupts="cancel")

    assert asyncio.run(main()) == {"answers": ["a"], "records": [[0, 1], [1, 1]]}


def test_other_resume_targets_count_nothing():
    flow = TriggerFlow(name="next-pause")

    async def ask(data):
        await data.async_pause_for(type="once", interrupt_id="once")

    flow.to(ask, name="ask")
    ex = flow.create_execution(auto_close=False)
    ex.start(None)
    assert pending_counts(ex) == {"once": (0, None)}
    assert "resume_count" not in ex.save()["interrupts"][0]
    ex.continue_with("once", 1)
    ex.close()


@pytest.mark.parametrize("resume_to, max_resumes, message", [
    ("next", 1, "pause_for(max_resumes=...) bounds how often a chunk paused with resume_to='self' is re-run; chunk "
                "'bad' pauses with resume_to='next', which resumes once"),
    ({"event": "Go"}, 0, "pause_for(max_resumes=...) bounds how often a chunk paused with resume_to='self' is "
                         "re-run; chunk 'bad' pauses with resume_to={'event': 'Go'}, which resumes once"),
    ("self", -1, "max_resumes must be None or an int >= 0, got -1"),
    ("self", True, "max_resumes must be None or an int >= 0, got True"),
    ("self", 2.0, "max_resumes must be None or an int >= 0, got 2.0"),
    ("self", "3", "max_resumes must be None or an int >= 0, got '3'"),
])
def test_a_bad_max_resumes_fails_the_chunk_with_a_typed_error(resume_to, max_resumes, message):
    flow = TriggerFlow(name="bad-limit")

    def bad(data):
        data.pause_for(type="x", resume_to=resume_to, max_resumes=max_resumes)

    flow.to(bad, name="bad")
    ex = flow.create_execution(auto_close=False)
    with pytest.raises(ChunkError) as info:
        ex.start(None)
    assert type(info.value.__cause__) is InvalidArgumentError
    assert str(info.value.__cause__) == message
    assert ex.get_pending_interrupts() == {}


# -- in saved snapshots ----------------------------------------------------------------------------


def test_the_count_and_the_limit_are_saved_and_hold_after_a_load():
    flow = asking_flow(max_resumes=2, name="saved-limit")
    ex = flow.create_execution(auto_close=False)
    ex.start(None)
    first = ex.save()
    assert [(i["id"], i.get("resume_count"), i.get("max_resumes")) for i in first["interrupts"]] == [
        ("ask-0", None, 2)]  # a count of 0 is not written
    ex.continue_with("ask-0", "a")
    saved = ex.save()
    assert [(i["id"], i["status"], i.get("resume_count"), i.get("max_resumes")) for i in saved["interrupts"]] == [
        ("ask-0", "resumed", None, 2), ("ask-1", "waiting", 1, 2)]
    restored = flow.create_execution(auto_close=False).load(saved)
    assert pending_counts(restored) == {"ask-1": (1, 2)}
    restored.continue_with("ask-1", "b")
    assert pending_counts(restored) == {"ask-2": (2, 2)}  # counted on from the loaded interrupt
    with pytest.raises(InterruptError, match=r"^interrupt 'ask-2' cannot be continued: .*max_resumes=2, and was "
                                             r"resumed 2 time\(s\) already"):
        restored.continue_with("ask-2", "c")
    again = flow.create_execution(auto_close=False).load(restored.save())
    with pytest.raises(InterruptError, match=r"^interrupt 'ask-2' cannot be continued"):
        again.continue_with("ask-2", "c")
    assert again.close(pending_interrupts="cancel")["answers"] == ["a", "b"]


def test_a_snapshot_without_the_fields_still_loads_as_counting_nothing():
    """A snapshot saved before resume counts existed has neither key: it loads, with count 0 and
    no limit, and continues as it always did."""
    flow = asking_flow(max_resumes=2, name="old-snapshot")
    ex = flow.create_execution(auto_close=False)
    ex.start(None)
    ex.continue_with("ask-0", "a")
    old = copy.deepcopy(ex.save())
    for record in old["interrupts"]:
        record.pop("resume_count", None)
        record.pop("max_resumes", None)
    report = flow.create_execution(auto_close=False).inspect_load(old)
    assert (report["ready"], report["diagnostics"]) == (
        True, ["pending interrupts after load: ['ask-1'] (resume with continue_with)"])
    restored = flow.create_execution(auto_close=False).load(old)
    assert pending_counts(restored) == {"ask-1": (0, None)}
    restored.continue_with("ask-1", "b")
    assert pending_counts(restored) == {"ask-2": (1, 2)}  # the re-run chunk's own pause_for sets the limit again
    restored.continue_with("ask-2", "c")
    assert restored.close()["done"] == ["a", "b", "c"]


def refused(flow, snapshot):
    target = flow.create_execution(auto_close=False)
    with pytest.raises(InvalidSnapshotError) as info:
        target.load(snapshot)
    assert target.is_fresh()
    assert flow.create_execution(auto_close=False).inspect_load(snapshot)["ready"] is False
    return str(info.value)


def test_counts_that_cannot_be_true_are_refused():
    flow = asking_flow(max_resumes=2, name="corrupt-counts")
    ex = flow.create_execution(auto_close=False)
    ex.start(None)
    ex.continue_with("ask-0", "a")
    saved = ex.save()

    def edited(**fields):
        snapshot = copy.deepcopy(saved)
        snapshot["interrupts"][1].update(fields)
        return snapshot

    assert refused(flow, edited(resume_count=3)) == (
        "corrupt snapshot: interrupt 'ask-1' has resume_count 3 and max_resumes 2: expected 0 <= resume_count "
        "<= max_resumes")
    assert refused(flow, edited(resume_count=-1, max_resumes=None)) == (
        "corrupt snapshot: interrupt 'ask-1' has resume_count -1 and max_resumes None: expected 0 <= "
        "resume_count <= max_resumes")
    assert refused(flow, edited(max_resumes=-2)) == (
        "corrupt snapshot: interrupt 'ask-1' has resume_count 1 and max_resumes -2: expected 0 <= resume_count "
        "<= max_resumes")
    assert refused(flow, edited(resume_count=True)).startswith(
        "corrupt snapshot: interrupts.1.resume_count: Input should be a valid integer")
    assert refused(flow, edited(max_resumes="2")).startswith(
        "corrupt snapshot: interrupts.1.max_resumes: Input should be a valid integer")
    assert refused(flow, edited(resume_to="next")) == (
        "corrupt snapshot: interrupt 'ask-1' resumes to 'next' but counts resumes (resume_count 1, max_resumes "
        "2): only a resume_to='self' pause does")
    assert refused(flow, edited(extra_field=1)).startswith("corrupt snapshot: interrupts.1.extra_field: ")
