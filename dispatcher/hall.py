"""The hall: numbers, counters, calls, transfers, ratings, dossiers, applied to the store.

The parts, each telling one story: the queue rules as pure functions
(:mod:`dispatcher.rules`), every SQL statement behind typed methods
(:mod:`dispatcher.store`), the retained views (:mod:`dispatcher.views`), the
wait estimates (:mod:`dispatcher.estimates`). This module joins them, with no
threads and no sockets: every
public method takes a validated message, applies it in one transaction and
returns an :class:`Outcome` — the reply, and which retained states changed.
Events (calls, ticket lifecycle) are written to the store's outbox in the
same transaction, so they are published even if the process dies right after
the commit.

Idempotency: every command and request is recorded with its reply under its
id; the same id again returns the stored reply and changes nothing.

Identity: every public method takes ``sender``, the login the broker bound to
the request's topic. It is what a ticket records as its kiosk and a rating as
its pad, what a cancel is checked against, and what the rate limits count;
body fields naming a device are never consulted.

Commands and their reply types come from one table, :data:`COMMANDS`.
"""

from __future__ import annotations

import hashlib
import logging
import math
import sqlite3
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

from motcua.protocol import (
    AreaSummary,
    CallEvent,
    CounterCommand,
    CounterReply,
    CounterState,
    DispatcherState,
    DossierLookup,
    DossierReply,
    DossierStatusUpdate,
    ErrorInfo,
    HallConfig,
    HallFigures,
    Message,
    Rating,
    RatingAck,
    RatingEvent,
    Reply,
    TicketCancel,
    TicketEvent,
    TicketOutcome,
    TicketReply,
    TicketRequest,
    Topics,
)
from motcua.protocol import messages as m

from . import rules
from .config import CounterConfig, HallSettings
from .estimates import Estimates
from .limits import TokenBuckets
from .rules import EmptyQueue, Refusal
from .store import Store, iso, parse_dt
from .views import Views

log = logging.getLogger("dispatcher.hall")

__all__ = ["COMMANDS", "Hall", "Outcome", "Refusal", "reply_type"]

Row = sqlite3.Row


@dataclass
class Outcome:
    reply: Reply
    counters: set[int] = field(default_factory=set)
    areas: set[str] = field(default_factory=set)
    replayed: bool = False


def utc(dt: datetime) -> datetime:
    return dt.astimezone(timezone.utc)


CounterHandler = Callable[["Hall", CounterConfig, Any, datetime, Outcome], None]


