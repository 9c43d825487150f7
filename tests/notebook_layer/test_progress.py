"""for_each/batch progress reads like tqdm: the block's name, ``done/total [elapsed<left, rate]``."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from triggerflow_nb import TriggerFlow
from triggerflow_nb.notebook.progress import ProgressSection, clock_text, meter_text, rate_text


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(("done", "total", "elapsed", "expected"), [
    (8, 20, 3.2, "8/20 [00:03<00:04, 2.5 it/s]"),
    (0, 20, 0.0, "0/20 [00:00<?, ? it/s]"),
    (0, 20, 5.0, "0/20 [00:05<?, ? it/s]"),
    (1, 3, 4.0, "1/3 [00:04<00:08, 4 s/it]"),
    (12, 12, 4.8, "12/12 [00:04<00:00, 2.5 it/s]"),
    (2000, 2000, 0.8, "2000/2000 [00:00<00:00, 2500 it/s]"),
    (30, 100, 3725.0, "30/100 [1:02:05<2:24:51, 124 s/it]"),
])
def test_the_meter_reads_like_tqdm(done, total, elapsed, expected):
    assert meter_text(done, total, elapsed) == expected


@given(st.floats(min_value=0, max_value=10**6, allow_nan=False))
def test_clock_text_is_minutes_and_seconds_then_hours(seconds):
    text = clock_text(seconds)
    whole = int(seconds)
    if whole < 3600:
        assert re.fullmatch(r"\d\d:\d\d", text) and int(text[:2]) * 60 + int(text[3:]) == whole
    else:
        hours, minutes, secs = (int(part) for part in text.split(":"))
        assert minutes < 60 and secs < 60 and hours * 3600 + minutes * 60 + secs == whole


def test_rate_below_one_item_a_second_is_seconds_per_item():
    assert rate_text(1, 0.5) == "2 it/s"
    assert rate_text(2, 5.0) == "2.5 s/it"
    assert rate_text(0, 5.0) == "? it/s"


def test_a_section_times_a_block_from_its_start_and_freezes_at_its_end(comm_log):
    clock = FakeClock()
    section = ProgressSection(clock=clock)
    section.note("a1", "for_each@items", 0, 20)
    clock.now = 3.2
    section.note("a1", "for_each@items", 8, 20)
    section.update()
    assert section.meters["for_each@items"].value.endswith(">8/20 [00:03&lt;00:04, 2.5 it/s]</span>")
    assert (section.bars["for_each@items"].value, section.bars["for_each@items"].max) == (8, 20)
    assert section.bars["for_each@items"].bar_style == "info"
    clock.now = 5.0  # no event: the elapsed time still moves on, the rate drops
    assert section.lines() == ["for_each@items: 8/20 [00:05<00:07, 1.6 it/s]"]  # no flow: the node id names it
    clock.now = 8.0
    section.note("a1", "for_each@items", 20, 20)
    clock.now = 100.0  # long after the end: the time shown stays the block's own
    section.update()
    assert section.lines() == ["for_each@items: 20/20 [00:08<00:00, 2.5 it/s]"]
    assert section.bars["for_each@items"].bar_style == "success"
    row_widgets = section.widget.children
    section.update()
    assert section.widget.children == row_widgets, "an update must not build new rows"


def test_two_activations_of_one_block_add_up(comm_log):
    clock = FakeClock()
    section = ProgressSection(clock=clock)
    section.note("a1", "n", 0, 4)
    clock.now = 1.0
    section.note("a2", "n", 0, 6)
    clock.now = 2.0
    section.note("a1", "n", 4, 4)
    assert section.lines() == ["n: 4/10 [00:02<00:03, 2 it/s]"]


def test_the_panel_labels_each_bar_with_its_blocks_name(comm_log):
    flow = TriggerFlow(name="fan")
    flow.to(lambda d: list(range(5)), name="items").for_each(name="double_each").to(lambda d: d.input * 2, name="each") \
        .end_for_each().for_each().to(lambda d: d.input, name="again").end_for_each()
    ex = flow.create_execution(auto_close=False)
    panel = ex.watch()
    ex.start()
    ex.close()
    lines = panel.progress.lines()
    assert [line.split(": ")[0] for line in lines] == ["double_each", "for_each"]
    assert all(re.fullmatch(r"\w+: 5/5 \[00:00<00:00, (\S+ it/s|\? it/s)\]", line) for line in lines), lines
    assert [panel.progress.bars[n].description for n in panel.progress.bars] == ["double_each", "for_each"]


def test_reproducible_mode_leaves_the_times_out_of_the_meter():
    from triggerflow_nb import reproducible
    from triggerflow_nb.notebook.progress import meter_text

    assert meter_text(8, 20, 3.2) == "8/20 [00:03<00:04, 2.5 it/s]"
    with reproducible(seed=0):
        assert meter_text(8, 20, 3.2) == "8/20 [time hidden (reproducible mode)]"
    assert meter_text(8, 20, 3.2) == "8/20 [00:03<00:04, 2.5 it/s]"
