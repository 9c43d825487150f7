"""``InterruptBook`` (runtime/interrupts.py) on its own: opening interrupts and their ids,
the checks of ``continue_with``'s lookup, cancelling and reviving, and its snapshot slice."""

import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from triggerflow_nb.errors import InterruptError, InvalidArgumentError, SaveError
from triggerflow_nb.reproducibility import new_interrupt_id, reproducible
from triggerflow_nb.runtime.interrupts import Interrupt, InterruptBook
from triggerflow_nb.runtime.status import INTERRUPT_STATUSES

FRAMES = (("then", "if1", 0), ("slot", "fan#1", 2))


def open_one(book, interrupt_id, node="n", value=None, payload=None, resume_to="next", frames=FRAMES, type="approval"):
    return book.open(node, value, frames, type, payload, resume_to, interrupt_id)


def test_open_records_a_waiting_interrupt_under_its_id():
    book = InterruptBook("ex-1")
    interrupt = open_one(book, "a", value={"in": 1}, payload={"ask": [1]}, resume_to={"event": "Go"})
    assert book.by_id == {"a": interrupt}
    assert (interrupt.id, interrupt.type, interrupt.payload, interrupt.resume_to, interrupt.node_id, interrupt.input,
            interrupt.frames, interrupt.status, interrupt.resumed_at, interrupt.resume_value) == (
        "a", "approval", {"ask": [1]}, {"event": "Go"}, "n", {"in": 1}, FRAMES, "waiting", None, None)
    assert isinstance(interrupt.created_at, float)
    assert book.opened == 0  # a hand-picked id takes no number


def test_generated_ids_are_numbered_per_execution_in_reproducible_mode():
    with reproducible(seed=7):
        book = InterruptBook("ex-1")
        ids = [open_one(book, None).id for _ in range(3)]
        assert ids == [new_interrupt_id("ex-1", n) for n in range(3)]
        other = InterruptBook("ex-2")
        assert open_one(other, None).id == new_interrupt_id("ex-2", 0) != ids[0]
    assert book.opened == 3


def test_a_generated_id_skips_one_that_was_hand_picked_before():
    with reproducible(seed=7):
        book = InterruptBook("ex-1")
        open_one(book, new_interrupt_id("ex-1", 0))  # the id the book would generate first
        generated = open_one(book, None)
        assert generated.id == new_interrupt_id("ex-1", 1)
    assert (book.opened, len(book.by_id)) == (2, 2)


def test_generated_ids_are_random_hex_outside_reproducible_mode():
    with reproducible(enabled=False):
        book = InterruptBook("ex-1")
        ids = [open_one(book, None).id for _ in range(5)]
    assert len(set(ids)) == 5 and all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)


def test_a_duplicate_id_is_refused_and_the_first_interrupt_stays():
    book = InterruptBook("ex-1")
    first = open_one(book, "a", payload=1)
    with pytest.raises(InterruptError) as info:
        open_one(book, "a", payload=2)
    assert str(info.value) == ("interrupt id 'a' is already used in execution ex-1; pick another or let pause_for() "
                               "generate one")
    assert book.by_id == {"a": first} and first.payload == 1


def test_a_duplicate_of_a_resumed_or_cancelled_interrupt_is_refused_too():
    book = InterruptBook("ex-1")
    InterruptBook.mark_resumed(open_one(book, "done"), None)
    open_one(book, "off")
    book.cancel_pending()
    for interrupt_id in ("done", "off"):
        with pytest.raises(InterruptError, match=f"^interrupt id '{interrupt_id}' is already used in execution ex-1;"):
            open_one(book, interrupt_id)


@pytest.mark.parametrize("bad", ["", 3, b"a", ["a"]])
def test_a_hand_picked_id_must_be_a_non_empty_string(bad):
    book = InterruptBook("ex-1")
    with pytest.raises(InvalidArgumentError) as info:
        open_one(book, bad)
    assert str(info.value) == f"interrupt_id must be a non-empty string, got {bad!r}"
    assert book.by_id == {}


# -- lookups ----------------------------------------------------------------------------------------


def test_pending_lists_the_waiting_interrupts_in_the_order_they_opened():
    book = InterruptBook("ex-1")
    assert book.pending() == []
    a, b, c = (open_one(book, i) for i in "abc")
    InterruptBook.mark_resumed(b, "x")
    assert book.pending() == [a, c]


