"""A throwaway PostgreSQL server for tests and benchmarks: initdb in a temp dir, the postmaster
as a CHILD process on 127.0.0.1 (so it is reaped), stopped by the PID in postmaster.pid.

The server refuses to run as root, so as root both initdb and postgres run as the
``postgres`` user via runuser.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Optional


def server_bin_dir() -> Optional[Path]:
    """Debian keeps the server binaries in /usr/lib/postgresql/<version>/bin; newest first.
    TFNB_PG_BINDIR points elsewhere (an empty or missing directory means: no server)."""
    override = os.environ.get("TFNB_PG_BINDIR")
    if override is not None:
        return Path(override) if (Path(override) / "initdb").exists() else None
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]), reverse=True)
    if found:
        return Path(found[0]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgServer:
    def __init__(self, bin_dir: Path):
        self.bin_dir = bin_dir
        self.as_root = os.geteuid() == 0
        self.root = Path(tempfile.mkdtemp(prefix="tfnb-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self.process: Optional[subprocess.Popen] = None

    def _as_server_user(self, argv: list[str]) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *argv] if self.as_root else argv

    @property
    def dsn(self) -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres"

    def start(self, timeout: float = 60.0) -> PgServer:
        if self.as_root:
            pw = pwd.getpwnam("postgres")
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
        os.chmod(self.root, 0o755)
        subprocess.run(self._as_server_user([str(self.bin_dir / "initdb"), "-D", str(self.data), "-U", "postgres",
                                             "--auth=trust", "-E", "UTF8", "--no-sync"]),
                       check=True, capture_output=True, timeout=timeout)
        try:
            return self._launch(timeout)
        except BaseException:
            shutil.rmtree(self.root, ignore_errors=True)
            raise

    def _launch(self, timeout: float) -> PgServer:
        log = open(self.root / "server.log", "ab")
        self.process = subprocess.Popen(
            self._as_server_user([str(self.bin_dir / "postgres"), "-D", str(self.data), "-p", str(self.port),
                                  "-c", "listen_addresses=127.0.0.1", "-k", str(self.root)]),
            stdout=log, stderr=subprocess.STDOUT)
        log.close()
        import psycopg

        deadline = time.monotonic() + timeout
        while True:
            try:
                psycopg.connect(self.dsn, connect_timeout=2).close()
                return self
            except psycopg.OperationalError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    log_text = (self.root / "server.log").read_text(errors="replace")[-2000:]
                    if self.process.poll() is None:
                        self.process.kill()
                        self.process.wait(timeout=timeout)
                    raise RuntimeError(f"PostgreSQL did not start on port {self.port}:\n{log_text}")
                time.sleep(0.05)

    def postmaster_pid(self) -> int:
        return int((self.data / "postmaster.pid").read_text().splitlines()[0])

    def crash_and_restart(self, timeout: float = 60.0) -> None:
        """SIGKILL the postmaster (a power cut for the server process), then start it again on the
        same data directory: PostgreSQL replays its WAL before it accepts connections."""
        os.kill(self.postmaster_pid(), signal.SIGKILL)
        self.process.wait(timeout=timeout)
        deadline = time.monotonic() + timeout
        while True:  # orphaned backends notice the postmaster died and exit; until then a restart is refused
            try:
                self._launch(min(10.0, timeout))
                return
            except RuntimeError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def stop(self, timeout: float = 30.0) -> None:
        pid_file = self.data / "postmaster.pid"
        if self.process is not None and self.process.poll() is None:
            try:
                pid = int(pid_file.read_text().splitlines()[0])
                os.kill(pid, signal.SIGINT)  # fast shutdown; runuser does not forward signals
            except (OSError, ValueError, IndexError):
                self.process.kill()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=timeout)
        shutil.rmtree(self.root, ignore_errors=True)
