"""A hall and its province, end to end, every part a real process or server:

hall dispatcher + hall Mosquitto --bridge--> province Mosquitto --> collector --> PostgreSQL
                                                               --> one-stop adapter <--> fake one-stop server

A citizen's accepted rating reaches the province's database and the one-stop
software exactly once, with its dossier code, through pad retries, a refused
rating, and a one-stop server that fails and times out. Dossier statuses pulled
from the one-stop server reach the hall's kiosk lookup and its board.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import psycopg
import pytest

from daemonkit import DispatcherProcess, Watcher
from counter_display.board.config import BoardSettings
from counter_display.board.service import BoardService
from motcua.client import HallClient
from motcua.protocol import DossierProgress, Rating, new_id, utcnow
from onestop.config import OneStopSettings
from onestop.service import OneStopService
from onestopkit import FakeOneStop, http_settings
from province.stand_in import BridgedSite, ProvinceBroker
from provincekit import count, spawn_collector, unique_db, wait_until

SITE, AGENCY = "hall-a", "H40.12"
AT_KIOSK = "H40.12-260302-0007"  # the citizen's receipt, scanned at the kiosk
LATER = "H40.12-260302-0011"  # another dossier of the hall that changes at the one-stop software


@pytest.fixture
def chain(tmp_path, postgres):
    province = ProvinceBroker(tmp_path / "province", [SITE], readers=("collector-1",)).start()
    hall = BridgedSite(tmp_path / "hall", SITE, province)
    dsn = unique_db(postgres)
    fake = FakeOneStop().start()
    collector = spawn_collector(province, dsn, "collector-1", tmp_path / "collector.log")
    wait_until(lambda: "subscribed" in (tmp_path / "collector.log").read_text(), 30, "the collector to subscribe")
    adapter = OneStopService(OneStopSettings(
        device_id="onestop", mqtt=province.mqtt("onestop"), halls={SITE: AGENCY}, http=http_settings(fake.url),
        state=tmp_path / "onestop.db", poll_interval_s=0.5, push_retry_min_s=0.2, push_retry_max_s=1.0))
    adapter.start()
    assert adapter.mqtt.subscribed.wait(20)
    hall.start()
    dispatcher = DispatcherProcess(hall.broker, SITE, tmp_path).start()
    board = BoardService(BoardSettings(site=SITE, device_id="board-1", mqtt=hall.broker.mqtt("board-1", "board")))
    board.start()
    yield province, hall, dsn, fake, adapter, board
    board.stop()
    dispatcher.stop()
    adapter.stop()
    collector.terminate()
    collector.wait(10)
    hall.stop()
    province.stop()
    fake.stop()
    assert "Traceback" not in (tmp_path / "collector.log").read_text() + dispatcher.log()


def test_a_rating_reaches_the_province_and_the_one_stop_software_once_and_statuses_come_back(chain):
    province, hall, dsn, fake, adapter, board = chain
    b = hall.broker
    fake.put(AT_KIOSK, AGENCY, "CHO_TRA_KET_QUA", procedure="Đăng ký khai sinh")  # result ready for pickup
    fake.fail("rating", "500", "hang")  # the first push errs, the second is recorded but times out

    with HallClient(SITE, mqtt=b.mqtt("kiosk-1", "kiosk"), timeout=10) as kiosk, \
            HallClient(SITE, mqtt=b.mqtt("counter-01", "counter", 1), timeout=10) as keypad, \
            HallClient(SITE, mqtt=b.mqtt("pad-01", "pad", 1), timeout=10) as pad:
        keypad.counter(1, "open", officer="lan.nguyen")
        ticket = kiosk.ticket("TP", dossier_code=AT_KIOSK).ticket
        assert ticket.dossier_code == AT_KIOSK
        assert keypad.counter(1, "next").counter.current.ticket_id == ticket.ticket_id
        keypad.counter(1, "finish")
        rating = Rating(rating_id=new_id(), device_id="pad-01", counter=1, ticket_id=ticket.ticket_id,
                        level="very_satisfied", rated_at=utcnow())
        assert pad.rate(rating).ok
        assert pad.rate(rating).duplicate  # the pad did not hear the first acknowledgement: counted once
        refused = rating.model_copy(update={"rating_id": new_id(), "level": "unsatisfied"})
        assert not pad.rate(refused).ok  # a second rating of the same ticket: refused, goes nowhere

        # the province's database: the accepted rating, once, with the dossier code and the dispatcher's record
        wait_until(lambda: count(dsn, "SELECT count(*) FROM ratings") == 1, 30, "the rating at the province")
        wait_until(lambda: count(dsn, "SELECT count(*) FROM ticket_outcomes") == 1, 30, "the ticket's outcome")
        with psycopg.connect(dsn) as db:
            row = db.execute("SELECT site, rating_id, dossier_code, officer, area, level FROM ratings").fetchone()
            outcome = db.execute("SELECT outcome, dossier_code, officer FROM ticket_outcomes").fetchone()
        assert row == (SITE, rating.rating_id, AT_KIOSK, "lan.nguyen", "TP", "very_satisfied")
        assert outcome == ("done", AT_KIOSK, "lan.nguyen")

        # the one-stop software: once, under its idempotency key, after an error and a timeout
        key = f"{SITE}:{rating.rating_id}"
        wait_until(lambda: adapter.pushes_done == 1, 30, "the push to get through")
        assert sum(1 for method, _ in fake.requests if method == "POST") == 3  # 500, too late, then heard
        assert list(fake.ratings) == [key]
        assert fake.ratings[key]["maHoSo"] == AT_KIOSK and fake.ratings[key]["mucDo"] == 3
        assert set(fake.rating_posts) == {key}

        # the dossier's status, pulled by its code, reaches the kiosk's lookup and the board's pickup list
        wait_until(lambda: kiosk.lookup(AT_KIOSK).found, 30, "the status at the hall's dispatcher")
        answer = kiosk.lookup(AT_KIOSK)
        assert answer.record.status == "ready" and answer.record.ready_for_pickup
        wait_until(lambda: AT_KIOSK in board.model.ready, 10, "the board's ready-for-pickup list")

        # a dossier that changes later at the one-stop software comes down on the next pull
        progress = Watcher(b, f"motcua/v1/{SITE}/dossier/progress")
        fake.put(LATER, AGENCY, "CHO_TRA_KET_QUA", procedure="Chứng thực bản sao")
        wait_until(lambda: LATER in board.model.ready, 30, "the later dossier on the board")
        assert kiosk.lookup(LATER).record.procedure == "Chứng thực bản sao"

        def done_today(m) -> int:
            today = DossierProgress.model_validate_json(m.payload).groups[0].today
            return today.done_on_time + today.done_late

        msg = progress.wait_for(lambda m: done_today(m) == 2, 30)  # both results ready, the appointments passed
        summary = DossierProgress.model_validate_json(msg.payload)
        assert summary.group_by == "agency" and summary.groups[0].agency_codes == [AGENCY]
        assert summary.groups[0].today.done_late == 2 and summary.groups[0].month.received == 2
        progress.close()

    with psycopg.connect(dsn) as db:  # nothing doubled on the way
        assert db.execute("SELECT count(*) FROM ratings").fetchone()[0] == 1
    assert len(fake.ratings) == 1

    # what the province's technician reads
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOTCUA_")}
    status = subprocess.run([sys.executable, "-m", "motcua.cli", "province", "status", "--day", str(ticket.day)], capture_output=True,
                            text=True, env={**env, "MOTCUA_DEVICE_ID": "collector-1", "MOTCUA_DATABASE__DSN": dsn},
                            timeout=60)
    assert status.returncode == 0, status.stderr
    line = next(x for x in status.stdout.splitlines() if x.startswith(SITE))
    assert line.split()[1] == "online" and line.split()[-1] == "100.0%"
    up, boxes = map(int, line.split()[2].split("/"))
    assert boxes >= 2 and up >= 1  # the dispatcher and the board, as their availability said
    outbox = subprocess.run([sys.executable, "-m", "motcua.cli", "onestop", "outbox"], capture_output=True, text=True,
                            env={**env, "MOTCUA_DEVICE_ID": "onestop", "MOTCUA_HALLS": json.dumps({SITE: AGENCY}),
                                 "MOTCUA_STATE": str(adapter.settings.state)}, timeout=60)
    assert outbox.returncode == 0 and "pushed 1" in outbox.stdout, outbox.stdout + outbox.stderr
