"""The one-stop adapter: accepted ratings up to the one-stop software, dossier statuses down to the halls.

Three threads around one SQLite file (:mod:`onestop.state`):

* intake: the halls' ``event/rating`` and ``event/ticket`` from the province
  broker (a shared subscription, acknowledged after the commit). A rating
  goes into the outbox; a dossier code a hall has just met is marked wanted;
* pusher: pushes due ratings one by one, with the idempotency key
  ``{site}:{rating_id}``; a failure worth retrying is tried again later
  (doubling from ``push_retry_min_s`` to ``push_retry_max_s``), a refusal is
  kept with its reason. Nothing leaves the outbox unrecorded;
* puller: every ``poll_interval_s`` (or at once when a code is wanted) and
  per hall, the wanted codes by code, then everything changed since the last
  pull, published to ``motcua/v1/{site}/dossier/status`` (the bridge carries
  it down to the hall's dispatcher, kiosk and board), then the hall's
  dossier-progress summary, retained.
"""

from __future__ import annotations

import importlib
import logging
import re
import threading
import time
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from motcua.protocol import DossierProgress, DossierStatusUpdate, RatingEvent, TicketEvent, TicketOutcome, Topics
from motcua.protocol.messages import ProgressCounts, ProgressGroup
from motcua.protocol.messages import DossierRecord
from motcua.protocol.topics import ROOT
from motcua.runtime import SystemdNotifier
from motcua.runtime.durable import DurableSubscriber
from province.records import EventRecord, parse

from .config import OneStopSettings
from .http import HttpOneStop
from .interface import OneStopError, OneStopRejected, OneStopSystem
from .state import State

log = logging.getLogger("onestop")

RECORDS_PER_MESSAGE = 500  # DossierStatusUpdate's limit
VN = ZoneInfo("Asia/Ho_Chi_Minh")


def load_system(settings: OneStopSettings) -> OneStopSystem:
    if settings.system == "http":
        return HttpOneStop(settings.http)
    module, _, cls = settings.system.partition(":")
    return getattr(importlib.import_module(module), cls)(settings)


