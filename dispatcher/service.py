"""The dispatcher's MQTT wiring: topics in, Hall rules, retained states and events out.

Thin on purpose: every decision is in :mod:`dispatcher.hall`. Order of what
leaves after a command: the reply first (the keypad is waiting for it), then
the counter states that changed, then the events from the outbox; what is
counted over an area or the day (summaries, figures, citizens' pages) follows
on the next tick, at most a second later. Requests
arrive on ``request/{login}/…``; the runtime hands over that login as
``inbound.sender`` and answers only there.
"""

from __future__ import annotations

import functools
import logging
import threading

from motcua.protocol import (
    COUNTER_ACTIONS,
    DossierLookup,
    DossierStatusUpdate,
    Message,
    Rating,
    RatingAck,
    Reply,
    TicketCancel,
    TicketRequest,
)
from motcua.protocol.topics import TOPIC_SPECS, is_counter_level
from motcua.runtime import DeviceRuntime, Inbound, SystemdNotifier

from .config import DispatcherSettings
from .hall import Hall, Outcome
from .report_figures import ReportFigures
from .store import Store
from .views import Views
from .tracking import area_queue, ticket_tracks, tracks_of_day

log = logging.getLogger("dispatcher")

TICK_S = 1.0
#: Each topic's QoS, as the protocol gives it. The citizens' pages (tickets' tracks, areas' queues) have 0:
#: each is retained and superseded within a second, every one is published again after a reconnect,
#: and a bridge coming back gets the retained ones it missed. At QoS 1 the tick's hundreds of pages a
#: second each waited for one of paho's in-flight slots, and a keypad's counter state, published
#: just after, waited behind all of them (20–70 ms in the benchmark).
QOS = {spec.name: spec.qos for spec in TOPIC_SPECS}


