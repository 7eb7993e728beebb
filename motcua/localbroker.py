"""Run a real Mosquitto on a free loopback port with our own broker_config.

Used by the demo, the test suite and the benchmarks: never a mock broker. The
development config is locked down like a hall's: no anonymous login, the same
generated ACL, a generated password per device. ``broker.mqtt(device_id, role)``
registers a device the first time it is asked for (exactly what
``motcua broker add-device`` does), has Mosquitto re-read its files, and
returns the settings that device logs in with.
"""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from .broker.configs import DEV_TEMPLATE as DEV_CONFIG

REPO = Path(__file__).resolve().parents[1]


def stop_process(proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int:
    """Ask a child process to stop with ``sig`` and reap it; killed if it has not stopped within ``timeout`` s.
    Its exit status."""
    if proc.poll() is None:
        proc.send_signal(sig)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


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

    def __init__(self, workdir: Path | str, port: int | None = None, template: Traversable = DEV_CONFIG,
                 render: Callable[[LocalBroker], str] | None = None, site: str = "+", extra_config: str = ""):
        """``render`` returns the config text to run instead of the dev template (e.g. the site config).

        ``site`` is the hall the ACL is written for; ``+`` (the default) lets
        every site use this broker, so tests can each have their own site.
        ``extra_config`` is appended to the config (e.g. a rendered bridge).
        """
        from .broker.site import SiteBroker

        self.workdir = Path(workdir)
        self.port = port or free_port()
        self.template = template
        self.render = render
        self.site = site
        self.extra_config = extra_config
        self.registry = SiteBroker(self.workdir / "etc")
        self.proc: subprocess.Popen | None = None
        self.config_path = self.workdir / "mosquitto.conf"
        self._lock = threading.Lock()

    @property
    def log_path(self) -> Path:
        return self.workdir / "mosquitto.log"

    @property
    def stderr_path(self) -> Path:
        return self.workdir / "mosquitto.stderr"

    def write_config(self) -> Path:
        self.workdir.mkdir(parents=True, exist_ok=True)
        # Mosquitto started as root drops to its own user unless told otherwise,
        # and then cannot write into a private temporary directory.
        self.workdir.chmod(0o755)
        if self.render is not None:
            text = self.render(self)
        else:
            if not self.registry.exists():
                self.registry.init(self.site)
            self.registry.directory.chmod(0o755)
            text = self.template.read_text().format(port=self.port, data_dir=self.workdir, user=getpass.getuser(),
                                                    etc_dir=self.registry.directory)
        if self.extra_config:
            text += "\n" + self.extra_config + "\n"
        self.config_path.write_text(text)
        return self.config_path

    def start(self, timeout: float = 10.0) -> LocalBroker:
        with socket.socket() as probe:  # another broker there would answer our readiness check
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as Mosquitto: TIME_WAIT is no obstacle
            try:
                probe.bind(("127.0.0.1", self.port))
            except OSError:
                raise RuntimeError(f"port {self.port} is already in use (Debian's own mosquitto.service? "
                                   "`systemctl stop mosquitto`, or choose another port)") from None
        self.write_config()
        # stderr to a file, never a pipe nobody reads: Mosquitto logs there while it
        # re-reads its config on SIGHUP, and a full pipe would freeze the broker.
        with open(self.stderr_path, "ab") as err:
            self.proc = subprocess.Popen([mosquitto_binary(), "-c", str(self.config_path)],
                                         stdout=subprocess.DEVNULL, stderr=err)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                said = self.stderr_path.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"mosquitto exited with {self.proc.returncode}: {said.strip()} "
                                   f"(log: {self.log_path})")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.02)  # polling a port that is about to open; bounded by the deadline
        raise TimeoutError(f"mosquitto did not open port {self.port} within {timeout} s")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> None:
        if self.proc:
            stop_process(self.proc, sig, timeout)
        self.proc = None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def mqtt(self, device_id: str, role: str, counter: int | None = None):
        """The ``[mqtt]`` settings of a device with this id and role, registering it on first use."""
        from .settings import MqttSettings

        with self._lock:
            if not self.registry.exists():
                self.registry.init(self.site)
            entry = self.registry.load().find(device_id)
            if entry is None:
                password = self.registry.add_device(role, device_id, counter)
                if self.running:
                    self.reload()
                    self._wait_for_login(device_id, password)
            elif (entry.role, entry.counter) != (role, counter):
                raise ValueError(f"{device_id} is registered on this broker as {entry.role}"
                                 f"{f' (counter {entry.counter})' if entry.counter else ''}, not {role}")
            else:
                password = self.registry.password_of(device_id)
        return MqttSettings(host="127.0.0.1", port=self.port, username=device_id, password=SecretStr(password))

    def client(self, device_id: str, role: str, counter: int | None = None, protocol: Any = None):
        """A bare paho client (callback API 2) logged in as this device; connect it yourself."""
        import paho.mqtt.client as paho
        from paho.mqtt.enums import CallbackAPIVersion

        login = self.mqtt(device_id, role, counter)
        c = paho.Client(CallbackAPIVersion.VERSION2, client_id=device_id,
                        protocol=paho.MQTTv5 if protocol is None else protocol)
        c.username_pw_set(device_id, login.resolved_password())
        return c

    def env(self, device_id: str, role: str, counter: int | None = None) -> dict[str, str]:
        """The same, as ``MOTCUA_MQTT__*`` variables for a daemon started as a process."""
        m = self.mqtt(device_id, role, counter)
        return {"MOTCUA_MQTT__HOST": m.host, "MOTCUA_MQTT__PORT": str(m.port), "MOTCUA_MQTT__USERNAME": device_id,
                "MOTCUA_MQTT__PASSWORD": m.resolved_password() or ""}

    def _wait_for_login(self, username: str, password: str, timeout: float = 10.0) -> None:
        """After SIGHUP: Mosquitto re-reads passwd and acl on its next loop; wait until the login works."""
        import paho.mqtt.client as paho
        from paho.mqtt.enums import CallbackAPIVersion

        deadline = time.monotonic() + timeout
        while True:
            answer: list = []
            c = paho.Client(CallbackAPIVersion.VERSION2, client_id=username, protocol=paho.MQTTv5)
            c.username_pw_set(username, password)
            c.on_connect = lambda client, userdata, flags, rc, props, answer=answer: answer.append(rc)
            try:
                c.connect("127.0.0.1", self.port, keepalive=5)
                while not answer and time.monotonic() < deadline:
                    c.loop(timeout=0.05)
            except OSError:
                pass
            finally:
                c.disconnect()
            if answer and not answer[0].is_failure:
                return
            if not self.running:
                raise RuntimeError(f"mosquitto exited while re-reading its files (log: {self.log_path})")
            if time.monotonic() > deadline:
                raise TimeoutError(f"the broker did not accept {username} within {timeout} s of a reload")
            time.sleep(0.02)  # Mosquitto has not re-read its files yet; bounded by the deadline

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


def spawn_dispatcher(broker: LocalBroker, config: Path, database: Path, *, site: str | None = None, log=None,
                     env: dict[str, str] | None = None, device_id: str = "dispatcher") -> subprocess.Popen:
    """Start the real dispatcher daemon against a LocalBroker, as systemd would, with env overrides.

    ``MOTCUA_*`` variables of the calling shell are not passed on: the child sees
    exactly the settings given here, its login included. Opening hours are
    lifted so it serves at any hour.
    """
    import sys

    child = {k: v for k, v in os.environ.items() if not k.startswith("MOTCUA_")}
    child.update(broker.env(device_id, "dispatcher"))
    child.update(MOTCUA_DEVICE_ID=device_id, MOTCUA_DATABASE=str(database), MOTCUA_HALL__OPENING_HOURS="[]")
    if site:
        child["MOTCUA_SITE"] = site
    child.update(env or {})
    return subprocess.Popen([sys.executable, "-m", "dispatcher", "--config", str(config)], env=child, cwd=REPO,
                            stdout=log, stderr=subprocess.STDOUT if log is not None else None)
