"""A small hall for tests: settings built in Python, a hand-driven clock, and a driver.

The hall: areas TP (prefix A, 1001-1999) and DD (prefix B, 2001-2999);
counters 1 serves [TP], 2 serves [TP, DD], 3 serves [DD]; three officers; the
default priority categories; numbers reset at 04:00 in Asia/Ho_Chi_Minh.
The clock starts on Wednesday 2024-05-15, 09:00 local (02:00 UTC).
"""

from __future__ import annotations

import json
from datetime import datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from dispatcher.config import AreaConfig, CounterConfig, HallSettings, OfficerConfig, QueueRules
from dispatcher.hall import Hall, Outcome
from dispatcher.store import Store
from motcua.protocol import (
    COUNTER_ACTIONS,
    CallEvent,
    DossierLookup,
    Rating,
    TicketCancel,
    TicketEvent,
    TicketRequest,
    Topics,
    new_id,
)

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
SITE = "test"
START = datetime(2024, 5, 15, 9, 0, tzinfo=TZ)  # a Wednesday


def local(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    """An aware datetime in the hall's time zone."""
    return datetime(y, mo, d, h, mi, s, tzinfo=TZ)


class Clock:
    """A clock the test moves by hand; always returns an aware datetime."""

    def __init__(self, start: datetime = START):
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now = self.now + timedelta(**delta)
        return self.now

    def set(self, when: datetime) -> datetime:
        self.now = when
        return self.now


def make_settings(*, rules: dict[str, Any] | None = None, **overrides: Any) -> HallSettings:
    """The test hall; ``rules`` overrides single queue rules, other keywords override hall fields."""
    fields: dict[str, Any] = dict(
        name="Trung tâm Phục vụ hành chính công thử nghiệm",
        timezone="Asia/Ho_Chi_Minh",
        reset_time=time(4, 0),
        areas=[
            AreaConfig(code="TP", name="Tư pháp - hộ tịch", prefix="A", first_number=1001, last_number=1999),
            AreaConfig(code="DD", name="Đất đai", prefix="B", first_number=2001, last_number=2999),
        ],
        counters=[
            CounterConfig(number=1, areas=["TP"]),
            CounterConfig(number=2, name="Quầy hai", areas=["TP", "DD"]),
            CounterConfig(number=3, areas=["DD"]),
        ],
        officers=[
            OfficerConfig(id="lan", name="Nguyễn Thị Lan"),
            OfficerConfig(id="minh", name="Trần Văn Minh"),
            OfficerConfig(id="hoa", name="Lê Thị Hoa"),
        ],
    )
    fields.update(overrides)
    fields["rules"] = QueueRules(**(rules or {}))
    return HallSettings(**fields)


class HallDriver:
    """A Hall on a real SQLite file, with short-hand commands and decoded outbox events."""

    def __init__(self, db_path: Path, settings: HallSettings | None = None, clock: Clock | None = None):
        self.db_path = Path(db_path)
        self.settings = settings or make_settings()
        self.clock = clock or Clock()
        self.topics = Topics(SITE)
        self.store = Store(self.db_path)
        self.hall = Hall(self.settings, self.store, self.topics, clock=self.clock)

    # ------------------------------------------------------------------ lifecycle

    def reopen(self, settings: HallSettings | None = None) -> HallDriver:
        """Close the store and start a new Hall on the same file (a restart)."""
        self.store.close()
        if settings is not None:
            self.settings = settings
        self.store = Store(self.db_path)
        self.hall = Hall(self.settings, self.store, self.topics, clock=self.clock)
        return self

    def close(self) -> None:
        self.store.close()

    # ------------------------------------------------------------------ commands

    def issue_request(self, area: str = "TP", priority: str | None = None, command_id: str | None = None,
                      device_id: str = "kiosk-1") -> TicketRequest:
        return TicketRequest(command_id=command_id or new_id(), device_id=device_id, area=area, priority=priority)

    def issue(self, area: str = "TP", priority: str | None = None, command_id: str | None = None,
              sender: str = "kiosk-1") -> Outcome:
        return self.hall.issue_ticket(self.issue_request(area, priority, command_id, sender), sender=sender)

    def ticket(self, area: str = "TP", priority: str | None = None):
        """Issue and return the ticket, insisting that it was issued."""
        out = self.issue(area, priority)
        assert out.reply.ok, out.reply.error
        return out.reply.ticket

    def cancel(self, ticket_id: str, reason: str = "printer jam", command_id: str | None = None,
               device_id: str = "kiosk-1") -> Outcome:
        return self.hall.cancel_ticket(TicketCancel(command_id=command_id or new_id(), device_id=device_id,
                                                    ticket_id=ticket_id, reason=reason), sender=device_id)

    def cmd(self, counter: int, action: str, command_id: str | None = None, **fields: Any) -> Outcome:
        model = COUNTER_ACTIONS[action]
        message = model(command_id=command_id or new_id(), device_id=f"keypad-{counter}", **fields)
        return self.hall.counter_command(counter, action, message, sender=f"keypad-{counter}")

    def open(self, counter: int, officer: str | None = None) -> Outcome:
        officer = officer or {1: "lan", 2: "minh", 3: "hoa"}.get(counter, "lan")
        out = self.cmd(counter, "open", officer=officer)
        assert out.reply.ok, out.reply.error
        return out

    def next(self, counter: int) -> Outcome:
        return self.cmd(counter, "next")

    def called(self, counter: int) -> str | None:
        """Press next and return the number called (None if the queue was empty)."""
        out = self.next(counter)
        if not out.reply.ok:
            assert out.reply.error.code == "empty", out.reply.error
            return None
        return out.reply.counter.current.number

    def rating(self, counter: int, ticket_id: str | None, rating_id: str | None = None,
               level: str = "satisfied", body_counter: int | None = None) -> Rating:
        return Rating(rating_id=rating_id or new_id(), device_id=f"pad-{counter}",
                      counter=body_counter if body_counter is not None else counter, ticket_id=ticket_id,
                      level=level, rated_at=self.clock())

    def rate(self, counter: int, ticket_id: str | None, **kw: Any) -> Outcome:
        body_counter = kw.pop("body_counter", None)
        return self.hall.rate(counter, self.rating(counter, ticket_id, body_counter=body_counter, **kw),
                              sender=f"pad-{counter}")

    def lookup(self, code: str) -> Any:
        return self.hall.lookup_dossier(DossierLookup(command_id=new_id(), device_id="kiosk-1", code=code),
                                        sender="kiosk-1")

    # ------------------------------------------------------------------ observation

    def outbox(self) -> list[tuple[str, dict]]:
        return [(r["topic"], json.loads(r["payload"])) for r in self.store.outbox()]

    def events(self, kind: str | None = None) -> list[TicketEvent]:
        evs = [TicketEvent.model_validate_json(r["payload"]) for r in self.store.outbox()
               if r["topic"] == self.topics.ticket_event]
        return [e for e in evs if kind is None or e.kind == kind]

    def calls(self) -> list[CallEvent]:
        return [CallEvent.model_validate_json(r["payload"]) for r in self.store.outbox()
                if r["topic"] == self.topics.call_event]

    def drain(self) -> None:
        """Forget the events so far, as if the broker had them."""
        self.store.delivered([r["id"] for r in self.store.outbox()])

    def row_count(self, table: str) -> int:
        return self.store.scalar(f"SELECT COUNT(*) FROM {table}")  # noqa: S608 - test helper


def utc(dt: datetime) -> datetime:
    return dt.astimezone(timezone.utc)
