"""Fixtures: a real Mosquitto with our broker_config, real dispatcher processes, real SQLite files.

Each test gets its own site id, so the retained topics of one test never leak
into another although they share one broker.
"""

from __future__ import annotations

import itertools
import os

import paho.mqtt.client as mqtt
import pytest

from motcua.client import HallClient
from daemonkit import DispatcherProcess, Watcher
from motcua.localbroker import LocalBroker

# the kiosk's and the pad's touch sounds, and the announcer, play into SDL's silent driver unless a test asks
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
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


@pytest.fixture
def site() -> str:
    return f"t{os.getpid()}-{next(_sites)}"


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