def test_describe_shows_the_public_view_as_a_copy():
    book = InterruptBook("ex-1")
    interrupt = open_one(book, "a", payload={"ask": [1]}, resume_to={"event": "Go"}, value="secret input")
    shown = book.describe("a")
    assert shown == {"id": "a", "type": "approval", "payload": {"ask": [1]}, "resume_to": {"event": "Go"},
                     "chunk": "n", "status": "waiting", "created_at": interrupt.created_at, "resumed_at": None,
                     "resume_count": 0, "max_resumes": None}
    shown["payload"]["ask"].append(2)
    shown["resume_to"]["event"] = "Other"
    assert (interrupt.payload, interrupt.resume_to) == ({"ask": [1]}, {"event": "Go"})


def test_describe_of_an_unknown_id_lists_the_known_ones_sorted():
    book = InterruptBook("ex-1")
    open_one(book, "b")
    InterruptBook.mark_resumed(open_one(book, "a"), None)
    with pytest.raises(InterruptError) as info:
        book.describe("zz")
    assert str(info.value) == "no interrupt 'zz' in execution ex-1; known: ['a', 'b']"


def test_waiting_returns_a_pending_interrupt_and_names_the_pending_ones_when_it_cannot():
    book = InterruptBook("ex-1")
    a = open_one(book, "a")
    open_one(book, "b")
    assert book.waiting("a") is a
    with pytest.raises(InterruptError) as unknown:
        book.waiting("zz")
    assert str(unknown.value) == "no interrupt 'zz' in execution ex-1; pending: ['a', 'b']"


@pytest.mark.parametrize("ended", ["resumed", "cancelled"])
def test_an_interrupt_resumes_once_a_resumed_or_cancelled_one_is_refused(ended):
    book = InterruptBook("ex-1")
    a = open_one(book, "a")
    open_one(book, "b")
    if ended == "resumed":
        InterruptBook.mark_resumed(a, {"ok": True})
    else:
        a.status = "cancelled"
    with pytest.raises(InterruptError) as info:
        book.waiting("a")
    assert str(info.value) == f"interrupt 'a' is already {ended}; each interrupt resumes once (pending: ['b'])"


def test_mark_resumed_records_the_payload_and_the_time():
    book = InterruptBook("ex-1")
    a = open_one(book, "a")
    InterruptBook.mark_resumed(a, {"answer": 42})
    assert (a.status, a.resume_value) == ("resumed", {"answer": 42})
    assert a.created_at <= a.resumed_at
    assert book.describe("a")["resumed_at"] == a.resumed_at


# -- cancelling and reviving ------------------------------------------------------------------------


def test_cancel_pending_cancels_only_the_waiting_ones_and_returns_them():
    book = InterruptBook("ex-1")
    a, b, c = (open_one(book, i) for i in "abc")
    InterruptBook.mark_resumed(b, None)
    cancelled = book.cancel_pending()
    assert cancelled == [a, c] and all(x is y for x, y in zip(cancelled, [a, c]))
    assert [i.status for i in (a, b, c)] == ["cancelled", "resumed", "cancelled"]
    assert book.cancel_pending() == [] and book.pending() == []


def test_revive_makes_exactly_the_given_interrupts_wait_again():
    book = InterruptBook("ex-1")
    a, b = open_one(book, "a"), open_one(book, "b")
    cancelled = book.cancel_pending()
    c = open_one(book, "c")
    c.status = "cancelled"  # cancelled by another close: not handed to revive
    InterruptBook.revive(cancelled)
    assert book.pending() == [a, b] and c.status == "cancelled"
    assert book.waiting("a") is a
    InterruptBook.revive([])
    assert book.pending() == [a, b]


# -- the snapshot slice ------------------------------------------------------------------------------


