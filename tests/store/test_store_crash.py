"""Crash safety: a writer process is killed with SIGKILL in the middle of its saves, 50 times.
After each kill: no acknowledged save is lost, no row is torn, the store opens cleanly."""

from __future__ import annotations

import os
import random
import select
import signal
import time

import pytest
from approval_flow import build_flow, paused_execution, snapshot_like
from specs import open_store

KILLS = 50
BASE = paused_execution(build_flow()).save()
PAD = "x" * 100_000  # ~100 KB per save, so a kill often lands inside a write


def writer(spec, write_fd):
    """Child: save version after version; report each one only after put() returned."""
    store = open_store(spec)
    version = store.get("crash").version
    while True:
        version = store.put(snapshot_like(BASE, "crash", n=version + 1, pad=PAD), expected_version=version)
        os.write(write_fd, f"{version}\n".encode())


def read_available(read_fd, wait: float) -> bytes:
    """What the pipe holds now (waiting up to ``wait`` s for something); b"" once it is closed."""
    if select.select([read_fd], [], [], wait)[0]:
        return os.read(read_fd, 1 << 20)
    return b"?"  # nothing yet, but still open


def versions(data: bytes) -> list[int]:
    return [int(line) for line in data.split(b"\n")[:-1]]  # a cut-off last line was never acknowledged


def dead_clients_served(dsn: str) -> None:
    """Wait until the server has finished with the killed writer's connection: a statement it had
    already received (a COMMIT) may still land a moment after the client died, and a read before
    that would miss it (then the next writer starts one version later than the read said)."""
    import psycopg

    deadline = time.monotonic() + 10
    with psycopg.connect(dsn, autocommit=True) as conn:
        while conn.execute("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' "
                           "AND pid <> pg_backend_pid()").fetchone()[0]:
            assert time.monotonic() < deadline, "the killed writer's backend was still there after 10 s"
            time.sleep(0.01)


@pytest.mark.timeout(240)
def test_kill_9_in_the_middle_of_saves_loses_no_acknowledged_save_and_tears_no_row(spec):
    setup = open_store(spec)
    setup.put(snapshot_like(BASE, "crash", n=1, pad=PAD))
    setup.close()
    rng = random.Random(15)
    last_ack, total_acks = 1, 0
    for kill in range(KILLS):
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child never returns into pytest
            try:
                os.close(read_fd)
                writer(spec, write_fd)
            finally:
                os._exit(1)
        os.close(write_fd)
        deadline = time.monotonic() + 30
        data = b""
        while b"\n" not in data:  # at least one save acknowledged this round, then kill at a random moment
            assert time.monotonic() < deadline, "the writer acknowledged no save within 30 s"
            chunk = read_available(read_fd, 0.05)
            data += chunk if chunk != b"?" else b""
        time.sleep(rng.uniform(0.0, 0.05))
        os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
        while (chunk := read_available(read_fd, 5.0)) not in (b"", b"?"):  # drain to EOF: the child is gone
            data += chunk
        os.close(read_fd)
        if spec.kind == "postgres":
            dead_clients_served(spec.where)
        acks = versions(data)
        # the previous round's in-flight save may have committed (last_ack is then the stored version)
        assert acks == list(range(last_ack + 1, last_ack + 1 + len(acks)))
        total_acks += len(acks)
        last_ack = acks[-1]

        store = open_store(spec)  # opens cleanly after the kill
        stored = store.get("crash")
        # the save in flight when killed may or may not have committed; nothing acknowledged is lost
        assert stored.version in (last_ack, last_ack + 1), (kill, stored.version, last_ack)
        # not torn: the body is whole and belongs to the row's version
        assert stored.snapshot["state"]["n"] == stored.version and stored.snapshot["state"]["pad"] == PAD
        if spec.kind == "sqlite":
            assert store.integrity_check() == "ok"
        last_ack = stored.version
        store.close()
    print(f"{spec.kind}: {KILLS} kills, {total_acks} acknowledged saves, final version {last_ack}, 0 lost, 0 torn")


SERVER_KILLS = 3


@pytest.mark.timeout(240)
def test_kill_9_of_the_postgresql_server_keeps_every_acknowledged_save(pg_dsn):
    """The server process itself dies mid-saves (SIGKILL of the postmaster), 3 times: after the
    restart every acknowledged save is there and the row is whole."""
    from pg_server import PgServer, server_bin_dir
    from specs import StoreSpec

    server = PgServer(server_bin_dir()).start()
    try:
        spec = StoreSpec("postgres", server.dsn)
        setup = open_store(spec)
        setup.put(snapshot_like(BASE, "crash", n=1, pad=PAD))
        setup.close()
        last_ack = 1
        for kill in range(SERVER_KILLS):
            read_fd, write_fd = os.pipe()
            pid = os.fork()
            if pid == 0:
                try:
                    os.close(read_fd)
                    writer(spec, write_fd)  # ends with an error once the server is gone
                finally:
                    os._exit(1)
            os.close(write_fd)
            data, deadline = b"", time.monotonic() + 30
            while data.count(b"\n") < 20:  # a few saves acknowledged, then the server dies
                assert time.monotonic() < deadline, "the writer acknowledged too few saves within 30 s"
                chunk = read_available(read_fd, 0.05)
                data += chunk if chunk != b"?" else b""
            server.crash_and_restart()
            os.waitpid(pid, 0)  # the writer's next save failed: it exited
            while (chunk := read_available(read_fd, 5.0)) not in (b"", b"?"):
                data += chunk
            os.close(read_fd)
            acks = versions(data)
            assert acks == list(range(last_ack + 1, last_ack + 1 + len(acks)))
            store = open_store(spec)
            stored = store.get("crash")
            assert stored.version in (acks[-1], acks[-1] + 1), (kill, stored.version, acks[-1])
            assert stored.snapshot["state"]["n"] == stored.version and stored.snapshot["state"]["pad"] == PAD
            last_ack = stored.version
            store.close()
        print(f"postgres server: {SERVER_KILLS} postmaster kills, final version {last_ack}, 0 lost, 0 torn")
    finally:
        server.stop()
