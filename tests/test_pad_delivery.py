"""No rating lost, none counted twice: real Mosquitto, real dispatcher, pads restarted mid-outage."""

from __future__ import annotations

import os
import sqlite3

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

from motcua.client import HallClient  # noqa: E402
from motcua.protocol import Health, RatingAck  # noqa: E402
from satisfaction_pad.config import PadSettings  # noqa: E402
from satisfaction_pad.service import PadService  # noqa: E402

from daemonkit import DispatcherProcess, Watcher, wait_until  # noqa: E402


def pad(broker, site, tmp_path, counter: int) -> PadService:
    settings = PadSettings(site=site, device_id=f"pad-{counter}", counter=counter, debounce_ms=0,
                           outbox=tmp_path / f"pad-{counter}.db", retry_s=[0.2, 0.5],
                           mqtt=broker.mqtt(f"pad-{counter}", "pad", counter), health_interval_s=1)
    service = PadService(settings)
    service.start()
    return service


def ratings_in(database) -> list[tuple]:
    db = sqlite3.connect(database)
    try:
        return db.execute("SELECT rating_id, counter, level, reasons, officer FROM ratings ORDER BY counter").fetchall()
    finally:
        db.close()


def test_ratings_made_offline_survive_a_pad_restart_and_count_once(own_broker, site, tmp_path):
    d = DispatcherProcess(own_broker, site, tmp_path).start()
    pads = {n: pad(own_broker, site, tmp_path, n) for n in (1, 2)}
    try:
        with HallClient(site, mqtt=own_broker.mqtt("tester", "operator")) as c:
            c.ticket("TP"), c.ticket("TP")
            c.counter(1, "open", officer="lan.nguyen"), c.counter(2, "open", officer="minh.tran")
            c.counter(1, "next"), c.counter(2, "next")
            served_at_1 = c.counter(1, "finish").counter.rating_window.ticket_id
            c.counter(2, "finish")
        for p in pads.values():
            wait_until(lambda p=p: p.view.screen == "rating", what="the rating screen")

        own_broker.stop()  # the hall's network goes down while two citizens rate
        pads[1].tap("level:very_satisfied")
        pads[2].tap("level:unsatisfied")
        pads[2].tap("reason:long_wait")
        pads[2].tap("send")
        assert pads[1].view.screen == pads[2].view.screen == "thanks"
        waiting = {n: p.outbox.pending() for n, p in pads.items()}
        assert all(len(w) == 1 for w in waiting.values())

        for n in (1, 2):  # the pads reboot while their ratings wait
            pads[n].stop()
            pads[n] = pad(own_broker, site, tmp_path, n)
        assert all(p.outbox.size() == 1 for p in pads.values())

        own_broker.start()
        for p in pads.values():
            wait_until(lambda p=p: p.outbox.size() == 0, timeout=20, what="the outbox to drain")
        rows = ratings_in(d.database)
        assert [(r[0], r[1], r[2]) for r in rows] == [
            (waiting[1][0].rating_id, 1, "very_satisfied"), (waiting[2][0].rating_id, 2, "unsatisfied")]
        assert rows[1][3] == '["long_wait"]' and rows[0][4] == "lan.nguyen"

        def send(pad_service, rating):  # through the pad's own connection: only it may rate its counter
            topic = pad_service.topics.counter_rating(rating.counter, pad_service.runtime.login)
            return pad_service.runtime.request(topic, rating, RatingAck, timeout=5)

        again = send(pads[1], waiting[1][0])  # a duplicate sent on purpose
        assert again.ok and again.duplicate
        other = waiting[1][0].model_copy(update={"rating_id": "someone-else-0001", "counter": 2})
        refused = send(pads[2], other)  # counter 2's pad rating counter 1's citizen
        assert not refused.ok and refused.error.code == "not_allowed"
        assert served_at_1 in other.ticket_id
        assert len(ratings_in(d.database)) == 2

        health = Watcher(own_broker, f"motcua/v1/{site}/device/pad-1/health")
        # periodic and retained: the outbox shows in it, and empties once delivered
        h = Health.model_validate_json(health.wait_for(lambda m: b"0 pending" in m.payload).payload)
        health.close()
        assert h.role == "satisfaction_pad" and h.status == "ok" and h.checks["screen"] == "ok"
    finally:
        for p in pads.values():
            p.stop()
        d.stop()
