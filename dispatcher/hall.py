"""The hall's queue rules: numbers, counters, calls, transfers, ratings, dossiers.

Pure logic over the SQLite store, with no threads and no sockets: every
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
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

from motcua.protocol import (
    AreaInfo,
    AreaSummary,
    CallEvent,
    CategoryInfo,
    CounterCommand,
    CounterInfo,
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
    ProcedureInfo,
    Rating,
    RatingAck,
    RatingWindow,
    Reply,
    TicketCancel,
    TicketEvent,
    TicketReply,
    TicketRequest,
    Topics,
)
from motcua.protocol import messages as m

from .config import CounterConfig, HallSettings
from .limits import TokenBuckets
from .store import Store, iso, parse_dt

log = logging.getLogger("dispatcher.hall")


class Refusal(Exception):
    """A command the rules refuse; becomes ``ok: false`` with this code and message."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


@dataclass
class Outcome:
    reply: Reply
    counters: set[int] = field(default_factory=set)
    areas: set[str] = field(default_factory=set)
    replayed: bool = False


def utc(dt: datetime) -> datetime:
    return dt.astimezone(timezone.utc)


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
        self.started_at = clock()
        with store.transaction():
            for number in self.counters:
                store.db.execute("INSERT OR IGNORE INTO counters(number, updated_at) VALUES(?, ?)",
                                 (number, iso(self.started_at)))
            self._roll_day(self.clock())

    # ================================================================== time

    def service_day(self, now: datetime) -> date:
        """The day numbers belong to: the local date, shifted back before the reset time."""
        local = now.astimezone(self.cfg.tz)
        day = local.date()
        if local.time() < self.cfg.reset_time:
            day -= timedelta(days=1)
        return day

    def _is_open(self, now: datetime) -> bool:
        if not self.cfg.opening_hours:
            return True
        local = now.astimezone(self.cfg.tz)
        return any(local.isoweekday() in p.days and p.open <= local.time() < p.close for p in self.cfg.opening_hours)

    def _roll_day(self, now: datetime) -> bool:
        """Start a new service day if the reset time has passed: yesterday's queue expires."""
        today = self.service_day(now).isoformat()
        if self.store.meta("day") == today:
            return False
        db = self.store.db
        stale = db.execute("SELECT ticket_id FROM tickets WHERE day < ? AND status IN ('waiting', 'called', 'skipped')",
                           (today,)).fetchall()
        for row in stale:  # the central system hears the end of every ticket's life, this one too
            db.execute("UPDATE tickets SET status = 'expired' WHERE ticket_id = ?", (row["ticket_id"],))
            self._event("expired", self.store.to_ticket(self.store.ticket(row["ticket_id"])), now,
                        detail="not served before the daily reset")
        expired = len(stale)
        db.execute("UPDATE counters SET current = NULL, rating_ticket = NULL, rating_opened_at = NULL, "
                   "rating_closes_at = NULL, updated_at = ?", (iso(now),))
        self.store.set_meta("day", today)
        log.info("service day %s begins (%d tickets of earlier days expired)", today, expired)
        return True

    def tick(self) -> Outcome:
        """Periodic upkeep: day rollover, closing rating windows that timed out."""
        now = self.clock()
        out = Outcome(Reply(command_id="tick", ok=True))
        with self.store.transaction():
            if self._roll_day(now):
                out.counters |= set(self.counters)
                out.areas |= set(self.areas)
            for row in self.store.all("SELECT number FROM counters WHERE rating_closes_at IS NOT NULL "
                                      "AND rating_closes_at <= ?", iso(now)):
                self._close_rating_window(row["number"], now)
                if row["number"] in self.counters:  # no retained state for a counter the settings dropped
                    out.counters.add(row["number"])
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
        oldest_day = (today - timedelta(days=r.tickets_days)).isoformat()
        removed: dict[str, int] = {}
        with self.store.transaction() as db:
            def drop(name: str, sql: str, *args) -> None:
                removed[name] = removed.get(name, 0) + db.execute(sql, args).rowcount

            drop("commands", "DELETE FROM commands WHERE applied_at < ?", iso(now - timedelta(days=r.commands_days)))
            drop("commands", "DELETE FROM commands WHERE ok = 0 AND applied_at < ?",
                 iso(now - timedelta(seconds=r.refused_commands_s)))
            drop("ratings", "DELETE FROM ratings WHERE received_at < ?", iso(now - timedelta(days=r.ratings_days)))
            drop("tickets", "DELETE FROM tickets WHERE day < ? AND ticket_id NOT IN "
                            "(SELECT rating_ticket FROM counters WHERE rating_ticket IS NOT NULL) AND ticket_id NOT IN "
                            "(SELECT current FROM counters WHERE current IS NOT NULL)", oldest_day)
            drop("sequences", "DELETE FROM sequences WHERE day < ?", oldest_day)
            drop("interleave", "DELETE FROM interleave WHERE day < ?", oldest_day)
            drop("dossiers", "DELETE FROM dossiers WHERE received_at < ?", iso(now - timedelta(days=r.dossiers_days)))
            drop("events", "DELETE FROM outbox WHERE enqueued_at < ?", iso(now - timedelta(days=r.events_days)))
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
        return Outcome(_reply_type(kind)(command_id=command_id, ok=False, error=ErrorInfo(
            code="rate_limited", message=f"too many requests from {sender}: try again in {math.ceil(wait)} s")))

    def _apply(self, kind: str, message: Message, command_id: str,
               action: Callable[[datetime, Outcome], Reply], *, sender: str, limit: str | None = None) -> Outcome:
        """Apply once per command id. A rate-limited or early-refused request is answered without a row:
        nothing of it is kept, and its retry is judged afresh."""
        body = message.model_dump_json(exclude={"sent_at"}).encode()
        digest = hashlib.sha256(kind.encode() + b"\0" + sender.encode() + b"\0" + body).hexdigest()
        with self.store.transaction():
            seen = self.store.one("SELECT kind, digest, reply FROM commands WHERE command_id = ?", command_id)
            if seen is not None:
                if seen["kind"] != kind or seen["digest"] != digest:
                    reply = Reply(command_id=command_id, ok=False, error=ErrorInfo(
                        code="id_reused", message="this command id was already used for a different command"))
                    return Outcome(reply)
                return Outcome(reply=_reply_type(kind).model_validate_json(seen["reply"]), replayed=True)
            limited = self._limited(limit, sender, command_id, kind)
            if limited is not None:
                return limited
            now = self.clock()
            try:
                self._check_sent_at(message, now)
            except Refusal as r:
                return Outcome(_reply_type(kind)(command_id=command_id, ok=False,
                                                 error=ErrorInfo(code=r.code, message=str(r))))
            out = Outcome(Reply(command_id=command_id, ok=True))
            if self._roll_day(now):
                out.counters |= set(self.counters)
                out.areas |= set(self.areas)
            try:
                out.reply = action(now, out)
            except Refusal as r:
                out.reply = _reply_type(kind)(command_id=command_id, ok=False,
                                              error=ErrorInfo(code=r.code, message=str(r)))
            self.store.db.execute(
                "INSERT INTO commands(command_id, kind, digest, reply, applied_at, ok) VALUES(?, ?, ?, ?, ?, ?)",
                (command_id, kind, digest, out.reply.model_dump_json(), iso(now), int(out.reply.ok)))
            return out

    # ================================================================== tickets

    def issue_ticket(self, req: TicketRequest, *, sender: str) -> Outcome:
        def action(now: datetime, out: Outcome) -> Reply:
            area = self.areas.get(req.area)
            if area is None:
                raise Refusal("unknown_area", f"no service area {req.area!r} in this hall")
            if req.priority is not None and req.priority not in self.categories:
                raise Refusal("unknown_category", f"no priority category {req.priority!r}")
            if not self._is_open(now):
                raise Refusal("closed_hours", "the hall is not issuing numbers at this hour")
            day = self.service_day(now).isoformat()
            last = self.store.scalar("SELECT last_number FROM sequences WHERE day = ? AND area = ?", day, area.code)
            number = area.first_number if last is None else last + 1
            if number > area.last_number:
                raise Refusal("exhausted", f"area {area.code} has issued all its numbers for today")
            db = self.store.db
            db.execute("INSERT INTO sequences(day, area, last_number) VALUES(?, ?, ?) "
                       "ON CONFLICT(day, area) DO UPDATE SET last_number = excluded.last_number",
                       (day, area.code, number))
            ahead = self._waiting_ahead(day, area.code, req.priority)
            ticket_id = f"{day.replace('-', '')}-{area.code}-{number}"
            db.execute(
                "INSERT INTO tickets(ticket_id, day, issue_area, area, number, priority, status, queue_pos, "
                "issued_at, kiosk) VALUES(?, ?, ?, ?, ?, ?, 'waiting', ?, ?, ?)",
                (ticket_id, day, area.code, area.code, f"{area.prefix}{number}", req.priority,
                 self.store.next_queue_pos(), iso(now), sender))
            ticket = self.store.to_ticket(self.store.ticket(ticket_id))
            self._event("issued", ticket, now, detail=sender)
            out.areas.add(area.code)
            return TicketReply(command_id=req.command_id, ok=True, ticket=ticket, waiting_ahead=ahead,
                               estimated_wait_min=self._estimate_wait(area.code, ahead))

        return self._apply("ticket.issue", req, req.command_id, action, sender=sender, limit="ticket_issue")

    def cancel_ticket(self, req: TicketCancel, *, sender: str) -> Outcome:
        def action(now: datetime, out: Outcome) -> Reply:
            row = self.store.ticket(req.ticket_id)
            if row is None:
                raise Refusal("unknown_ticket", f"no ticket {req.ticket_id!r}")
            if row["status"] not in ("waiting", "cancelled"):
                raise Refusal("bad_state", f"ticket {row['number']} is {row['status']}, it can no longer be cancelled")
            if row["kiosk"] != sender and sender not in self.cfg.supervisors:
                # Only the kiosk that could not print it withdraws a ticket (or a supervisor's login):
                # another kiosk, or a compromised one guessing ticket ids, cannot empty the queue.
                log.warning("cancel of %s by %s refused: issued by %s", row["ticket_id"], sender, row["kiosk"])
                raise Refusal("not_allowed", f"ticket {row['number']} was issued by {row['kiosk']}, not {sender}")
            if row["status"] == "waiting":
                self.store.db.execute("UPDATE tickets SET status = 'cancelled', finished_at = ? WHERE ticket_id = ?",
                                      (iso(now), req.ticket_id))
                ticket = self.store.to_ticket(self.store.ticket(req.ticket_id))
                self._event("cancelled", ticket, now, detail=req.reason)
                out.areas.add(row["area"])
            return TicketReply(command_id=req.command_id, ok=True,
                               ticket=self.store.to_ticket(self.store.ticket(req.ticket_id)))

        return self._apply("ticket.cancel", req, req.command_id, action, sender=sender, limit="ticket_cancel")

    # ================================================================== counters

    def counter_command(self, counter: int, action_name: str, cmd: CounterCommand, *, sender: str) -> Outcome:
        handler = getattr(self, f"_cmd_{action_name}")

        def action(now: datetime, out: Outcome) -> Reply:
            cfg = self.counters.get(counter)
            if cfg is None:
                raise Refusal("unknown_counter", f"no counter {counter} in this hall")
            out.counters.add(counter)
            try:
                handler(cfg, cmd, now, out)
            except Refusal as r:  # refused, but the keypad still gets to see the counter as it is
                return CounterReply(command_id=cmd.command_id, ok=False, error=ErrorInfo(code=r.code, message=str(r)),
                                    counter=self.counter_state(counter))
            return CounterReply(command_id=cmd.command_id, ok=True, counter=self.counter_state(counter))

        return self._apply(f"counter.{counter}.{action_name}", cmd, cmd.command_id, action, sender=sender,
                           limit="counter_command")

    def _counter_row(self, number: int):
        return self.store.one("SELECT * FROM counters WHERE number = ?", number)

    def _require_status(self, row, *allowed: str) -> None:
        if row["status"] not in allowed:
            hint = {"closed": "the counter is closed: open it first", "paused": "the counter is paused: resume first",
                    "open": "the counter is open"}[row["status"]]
            raise Refusal("bad_state", hint)

    def _current(self, row, what: str):
        ticket = self.store.ticket(row["current"])
        if ticket is None:
            raise Refusal("bad_state", f"no ticket is being served at this counter: nothing to {what}")
        return ticket

    def _cmd_open(self, cfg: CounterConfig, cmd: m.OpenCounter, now: datetime, out: Outcome) -> None:
        if self.officers and cmd.officer not in self.officers:
            raise Refusal("unknown_officer", f"officer {cmd.officer!r} is not on this hall's list")
        self.store.db.execute("UPDATE counters SET status = 'open', officer = ?, updated_at = ? WHERE number = ?",
                              (cmd.officer, iso(now), cfg.number))
        out.areas |= set(cfg.areas)

    def _cmd_close(self, cfg: CounterConfig, cmd: CounterCommand, now: datetime, out: Outcome) -> None:
        row = self._counter_row(cfg.number)
        if row["current"]:
            self._finish_current(cfg, row, now, out)
        self.store.db.execute("UPDATE counters SET status = 'closed', officer = NULL, updated_at = ? WHERE number = ?",
                              (iso(now), cfg.number))
        out.areas |= set(cfg.areas)

    def _cmd_pause(self, cfg: CounterConfig, cmd: CounterCommand, now: datetime, out: Outcome) -> None:
        self._require_status(self._counter_row(cfg.number), "open")
        self.store.db.execute("UPDATE counters SET status = 'paused', updated_at = ? WHERE number = ?",
                              (iso(now), cfg.number))
        out.areas |= set(cfg.areas)

    def _cmd_resume(self, cfg: CounterConfig, cmd: CounterCommand, now: datetime, out: Outcome) -> None:
        self._require_status(self._counter_row(cfg.number), "paused")
        self.store.db.execute("UPDATE counters SET status = 'open', updated_at = ? WHERE number = ?",
                              (iso(now), cfg.number))
        out.areas |= set(cfg.areas)

    def _cmd_next(self, cfg: CounterConfig, cmd: CounterCommand, now: datetime, out: Outcome) -> None:
        row = self._counter_row(cfg.number)
        self._require_status(row, "open")
        if row["current"]:
            if not self.rules.next_finishes_current:
                raise Refusal("bad_state", "finish, skip or transfer the current ticket first")
            self._finish_current(cfg, row, now, out)
        ticket = self._pick_next(cfg)
        if ticket is None:  # the finish above still stands: the transaction commits either way
            raise _EmptyQueue(f"nobody is waiting for {', '.join(cfg.areas)}")
        self._call(cfg, ticket, now, out)

    def _cmd_recall(self, cfg: CounterConfig, cmd: CounterCommand, now: datetime, out: Outcome) -> None:
        row = self._counter_row(cfg.number)
        ticket = self._current(row, "recall")
        self.store.db.execute("UPDATE tickets SET call_count = call_count + 1 WHERE ticket_id = ?", (ticket["ticket_id"],))
        ticket = self.store.ticket(ticket["ticket_id"])
        self._announce(cfg, ticket, now, recall=True)
        self._event("recalled", self.store.to_ticket(ticket), now, cfg.number, row["officer"])

    def _cmd_skip(self, cfg: CounterConfig, cmd: CounterCommand, now: datetime, out: Outcome) -> None:
        row = self._counter_row(cfg.number)
        ticket = self._current(row, "skip")
        self.store.db.execute("UPDATE tickets SET status = 'skipped', skipped_at = ? WHERE ticket_id = ?",
                              (iso(now), ticket["ticket_id"]))
        self.store.db.execute("UPDATE counters SET current = NULL, updated_at = ? WHERE number = ?",
                              (iso(now), cfg.number))
        self._event("skipped", self.store.to_ticket(self.store.ticket(ticket["ticket_id"])), now, cfg.number,
                    row["officer"])
        out.areas.add(ticket["area"])

    def _cmd_reactivate(self, cfg: CounterConfig, cmd: m.Reactivate, now: datetime, out: Outcome) -> None:
        # the ticket will be reserved for this counter: a closed one would never call it
        self._require_status(self._counter_row(cfg.number), "open", "paused")
        day = self.service_day(now).isoformat()
        ticket = self.store.one("SELECT * FROM tickets WHERE day = ? AND number = ?", day, cmd.number)
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
        self.store.db.execute(
            "UPDATE tickets SET status = 'waiting', target_counter = ?, queue_pos = ?, skipped_at = NULL "
            "WHERE ticket_id = ?", (cfg.number, self._front_pos(day), ticket["ticket_id"]))
        self._event("reactivated", self.store.to_ticket(self.store.ticket(ticket["ticket_id"])), now, cfg.number,
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
        self.store.db.execute(
            "UPDATE tickets SET status = 'waiting', area = ?, target_counter = ?, queue_pos = ? WHERE ticket_id = ?",
            (area, target, pos, ticket["ticket_id"]))
        self.store.db.execute("UPDATE counters SET current = NULL, updated_at = ? WHERE number = ?",
                              (iso(now), cfg.number))
        where = f"area {area}" if target is None else f"counter {target}"
        self._event("transferred", self.store.to_ticket(self.store.ticket(ticket["ticket_id"])), now, cfg.number,
                    row["officer"], detail=f"to {where}")
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
        self.store.db.execute("UPDATE tickets SET dossier_code = ? WHERE ticket_id = ?", (cmd.dossier_code, ticket_id))
        self._event("dossier_attached", self.store.to_ticket(self.store.ticket(ticket_id)), now, cfg.number,
                    row["officer"], detail=cmd.dossier_code)

    # ------------------------------------------------------------------ counter helpers

    def _finish_current(self, cfg: CounterConfig, row, now: datetime, out: Outcome) -> None:
        tid = row["current"]
        self.store.db.execute("UPDATE tickets SET status = 'done', finished_at = ? WHERE ticket_id = ?",
                              (iso(now), tid))
        closes = now + timedelta(seconds=self.rules.rating_window_s)
        self.store.db.execute(
            "UPDATE counters SET current = NULL, rating_ticket = ?, rating_opened_at = ?, rating_closes_at = ?, "
            "updated_at = ? WHERE number = ?", (tid, iso(now), iso(closes), iso(now), cfg.number))
        ticket = self.store.ticket(tid)
        self._event("finished", self.store.to_ticket(ticket), now, cfg.number, row["officer"])
        out.areas.add(ticket["area"])

    def _close_rating_window(self, number: int, now: datetime) -> None:
        self.store.db.execute("UPDATE counters SET rating_ticket = NULL, rating_opened_at = NULL, "
                              "rating_closes_at = NULL, updated_at = ? WHERE number = ?", (iso(now), number))

    def _front_pos(self, day: str) -> int:
        low = self.store.scalar("SELECT MIN(queue_pos) FROM tickets WHERE day = ? AND status = 'waiting'", day)
        return (low if low is not None else self.store.next_queue_pos()) - 1

    def _pick_next(self, cfg: CounterConfig):
        """The ticket this counter calls next, by the hall's rules, or None."""
        day = self.store.meta("day")
        directed = self.store.one(
            "SELECT * FROM tickets WHERE day = ? AND status = 'waiting' AND target_counter = ? "
            "ORDER BY queue_pos LIMIT 1", day, cfg.number)
        if directed is not None:
            return directed
        choices = [c for c in (self._pick_in_area(day, a) for a in cfg.areas) if c is not None]
        if not choices:
            return None
        if self.rules.area_order == "oldest_first":
            return min(choices, key=lambda r: r["queue_pos"])
        return choices[0]

    def _pick_in_area(self, day: str, area: str):
        base = ("SELECT * FROM tickets WHERE day = ? AND area = ? AND status = 'waiting' AND target_counter IS NULL "
                "AND priority IS {} NULL ORDER BY queue_pos LIMIT 1")
        normal = self.store.one(base.format(""), day, area)
        prio = self.store.one(base.format("NOT"), day, area)
        if prio is None or normal is None:
            return prio or normal
        if self.rules.priority_rule == "strict":
            return prio
        since = self.store.scalar("SELECT normal_since_priority FROM interleave WHERE day = ? AND area = ?", day, area)
        return prio if since is None or since >= self.rules.priority_every else normal

    def _call(self, cfg: CounterConfig, ticket, now: datetime, out: Outcome) -> None:
        row = self._counter_row(cfg.number)
        db = self.store.db
        db.execute("UPDATE tickets SET status = 'called', counter = ?, officer = ?, called_at = ?, call_count = 1, "
                   "target_counter = NULL WHERE ticket_id = ?", (cfg.number, row["officer"], iso(now), ticket["ticket_id"]))
        db.execute("UPDATE counters SET current = ?, updated_at = ? WHERE number = ?",
                   (ticket["ticket_id"], iso(now), cfg.number))
        if ticket["target_counter"] is None:  # the interleave rule counts tickets drawn from the area queue
            # NULL until the first priority call of the day: until then a priority ticket waits for nobody
            db.execute("INSERT INTO interleave(day, area, normal_since_priority) VALUES(?, ?, ?) "
                       "ON CONFLICT(day, area) DO UPDATE SET normal_since_priority = "
                       "CASE WHEN ? THEN 0 ELSE normal_since_priority + 1 END",
                       (ticket["day"], ticket["area"], 0 if ticket["priority"] else None, ticket["priority"] is not None))
        called = self.store.ticket(ticket["ticket_id"])
        self._announce(cfg, called, now, recall=False)
        self._event("called", self.store.to_ticket(called), now, cfg.number, row["officer"])
        out.areas.add(ticket["area"])

    def _announce(self, cfg: CounterConfig, ticket, now: datetime, recall: bool) -> None:
        event = CallEvent(at=now, ticket_id=ticket["ticket_id"], number=ticket["number"], area=ticket["area"],
                          counter=cfg.number, counter_name=cfg.display_name, recall=recall,
                          call_count=ticket["call_count"])
        self.store.enqueue(self.topics.call_event, event.to_json())

    def _event(self, kind: str, ticket, now: datetime, counter: int | None = None, officer: str | None = None,
               detail: str | None = None) -> None:
        event = TicketEvent(at=now, kind=kind, ticket=ticket, counter=counter, officer=officer, detail=detail)
        self.store.enqueue(self.topics.ticket_event, event.to_json())

    # ================================================================== ratings

    def rate(self, counter: int, rating: Rating, *, sender: str) -> Outcome:
        """Store a rating once. A duplicate rating id is acknowledged again and not counted.

        A rating for a ticket counts only if it arrives within ``rating_delivery_max_s`` of the ticket's
        rating window (a pad's outbox may deliver late, not weeks later), with ``rated_at`` inside that window (give or take ``rating_clock_tolerance_s`` of clock
        difference): a pad cannot rate yesterday's tickets, nor an old one of its counter much later."""
        store = self.store
        now = self.clock()

        def ack(ok: bool, code: str | None = None, message: str = "", duplicate: bool = False) -> Outcome:
            error = ErrorInfo(code=code, message=message) if code else None
            return Outcome(RatingAck(command_id=rating.rating_id, ok=ok, error=error, duplicate=duplicate))

        with store.transaction():
            if store.one("SELECT 1 FROM ratings WHERE rating_id = ?", rating.rating_id):
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
                if store.one("SELECT 1 FROM ratings WHERE ticket_id = ?", rating.ticket_id):
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
            store.db.execute(
                "INSERT INTO ratings(rating_id, ticket_id, counter, officer, area, dossier_code, level, reasons, "
                "indicators, rated_at, pad_id, received_at) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (rating.rating_id, rating.ticket_id, counter, officer, area, dossier, rating.level,
                 store.dumps(rating.reasons), store.dumps(rating.indicators) if rating.indicators else None,
                 iso(rating.rated_at), sender, iso(now)))
            out = ack(True)
            if rating.ticket_id is not None:
                row = self._counter_row(counter)
                if row["rating_ticket"] == rating.ticket_id:  # rated: the pad's window is done
                    self._close_rating_window(counter, now)
                    out.counters.add(counter)
            return out

    # ================================================================== dossiers

    def update_dossiers(self, update: DossierStatusUpdate) -> int:
        """Cache records from the central system; an older record never overwrites a newer one."""
        now = iso(self.clock())
        changed = 0
        with self.store.transaction():
            for rec in update.records:
                cur = self.store.db.execute(
                    "INSERT INTO dossiers(code, record, updated_at, received_at) VALUES(?, ?, ?, ?) "
                    "ON CONFLICT(code) DO UPDATE SET record = excluded.record, updated_at = excluded.updated_at, "
                    "received_at = excluded.received_at WHERE excluded.updated_at >= dossiers.updated_at",
                    (rec.code, rec.model_dump_json(), iso(rec.updated_at), now))
                changed += cur.rowcount
        return changed

    def lookup_dossier(self, req: DossierLookup, *, sender: str) -> DossierReply:
        wait = self.limits.take("dossier_lookup", sender, self.monotonic())
        if wait is not None:
            return DossierReply(command_id=req.command_id, ok=False, error=ErrorInfo(
                code="rate_limited", message=f"too many lookups from {sender}: try again in {math.ceil(wait)} s"))
        row = self.store.one("SELECT record, received_at FROM dossiers WHERE code = ?", req.code)
        if row is None:
            return DossierReply(command_id=req.command_id, ok=True, found=False)
        received = parse_dt(row["received_at"])
        return DossierReply(command_id=req.command_id, ok=True, found=True,
                            record=m.DossierRecord.model_validate_json(row["record"]), received_at=received,
                            age_s=round((self.clock() - received).total_seconds(), 1))

    # ================================================================== retained views

    def hall_config(self) -> HallConfig:
        c = self.cfg
        return HallConfig(
            site=self.topics.site, hall_name=c.name,
            areas=[AreaInfo(code=a.code, name=a.name, prefix=a.prefix, first_number=a.first_number,
                            last_number=a.last_number) for a in c.areas],
            counters=[CounterInfo(number=k.number, name=k.display_name, areas=k.areas) for k in c.counters],
            priority_categories=[CategoryInfo(code=p.code, name=p.name) for p in c.priority_categories],
            procedures=[ProcedureInfo(**p.model_dump()) for p in c.procedures],
            day=self.service_day(self.clock()),
        )

    def counter_state(self, number: int) -> CounterState:
        row = self._counter_row(number)
        cfg = self.counters[number]
        current = self.store.ticket(row["current"])
        # Counter states are retained where the public TV reads them: dossier codes and officer ids
        # stay out unless the hall's settings say otherwise (officer names are on the counter's badge).
        public = self.cfg.public
        window = None
        if row["rating_ticket"]:
            t = self.store.ticket(row["rating_ticket"])
            window = RatingWindow(ticket_id=t["ticket_id"], number=t["number"], area=t["area"],
                                  officer=t["officer"] if public.officer_ids else None,
                                  dossier_code=t["dossier_code"] if public.dossier_codes else None,
                                  opened_at=parse_dt(row["rating_opened_at"]), closes_at=parse_dt(row["rating_closes_at"]))
        shown = self.store.to_ticket(current) if current else None
        if shown is not None and not public.dossier_codes:
            shown = shown.model_copy(update={"dossier_code": None})
        name = self.officers.get(row["officer"]) if row["officer"] else None
        return CounterState(
            counter=number, name=cfg.display_name, status=row["status"],
            officer=row["officer"] if public.officer_ids else None,
            officer_name=name, current=shown, rating_window=window, updated_at=parse_dt(row["updated_at"]),
        )

    def area_summary(self, code: str) -> AreaSummary:
        s, day, area = self.store, self.store.meta("day"), self.areas[code]
        waiting = s.one("SELECT COUNT(*) AS n, COUNT(priority) AS p FROM tickets "
                        "WHERE day = ? AND area = ? AND status = 'waiting'", day, code)
        last = s.scalar("SELECT number FROM tickets WHERE day = ? AND area = ? AND called_at IS NOT NULL "
                        "ORDER BY called_at DESC LIMIT 1", day, code)
        issued = s.scalar("SELECT COUNT(*) FROM tickets WHERE day = ? AND issue_area = ?", day, code)
        served = s.scalar("SELECT COUNT(*) FROM tickets WHERE day = ? AND area = ? AND status = 'done'", day, code)
        waits = s.all("SELECT (julianday(called_at) - julianday(issued_at)) * 1440 AS w FROM tickets "
                      "WHERE day = ? AND area = ? AND called_at IS NOT NULL ORDER BY called_at DESC LIMIT ?",
                      day, code, self.rules.service_time_samples)
        avg_wait = round(sum(r["w"] for r in waits) / len(waits), 1) if waits else None
        avg_service = self._average_service_min(code)
        return AreaSummary(area=code, name=area.name, waiting=waiting["n"], waiting_priority=waiting["p"],
                           last_called=last, issued_today=issued, served_today=served,
                           open_counters=self._open_counters(code), average_wait_min=avg_wait,
                           average_service_min=round(avg_service, 1) if avg_service is not None else None)

    def dispatcher_state(self, database: str) -> DispatcherState:
        s, day = self.store, self.store.meta("day")
        return DispatcherState(
            day=date.fromisoformat(day), database=database, started_at=self.started_at,
            issued_today=s.scalar("SELECT COUNT(*) FROM tickets WHERE day = ?", day),
            waiting=s.scalar("SELECT COUNT(*) FROM tickets WHERE day = ? AND status = 'waiting'", day),
            served_today=s.scalar("SELECT COUNT(*) FROM tickets WHERE day = ? AND status = 'done'", day),
        )

    def hall_figures(self) -> HallFigures:
        """Today's figures for the whole hall. Satisfaction counts ratings of today's tickets."""
        s, day = self.store, self.store.meta("day")
        wait = s.scalar("SELECT AVG((julianday(called_at) - julianday(issued_at)) * 1440) FROM tickets "
                        "WHERE day = ? AND called_at IS NOT NULL", day)
        rated = s.one("SELECT COUNT(*) AS n, COALESCE(SUM(r.level IN ('very_satisfied', 'satisfied')), 0) AS good "
                      "FROM ratings r JOIN tickets t ON t.ticket_id = r.ticket_id "
                      "WHERE t.day = ? AND r.level != 'not_rated'", day)
        return HallFigures(
            day=date.fromisoformat(day),
            issued_today=s.scalar("SELECT COUNT(*) FROM tickets WHERE day = ?", day),
            served_today=s.scalar("SELECT COUNT(*) FROM tickets WHERE day = ? AND status = 'done'", day),
            waiting=s.scalar("SELECT COUNT(*) FROM tickets WHERE day = ? AND status = 'waiting'", day),
            average_wait_min=round(wait, 1) if wait is not None else None,
            ratings_today=rated["n"],
            satisfied_pct=round(100.0 * rated["good"] / rated["n"], 1) if rated["n"] else None,
        )

    # ------------------------------------------------------------------ estimates

    def _waiting_ahead(self, day: str, area: str, priority: str | None) -> int:
        # a priority ticket only waits behind other priority tickets of its area
        sql = "SELECT COUNT(*) FROM tickets WHERE day = ? AND area = ? AND status = 'waiting'"
        if priority is not None:
            sql += " AND priority IS NOT NULL"
        return self.store.scalar(sql, day, area)

    def _open_counters(self, area: str) -> int:
        # a counter left open in the database but since removed from the settings serves nothing
        return sum(1 for r in self.store.all("SELECT number FROM counters WHERE status = 'open'")
                   if r["number"] in self.counters and area in self.counters[r["number"]].areas)

    def _average_service_min(self, area: str) -> float | None:
        rows = self.store.all(
            "SELECT (julianday(finished_at) - julianday(called_at)) * 1440 AS s FROM tickets "
            "WHERE area = ? AND status = 'done' AND called_at IS NOT NULL ORDER BY finished_at DESC LIMIT ?",
            area, self.rules.service_time_samples)
        return sum(r["s"] for r in rows) / len(rows) if rows else None

    def _estimate_wait(self, area: str, ahead: int) -> int:
        per_ticket = self._average_service_min(area) or self.rules.default_service_min
        return math.ceil(ahead * per_ticket / max(1, self._open_counters(area)))


class _EmptyQueue(Refusal):
    def __init__(self, message: str):
        super().__init__("empty", message)


def _reply_type(kind: str) -> type[Reply]:
    if kind.startswith("ticket."):
        return TicketReply
    if kind.startswith("counter."):
        return CounterReply
    return Reply
