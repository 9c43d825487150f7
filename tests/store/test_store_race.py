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


def naive_claim(store, execution_id, owner, ttl, expected_version):
    """The read-compare-write claim the design forbids (what the agently store does): a SELECT,
    a check in Python, then an unconditional UPDATE. Used only to show the harness catches it."""
    import time

    from triggerflow_nb.store import Lease, LeaseHeldError

    _, rows = store._call("SELECT owner, lease_until, fence, version FROM tfnb_executions WHERE execution_id = ?",
                          (execution_id,))
    owner_now, until, fence, version = rows[0]
    if owner_now is not None and until >= time.time():
        raise LeaseHeldError(execution_id, owner_now, until, time.time())
    time.sleep(0.02)  # the gap between read and write that another process slips into
    store._call("UPDATE tfnb_executions SET owner = ?, lease_until = ?, fence = ? WHERE execution_id = ?",
                (owner, time.time() + ttl, fence + 1, execution_id))
    return Lease(execution_id, owner, fence + 1, time.time() + ttl, version, ttl)


def contender(spec, index, barrier, results, rounds=ROUNDS, naive=False):
    """One process: per round, wait for the others, then claim; the winner saves under its lease,
    the losers try to save without one (a worker that skipped the claim)."""
    from triggerflow_nb.store import LeaseHeldError, VersionConflictError

    store = open_store(spec)
    if naive:
        store.claim = lambda i, o, ttl, expected_version: naive_claim(store, i, o, ttl, expected_version)
    owner = f"worker-{index}"
    try:
        for r in range(rounds):
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
            except Exception as exc:  # a double winner's save can fail in other ways: record it
                save = type(exc).__name__
            if lease is not None:
                try:
                    store.release(lease)
                except Exception as exc:  # only a double-granted (naive) lease can be lost here
                    save += f"; release: {type(exc).__name__}"
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


@pytest.mark.timeout(120)
def test_the_harness_catches_a_read_compare_write_claim(tmp_path):
    """The same race against a naive SELECT-then-UPDATE claim hands rounds to several owners:
    the exactly-one-winner test above can fail, and atomic statements are what make it pass."""
    from specs import StoreSpec

    spec = StoreSpec("sqlite", str(tmp_path / "naive.db"))
    store = open_store(spec)
    rounds = 10
    for r in range(rounds):
        store.put(snapshot_like(BASE, f"race-{r}"))
    ctx = multiprocessing.get_context("fork")
    barrier, results = ctx.Barrier(PROCESSES), ctx.Queue()
    workers = [ctx.Process(target=contender, args=(spec, i, barrier, results, rounds, True))
               for i in range(PROCESSES)]
    for w in workers:
        w.start()
    rows = [results.get(timeout=60) for _ in range(PROCESSES * rounds)]
    for w in workers:
        w.join(timeout=30)
    assert [r for r in rows if r[0] == -1] == []
    winners = Counter(r for r, _, claim, _ in rows if claim == "won")
    assert max(winners.values()) > 1, f"the naive claim never double-granted: {winners}"
    store.close()


class FileMailer:
    """Appends every mail to a file shared by the processes: the side effect that must happen once."""

    def __init__(self, path, name):
        self.path, self.name = path, name

    def send(self, to, body):
        with open(self.path, "a") as f:
            f.write(f"{self.name}: {body}\n")
        return 1


def resumer(spec, index, barrier, results, execution_id, mail_path):
    from triggerflow_nb.store import LeaseHeldError, VersionConflictError, resume

    store = open_store(spec)
    flow = build_flow()
    barrier.wait(timeout=60)
    try:
        resume(flow, store, execution_id, owner=f"worker-{index}", payload="approved",
               runtime_resources={"mailer": FileMailer(mail_path, f"worker-{index}")})
        results.put((index, "resumed"))
    except (LeaseHeldError, VersionConflictError) as exc:
        results.put((index, type(exc).__name__))
    except Exception as exc:  # e.g. InterruptError: the run was already finished by a faster worker
        results.put((index, type(exc).__name__))
    finally:
        store.close()


@pytest.mark.timeout(120)
def test_four_workers_resuming_the_same_paused_run_send_exactly_one_mail(spec, tmp_path):
    from triggerflow_nb.store import save_execution

    store = open_store(spec)
    paused = paused_execution(build_flow())
    save_execution(paused, store)
    mail_path = tmp_path / "mails.txt"
    mail_path.touch()
    ctx = multiprocessing.get_context("fork")
    barrier, results = ctx.Barrier(PROCESSES), ctx.Queue()
    workers = [ctx.Process(target=resumer, args=(spec, i, barrier, results, paused.id, str(mail_path)))
               for i in range(PROCESSES)]
    for w in workers:
        w.start()
    outcomes = dict(results.get(timeout=60) for _ in range(PROCESSES))
    for w in workers:
        w.join(timeout=30)
    winners = [i for i, o in outcomes.items() if o == "resumed"]
    assert len(winners) == 1, outcomes
    # the others were refused by the lease, or found the run already finished: no chunk ran for them
    assert set(outcomes.values()) - {"resumed"} <= {"LeaseHeldError", "InterruptError"}
    assert mail_path.read_text() == f"worker-{winners[0]}: expense approved\n"
    stored = store.get(paused.id)
    assert (stored.version, stored.snapshot["status"], stored.lease_owner) == (2, "completed", None)
    store.close()
