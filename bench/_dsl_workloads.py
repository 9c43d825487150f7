"""Workloads for the TriggerFlow DSL blocks that only triggerflow_nb times (not shared with peers):

* ``collect_4``: four independent paths from START each deliver to one collect; the chain
  after it stores the collected dict. µs per execution (``flow.start``).
* ``hit_all_3``: a ``match(mode="hit_all")`` with three predicate cases, all matching; the
  chain after ``end_match()`` stores the list. µs per execution.

Each is checked for its exact result before it is timed.
"""

from __future__ import annotations

from typing import Any

from _benchlib import Recorder, timed_best

COLLECT_WAYS = 4
HIT_ALL_CASES = 3


def collect_4(rec: Recorder, flow_cls: Any) -> None:
    with rec.guard("collect_4"):
        flow = flow_cls(name="bench_collect")
        joined = None
        for index in range(COLLECT_WAYS):
            joined = flow.to(lambda d, i=index: d.input + i, name=f"branch{index}").collect("all", f"b{index}")
        joined.to(lambda d: d.set_state("out", d.input), name="store")
        out = flow.start(10)["out"]
        expected = {f"b{i}": 10 + i for i in range(COLLECT_WAYS)}
        if out != expected:
            raise AssertionError(f"collect_4 gave {out!r}, expected {expected!r}")
        rec.set("collect_4", timed_best(lambda: flow.start(10), units_per_run=1))


def hit_all_3(rec: Recorder, flow_cls: Any) -> None:
    with rec.guard("hit_all_3"):
        flow = flow_cls(name="bench_hit_all")
        chain = flow.match(mode="hit_all")
        for index in range(HIT_ALL_CASES):
            chain = chain.case(lambda d, i=index: d.input > i, name=f"above{index}") \
                .to(lambda d, i=index: i, name=f"case{index}")
        chain.end_match().to(lambda d: d.set_state("out", d.input), name="store")
        out = flow.start(HIT_ALL_CASES)["out"]
        if out != list(range(HIT_ALL_CASES)):
            raise AssertionError(f"hit_all_3 gave {out!r}, expected {list(range(HIT_ALL_CASES))!r}")
        rec.set("hit_all_3", timed_best(lambda: flow.start(HIT_ALL_CASES), units_per_run=1))


def run_dsl(rec: Recorder, flow_cls: Any) -> None:
    collect_4(rec, flow_cls)
    hit_all_3(rec, flow_cls)
