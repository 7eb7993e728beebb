"""The province collector stores every hall's events once: across its own crash, a database restart and a
broker restart, with real processes (Mosquitto, PostgreSQL, the collector daemon) throughout.
"""

from __future__ import annotations

import signal

import psycopg
import pytest

from provincekit import Publisher, count, outcome, rating, spawn_collector, unique_db, wait_until
from province.records import EventRecord, Refusal, parse
from province.stand_in import BridgedSite, ProvinceBroker

SITES = ["hall-a", "hall-b"]


@pytest.fixture
def province(tmp_path):
    p = ProvinceBroker(tmp_path / "province", SITES).start()
    yield p
    p.stop()


@pytest.fixture
def collectors(province, postgres, tmp_path):
    dsn = unique_db(postgres)
    procs, logs = {}, {}

    def start(device_id: str = "collector-1"):
        logs[device_id] = tmp_path / f"{device_id}.log"
        procs[device_id] = spawn_collector(province, dsn, device_id, logs[device_id])
        return procs[device_id]

    start.dsn = dsn
    start.procs = procs
    start.logs = logs
    yield start
    for p in procs.values():
        if p.poll() is None:
            p.terminate()
            p.wait(10)
    logs = "".join(f.read_text() for f in tmp_path.glob("collector-*.log"))
    assert "Traceback" not in logs, logs[-3000:]


def publisher(province, site: str) -> Publisher:
    return Publisher(province.port, f"site-{site}", province.site_passwords[site], province.ca.cert_path)


def primed(province, collectors, *device_ids: str) -> None:
    """Start collectors and wait until their shared subscriptions take messages."""
    for d in device_ids:
        collectors(d)
    for d in device_ids:
        log = collectors.logs[d]
        wait_until(lambda log=log: "subscribed" in log.read_text(), 30, f"{d} to subscribe")
    pub = publisher(province, "hall-b")
    probe = [rating(900000 + i).to_json() for i in range(len(device_ids) * 4)]
    pub.send("motcua/v1/hall-b/event/rating", probe)
    pub.close()
    wait_until(lambda: count(collectors.dsn) == len(probe), 30, "the collectors to take the probe events")


def test_records_come_from_the_topic_and_bad_payloads_are_refused_with_a_reason():
    ev = outcome(1)
    rec = parse("motcua/v1/hall-a/event/outcome", ev.to_json())
    assert isinstance(rec, EventRecord) and rec.site == "hall-a" and rec.event_id == ev.event_id
    bad = parse("motcua/v1/hall-a/event/rating", b'{"rating_id": "x"}')
    assert isinstance(bad, Refusal) and "RatingEvent" in bad.reason
    assert isinstance(parse("motcua/v1/hall-a/event/gossip", b"{}"), Refusal)
    assert isinstance(parse("elsewhere/x", b"{}"), Refusal)
    assert parse("motcua/v1/hall-a/device/pad-1/availability", b"offline").availability == "offline"


def test_two_collectors_share_the_load_and_one_killed_mid_stream_loses_and_doubles_nothing(province, collectors):
    primed(province, collectors, "collector-1", "collector-2")
    before = count(collectors.dsn)
    events = [outcome(i) for i in range(1500)] + [rating(i) for i in range(1500)]
    killed = []

    def kill_one():
        if not killed and count(collectors.dsn) > before + 300:
            collectors.procs["collector-1"].send_signal(signal.SIGKILL)
            killed.append(collectors.procs["collector-1"].wait(10))

    pub = publisher(province, "hall-a")
    pub.send("motcua/v1/hall-a/event/outcome", [e.to_json() for e in events[:1500]], pause_every=100, pause=kill_one)
    pub.send("motcua/v1/hall-a/event/rating", [e.to_json() for e in events[1500:]], pause_every=100, pause=kill_one)
    pub.close()
    assert killed, "the collector was never killed mid-stream"
    collectors("collector-1")  # systemd restarts it: its session still holds what it had not acknowledged
    wait_until(lambda: count(collectors.dsn) == before + 3000, 60, "every event stored")
    with psycopg.connect(collectors.dsn) as db:
        ids = {r[0] for r in db.execute("SELECT event_id FROM events WHERE site = 'hall-a'")}
        assert ids == {e.event_id for e in events}
        assert db.execute("SELECT count(*) FROM ticket_outcomes WHERE site = 'hall-a'").fetchone()[0] == 1500
        assert db.execute("SELECT count(*) FROM ratings WHERE site = 'hall-a'").fetchone()[0] == 1500
        assert db.execute("SELECT count(DISTINCT ticket_id) FROM ticket_outcomes").fetchone()[0] == 1500


