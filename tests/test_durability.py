"""Numbers survive restarts and power cuts; the hall survives a broker restart."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest

from motcua.client import HallClient
from motcua.protocol import CounterState, new_id
from motcua.runtime import Offline, RequestTimeout

from daemonkit import DispatcherProcess, Watcher


def issued_numbers(database) -> list[str]:
    db = sqlite3.connect(database)
    try:
        return [r[0] for r in db.execute("SELECT number FROM tickets ORDER BY number")]
    finally:
        db.close()


def test_numbering_continues_across_a_restart(broker, site, tmp_path, client):
    d = DispatcherProcess(broker, site, tmp_path).start()
    try:
        first = [client.ticket("TP").ticket.number for _ in range(5)]
        assert d.stop() == 0  # SIGTERM: a clean stop
        d.start()
        second = [client.ticket("TP").ticket.number for _ in range(5)]
    finally:
        d.stop()
    assert first + second == [f"A{n}" for n in range(1001, 1011)]


def ticket_with_retries(client: HallClient, area: str, command_id: str, deadline: float):
    """What a kiosk does: same command id until it gets an answer."""
    while time.monotonic() < deadline:
        try:
            return client.ticket(area, command_id=command_id, timeout=1.0)
        except (RequestTimeout, Offline):
            continue
    raise AssertionError(f"no answer for {command_id}")


def test_sigkill_in_the_middle_of_a_burst_loses_and_duplicates_nothing(broker, site, tmp_path):
    # a burst far beyond what a kiosk may ask in real life: lift its rate limit for this test
    d = DispatcherProcess(broker, site, tmp_path, MOTCUA_HALL__LIMITS__TICKET_ISSUE__BURST="1000").start()
    kiosks, per_kiosk = 4, 50
    answers: dict[str, str] = {}
    lock = threading.Lock()
    replies = threading.Semaphore(0)
    deadline = time.monotonic() + 90

    def kiosk(k: int) -> None:
        with HallClient(site, mqtt=broker.mqtt(f"kiosk-{k}", "kiosk")) as c:
            for i in range(per_kiosk):
                cid = f"kiosk{k}-request-{i:04d}"
                r = ticket_with_retries(c, "TP", cid, deadline)
                assert r.ok, r.error
                with lock:
                    answers[cid] = r.ticket.number
                replies.release()

    threads = [threading.Thread(target=kiosk, args=(k,)) for k in range(kiosks)]
    for t in threads:
        t.start()
    try:
        for _ in range(60):  # wait until the burst is well under way
            assert replies.acquire(timeout=30)
        d.kill()  # power cut: no clean shutdown, no goodbye
        d.start()
        for t in threads:
            t.join(timeout=120)
        assert not any(t.is_alive() for t in threads)
    finally:
        d.stop()

    total = kiosks * per_kiosk
    assert len(answers) == total
    numbers = sorted(answers.values())
    assert len(set(numbers)) == total, "a number was issued twice"
    assert numbers == [f"A{n}" for n in range(1001, 1001 + total)], "a number was skipped"
    assert issued_numbers(d.database) == numbers  # and nothing was issued that nobody holds


@pytest.mark.parametrize("how", ["restart", "kill"])
def test_broker_restart(own_broker, site, tmp_path, how):
    d = DispatcherProcess(own_broker, site, tmp_path).start()
    try:
        with HallClient(site, mqtt=own_broker.mqtt("tester", "operator")) as c:
            c.ticket("TP")
            c.counter(1, "open", officer="lan.nguyen")
            assert c.counter(1, "next").counter.current.number == "A1001"

        if how == "kill":
            own_broker.kill()  # a crashed broker forgets retained messages it had not saved
            own_broker.start()
        else:
            own_broker.restart()
        t0 = time.monotonic()
        online = Watcher(own_broker, f"motcua/v1/{site}/device/dispatcher/availability")
        online.wait_for(lambda m: m.payload == b"online", timeout=10)
        reconnect_s = time.monotonic() - t0
        online.close()
        assert reconnect_s < 5, f"dispatcher took {reconnect_s:.1f} s to come back"

        states = Watcher(own_broker, f"motcua/v1/{site}/counter/1/state")
        s = CounterState.model_validate_json(states.wait_for(lambda m: True, timeout=10).payload)
        states.close()
        assert s.status == "open" and s.current.number == "A1001"

        with HallClient(site, mqtt=own_broker.mqtt("tester", "operator")) as c:
            assert c.ticket("TP", command_id=new_id()).ticket.number == "A1002"
    finally:
        d.stop()