def test_capture_keeps_the_continuation_of_a_waiting_interrupt_only():
    book = InterruptBook("ex-1")
    waiting = open_one(book, "w", value={"in": [1]}, payload=(1, 2), resume_to="self")
    resumed = open_one(book, "r", value="old input", resume_to={"event": "Go"})
    cancelled = open_one(book, "c", value=3)
    InterruptBook.mark_resumed(resumed, "yes")
    cancelled.status = "cancelled"
    assert book.capture() == [
        {"id": "w", "type": "approval", "payload": [1, 2], "resume_to": "self", "chunk": "n", "input": {"in": [1]},
         "continuation": [["then", "if1", 0], ["slot", "fan#1", 2]], "status": "waiting",
         "created_at": waiting.created_at, "resumed_at": None},
        {"id": "r", "type": "approval", "payload": None, "resume_to": {"event": "Go"}, "chunk": "n", "input": None,
         "continuation": [], "status": "resumed", "created_at": resumed.created_at,
         "resumed_at": resumed.resumed_at},
        {"id": "c", "type": "approval", "payload": None, "resume_to": "next", "chunk": "n", "input": None,
         "continuation": [], "status": "cancelled", "created_at": cancelled.created_at, "resumed_at": None},
    ]


def test_capture_shares_nothing_with_the_live_interrupts():
    book = InterruptBook("ex-1")
    open_one(book, "a", value={"in": [1]}, payload={"ask": [1]}, resume_to={"event": "Go"})
    record = book.capture()[0]
    record["payload"]["ask"].append(2)
    record["input"]["in"].append(2)
    record["resume_to"]["event"] = "Other"
    record["continuation"][0][2] = 9
    a = book.by_id["a"]
    assert (a.payload, a.input, a.resume_to, a.frames) == ({"ask": [1]}, {"in": [1]}, {"event": "Go"}, FRAMES)


NOT_SAVABLE = ("cannot save: {what} is not JSON-compatible ({kind}). Values that wait in a paused path must be "
               "serializable; keep live objects in runtime_resources")


@pytest.mark.parametrize("field, what", [
    ("payload", "the payload of interrupt 'a'"),
    ("resume_to", "the resume target of interrupt 'a'"),
    ("input", "the input of paused chunk 'n'"),
])
def test_a_value_that_cannot_be_saved_is_refused_naming_it(field, what):
    book = InterruptBook("ex-1")
    interrupt = open_one(book, "a")
    setattr(interrupt, field, {1, 2})
    with pytest.raises(SaveError) as info:
        book.capture()
    assert str(info.value) == NOT_SAVABLE.format(what=what, kind="builtins.set")


def test_the_input_of_a_resumed_interrupt_is_not_saved_so_it_need_not_be_json():
    book = InterruptBook("ex-1")
    interrupt = open_one(book, "a", value=object())
    InterruptBook.mark_resumed(interrupt, object())
    assert book.capture()[0]["input"] is None


def test_restore_replaces_every_interrupt_and_keeps_the_id_counter():
    with reproducible(seed=11):
        source = InterruptBook("ex-1")
        open_one(source, "a", value=[1], payload={"p": 1}, resume_to={"event": "Go"})
        InterruptBook.mark_resumed(open_one(source, "b"), "ok")
        target = InterruptBook("ex-2")
        open_one(target, None)
        open_one(target, "old")
        target.restore(json.loads(json.dumps(source.capture())))
        assert list(target.by_id) == ["a", "b"]
        assert target.opened == 1
        generated = open_one(target, None)
        assert generated.id == new_interrupt_id("ex-2", 1)
    a, b = target.by_id["a"], target.by_id["b"]
    assert (a.payload, a.input, a.resume_to, a.frames, a.status, a.created_at) == (
        {"p": 1}, [1], {"event": "Go"}, FRAMES, "waiting", source.by_id["a"].created_at)
    assert (b.status, b.input, b.frames, b.resumed_at) == ("resumed", None, (), source.by_id["b"].resumed_at)
    assert target.waiting("a") is a and target.pending() == [a, generated]


NAMES = st.text(st.characters(codec="ascii", categories=["L", "N"]), min_size=1, max_size=6)
JSON = st.recursive(st.none() | st.booleans() | st.integers(-5, 5) | st.floats(allow_nan=False, allow_infinity=False)
                    | st.text(max_size=3),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=2), inner, max_size=3),
                    max_leaves=5)
FRAME_LISTS = st.lists(st.tuples(st.sampled_from(["then", "slot"]), NAMES, st.integers(0, 5)), max_size=3).map(tuple)


