"""Real daemons and real subscribers for the tests: the dispatcher as systemd runs it, a paho watcher,
and a wait for conditions that have no event. Imported plainly (``from daemonkit import …``): the
pytest settings put ``tests/`` on the path; conftest.py builds its fixtures from these.
"""

from __future__ import annotations

import itertools
import signal
import subprocess
import threading
from pathlib import Path

import paho.mqtt.client as mqtt

from motcua.localbroker import REPO, LocalBroker, spawn_dispatcher, stop_process

SAMPLE_HALL = REPO / "examples" / "hall.toml"


def wait_until(predicate, timeout: float = 10.0, what: str = "condition") -> None:
    """Wait for a condition that has no event to wait on (another process's database, a thread's queue)."""
    import time

    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


class DispatcherProcess:
    """The real daemon, as systemd would run it, with settings from the sample hall plus env overrides."""

    def __init__(self, broker: LocalBroker, site: str, workdir: Path, config: Path = SAMPLE_HALL, **env: str):
        self.broker, self.site, self.workdir, self.config = broker, site, workdir, config
        self.database = workdir / "dispatcher.db"
        self.env = {"MOTCUA_HEALTH_INTERVAL_S": "1", **env}
        self.proc: subprocess.Popen | None = None
        self.log_path = workdir / "dispatcher.log"

    def start(self, wait: bool = True, extra_env: dict[str, str] | None = None) -> DispatcherProcess:
        # subscribe before launching, so the daemon's own live 'online' is what we see
        online = Watcher(self.broker, f"motcua/v1/{self.site}/device/dispatcher/availability") if wait else None
        with open(self.log_path, "a") as log:
            self.proc = spawn_dispatcher(self.broker, self.config, self.database, site=self.site, log=log,
                                         env={**self.env, **(extra_env or {})})
        if online is not None:
            try:
                online.wait_for(lambda m: m.payload == b"online" and not m.retain, 20)
            finally:
                online.close()
        return self

    def stop(self, sig: int = signal.SIGTERM) -> int | None:
        if self.proc is None:
            return None
        rc = stop_process(self.proc, sig, 15)
        self.proc = None
        return rc

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


class Watcher:
    """A plain paho subscriber that records every message on a filter, with waits on conditions."""

    _free_names: list[str] = []
    _numbers = itertools.count(1)
    _names_lock = threading.Lock()

    def __init__(self, broker: LocalBroker, topic_filter: str):
        self.messages: list[mqtt.MQTTMessage] = []
        self.cond = threading.Condition()
        # Each watcher connected at one time needs its own login (the client id is the username);
        # names are reused once closed, so the broker's registry stays small.
        with Watcher._names_lock:
            self.name = name = Watcher._free_names.pop() if Watcher._free_names else f"watcher-{next(Watcher._numbers)}"
        # a technician's view: the operator role reads the whole hall
        login = broker.mqtt(name, "operator")
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=name, protocol=mqtt.MQTTv5)
        self.client.username_pw_set(name, login.resolved_password())
        subscribed = threading.Event()
        self.client.on_connect = lambda c, *_: c.subscribe(topic_filter, qos=1)
        self.client.on_subscribe = lambda *_: subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", broker.port)
        self.client.loop_start()
        assert subscribed.wait(10), "watcher could not subscribe"

    def _on_message(self, client, userdata, msg) -> None:
        with self.cond:
            self.messages.append(msg)
            self.cond.notify_all()

    def wait_for(self, predicate, timeout: float = 10.0):
        """The first recorded message satisfying predicate, waiting up to timeout."""
        with self.cond:
            found = None

            def check():
                nonlocal found
                found = next((m for m in self.messages if predicate(m)), None)
                return found is not None

            if not self.cond.wait_for(check, timeout):
                topics = sorted({m.topic for m in self.messages})
                raise AssertionError(f"no matching message within {timeout} s; saw topics {topics}")
            return found

    def close(self) -> None:
        if self.client is None:
            return
        self.client.disconnect()
        self.client.loop_stop()
        self.client = None
        with Watcher._names_lock:
            Watcher._free_names.append(self.name)
