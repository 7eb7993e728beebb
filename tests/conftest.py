"""Fixtures: a real Mosquitto with our broker_config, real dispatcher processes, real SQLite files.

Each test gets its own site id, so the retained topics of one test never leak
into another although they share one broker.
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import threading
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from motcua.client import HallClient
from motcua.localbroker import REPO, LocalBroker, spawn_dispatcher

SAMPLE_HALL = REPO / "examples" / "hall.toml"
_sites = itertools.count(1)


@pytest.fixture(scope="session")
def broker(tmp_path_factory) -> LocalBroker:
    b = LocalBroker(tmp_path_factory.mktemp("broker")).start()
    yield b
    b.stop()


@pytest.fixture
def own_broker(tmp_path) -> LocalBroker:
    """A broker of the test's own, for tests that stop or kill it."""
    b = LocalBroker(tmp_path / "broker").start()
    yield b
    b.stop()


def wait_until(predicate, timeout: float = 10.0, what: str = "condition") -> None:
    """Wait for a condition that has no event to wait on (another process's database, a thread's queue)."""
    import time

    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


@pytest.fixture
def site() -> str:
    return f"t{os.getpid()}-{next(_sites)}"


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
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
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


@pytest.fixture
def dispatcher(broker, site, tmp_path) -> DispatcherProcess:
    d = DispatcherProcess(broker, site, tmp_path).start()
    yield d
    d.stop()


@pytest.fixture
def client(broker, site) -> HallClient:
    c = HallClient(site, mqtt=broker.mqtt("tester", "operator"), timeout=5).start()
    yield c
    c.close()


@pytest.fixture
def publisher(broker) -> mqtt.Client:
    """A bare paho client publishing what the dispatcher would (call events, states) or anything hostile."""
    login = broker.mqtt("stand-in-dispatcher", "dispatcher")
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="stand-in-dispatcher", protocol=mqtt.MQTTv5)
    c.username_pw_set("stand-in-dispatcher", login.resolved_password())
    c.connect("127.0.0.1", broker.port)
    c.loop_start()
    yield c
    c.loop_stop()
    c.disconnect()


@pytest.fixture
def watcher_factory(broker):
    made: list[Watcher] = []

    def make(topic_filter: str) -> Watcher:
        w = Watcher(broker, topic_filter)
        made.append(w)
        return w

    yield make
    for w in made:
        w.close()


@pytest.fixture(scope="session")
def postgres():
    """A real PostgreSQL cluster (Debian's initdb/pg_ctl) on a free port; tests make their own databases."""
    from province.localpg import LocalPostgres

    pg = LocalPostgres(settings={"fsync": "off"}).start()  # crash safety of the test cluster is not under test
    yield pg
    pg.destroy()
