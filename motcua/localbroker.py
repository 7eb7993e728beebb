"""Run a real Mosquitto on a free loopback port with our own broker_config.

Used by the demo, the test suite and the benchmarks: never a mock broker.
"""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEV_CONFIG = REPO / "broker_config" / "dev" / "mosquitto.conf"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def mosquitto_binary() -> str:
    for candidate in (shutil.which("mosquitto"), "/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise FileNotFoundError("mosquitto is not installed (Debian: apt-get install mosquitto; `make install` does it)")


class LocalBroker:
    """A Mosquitto process: ``start()``, ``stop()``, ``kill()``, ``restart()`` on the same port and data."""

    def __init__(self, workdir: Path | str, port: int | None = None, template: Path = DEV_CONFIG,
                 render: Callable[[LocalBroker], str] | None = None):
        """``render`` returns the config text to run instead of the dev template (e.g. the site config)."""
        self.workdir = Path(workdir)
        self.port = port or free_port()
        self.template = template
        self.render = render
        self.proc: subprocess.Popen | None = None
        self.config_path = self.workdir / "mosquitto.conf"

    @property
    def log_path(self) -> Path:
        return self.workdir / "mosquitto.log"

    def write_config(self) -> Path:
        self.workdir.mkdir(parents=True, exist_ok=True)
        # Mosquitto started as root drops to its own user unless told otherwise,
        # and then cannot write into a private temporary directory.
        self.workdir.chmod(0o755)
        if self.render is not None:
            text = self.render(self)
        else:
            text = self.template.read_text().format(port=self.port, data_dir=self.workdir, user=getpass.getuser())
        self.config_path.write_text(text)
        return self.config_path

    def start(self, timeout: float = 10.0) -> LocalBroker:
        self.write_config()
        self.proc = subprocess.Popen([mosquitto_binary(), "-c", str(self.config_path)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
                raise RuntimeError(f"mosquitto exited with {self.proc.returncode}: {err.strip()} "
                                   f"(log: {self.log_path})")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.02)  # polling a port that is about to open; bounded by the deadline
        raise TimeoutError(f"mosquitto did not open port {self.port} within {timeout} s")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc and self.proc.stderr:
            self.proc.stderr.close()
        self.proc = None

    def reload(self) -> None:
        """SIGHUP: Mosquitto re-reads its password file and ACL without dropping anyone."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGHUP)

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def restart(self) -> None:
        self.stop()
        self.start()

    def __enter__(self) -> LocalBroker:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def spawn_dispatcher(port: int, config: Path, database: Path, *, site: str | None = None, log=None,
                     env: dict[str, str] | None = None) -> subprocess.Popen:
    """Start the real dispatcher daemon against a LocalBroker, as systemd would, with env overrides.

    ``MOTCUA_*`` variables of the calling shell are not passed on: the child sees
    exactly the settings given here. Opening hours are lifted so it serves at any hour.
    """
    import sys

    child = {k: v for k, v in os.environ.items() if not k.startswith("MOTCUA_")}
    child.update(MOTCUA_MQTT__PORT=str(port), MOTCUA_DATABASE=str(database), MOTCUA_HALL__OPENING_HOURS="[]")
    if site:
        child["MOTCUA_SITE"] = site
    child.update(env or {})
    return subprocess.Popen([sys.executable, "-m", "dispatcher", "--config", str(config)], env=child, cwd=REPO,
                            stdout=log, stderr=subprocess.STDOUT if log is not None else None)
