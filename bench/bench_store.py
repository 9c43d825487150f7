"""Execution stores: µs per save and per claim of a 10 KB snapshot, and listing 100,000 rows.

    .venv/bin/python bench/bench_store.py              # SQLite (full and normal sync) + PostgreSQL
    .venv/bin/python bench/bench_store.py --no-postgres

PostgreSQL is a throwaway server started here as a child process (tests/store/pg_server.py),
fsync on (its default), over TCP on 127.0.0.1. Timing: ``time.perf_counter`` around a batch;
best of 3 batches. A save is ``put(snapshot, expected_version=v)`` (the version-checked
update); a claim is ``claim(id, owner, ttl)`` of a free row. The 100,000 rows are inserted
in bulk (one transaction), then timed: the first page of 50, the 3rd page of 50 (keyset
cursor), a filtered page, and walking all 100,000 summaries in pages of 1,000.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "store"))

from approval_flow import build_flow, paused_execution, snapshot_like  # noqa: E402
from pg_server import PgServer, server_bin_dir  # noqa: E402

from triggerflow_nb.store import PostgresStore, SQLiteStore  # noqa: E402
from triggerflow_nb.store.snapshot_rows import encode, summary_columns  # noqa: E402

BASE = paused_execution(build_flow()).save()
PAD = "x" * (10_000 - len(json.dumps(BASE)) - 20)
SNAPSHOT = snapshot_like(BASE, "bench", pad=PAD)
ROWS = 100_000


def best(batch, runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        batch()
        times.append(time.perf_counter() - start)
    return min(times)


def bench_saves(store, n: int) -> float:
    store.put(snapshot_like(SNAPSHOT, "save-bench"))
    state = {"v": 1}

    def batch():
        for _ in range(n):
            state["v"] = store.put(SNAPSHOT | {"execution_id": "save-bench"}, expected_version=state["v"])

    return best(batch) / n * 1e6


def bench_claims(store, n: int) -> float:
    for i in range(3 * n):
        store.put(snapshot_like(SNAPSHOT, f"claim-{i}"))
    ids = iter(range(3 * n))

    def batch():
        for _ in range(n):
            store.claim(f"claim-{next(ids)}", "bench", 60)

    return best(batch) / n * 1e6


def bulk_rows(store) -> None:
    """100,000 rows of 10 KB snapshots over 10 flows, a third of them waiting, in one transaction."""
    body_base = snapshot_like(SNAPSHOT, "x")
    rows = []
    now = time.time()
    for i in range(ROWS):
        snap = dict(body_base, execution_id=f"row-{i:06d}", flow_name=f"flow-{i % 10}")
        if i % 3:
            snap = dict(snap, status="completed", lifecycle_state="closed", interrupts=[])
        cols = summary_columns(snap)
        rows.append((snap["execution_id"], *cols.values(), 1, now, now - ROWS + i, 0, encode(snap)))
    names = "execution_id, " + ", ".join(summary_columns(SNAPSHOT)) + ", version, created_at, saved_at, fence, snapshot"
    marks = ", ".join("?" for _ in range(len(rows[0])))
    sql = f"INSERT INTO tfnb_executions ({names}) VALUES ({marks})"
    if isinstance(store, SQLiteStore):
        with store._lock:
            store._conn.execute("BEGIN")
            store._conn.executemany(sql, rows)
            store._conn.execute("COMMIT")
    else:
        with store._lock, store._conn.transaction(), store._conn.cursor() as cur:
            cur.executemany(sql.replace("?", "%s"), rows)
        store._conn.execute("ANALYZE tfnb_executions")


def bench_list(store) -> dict[str, float]:
    bulk_rows(store)
    out = {}
    out["first page of 50 (ms)"] = best(lambda: store.list(limit=50)) * 1e3

    def third_page():
        page = store.list(limit=50)
        page = store.list(limit=50, cursor=page.next_cursor)
        return store.list(limit=50, cursor=page.next_cursor)

    out["3rd page of 50, incl. pages 1-2 (ms)"] = best(third_page) * 1e3
    out["filtered page: flow + waiting (ms)"] = best(lambda: store.list(flow="flow-3", has_pending=True)) * 1e3

    def walk_all():
        seen, cursor = 0, None
        while True:
            page = store.list(limit=1000, cursor=cursor)
            seen += len(page)
            cursor = page.next_cursor
            if cursor is None:
                break
        assert seen >= ROWS, seen

    out["all 100,000 summaries in pages of 1,000 (ms)"] = best(walk_all, runs=1) * 1e3
    return out


def measure(name: str, open_store, saves: int, claims: int) -> dict[str, object]:
    result: dict[str, object] = {"store": name}
    with open_store() as store:
        result["µs per save (10 KB)"] = round(bench_saves(store, saves), 1)
        result["µs per claim"] = round(bench_claims(store, claims), 1)
    with open_store(fresh=True) as store:
        result.update({k: round(v, 2) for k, v in bench_list(store).items()})
    print(json.dumps(result, ensure_ascii=False), flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="tfnb-bench-"))
    counter = iter(range(1000))

    def sqlite(durability):
        return lambda fresh=False: SQLiteStore(tmp / f"{durability}-{next(counter)}.db", durability=durability)

    measure("SQLite WAL, synchronous=FULL (default)", sqlite("full"), 1000, 1000)
    measure("SQLite WAL, synchronous=NORMAL", sqlite("normal"), 3000, 3000)
    if not args.no_postgres:
        server = PgServer(server_bin_dir()).start()
        try:
            import psycopg

            def pg(fresh=False):
                if fresh:
                    with psycopg.connect(server.dsn, autocommit=True) as conn:
                        conn.execute("DROP TABLE IF EXISTS tfnb_executions, tfnb_meta")
                return PostgresStore(server.dsn)

            measure("PostgreSQL 127.0.0.1, fsync on", pg, 1000, 1000)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