@st.composite
def books(draw):
    book = InterruptBook("ex-1")
    for interrupt_id in draw(st.lists(NAMES, unique=True, max_size=5)):
        interrupt = Interrupt(interrupt_id, draw(NAMES), draw(JSON),
                              draw(st.sampled_from(["next", "self"]) | st.builds(lambda e: {"event": e}, NAMES)),
                              draw(NAMES), draw(JSON), draw(FRAME_LISTS), draw(st.sampled_from(INTERRUPT_STATUSES)),
                              draw(st.floats(0, 2e9)))
        if interrupt.status == "resumed":
            interrupt.resumed_at = interrupt.created_at + draw(st.floats(0, 100))
        book.by_id[interrupt_id] = interrupt
    return book


@settings(max_examples=100, deadline=None)
@given(books())
def test_any_book_survives_capture_json_and_restore_into_a_fresh_one(book):
    records = book.capture()
    fresh = InterruptBook("ex-2")
    fresh.restore(json.loads(json.dumps(records)))
    assert fresh.capture() == records
    assert [i.id for i in fresh.pending()] == [i.id for i in book.pending()]
    for interrupt_id, live in book.by_id.items():
        restored = fresh.by_id[interrupt_id]
        waiting = live.status == "waiting"
        assert (restored.status, restored.node_id, restored.type, restored.created_at, restored.resumed_at) == (
            live.status, live.node_id, live.type, live.created_at, live.resumed_at)
        assert restored.frames == (live.frames if waiting else ())
        assert restored.input == (json.loads(json.dumps(live.input)) if waiting else None)


# -- counting resumes of a resume_to="self" pause --------------------------------------------------------


def test_a_self_pause_counts_on_from_the_interrupt_whose_continue_re_ran_it():
    book = InterruptBook("ex-1")
    first = book.open("n", 1, FRAMES, "t", None, "self", "a", 3, None)
    InterruptBook.mark_resumed(first, "x")
    second = book.open("n", 1, FRAMES, "t", None, "self", "b", 3, "a")
    InterruptBook.mark_resumed(second, "y")
    third = book.open("n", 1, FRAMES, "t", None, "self", "c", 3, "b")
    assert [(i.resume_count, i.max_resumes) for i in (first, second, third)] == [(0, 3), (1, 3), (2, 3)]
    unknown = book.open("n", 1, FRAMES, "t", None, "self", "d", None, "gone")  # never opened here: counts afresh
    assert (unknown.resume_count, unknown.max_resumes) == (0, None)
    other = book.open("n", 1, FRAMES, "t", None, "next", "e", None, "c")  # only "self" counts
    assert (other.resume_count, other.max_resumes) == (0, None)


def test_waiting_refuses_an_interrupt_at_its_limit_and_takes_one_below_it():
    book = InterruptBook("ex-1")
    below = book.open("n", 1, FRAMES, "t", None, "self", "a", 1, None)
    assert book.waiting("a") is below
    InterruptBook.mark_resumed(below, "x")
    at_limit = book.open("n", 1, FRAMES, "t", None, "self", "b", 1, "a")
    with pytest.raises(InterruptError) as info:
        book.waiting("b")
    assert str(info.value) == (
        "interrupt 'b' cannot be continued: chunk 'n' paused with resume_to='self' and max_resumes=1, and was "
        "resumed 1 time(s) already; the interrupt stays pending: close(pending_interrupts='cancel') ends the "
        "execution"
    )
    assert at_limit.status == "waiting"


def test_capture_writes_the_counts_only_when_they_say_something_and_restore_reads_them_back():
    book = InterruptBook("ex-1")
    book.open("n", 1, FRAMES, "t", None, "self", "plain", None, None)
    book.open("n", 1, FRAMES, "t", None, "self", "limited", 2, None)
    counted = book.open("n", 1, FRAMES, "t", None, "self", "counted", None, None)
    counted.resume_count = 4
    records = book.capture()
    assert [{k: r[k] for k in ("resume_count", "max_resumes") if k in r} for r in records] == [
        {}, {"max_resumes": 2}, {"resume_count": 4}]
    restored = InterruptBook("ex-1")
    restored.restore(json.loads(json.dumps(records)))
    assert [(i.resume_count, i.max_resumes) for i in restored.by_id.values()] == [(0, None), (0, 2), (4, None)]