class DispatcherService:
    def __init__(self, settings: DispatcherSettings, notifier: SystemdNotifier | None = None):
        self.settings = settings
        self.store = Store(settings.database)
        self.runtime = DeviceRuntime(settings, "dispatcher", checks=self._checks, notifier=notifier)
        self.topics = self.runtime.topics
        self.hall = Hall(settings.hall, self.store, self.topics)
        # Handlers run on paho's thread, the upkeep tick on its own: one lock keeps
        # the SQLite connection to one user at a time.
        self._lock = threading.RLock()
        # What readers away from the keypads see (the board's figures, `motcua status`, the citizens'
        # pages at the province) the tick reads on a connection of its own, from what is committed,
        # outside self._lock: a keypad's command never waits behind whole-day counts or an area's
        # whole queue. The same connection copies the write-ahead log back into the database.
        self.reader = Store(settings.database, reader=True)
        self.reader_views = self.hall.views_on(self.reader)
        # Held (after self._lock, never before it) while the tick or a reconnect publishes those
        # views, so an older reading never lands after a newer one.
        self._views_lock = threading.Lock()
        self._flushed_upto = 0  # outbox rows above this id were never handed to paho on this connection
        # Outbox rows go out once per connection: in flight (row ids) until the broker
        # acknowledges, then delivered until the next tick deletes them.
        self._in_flight: set[int] = set()
        self._delivered: list[int] = []
        # paho calls the ack callback holding the mutex its publish() needs: the ack path must
        # never wait for self._lock (held around publishing), so it has a lock of its own.
        self._acks = threading.Lock()
        self._totals_stale = False  # dispatcher state and hall figures, republished on the next tick
        self._areas_stale: set[str] = set()  # areas whose summary and queue go out on the next tick

        t, rt = self.topics, self.runtime
        rt.on_command(t.all_requests("ticket", "issue"), lambda _: TicketRequest, self._on_ticket_request)
        rt.on_command(t.all_requests("ticket", "cancel"), lambda _: TicketCancel, self._on_ticket_cancel)
        rt.on_command(t.all_requests("dossier", "lookup"), lambda _: DossierLookup, self._on_dossier_lookup)
        rt.on_command(t.all_requests("counter", "+", "+"), self._counter_model, self._on_counter_command)
        rt.on_command(t.all_requests("rating", "+"), self._rating_model, self._on_rating)
        rt.on(t.dossier_status, DossierStatusUpdate, self._on_dossier_status)
        rt.on_connected.append(self.republish_all)
        self.report_figures = ReportFigures(settings, lambda kind, summary: self.runtime.publish(
            self.topics.hall_report(kind), summary, retain=True))
        rt.on_connected.append(self.report_figures.wake)

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self.runtime.start()
        self.runtime.every(TICK_S, self._tick, "tick")
        self.report_figures.start()
        cfg = self.settings.hall
        self.runtime.ready(f"dispatcher for {cfg.name}: {len(cfg.areas)} areas, {len(cfg.counters)} counters, "
                           f"database {self.settings.database}")

    def stop(self) -> None:
        self.report_figures.stop()
        self.runtime.stop()
        with self._lock:
            self._forget_delivered()
            self.store.close()
        with self._views_lock:
            self.reader.close()

    # ------------------------------------------------------------------ handlers

    def _on_ticket_request(self, req: TicketRequest, inbound: Inbound):
        return self._run(lambda: self.hall.issue_ticket(req, sender=inbound.requester))

    def _on_ticket_cancel(self, req: TicketCancel, inbound: Inbound):
        return self._run(lambda: self.hall.cancel_ticket(req, sender=inbound.requester))

    def _on_dossier_lookup(self, req: DossierLookup, inbound: Inbound) -> Reply:
        with self._lock:
            return self.hall.lookup_dossier(req, sender=inbound.requester)

    @staticmethod
    def _counter_model(inbound: Inbound) -> type[Message] | None:
        what = inbound.what  # counter/{n}/{action}
        if len(what) != 3 or not is_counter_level(what[1]):
            return None
        return COUNTER_ACTIONS.get(what[2])

    @staticmethod
    def _rating_model(inbound: Inbound) -> type[Message] | None:
        what = inbound.what  # rating/{n}
        return Rating if len(what) == 2 and is_counter_level(what[1]) else None

    def _on_counter_command(self, cmd, inbound: Inbound):
        counter, action = int(inbound.what[1]), inbound.what[2]
        return self._run(lambda: self.hall.counter_command(counter, action, cmd, sender=inbound.requester))

    def _on_rating(self, rating: Rating, inbound: Inbound):
        counter = int(inbound.what[1])
        return self._run(lambda: self.hall.rate(counter, rating, sender=inbound.requester))

    def _on_dossier_status(self, update: DossierStatusUpdate, inbound: Inbound) -> None:
        with self._lock:
            changed = self.hall.update_dossiers(update)
        log.info("dossier cache: %d of %d records updated", changed, len(update.records))

    def _run(self, apply):
        with self._lock:
            out: Outcome = apply()
            if out.replayed:
                log.info("replayed %s: same reply, nothing changed", out.reply.command_id)
            elif not out.reply.ok and out.reply.error:
                log.info("refused %s: %s", out.reply.command_id, out.reply.error.message)
        # the reply leaves first (a keypad is waiting on it); states and events follow
        return out.reply, lambda: self._after(out)

    # ------------------------------------------------------------------ publishing

    def _after(self, out: Outcome) -> None:
        with self._lock:
            for n in sorted(out.counters):
                self.runtime.publish(self.topics.counter_state(n), self.hall.counter_state(n), retain=True)
            # An area's summary (the board's and kiosk's waiting counts), what the citizens' pages away
            # from the hall (the province) read (a changed ticket's track, its area's queue by tracking
            # key) follow on the next tick, at most once a second: counting an area's day took a third
            # of a keypad's command, and a busy hall changes each area several times a second.
            self._areas_stale |= out.areas
            # Hall-wide totals (the board's figures page, `motcua status`) are whole-day
            # queries: they follow on the next tick, at most once a second, rather than
            # after every command, so a busy hall's keypads never wait behind them.
            if out.counters or out.areas or (isinstance(out.reply, RatingAck) and out.reply.ok):
                self._totals_stale = True
            self._flush_outbox()

    def republish_all(self) -> None:
        """After start-up and every reconnect: every retained state from the database."""
        with self._lock:
            self.runtime.publish(self.topics.hall_config, self.hall.hall_config(), retain=True)
            for n in self.hall.counters:
                self.runtime.publish(self.topics.counter_state(n), self.hall.counter_state(n), retain=True)
            with self._views_lock:
                self.hall.take_touched()
                self._areas_stale = set()
                self._totals_stale = False
                self._publish_views(self.hall.views, self.store, totals=True, tracks=None, areas=set(self.hall.areas))
            with self._acks:
                self._in_flight.clear()  # unacknowledged events go again: at least once, deduped by event_id
            self._flush_outbox(everything=True)
        log.info("republished hall config, %d counters, %d areas", len(self.hall.counters), len(self.hall.areas))

    def _publish_views(self, views: Views, store: Store, *, totals: bool, tracks: set[str] | None,
                       areas: set[str]) -> None:
        """Under self._views_lock: the dispatcher's state and the hall's figures (``totals``), the
        citizens' pages of the tickets in ``tracks`` (None: every ticket of the day), and the summaries
        and queues by tracking key of the ``areas``."""
        day = views.day()
        for code in sorted(areas):
            self.runtime.publish(self.topics.area_summary(code), views.area_summary(code), retain=True)
        if totals:
            self.runtime.publish(self.topics.state(self.runtime.device_id),
                                 views.dispatcher_state(str(self.settings.database), self.hall.started_at), retain=True)
            self.runtime.publish(self.topics.hall_figures, views.hall_figures(), retain=True)
        expiry = int(self.settings.tracking_expiry_h * 3600)
        found = tracks_of_day(store, day) if tracks is None else ticket_tracks(store, tracks)
        for key, track in found:
            self.runtime.publish(self.topics.track(key), track, retain=True, expiry_s=expiry,
                                 qos=QOS["ticket track"])
        for code in sorted(areas):
            self.runtime.publish(self.topics.area_queue(code), area_queue(store, day, code), retain=True,
                                 qos=QOS["area queue"])

    def _flush_outbox(self, everything: bool = False) -> None:
        """Hand paho the events not yet handed over on this connection (``everything``: all not yet
        acknowledged, after a reconnect)."""
        if not self.runtime.connected:
            return
        with self._acks:
            sent = self._in_flight | set(self._delivered)
        for row in self.store.outbox(after=0 if everything else self._flushed_upto):
            row_id = row["id"]
            if row_id not in sent:
                with self._acks:
                    self._in_flight.add(row_id)
                info = self.runtime.publish(row["topic"], bytes(row["payload"]),
                                            on_ack=functools.partial(self._ack_of, row_id))
                if not self.runtime.taken(info):
                    # not taken (paho's queue full: the runtime logged it): this row and the ones after it
                    # go on the next tick, in order
                    with self._acks:
                        self._in_flight.discard(row_id)
                    return
            self._flushed_upto = max(self._flushed_upto, row_id)

    def _ack_of(self, row_id: int, _mid: int) -> None:
        self._acked(row_id)

    def _acked(self, row_id: int) -> None:
        """On paho's thread (or ours, when the ack came first): never takes self._lock."""
        with self._acks:
            if row_id in self._in_flight:
                self._in_flight.discard(row_id)
                self._delivered.append(row_id)

    def _forget_delivered(self) -> None:
        """Under self._lock, so no flush is between its publish and its bookkeeping."""
        with self._acks:
            delivered, self._delivered = self._delivered, []
        if delivered:
            self.store.delivered(delivered)

    def _tick(self) -> None:
        with self._lock:
            self._forget_delivered()
            self._flush_outbox()  # events a full queue turned away
            out = self.hall.tick()
            if out.counters and out.areas:  # a new service day
                self.runtime.publish(self.topics.hall_config, self.hall.hall_config(), retain=True)
        if out.counters or out.areas:
            self._after(out)
        with self._lock:
            totals, self._totals_stale = self._totals_stale, False
            areas, self._areas_stale = self._areas_stale, set()
            tracks = self.hall.take_touched()
        with self._views_lock:  # read inside it: whoever publishes last read last
            if totals or tracks or areas:
                self._publish_views(self.reader_views, self.reader, totals=totals, tracks=tracks, areas=areas)
            self.reader.checkpoint()

    def _checks(self) -> dict[str, str]:
        with self._lock:
            try:
                self.store.scalar("SELECT 1")
                backlog = self.store.scalar("SELECT COUNT(*) FROM outbox")
            except Exception as exc:  # noqa: BLE001
                return {"database": f"fault: {exc}"}
        return {"database": "ok", "event_outbox": "ok" if backlog < 1000 else f"degraded: {backlog} events unsent"}
