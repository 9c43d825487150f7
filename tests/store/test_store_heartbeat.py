"""The lease heartbeat of resume(): its cadence and its account of failed renewals, on a scripted clock.

The heartbeat renews every ttl/3; a renewal that fails for a passing reason is tried again after
min(ttl/10, half the time the lease has left), never sooner than ttl/100, until the lease expires;
a refusal stops it. The clock and the wait are handed in, so the cadence is checked exactly, with
no waiting.
"""

from __future__ import annotations

import dataclasses

import pytest

from triggerflow_nb.store import LeaseLostError
from triggerflow_nb.store.records import Lease
from triggerflow_nb.store.resume import _Heartbeat

TTL = 0.9
START = 1_000.0


class ScriptedStore:
    """renew() follows ``script``: "ok" extends the lease by its ttl from the clock's now, an exception is raised."""

    def __init__(self, clock: list[float], script: list[object]):
        self.clock, self.script, self.renewed = clock, list(script), 0

    def renew(self, lease: Lease, ttl: float | None = None) -> Lease:
        step = self.script.pop(0)
        if isinstance(step, BaseException):
            raise step
        self.renewed += 1
        return dataclasses.replace(lease, until=self.clock[0] + lease.ttl)


def beat(script: list[object], *, beats: int, until: float = START + TTL) -> tuple[_Heartbeat, list[float]]:
    """Run the heartbeat's loop in this thread: each wait moves the clock on by what was asked, and
    the loop is stopped after ``beats`` waits (or ends by itself)."""
    clock = [START]
    waits: list[float] = []

    def pause(seconds: float) -> bool:
        waits.append(round(seconds, 9))
        clock[0] += seconds
        return len(waits) > beats

    lease = Lease("e" * 32, "worker-1", 1, until, 1, TTL)
    heartbeat = _Heartbeat(ScriptedStore(clock, script), lease, now=lambda: clock[0], pause=pause)
    heartbeat._beat()
    return heartbeat, waits


def test_renewals_come_every_third_of_the_ttl():
    heartbeat, waits = beat(["ok", "ok", "ok"], beats=3)
    assert waits == [0.3, 0.3, 0.3, 0.3]
    assert heartbeat.store.renewed == 3 and heartbeat.lease.until == pytest.approx(START + 0.9 + TTL)
    assert heartbeat.failures == [] and heartbeat.trouble() == ""


def test_a_failed_renewal_is_tried_again_after_a_tenth_of_the_ttl_then_the_cadence_comes_back():
    heartbeat, waits = beat([OSError("network is unreachable"), "ok", "ok"], beats=3)
    # renew at 0.3 fails with 0.6 left: again after min(0.09, 0.3); it gets through; then every 0.3 again
    assert waits == [0.3, 0.09, 0.3, 0.3]
    assert heartbeat.failures == ["OSError: network is unreachable"] and heartbeat.gave_up is None
    assert heartbeat.trouble() == ("1 lease renewal(s) of 'worker-1' failed (OSError: network is unreachable "
                                   "the last), a later one got through")


def test_near_the_lease_end_a_retry_comes_after_half_the_time_left():
    heartbeat, waits = beat([ValueError("garbled"), "ok"], beats=2, until=START + 0.4)
    # renew at 0.3 fails with 0.1 left: min(0.09, 0.05) = 0.05
    assert waits == [0.3, 0.05, 0.3]
    assert heartbeat.failures == ["ValueError: garbled"]


def test_renewals_that_keep_failing_stop_once_the_lease_has_expired_without_hammering_the_store():
    heartbeat, waits = beat([OSError("down")] * 50, beats=100)
    # Fails at 0.3 (0.6 left), then every 0.09 while at least 0.18 is left (at 0.39 ... 0.66); at 0.75
    # half the 0.15 left, then halves again (0.0375, 0.01875, 0.009375); then the floor of ttl/100
    # (0.009) until the twelfth try, at 0.908625, finds the lease over.
    assert waits == [0.3, 0.09, 0.09, 0.09, 0.09, 0.09, 0.075, 0.0375, 0.01875, 0.009375, 0.009, 0.009]
    assert heartbeat.gave_up == "the lease expired before a renewal got through"
    assert heartbeat.trouble() == ("12 lease renewal(s) of 'worker-1' failed (OSError: down the last), then the "
                                   "lease expired before a renewal got through")


def test_a_refused_renewal_stops_the_heartbeat_at_once():
    refusal = LeaseLostError("e" * 32, "worker-1", 1, "another owner claimed it")
    heartbeat, waits = beat(["ok", refusal, "ok"], beats=5)
    assert waits == [0.3, 0.3]
    assert heartbeat.gave_up == "the store refused the renewal"
    assert heartbeat.failures == [f"LeaseLostError: {refusal}"]
