"""The dispatcher's own rules about senders, time and disk, on a real SQLite file with a hand-moved clock:
rate limits per login, ratings only in their window and on their day, sent_at near the hall's clock,
retention that keeps every kept day's figures exact, and the forward migration from the first schema."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from dispatcher.store import SCHEMA_VERSION, SchemaError, Store
from hallfactory import HallDriver, make_settings
from motcua.protocol import CallNext, new_id

DATA = Path(__file__).parent / "data"


@pytest.fixture
def h(tmp_path):
    d = HallDriver(tmp_path / "hall.db")
    yield d
    d.close()


def fake_monotonic(h: HallDriver) -> list[float]:
    now = [1000.0]
    h.hall.monotonic = lambda: now[0]
    return now


def test_a_kiosk_gets_its_burst_then_one_ticket_per_refill(h):
    now = fake_monotonic(h)
    codes = [(h.issue("TP").reply.error or type("ok", (), {"code": "ok"})).code for _ in range(25)]
    assert codes == ["ok"] * 20 + ["rate_limited"] * 5
    refused = h.issue("TP").reply.error
    assert "try again in 5 s" in refused.message
    assert h.hall.issue_ticket(h.issue_request("TP", device_id="kiosk-2"), sender="kiosk-2").reply.ok  # per login
    now[0] += 5.0  # 12 a minute: one more every 5 s
    assert h.issue("TP").reply.ok
    assert h.issue("TP").reply.error.code == "rate_limited"
    # nothing of the refused requests is stored; each retry is judged afresh
    assert h.store.scalar("SELECT COUNT(*) FROM commands WHERE reply LIKE '%rate_limited%'") == 0


def test_a_retry_of_an_applied_request_is_answered_even_when_limited(h):
    fake_monotonic(h)
    first = h.issue("TP", command_id="kiosk-retry-0001")
    for _ in range(30):
        h.issue("TP")
    again = h.issue("TP", command_id="kiosk-retry-0001")
    assert again.replayed and again.reply.ticket == first.reply.ticket


def test_another_login_cannot_replay_a_command_id(h):
    h.issue("TP", command_id="shared-id-0001")
    other = h.hall.issue_ticket(h.issue_request("TP", command_id="shared-id-0001", device_id="kiosk-2"),
                                sender="kiosk-2")
    assert other.reply.error.code == "id_reused"


def test_sent_at_far_from_the_halls_clock_is_refused(h):
    h.open(1)
    for skew in (timedelta(days=-20000), timedelta(days=30000), timedelta(days=2)):
        cmd = CallNext(command_id=new_id(), sent_at=h.clock() + skew)
        out = h.hall.counter_command(1, "next", cmd, sender="keypad-1")
        assert out.reply.error.code == "bad_payload" and "clock" in out.reply.error.message
    near = CallNext(command_id=new_id(), sent_at=h.clock() - timedelta(minutes=3))
    assert h.hall.counter_command(1, "next", near, sender="keypad-1").reply.error.code == "empty"


def served(h: HallDriver, counter: int = 1) -> str:
    h.open(counter)
    ticket = h.ticket("TP")
    h.next(counter)
    assert h.cmd(counter, "finish").reply.ok
    return ticket.ticket_id


def test_a_rating_counts_only_inside_its_window(h):
    tid = served(h)
    h.clock.advance(minutes=10)  # long after the 30 s window
    out = h.rate(1, tid)  # rated_at = now: outside the window
    assert out.reply.error.code == "not_allowed" and "rating window" in out.reply.error.message
    late = h.rating(1, tid).model_copy(update={"rated_at": h.clock() - timedelta(minutes=9, seconds=50)})
    assert h.hall.rate(1, late, sender="pad-1").reply.ok  # pressed in the window, delivered late the same day


def test_a_rating_for_another_day_or_from_the_future_is_refused(h):
    tid = served(h)
    future = h.rating(1, tid).model_copy(update={"rated_at": h.clock() + timedelta(days=365 * 70)})
    assert h.hall.rate(1, future, sender="pad-1").reply.error.code == "bad_payload"
    pressed = h.rating(1, tid)
    h.clock.advance(days=8)  # a pad's outbox may deliver late (a long weekend), not weeks later
    out = h.hall.rate(1, pressed, sender="pad-1")
    assert out.reply.error.code == "not_allowed" and "too long ago" in out.reply.error.message
    assert h.store.scalar("SELECT COUNT(*) FROM ratings") == 0


def test_the_pad_recorded_is_the_login(h):
    tid = served(h)
    assert h.hall.rate(1, h.rating(1, tid), sender="pad-1").reply.ok
    assert h.store.scalar("SELECT pad_id FROM ratings") == "pad-1"


def test_retention_prunes_by_age_and_keeps_the_figures_of_kept_days_exact(tmp_path):
    settings = make_settings(retention={"tickets_days": 40, "ratings_days": 40, "commands_days": 2,
                                        "refused_commands_s": 60, "prune_every_s": 10})
    h = HallDriver(tmp_path / "hall.db", settings)
    h.hall.monotonic = lambda: h.clock().timestamp()  # a day between bursts: the limits refill
    try:
        first_day = h.clock()
        for day in range(60):
            tid = served(h)
            assert h.rate(1, tid).reply.ok
            h.issue("ZZ")  # refused: unknown area, stored only for a retry's time
            h.cmd(1, "close")
            if day == 59:
                break
            h.clock.advance(days=1)
            h.hall.tick()
        figures = h.hall.hall_figures()
        h.clock.advance(seconds=30)
        h.hall.prune(h.clock())  # the daily ticks pruned already; nothing of the kept days goes now
        assert 40 <= h.store.scalar("SELECT COUNT(*) FROM tickets") <= 41
        assert 40 <= h.store.scalar("SELECT COUNT(*) FROM ratings") <= 41
        assert h.hall.hall_figures().model_dump(exclude={"updated_at"}) == figures.model_dump(exclude={"updated_at"})
        oldest = h.store.scalar("SELECT MIN(day) FROM tickets")
        assert oldest > (first_day + timedelta(days=15)).date().isoformat()
        h.clock.advance(minutes=5)
        h.hall.prune(h.clock())
        assert h.store.scalar("SELECT COUNT(*) FROM commands WHERE ok = 0") == 0
        assert h.store.scalar("SELECT COUNT(*) FROM commands") <= 3 * 6  # two days of a handful of commands
    finally:
        h.close()


def test_the_first_shipped_schema_migrates_forward_keeping_everything(tmp_path):
    path = tmp_path / "old.db"
    old = sqlite3.connect(path)
    old.executescript((DATA / "dispatcher_schema_v1.sql").read_text())
    old.execute("INSERT INTO commands VALUES ('cmd-old-0001', 'ticket.issue', 'd', '{}', '2026-01-02T01:00:00+00:00')")
    old.execute("INSERT INTO outbox(topic, payload) VALUES ('motcua/v1/s/event/call', x'7b7d')")
    old.execute("INSERT INTO meta VALUES ('day', '2026-01-02')")
    old.commit()
    assert old.execute("PRAGMA user_version").fetchone() == (0,)
    old.close()

    store = Store(path)
    try:
        assert store.version == SCHEMA_VERSION == 4
        assert store.one("SELECT COUNT(tracking_token) FROM tickets")[0] == 0  # 3: the queue page's token
        indexes = {r[0] for r in store.all("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert {"tickets_called", "tickets_issued", "tickets_directed", "tickets_priority"} <= indexes  # 4
        assert store.one("SELECT command_id, ok FROM commands")[:] == ("cmd-old-0001", 1)
        assert store.one("SELECT topic, enqueued_at FROM outbox")[:] == ("motcua/v1/s/event/call", None)
        assert store.meta("day") == "2026-01-02"
    finally:
        store.close()
    Store(path).close()  # opening again changes nothing


def test_a_database_from_a_newer_motcua_is_refused(tmp_path):
    path = tmp_path / "new.db"
    Store(path).close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.commit()
    db.close()
    with pytest.raises(SchemaError, match="newer motcua"):
        Store(path)