def test_a_database_restart_mid_stream_loses_and_doubles_nothing(province, collectors, postgres):
    primed(province, collectors, "collector-1")
    before = count(collectors.dsn)
    events = [outcome(i) for i in range(2000)]
    stopped = []

    def restart_db():
        if not stopped and count(collectors.dsn) > before + 200:
            postgres.stop("immediate")  # a crash: the server recovers from its WAL
            stopped.append(True)

    pub = publisher(province, "hall-a")
    pub.send("motcua/v1/hall-a/event/outcome", [e.to_json() for e in events], pause_every=100, pause=restart_db)
    assert stopped, "the database was never stopped mid-stream"
    postgres.start()
    pub.close()
    wait_until(lambda: count(collectors.dsn) == before + 2000, 60, "every event stored after the restart")
    assert count(collectors.dsn, "SELECT count(*) FROM ticket_outcomes") == 2000


def test_a_province_broker_restart_loses_and_doubles_nothing_end_to_end(province, collectors, tmp_path):
    """A hall's broker bridged to the province: the province's broker restarts while the hall publishes."""
    primed(province, collectors, "collector-1")
    before = count(collectors.dsn)
    hall = BridgedSite(tmp_path / "hall-a", "hall-a", province).start()
    try:
        hall_pub = hall.broker.client("dispatcher", "dispatcher")
        hall_pub.connect("127.0.0.1", hall.broker.port)
        hall_pub.loop_start()
        events = [rating(i) for i in range(1200)]
        for i, e in enumerate(events):
            hall_pub.publish(hall.topic("event/rating"), e.to_json(), qos=1).wait_for_publish(10)
            if i == 400:
                province.broker.stop()  # SIGTERM: sessions and queues persist; the bridge queues meanwhile
            if i == 700:
                province.broker.start()
        hall_pub.disconnect()
        hall_pub.loop_stop()
        wait_until(lambda: count(collectors.dsn) == before + 1200, 90, "every event across the restart")
        with psycopg.connect(collectors.dsn) as db:
            got = {r[0] for r in db.execute("SELECT rating_id FROM ratings WHERE site = 'hall-a'")}
        assert got == {e.rating_id for e in events}
    finally:
        hall.stop()


def test_a_message_the_database_cannot_hold_is_refused_with_the_reason_and_the_rest_stored(province, collectors):
    primed(province, collectors, "collector-1")
    before = count(collectors.dsn)
    poison = rating(7).model_copy(update={"reasons": ["nul \x00 inside"]})  # valid JSON, but text cannot hold NUL
    pub = publisher(province, "hall-a")
    pub.send("motcua/v1/hall-a/event/rating", [rating(5).to_json(), poison.to_json(), rating(6).to_json()])
    pub.send("motcua/v1/hall-a/event/rating", [b'{"not": "a rating"}', rating(8).to_json()])
    pub.close()
    wait_until(lambda: count(collectors.dsn) == before + 3, 30, "the three good ratings")
    wait_until(lambda: count(collectors.dsn, "SELECT count(*) FROM refused") == 2, 30, "the two refusals")
    with psycopg.connect(collectors.dsn) as db:
        reasons = sorted(r[0] for r in db.execute("SELECT reason FROM refused"))
    assert reasons[0].startswith("RatingEvent:") and "database refused it" in reasons[1]
