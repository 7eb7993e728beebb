"""Run a real PostgreSQL cluster in a temporary directory, on a free loopback port.

For the test suite and the province bench, the way :mod:`motcua.localbroker`
runs Mosquitto: Debian's ``initdb`` and ``pg_ctl``, no system service, a
socket directory of its own. PostgreSQL refuses to run as root, so as root
the cluster belongs to (and runs as) an unprivileged user, ``postgres`` by
default, through ``runuser``.

Only loopback TCP and the private socket are opened, with ``trust``
authentication: a throwaway cluster for one test session, never a
deployment (the province's own server is configured by its DBAs; the
collector only needs its DSN).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from motcua.localbroker import free_port


def pg_bindir() -> Path:
    """Where Debian keeps initdb/pg_ctl (/usr/lib/postgresql/<version>/bin), newest version first."""
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]),
                      reverse=True)
    if not versions:
        raise FileNotFoundError("PostgreSQL is not installed (Debian: apt-get install postgresql; "
                                "`make install` does it)")
    return Path(versions[0]).parent


class LocalPostgres:
    """``start()``, ``stop()``, ``restart()``, ``kill()``; ``dsn(dbname)``; ``create_database(name)``."""

    def __init__(self, workdir: Path | str | None = None, port: int | None = None, *, run_as: str = "postgres",
                 settings: dict[str, str] | None = None):
        # Not under pytest's tmp_path: that is private to root and the server's user must enter it.
        self.workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="motcua-pg-"))
        self.port = port or free_port()
        self.data = self.workdir / "data"
        self.sockets = self.workdir / "run"
        self.log_path = self.workdir / "postgres.log"
        self.bindir = pg_bindir()
        self.user = run_as if os.geteuid() == 0 else None
        self.settings = {"fsync": "on", "synchronous_commit": "on", "max_connections": "100",
                         "shared_buffers": "64MB", **(settings or {})}
        self.superuser = run_as if self.user else pwd.getpwuid(os.geteuid()).pw_name

    # ------------------------------------------------------------------ process

    def _run(self, *argv: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
        cmd = [str(self.bindir / argv[0]), *argv[1:]]
        if self.user:
            cmd = ["runuser", "-u", self.user, "--", *cmd]
        return subprocess.run(cmd, check=check, capture_output=True, text=True, timeout=timeout)

    def init(self) -> None:
        if (self.data / "PG_VERSION").exists():
            return
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.sockets.mkdir(exist_ok=True)
        if self.user:
            uid, gid = pwd.getpwnam(self.user).pw_uid, pwd.getpwnam(self.user).pw_gid
            self.workdir.chmod(0o755)
            for p in (self.workdir, self.sockets):
                os.chown(p, uid, gid)
        r = self._run("initdb", "-D", str(self.data), "-U", self.superuser, "--auth=trust", "-E", "UTF8",
                      "--locale=C.UTF-8", "--no-sync", check=False)
        if r.returncode != 0:
            raise RuntimeError(f"initdb failed: {r.stderr.strip() or r.stdout.strip()}")

    def start(self, timeout: float = 30.0) -> LocalPostgres:
        self.init()
        opts = " ".join([f"-p {self.port}", f"-k {self.sockets}", "-c listen_addresses=127.0.0.1"]
                        + [f"-c {k}={v}" for k, v in self.settings.items()])
        r = self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log_path), "-o", opts, "-w",
                      "-t", str(int(timeout)), "start", check=False, timeout=timeout + 10)
        if r.returncode != 0:
            log = self.log_path.read_text(errors="replace")[-2000:] if self.log_path.exists() else ""
            raise RuntimeError(f"PostgreSQL did not start: {r.stderr.strip()} {log}")
        return self

    def stop(self, mode: str = "fast") -> None:
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def kill(self) -> None:
        """Stop at once, as a power cut would: the server recovers from its WAL on the next start."""
        self.stop("immediate")

    def restart(self) -> None:
        self.stop()
        self.start()

    def destroy(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.workdir, ignore_errors=True)

    @property
    def running(self) -> bool:
        return self._run("pg_ctl", "-D", str(self.data), "status", check=False).returncode == 0

    # ------------------------------------------------------------------ databases

    def dsn(self, dbname: str = "postgres") -> str:
        return f"host=127.0.0.1 port={self.port} user={self.superuser} dbname={dbname} connect_timeout=5"

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.dsn(name)

    def __enter__(self) -> LocalPostgres:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.destroy()