class Hall:
    def __init__(self, settings: HallSettings, store: Store, topics: Topics,
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
                 monotonic: Callable[[], float] = time.monotonic):
        self.cfg = settings
        self.limits = TokenBuckets(settings.limits)
        self.monotonic = monotonic
        self._pruned_at: datetime | None = None
        self.rules = settings.rules
        self.store = store
        self.topics = topics
        self.clock = clock
        self.areas = {a.code: a for a in settings.areas}
        self.counters = {c.number: c for c in settings.counters}
        self.officers = {o.id: o.name for o in settings.officers}
        self.categories = {c.code for c in settings.priority_categories}
        self.estimates = Estimates(store, settings.rules, self.counters)
        self.views = Views(settings, store, topics, self.estimates, self.service_day, clock)
        self.started_at = clock()
        self.touched: set[str] = set()  # tickets whose state changed: their citizens' pages follow
        with store.transaction():
            for number in self.counters:
                store.ensure_counter(number, self.started_at)
            self._roll_day(self.clock())

    # ================================================================== time

    def service_day(self, now: datetime) -> date:
        """The day numbers belong to: the local date, shifted back before the reset time."""
        return rules.service_day(now, self.cfg.tz, self.cfg.reset_time)

    def _today(self) -> str:
        return self.store.meta("day") or self.service_day(self.clock()).isoformat()

    def _roll_day(self, now: datetime) -> bool:
        """Start a new service day if the reset time has passed: yesterday's queue expires."""
        today = self.service_day(now).isoformat()
        if self.store.meta("day") == today:
            return False
        stale = self.store.unfinished_before(today)
        for ticket_id in stale:  # the central system hears the end of every ticket's life, this one too
            self.store.expire_ticket(ticket_id)
            self._event("expired", self._ticket(ticket_id), now, detail="not served before the daily reset")
        self.store.reset_counters(now)
        self.store.set_meta("day", today)
        log.info("service day %s begins (%d tickets of earlier days expired)", today, len(stale))
        return True

    def tick(self) -> Outcome:
        """Periodic upkeep: day rollover, closing rating windows that timed out."""
        now = self.clock()
        out = Outcome(Reply(command_id="tick", ok=True))
        with self.store.transaction():
            if self._roll_day(now):
                out.counters |= set(self.counters)
                out.areas |= set(self.areas)
            for number in self.store.rating_windows_due(now):
                self.store.close_rating_window(number, now)
                if number in self.counters:  # no retained state for a counter the settings dropped
                    out.counters.add(number)
        if self._pruned_at is None or now - self._pruned_at >= timedelta(seconds=self.cfg.retention.prune_every_s):
            self._pruned_at = now
            self.prune(now)
        return out

    def prune(self, now: datetime) -> dict[str, int]:
        """Forget what no one needs any more, by age (settings ``hall.retention``).

        Tickets and ratings stay long enough for the yearly report; a day is only ever pruned as a
        whole and long after it ended, so the figures of every kept day stay exact. Commands are
        kept as long as a retry could repeat them; refused ones, which changed nothing, even less.
        """
        r = self.cfg.retention
        today = self.service_day(now)
        with self.store.transaction():
            removed = self.store.prune(
                commands_before=now - timedelta(days=r.commands_days),
                refused_before=now - timedelta(seconds=r.refused_commands_s),
                ratings_before=now - timedelta(days=r.ratings_days),
                oldest_day=(today - timedelta(days=r.tickets_days)).isoformat(),
                dossiers_before=now - timedelta(days=r.dossiers_days),
                events_before=now - timedelta(days=r.events_days))
        if any(removed.values()):
            log.info("retention: removed %s", ", ".join(f"{n} {k}" for k, n in removed.items() if n))
        return removed

    # ================================================================== idempotency

    def _check_sent_at(self, message: Message, now: datetime) -> None:
        sent_at = getattr(message, "sent_at", None)
        skew = self.cfg.clock_skew_max_s
        if sent_at is not None and abs((sent_at - now).total_seconds()) > skew:
            raise Refusal("bad_payload", f"sent_at {sent_at.isoformat()} is more than {skew} s from the hall's "
                                         f"clock ({iso(now)}): check the box's time")

    def _limited(self, limit: str | None, sender: str, command_id: str, kind: str) -> Outcome | None:
        if limit is None:
            return None
        wait = self.limits.take(limit, sender, self.monotonic())
        if wait is None:
            return None
        log.warning("rate limit: %s from %s refused (%s), next allowed in %.0f s", kind, sender, limit, wait)
        return Outcome(reply_type(kind)(command_id=command_id, ok=False, error=ErrorInfo(
            code="rate_limited", message=f"too many requests from {sender}: try again in {math.ceil(wait)} s")))

    def _apply(self, kind: str, message: Message, command_id: str,
               action: Callable[[datetime, Outcome], Reply], *, sender: str, limit: str | None = None) -> Outcome:
        """Apply once per command id. A rate-limited or early-refused request is answered without a row:
        nothing of it is kept, and its retry is judged afresh."""
        body = message.model_dump_json(exclude={"sent_at"}).encode()
        digest = hashlib.sha256(kind.encode() + b"\0" + sender.encode() + b"\0" + body).hexdigest()
        with self.store.transaction():
            seen = self.store.command(command_id)
            if seen is not None:
                if seen["kind"] != kind or seen["digest"] != digest:
                    reply = Reply(command_id=command_id, ok=False, error=ErrorInfo(
                        code="id_reused", message="this command id was already used for a different command"))
                    return Outcome(reply)
                return Outcome(reply=reply_type(kind).model_validate_json(seen["reply"]), replayed=True)
            limited = self._limited(limit, sender, command_id, kind)
            if limited is not None:
                return limited
            now = self.clock()
            try:
                self._check_sent_at(message, now)
            except Refusal as r:
                return Outcome(reply_type(kind)(command_id=command_id, ok=False,
                                                error=ErrorInfo(code=r.code, message=str(r))))
            out = Outcome(Reply(command_id=command_id, ok=True))
            if self._roll_day(now):
                out.counters |= set(self.counters)
                out.areas |= set(self.areas)
            try:
                out.reply = action(now, out)
            except Refusal as r:
                out.reply = reply_type(kind)(command_id=command_id, ok=False,
                                             error=ErrorInfo(code=r.code, message=str(r)))
            self.store.record_command(command_id, kind, digest, out.reply.model_dump_json(), now, out.reply.ok)
            return out

    # ================================================================== tickets

    def _ticket(self, ticket_id: str) -> m.Ticket:
        row = self.store.ticket(ticket_id)
        assert row is not None, f"ticket {ticket_id} vanished inside its own transaction"
        return self.store.to_ticket(row)

    def issue_ticket(self, req: TicketRequest, *, sender: str) -> Outcome:
        def action(now: datetime, out: Outcome) -> Reply:
            area = self.areas.get(req.area)
            if area is None:
                raise Refusal("unknown_area", f"no service area {req.area!r} in this hall")
            if req.priority is not None and req.priority not in self.categories:
                raise Refusal("unknown_category", f"no priority category {req.priority!r}")
            if not rules.is_open(now, self.cfg.tz, self.cfg.opening_hours):
                raise Refusal("closed_hours", "the hall is not issuing numbers at this hour")
            day = self.service_day(now).isoformat()
            last = self.store.last_number(day, area.code)
            number = area.first_number if last is None else last + 1
            if number > area.last_number:
                raise Refusal("exhausted", f"area {area.code} has issued all its numbers for today")
            self.store.set_last_number(day, area.code, number)
            ahead = self.estimates.waiting_ahead(day, area.code, req.priority)
            ticket_id = rules.ticket_id(day, area.code, number)
            token = secrets.token_urlsafe(16)  # 128 random bits: the citizen's page cannot be guessed
            self.store.insert_ticket(ticket_id=ticket_id, day=day, area=area.code, number=f"{area.prefix}{number}",
                                     priority=req.priority, queue_pos=self.store.next_queue_pos(), issued_at=now,
                                     kiosk=sender, dossier_code=req.dossier_code, tracking_token=token)
            ticket = self._ticket(ticket_id)
            self._event("issued", ticket, now, detail=sender)
            out.areas.add(area.code)
            return TicketReply(command_id=req.command_id, ok=True, ticket=ticket, waiting_ahead=ahead,
                               estimated_wait_min=self.estimates.wait_min(area.code, ahead), tracking_token=token)

        return self._apply("ticket.issue", req, req.command_id, action, sender=sender, limit="ticket_issue")

    def cancel_ticket(self, req: TicketCancel, *, sender: str) -> Outcome:
        def action(now: datetime, out: Outcome) -> Reply:
            row = self.store.ticket(req.ticket_id)
            if row is None:
                raise Refusal("unknown_ticket", f"no ticket {req.ticket_id!r}")
            if not rules.cancellable(row["status"]):
                raise Refusal("bad_state", f"ticket {row['number']} is {row['status']}, it can no longer be cancelled")
            if row["kiosk"] != sender and sender not in self.cfg.supervisors:
                # Only the kiosk that could not print it withdraws a ticket (or a supervisor's login):
                # another kiosk, or a compromised one guessing ticket ids, cannot empty the queue.
                log.warning("cancel of %s by %s refused: issued by %s", row["ticket_id"], sender, row["kiosk"])
                raise Refusal("not_allowed", f"ticket {row['number']} was issued by {row['kiosk']}, not {sender}")
            if row["status"] == "waiting":
                self.store.cancel_ticket(req.ticket_id, now)
                self._event("cancelled", self._ticket(req.ticket_id), now, detail=req.reason)
                out.areas.add(row["area"])
            return TicketReply(command_id=req.command_id, ok=True, ticket=self._ticket(req.ticket_id))

        return self._apply("ticket.cancel", req, req.command_id, action, sender=sender, limit="ticket_cancel")

    # ================================================================== counters

    def counter_command(self, counter: int, action_name: str, cmd: CounterCommand, *, sender: str) -> Outcome:
        handler = COUNTER_HANDLERS[action_name]

        def action(now: datetime, out: Outcome) -> Reply:
            cfg = self.counters.get(counter)
            if cfg is None:
                raise Refusal("unknown_counter", f"no counter {counter} in this hall")
            out.counters.add(counter)
            try:
                handler(self, cfg, cmd, now, out)
            except Refusal as r:  # refused, but the keypad still gets to see the counter as it is
                return CounterReply(command_id=cmd.command_id, ok=False, error=ErrorInfo(code=r.code, message=str(r)),
                                    counter=self.counter_state(counter))
            return CounterReply(command_id=cmd.command_id, ok=True, counter=self.counter_state(counter))

        return self._apply(f"counter.{counter}.{action_name}", cmd, cmd.command_id, action, sender=sender,
                           limit="counter_command")

    def _counter_row(self, number: int) -> Row:
        row = self.store.counter(number)
        assert row is not None, f"counter {number} has no row"  # every configured counter gets one at start
        return row

    def _current(self, row: Row, what: str) -> Row:
        ticket = self.store.ticket(row["current"])
        if ticket is None:
            raise Refusal("bad_state", f"no ticket is being served at this counter: nothing to {what}")
        return ticket

    def _cmd_open(self, cfg: CounterConfig, cmd: m.OpenCounter, now: datetime, out: Outcome) -> None:
        if self.officers and cmd.officer not in self.officers:
            raise Refusal("unknown_officer", f"officer {cmd.officer!r} is not on this hall's list")
        self.store.open_counter(cfg.number, cmd.officer, now)
        out.areas |= set(cfg.areas)

    def _cmd_close(self, cfg: CounterConfig, cmd: CounterCommand, now: datetime, out: Outcome) -> None:
        row = self._counter_row(cfg.number)
        if row["current"]:
            self._finish_current(cfg, row, now, out)
        self.store.close_counter(cfg.number, now)
        out.areas |= set(cfg.areas)

    def _cmd_pause(self, cfg: CounterConfig, cmd: CounterCommand, now: datetime, out: Outcome) -> None:
        rules.require_status(self._counter_row(cfg.number)["status"], "open")
        self.store.set_counter_status(cfg.number, "paused", now)
        out.areas |= set(cfg.areas)

    def _cmd_resume(self, cfg: CounterConfig, cmd: CounterCommand, now: datetime, out: Outcome) -> None:
        rules.require_status(self._counter_row(cfg.number)["status"], "paused")
        self.store.set_counter_status(cfg.number, "open", now)
        out.areas |= set(cfg.areas)

    def _cmd_next(self, cfg: CounterConfig, cmd: CounterCommand, now: datetime, out: Outcome) -> None:
        row = self._counter_row(cfg.number)
        rules.require_status(row["status"], "open")
        if row["current"]:
            if not self.rules.next_finishes_current:
                raise Refusal("bad_state", "finish, skip or transfer the current ticket first")
            self._finish_current(cfg, row, now, out)
        ticket = self._pick_next(cfg)
        if ticket is None:  # the finish above still stands: the transaction commits either way
            raise EmptyQueue(f"nobody is waiting for {', '.join(cfg.areas)}")
        self._call(cfg, ticket, now, out)

    def _cmd_recall(self, cfg: CounterConfig, cmd: CounterCommand, now: datetime, out: Outcome) -> None:
        row = self._counter_row(cfg.number)
        ticket = self._current(row, "recall")
        self.store.count_recall(ticket["ticket_id"])
        recalled = self.store.ticket(ticket["ticket_id"])
        assert recalled is not None
        self._announce(cfg, recalled, now, recall=True)
        self._event("recalled", self.store.to_ticket(recalled), now, cfg.number, row["officer"])

    def _cmd_skip(self, cfg: CounterConfig, cmd: CounterCommand, now: datetime, out: Outcome) -> None:
        row = self._counter_row(cfg.number)
        ticket = self._current(row, "skip")
        self.store.skip_ticket(ticket["ticket_id"], now)
        self.store.set_current(cfg.number, None, now)
        self._event("skipped", self._ticket(ticket["ticket_id"]), now, cfg.number, row["officer"])
        out.areas.add(ticket["area"])

    def _cmd_reactivate(self, cfg: CounterConfig, cmd: m.Reactivate, now: datetime, out: Outcome) -> None:
        # the ticket will be reserved for this counter: a closed one would never call it
        rules.require_status(self._counter_row(cfg.number)["status"], "open", "paused")
        day = self.service_day(now).isoformat()
        ticket = self.store.ticket_by_number(day, cmd.number)
        if ticket is None:
            raise Refusal("unknown_ticket", f"no ticket {cmd.number} was issued today")
        if ticket["status"] != "skipped":
            raise Refusal("bad_state", f"ticket {cmd.number} is {ticket['status']}, not skipped")
        skipped_at = parse_dt(ticket["skipped_at"])
        window = timedelta(minutes=self.rules.reactivate_window_min)
        if skipped_at is None or now - skipped_at > window:
            raise Refusal("bad_state", f"ticket {cmd.number} was skipped more than "
                                       f"{self.rules.reactivate_window_min} minutes ago: take a new number")
        # back to the front, reserved for the counter that brought it back
        self.store.requeue_reactivated(ticket["ticket_id"], cfg.number, self._front_pos(day))
        self._event("reactivated", self._ticket(ticket["ticket_id"]), now, cfg.number,
                    self._counter_row(cfg.number)["officer"])
        out.areas.add(ticket["area"])

    def _cmd_transfer(self, cfg: CounterConfig, cmd: m.Transfer, now: datetime, out: Outcome) -> None:
        row = self._counter_row(cfg.number)
        ticket = self._current(row, "transfer")
        area, target = ticket["area"], None
        if cmd.to_area is not None:
            if cmd.to_area not in self.areas:
                raise Refusal("unknown_area", f"no service area {cmd.to_area!r} in this hall")
            area = cmd.to_area
        else:
            if cmd.to_counter not in self.counters:
                raise Refusal("unknown_counter", f"no counter {cmd.to_counter} in this hall")
            if cmd.to_counter == cfg.number:
                raise Refusal("bad_state", "a ticket cannot be transferred to the counter serving it")
            target = cmd.to_counter
        day = ticket["day"]
        pos = {"front": lambda: self._front_pos(day), "back": self.store.next_queue_pos,
               "original": lambda: ticket["queue_pos"]}[self.rules.transfer_position]()
        self.store.record_transfer(cmd.command_id, ticket, now, cfg.number, row["officer"], area, target)
        self.store.requeue_transferred(ticket["ticket_id"], area, target, pos)
        self.store.set_current(cfg.number, None, now)
        where = f"area {area}" if target is None else f"counter {target}"
        self._event("transferred", self._ticket(ticket["ticket_id"]), now, cfg.number,
                    row["officer"], detail=f"to {where}", from_area=ticket["area"])
        out.areas |= {ticket["area"], area}
        if target is not None:
            out.counters.add(target)

    def _cmd_finish(self, cfg: CounterConfig, cmd: CounterCommand, now: datetime, out: Outcome) -> None:
        row = self._counter_row(cfg.number)
        self._current(row, "finish")
        self._finish_current(cfg, row, now, out)

    def _cmd_attach_dossier(self, cfg: CounterConfig, cmd: m.AttachDossier, now: datetime, out: Outcome) -> None:
        row = self._counter_row(cfg.number)
        # the receipt is often scanned just after finishing: the rating window's ticket counts too
        ticket_id = row["current"] or row["rating_ticket"]
        if ticket_id is None:
            raise Refusal("bad_state", "no current or just-finished ticket to attach the dossier to")
        self.store.attach_dossier(ticket_id, cmd.dossier_code)
        self._event("dossier_attached", self._ticket(ticket_id), now, cfg.number,
                    row["officer"], detail=cmd.dossier_code)

    # ------------------------------------------------------------------ counter helpers

    def _finish_current(self, cfg: CounterConfig, row: Row, now: datetime, out: Outcome) -> None:
        tid = row["current"]
        self.store.finish_ticket(tid, now)
        self.store.open_rating_window(cfg.number, tid, now, now + timedelta(seconds=self.rules.rating_window_s))
        ticket = self._ticket(tid)
        self._event("finished", ticket, now, cfg.number, row["officer"])
        out.areas.add(ticket.area)

    def _front_pos(self, day: str) -> int:
        return rules.front_position(self.store.front_queue_pos(day), self.store.next_queue_pos)

    def _pick_next(self, cfg: CounterConfig) -> Row | None:
        """The ticket this counter calls next, by the hall's rules, or None."""
        day = self._today()
        directed = self.store.first_directed(day, cfg.number)
        if directed is not None:
            return directed
        return rules.choose_across_areas((self._pick_in_area(day, a) for a in cfg.areas),
                                         area_order=self.rules.area_order)

    def _pick_in_area(self, day: str, area: str) -> Row | None:
        normal = self.store.first_in_area(day, area, priority=False)
        prio = self.store.first_in_area(day, area, priority=True)
        since = None
        if prio is not None and normal is not None and self.rules.priority_rule != "strict":
            since = self.store.normal_since_priority(day, area)
        return rules.choose_in_area(normal, prio, rule=self.rules.priority_rule, normal_since_priority=since,
                                    priority_every=self.rules.priority_every)

    def _call(self, cfg: CounterConfig, ticket: Row, now: datetime, out: Outcome) -> None:
        row = self._counter_row(cfg.number)
        self.store.call_ticket(ticket["ticket_id"], cfg.number, row["officer"], now)
        self.store.set_current(cfg.number, ticket["ticket_id"], now)
        if ticket["target_counter"] is None:  # the interleave rule counts tickets drawn from the area queue
            self.store.count_for_interleave(ticket["day"], ticket["area"], ticket["priority"] is not None)
        called = self.store.ticket(ticket["ticket_id"])
        assert called is not None
        self._announce(cfg, called, now, recall=False)
        self._event("called", self.store.to_ticket(called), now, cfg.number, row["officer"])
        out.areas.add(ticket["area"])

    def _announce(self, cfg: CounterConfig, ticket, now: datetime, recall: bool) -> None:
        event = CallEvent(at=now, ticket_id=ticket["ticket_id"], number=ticket["number"], area=ticket["area"],
                          counter=cfg.number, counter_name=cfg.display_name, recall=recall,
                          call_count=ticket["call_count"])
        self.store.enqueue(self.topics.call_event, event.to_json())
        self.touched.add(ticket["ticket_id"])

    def _event(self, kind: m.TicketEventKind, ticket, now: datetime, counter: int | None = None,
               officer: str | None = None, detail: str | None = None, from_area: str | None = None) -> None:
        event = TicketEvent(at=now, kind=kind, ticket=ticket, counter=counter, officer=officer, detail=detail,
                            from_area=from_area)
        self.store.enqueue(self.topics.ticket_event, event.to_json())
        self.touched.add(ticket.ticket_id)
        if kind in _ENDINGS:  # the province counts each ticket once, from its outcome
            self._outcome(_ENDINGS[kind], ticket, now, officer)

    def _outcome(self, outcome: m.TicketOutcomeKind, ticket, now: datetime, officer: str | None) -> None:
        row = self.store.ticket(ticket.ticket_id)
        assert row is not None, "an ending ticket is in the store"

        def minutes(a: datetime | None, b: datetime | None) -> float | None:
            return round(max(0.0, (b - a).total_seconds()) / 60, 2) if a and b else None

        event = TicketOutcome(at=now, outcome=outcome, ticket=ticket, issue_area=row["issue_area"],
                              officer=officer or row["officer"], skipped_at=parse_dt(row["skipped_at"]),
                              wait_min=minutes(ticket.issued_at, ticket.called_at),
                              service_min=minutes(ticket.called_at, ticket.finished_at) if outcome == "done" else None)
        self.store.enqueue(self.topics.outcome_event, event.to_json())

    # ================================================================== ratings

    def rate(self, counter: int, rating: Rating, *, sender: str) -> Outcome:
        """Store a rating once. A duplicate rating id is acknowledged again and not counted.

        A rating for a ticket counts only if it arrives within ``rating_delivery_max_s`` of the ticket's
        rating window (a pad's outbox may deliver late, not weeks later), with ``rated_at`` inside that window (give or take ``rating_clock_tolerance_s`` of clock
        difference): a pad cannot rate yesterday's tickets, nor an old one of its counter much later."""
        store = self.store
        now = self.clock()

        def ack(ok: bool, code: m.ErrorCode | None = None, message: str = "", duplicate: bool = False) -> Outcome:
            error = ErrorInfo(code=code, message=message) if code else None
            return Outcome(RatingAck(command_id=rating.rating_id, ok=ok, error=error, duplicate=duplicate))

        with store.transaction():
            if store.rating_exists(rating.rating_id):
                return ack(True, duplicate=True)
            limited = self._limited("rating", sender, rating.rating_id, "rating")
            if limited is not None:
                return Outcome(RatingAck(command_id=rating.rating_id, ok=False, error=limited.reply.error))
            tolerance = timedelta(seconds=self.cfg.rating_clock_tolerance_s)
            if rating.rated_at > now + tolerance:
                return ack(False, "bad_payload", f"rated_at {rating.rated_at.isoformat()} is in the future "
                                                 f"(hall clock {iso(now)}): check the pad's time")
            if rating.counter != counter:
                return ack(False, "not_allowed", f"a rating for counter {rating.counter} sent on counter {counter}'s topic")
            if counter not in self.counters:
                return ack(False, "unknown_counter", f"no counter {counter} in this hall")
            officer, area, dossier = rating.officer, rating.area, rating.dossier_code
            ticket = None
            if rating.ticket_id is None:
                if not self.cfg.allow_general_ratings:
                    return ack(False, "not_allowed", "this hall does not accept ratings without a ticket")
                if self.service_day(rating.rated_at) != self.service_day(now):
                    return ack(False, "not_allowed", "a rating without a ticket counts only on the day it is given")
            else:
                ticket = store.ticket(rating.ticket_id)
                if ticket is None:
                    return ack(False, "unknown_ticket", f"no ticket {rating.ticket_id!r}")
                if ticket["counter"] != counter or ticket["status"] != "done":
                    return ack(False, "not_allowed", f"ticket {ticket['number']} was not served at counter {counter}")
                if store.ticket_rated(rating.ticket_id):
                    return ack(False, "not_allowed", f"ticket {ticket['number']} has already been rated")
                finished = parse_dt(ticket["finished_at"])
                window = timedelta(seconds=self.rules.rating_window_s)
                late = timedelta(seconds=self.cfg.rating_delivery_max_s)
                if finished is not None and now > finished + window + late:
                    return ack(False, "not_allowed", f"ticket {ticket['number']} was served on {ticket['day']}: "
                                                     "too long ago for its rating to count")
                if finished is None or not (finished - tolerance <= rating.rated_at <= finished + window + tolerance):
                    return ack(False, "not_allowed", f"rated_at {rating.rated_at.isoformat()} is outside ticket "
                                                     f"{ticket['number']}'s rating window (from {iso(finished)}, "
                                                     f"{self.rules.rating_window_s} s)")
                # the dispatcher's own record is the authority on who served what
                officer, area, dossier = ticket["officer"], ticket["area"], ticket["dossier_code"] or dossier
            store.insert_rating(rating_id=rating.rating_id, ticket_id=rating.ticket_id, counter=counter,
                                officer=officer, area=area, dossier_code=dossier, level=rating.level,
                                reasons=rating.reasons, indicators=rating.indicators, rated_at=rating.rated_at,
                                pad_id=sender, received_at=now)
            accepted = RatingEvent(
                at=now, rating_id=rating.rating_id, ticket_id=rating.ticket_id, counter=counter, area=area,
                officer=officer, dossier_code=dossier, level=rating.level, reasons=rating.reasons,
                indicators=rating.indicators, rated_at=rating.rated_at, pad=sender,
                service_day=date.fromisoformat(ticket["day"]) if ticket is not None else None)
            store.enqueue(self.topics.rating_event, accepted.to_json())
            out = ack(True)
            if rating.ticket_id is not None:
                row = self._counter_row(counter)
                if row["rating_ticket"] == rating.ticket_id:  # rated: the pad's window is done
                    store.close_rating_window(counter, now)
                    out.counters.add(counter)
            return out

    # ================================================================== dossiers

    def update_dossiers(self, update: DossierStatusUpdate) -> int:
        """Cache records from the central system; an older record never overwrites a newer one."""
        now = self.clock()
        changed = 0
        with self.store.transaction():
            for rec in update.records:
                changed += self.store.upsert_dossier(rec.code, rec.model_dump_json(), rec.updated_at, now)
        return changed

    def lookup_dossier(self, req: DossierLookup, *, sender: str) -> DossierReply:
        wait = self.limits.take("dossier_lookup", sender, self.monotonic())
        if wait is not None:
            return DossierReply(command_id=req.command_id, ok=False, error=ErrorInfo(
                code="rate_limited", message=f"too many lookups from {sender}: try again in {math.ceil(wait)} s"))
        row = self.store.dossier(req.code)
        if row is None:
            return DossierReply(command_id=req.command_id, ok=True, found=False)
        received = parse_dt(row["received_at"])
        assert received is not None  # the column is NOT NULL
        return DossierReply(command_id=req.command_id, ok=True, found=True,
                            record=m.DossierRecord.model_validate_json(row["record"]), received_at=received,
                            age_s=round((self.clock() - received).total_seconds(), 1))

    # ================================================================== retained views (dispatcher.views)

    def hall_config(self) -> HallConfig:
        return self.views.hall_config()

    def counter_state(self, number: int) -> CounterState:
        return self.views.counter_state(number)

    def area_summary(self, code: str) -> AreaSummary:
        return self.views.area_summary(code)

    def dispatcher_state(self, database: str) -> DispatcherState:
        return self.views.dispatcher_state(database, self.started_at)

    def hall_figures(self) -> HallFigures:
        return self.views.hall_figures()

    def views_on(self, store: Store) -> Views:
        """The same views over another connection (a reader's, for another thread)."""
        return Views(self.cfg, store, self.topics, Estimates(store, self.rules, self.counters), self.service_day,
                     self.clock)

    def take_touched(self) -> set[str]:
        """The tickets whose state changed since the last call: their citizens' pages follow."""
        touched, self.touched = self.touched, set()
        return touched