class OneStopService:
    def __init__(self, settings: OneStopSettings, system: OneStopSystem | None = None,
                 notifier: SystemdNotifier | None = None):
        self.settings = settings
        self.system = system or load_system(settings)
        self.systemd = notifier or SystemdNotifier()
        self.state = State(settings.state)
        self.lock = threading.Lock()  # one user of the SQLite connection at a time
        self.last_error: str | None = None
        self.pushes_done = 0
        self._stop = threading.Event()
        self._wake_pusher = threading.Event()
        self._wake_puller = threading.Event()
        group = settings.share_group
        filters = [f"$share/{group}/{ROOT}/{site}/event/{kind}" for site in settings.halls
                   for kind in ("rating", "ticket", "outcome")]
        self.mqtt = DurableSubscriber(settings.device_id, settings.mqtt, filters, name="onestop",
                                      receive_maximum=settings.receive_maximum,
                                      session_expiry_s=settings.session_expiry_s)
        self._threads = [threading.Thread(target=self._guarded, args=(fn,), name=f"onestop-{fn.__name__}", daemon=True)
                         for fn in (self._intake, self._pusher, self._puller)]

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        for t in self._threads:
            t.start()
        self.mqtt.start()
        self.systemd.ready(f"one-stop adapter for {len(self.settings.halls)} halls, system {self.system.name}")
        if self.systemd.watchdog_s:
            threading.Thread(target=self._watchdog, name="onestop-watchdog", daemon=True).start()

    def stop(self) -> None:
        self.systemd.stopping()
        self._stop.set()
        self._wake_pusher.set()
        self._wake_puller.set()
        self.mqtt.stop()
        for t in self._threads:
            t.join(10)
        self.state.close()

    def healthy(self) -> bool:
        return all(t.is_alive() for t in self._threads) and self.mqtt.loop_alive()

    def _watchdog(self) -> None:
        while not self._stop.wait((self.systemd.watchdog_s or 30) / 3):
            if self.healthy():
                self.systemd.watchdog()

    def _guarded(self, fn) -> None:
        while not self._stop.is_set():
            try:
                fn()
                return
            except Exception as exc:  # noqa: BLE001 - a bug of ours: log it, keep the adapter running
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("%s failed; starting it again", fn.__name__)
                self._stop.wait(1.0)

    # ------------------------------------------------------------------ intake

    def _intake(self) -> None:
        while True:
            batch = self.mqtt.next_batch(100, 0.02)
            if not batch:
                if self._stop.is_set():
                    return
                continue
            wanted = False
            with self.lock, self.state.transaction():
                for d in batch:
                    rec = parse(d.topic, d.payload, self.settings.mqtt.max_payload_bytes)
                    if not isinstance(rec, EventRecord) or rec.site not in self.settings.halls:
                        log.warning("ignored %s: %s", d.topic, getattr(rec, "reason", "not one of this adapter's halls"))
                        continue
                    ev = rec.event
                    if isinstance(ev, RatingEvent):
                        if self.state.keep_rating(rec.site, ev) and ev.dossier_code:
                            self.state.want(rec.site, ev.dossier_code)
                            wanted = True
                    elif isinstance(ev, TicketEvent | TicketOutcome) and ev.ticket.dossier_code:
                        self.state.want(rec.site, ev.ticket.dossier_code)
                        wanted = True
            self.mqtt.ack(batch)  # kept on disk: the broker may forget them
            self._wake_pusher.set()
            if wanted:
                self._wake_puller.set()

    # ------------------------------------------------------------------ pushing ratings

    def _pusher(self) -> None:
        s = self.settings
        while not self._stop.is_set():
            with self.lock:
                due = self.state.due()
            for site, rating, attempts in due:
                if self._stop.is_set():
                    return
                try:
                    self.system.push_rating(site, s.halls[site], rating)
                except OneStopRejected as exc:
                    log.error("one-stop system refused rating %s of %s: %s (kept; `motcua onestop retry` "
                              "pushes it again)", rating.rating_id, site, exc)
                    with self.lock:
                        self.state.rejected(site, rating.rating_id, str(exc))
                    continue
                except OneStopError as exc:  # Unavailable, or a module's own kind: worth retrying
                    delay = min(s.push_retry_max_s, s.push_retry_min_s * 2 ** attempts)
                    self.last_error = str(exc)
                    log.warning("rating %s of %s not pushed (%s); again in %.0f s", rating.rating_id, site, exc, delay)
                    with self.lock:
                        self.state.retry_later(site, rating.rating_id, str(exc), delay)
                    break  # the system is unwell: do not hammer it with the rest of the queue
                except Exception as exc:  # noqa: BLE001 - a system module's bug must not stop every other push
                    log.exception("pushing rating %s of %s failed inside %s", rating.rating_id, site, self.system.name)
                    with self.lock:
                        self.state.rejected(site, rating.rating_id, f"internal: {type(exc).__name__}: {exc}")
                    continue
                with self.lock:
                    self.state.pushed(site, rating.rating_id)
                self.pushes_done += 1
            with self.lock:
                wait = self.state.next_due_in()
            self._wake_pusher.wait(min(wait if wait is not None else 60.0, 60.0))
            self._wake_pusher.clear()

    # ------------------------------------------------------------------ pulling dossier statuses

    def _puller(self) -> None:
        s = self.settings
        last_full = 0.0
        while not self._stop.is_set():
            full = time.monotonic() - last_full >= s.poll_interval_s
            for site, agency in s.halls.items():
                if self._stop.is_set():
                    return
                try:
                    self._pull(site, agency, full)
                except OneStopError as exc:
                    self.last_error = str(exc)
                    log.warning("dossier statuses of %s not pulled: %s", site, exc)
            if full:
                last_full = time.monotonic()
            wait = max(0.0, s.poll_interval_s - (time.monotonic() - last_full))
            self._wake_puller.wait(wait)
            self._wake_puller.clear()

    def _pull(self, site: str, agency: str, full: bool) -> None:
        with self.lock:
            codes = self.state.wanted(site)
            since = self.state.since(site)
        if codes:
            records = self.system.statuses(codes)
            if self._send(site, records, force=True):
                with self.lock:
                    self.state.got(site, codes)
        if not full:
            return
        began = datetime.now(timezone.utc)
        start = (since - timedelta(seconds=self.settings.overlap_s)) if since else \
            began - timedelta(days=self.settings.first_pull_days)
        records = list(self.system.changed_since(agency, start))
        if self._send(site, records):
            with self.lock:
                self.state.pulled(site, began)
            self._progress(site, began)

    def _send(self, site: str, records: list[DossierRecord], force: bool = False) -> bool:
        """Cache and publish what is new (``force``: all of it); False if the broker did not take it.

        The cache changes only if everything was published: what the hall did not get is sent again."""
        topic = Topics(site).dossier_status
        try:
            with self.lock, self.state.transaction():
                out = records if force else self.state.remember(site, records)
                if force:
                    self.state.remember(site, records)
                for i in range(0, len(out), RECORDS_PER_MESSAGE):
                    chunk = DossierStatusUpdate(records=out[i:i + RECORDS_PER_MESSAGE])
                    if not self._publish(topic, chunk.to_json()):
                        raise _NotSent
        except _NotSent:
            return False
        if out:
            log.info("%d dossier statuses sent down to %s", len(out), site)
        return True

    def _progress(self, site: str, at: datetime) -> None:
        """The dossier-progress screen's figures for this hall: one group, the hall's agency."""
        local = at.astimezone(VN)
        day_start = local.replace(hour=0, minute=0, second=0, microsecond=0)
        with self.lock:
            today, month = self.state.progress(site, day_start.replace(day=1), day_start, local)
        agency = self.settings.halls[site]
        group = ProgressGroup(key=re.sub(r"[^A-Za-z0-9_-]", "-", agency)[:32], name=self.settings.progress_name,
                              today=ProgressCounts(**today), month=ProgressCounts(**month),
                              agency_codes=[agency] if re.fullmatch(r"[A-Za-z0-9._]{1,40}", agency) else [])
        summary = DossierProgress(group_by="agency", day=local.date(), groups=[group], updated_at=at)
        self._publish(Topics(site).dossier_progress, summary.to_json(), retain=True)

    def _publish(self, topic: str, payload: bytes, retain: bool = False) -> bool:
        if not self.mqtt.connected:
            return False
        info = self.mqtt.client.publish(topic, payload, qos=1, retain=retain)
        try:
            info.wait_for_publish(timeout=10)
        except (RuntimeError, ValueError):
            return False
        return info.is_published()


class _NotSent(Exception):
    """The broker did not take a publish: roll the cache back so it is sent again."""
