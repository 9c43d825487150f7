"""Exactly one winner: 4 processes x 100 rounds claim and save the same execution at the same
moment. Every round exactly one claim and one save succeed; the others get typed errors."""

from __future__ import annotations

import multiprocessing
from collections import Counter

import pytest
from approval_flow import build_flow, paused_execution, snapshot_like
from specs import open_store

PROCESSES = 4
ROUNDS = 100
BASE = paused_execution(build_flow()).save()


def contender(spec, index, barrier, results):
    """One process: per round, wait for the others, then claim; the winner saves under its lease,
    the losers try to save without one (a worker that skipped the claim)."""
    from triggerflow_nb.store import LeaseHeldError, VersionConflictError

    store = open_store(spec)
    owner = f"worker-{index}"
    try:
        for r in range(ROUNDS):
            execution_id = f"race-{r}"
            mine = snapshot_like(BASE, execution_id, writer=owner)
            barrier.wait(timeout=60)
            try:  # resume version 1: once the winner saved version 2, a late claim is stale
                lease = store.claim(execution_id, owner, ttl=60, expected_version=1)
                claim = "won"
            except (LeaseHeldError, VersionConflictError) as exc:
                lease, claim = None, type(exc).__name__
            try:
                store.put(mine, expected_version=1, lease=lease)
                save = "saved"
            except (LeaseHeldError, VersionConflictError) as exc:
                save = type(exc).__name__
            if lease is not None:
                store.release(lease)
            results.put((r, owner, claim, save))
    except Exception as exc:  # anything untyped is reported, never swallowed
        results.put((-1, owner, "crash", f"{type(exc).__name__}: {exc}"))
    finally:
        store.close()


@pytest.mark.timeout(240)
def test_four_processes_racing_for_the_same_execution_have_exactly_one_winner_each_round(spec):
    store = open_store(spec)
    for r in range(ROUNDS):
        store.put(snapshot_like(BASE, f"race-{r}"))
    ctx = multiprocessing.get_context("fork")
    barrier, results = ctx.Barrier(PROCESSES), ctx.Queue()
    workers = [ctx.Process(target=contender, args=(spec, i, barrier, results)) for i in range(PROCESSES)]
    for w in workers:
        w.start()
    rows = [results.get(timeout=180) for _ in range(PROCESSES * ROUNDS)]
    for w in workers:
        w.join(timeout=30)
        assert w.exitcode == 0
    assert [r for r in rows if r[0] == -1] == []

    by_round: dict[int, list[tuple[str, str, str]]] = {}
    for r, owner, claim, save in rows:
        by_round.setdefault(r, []).append((owner, claim, save))
    assert sorted(by_round) == list(range(ROUNDS))
    loser_saves, loser_claims = Counter(), Counter()
    for r, outcomes in by_round.items():
        winners = [o for o in outcomes if o[1] == "won"]
        saved = [o for o in outcomes if o[2] == "saved"]
        assert len(outcomes) == PROCESSES
        assert len(winners) == 1, f"round {r}: claims {outcomes}"
        assert saved == winners, f"round {r}: saves {outcomes}"
        losers = [o for o in outcomes if o[1] != "won"]
        assert {o[1] for o in losers} <= {"LeaseHeldError", "VersionConflictError"}
        loser_claims.update(o[1] for o in losers)
        assert {o[2] for o in losers} <= {"LeaseHeldError", "VersionConflictError"}
        loser_saves.update(o[2] for o in losers)
        stored = store.get(f"race-{r}")
        assert stored.version == 2
        assert stored.snapshot["state"]["writer"] == winners[0][0]
        assert stored.lease_owner is None
    assert sum(loser_saves.values()) == 3 * ROUNDS
    print(f"{spec.kind}: {ROUNDS} rounds, 1 winner each; refused loser claims: {dict(loser_claims)}, "
          f"refused loser saves: {dict(loser_saves)}")
    store.close()