# Ticket events that end a ticket's life, and the outcome each one is.
_ENDINGS: dict[str, m.TicketOutcomeKind] = {"finished": "done", "cancelled": "cancelled", "expired": "expired"}


# ====================================================================== the command table

@dataclass(frozen=True)
class Command:
    """One kind of command: the family its stored ``kind`` starts with, the reply type it answers
    with (also for replays and refusals), and for counter actions the handler that applies it."""

    reply: type[Reply]
    handler: CounterHandler | None = None


COMMANDS: dict[str, Command] = {
    "ticket.issue": Command(TicketReply),
    "ticket.cancel": Command(TicketReply),
    "rating": Command(Reply),  # refusals before the rules (rate limit) are wrapped as a RatingAck by rate()
    "counter.open": Command(CounterReply, Hall._cmd_open),
    "counter.close": Command(CounterReply, Hall._cmd_close),
    "counter.pause": Command(CounterReply, Hall._cmd_pause),
    "counter.resume": Command(CounterReply, Hall._cmd_resume),
    "counter.next": Command(CounterReply, Hall._cmd_next),
    "counter.recall": Command(CounterReply, Hall._cmd_recall),
    "counter.skip": Command(CounterReply, Hall._cmd_skip),
    "counter.reactivate": Command(CounterReply, Hall._cmd_reactivate),
    "counter.transfer": Command(CounterReply, Hall._cmd_transfer),
    "counter.finish": Command(CounterReply, Hall._cmd_finish),
    "counter.attach_dossier": Command(CounterReply, Hall._cmd_attach_dossier),
}

COUNTER_HANDLERS: dict[str, CounterHandler] = {
    name.removeprefix("counter."): c.handler for name, c in COMMANDS.items() if c.handler is not None}


def reply_type(kind: str) -> type[Reply]:
    """The reply type of a stored command kind: ``ticket.issue``, ``rating``, ``counter.{n}.{action}``."""
    family, _, rest = kind.partition(".")
    if family == "counter":
        kind = f"counter.{rest.rpartition('.')[2]}"
    command = COMMANDS.get(kind)
    return command.reply if command is not None else Reply
