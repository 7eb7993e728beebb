"""The kiosk's MQTT wiring and its work: ask the printer, issue, print, cancel what could not be printed.

* The hall configuration and the area summaries (retained) come in on
  paho's thread and go into the model under a lock; the screen thread taps
  into the same model.
* Work the model asks for runs on one worker thread, one job at a time:
  issuing a ticket is *printer status → request → render → print (retry
  once)*; a dossier lookup is one request.
* What must reach the dispatcher whatever happens (cancelling a ticket that
  could not be printed; settling a request whose reply never came) goes to a
  settling thread that retries with the same command id until the dispatcher
  answers. See docs/kiosk.md.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from PIL import Image

from announcer.touch import TouchSounds
from motcua.protocol import (
    AreaSummary,
    DossierLookup,
    DossierReply,
    HallConfig,
    TicketCancel,
    TicketReply,
    TicketRequest,
    new_id,
)
from motcua.runtime import (
    BrokerRefused,
    DeviceRuntime,
    Inbound,
    Offline,
    RequestFailed,
    RequestTimeout,
    SystemdNotifier,
    release_free_memory,
)
from motcua.screen_service import ScreenService

from .config import KioskSettings
from .model import Effect, IssueTicket, KioskModel, LookupDossier
from .printer import PrinterError, PrinterStatus, TicketPrinter
from .scanner import BarcodeScanner
from .ticket_render import TicketContent, TicketRenderer, ticket_lines

log = logging.getLogger("kiosk_ticket")

ISSUE_EXPIRY_S = 10  # the contract's expiry for request/ticket/issue
SETTLE_GIVE_UP_S = 3600.0
REFUSAL_TEXTS = {"closed_hours": "refused_closed_hours", "exhausted": "refused_exhausted",
                 "rate_limited": "refused_rate_limited"}


@dataclass
class Printed:
    """One ticket that left the printer: what the demo saves and the benchmark times."""

    reply: TicketReply
    image: Image.Image
    job: bytes
    done_at: float  # monotonic, after the last byte was written


@dataclass
class _Obligation:
    """Something the dispatcher must hear although the citizen has moved on."""

    message: TicketRequest | TicketCancel
    since: float
    attempts: int = 0


class KioskService(ScreenService):
    def __init__(self, settings: KioskSettings, notifier: SystemdNotifier | None = None):
        self.settings = settings
        # Printer and scanner faults are published as faults, but restarting the kiosk refills no
        # paper: the systemd watchdog looks only at what a restart can fix (MQTT and screen loops).
        self.runtime = DeviceRuntime(settings, "kiosk", checks=self._checks, notifier=notifier,
                                     watchdog_checks={"screen"})
        self.topics = self.runtime.topics
        self.printer = TicketPrinter(settings.printer)
        self.renderer = TicketRenderer(self.printer.width, settings.screen.font, settings.screen.bold_font,
                                       settings.texts, settings.printer.logo)
        self.zone = ZoneInfo(settings.timezone)
        self.model = KioskModel(settings)
        self._init_screen()  # the lock, on_view_change, the screen's health
        self.sounds = TouchSounds(settings.sound)
        self.on_touch = self.sounds.touched
        self.on_printed: Callable[[Printed], None] = lambda printed: None
        self.printer_status: PrinterStatus | None = None
        self.printer_error: str | None = None
        self.printed = 0
        self.cancelled = 0
        self.last_printed: Printed | None = None
        self._refill = self._load_refill_count()
        self._work: queue.Queue[tuple[Effect, float] | None] = queue.Queue()
        self._settle: list[_Obligation] = []
        self._settle_wake = threading.Event()
        self._stopping = threading.Event()
        self._worker = threading.Thread(target=self._work_forever, name="kiosk-work", daemon=True)
        self._settler = threading.Thread(target=self._settle_forever, name="kiosk-settle", daemon=True)
        self.scanner = BarcodeScanner(settings.scanner, self.scanned, self._bad_scan) if settings.scanner else None
        self.runtime.on(self.topics.hall_config, HallConfig, self._on_hall_config)
        self.runtime.on(f"{self.topics.root}/area/+/summary", AreaSummary, self._on_area_summary)
        self.runtime.on_connected.append(lambda: self._settle_wake.set())

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self.sounds.start()
        self.runtime.start()
        self._worker.start()
        self._settler.start()
        if self.scanner is not None:
            self.scanner.start()
        self.runtime.every(1.0, self._watch_link, "link")
        self.runtime.every(self.settings.printer.status_poll_s, self._poll_printer, "printer")

    def stop(self) -> None:
        if self._stopping.is_set():
            return
        self._stopping.set()
        self._work.put(None)
        self._settle_wake.set()
        if self._worker.is_alive():
            self._worker.join(timeout=15)
        if self._settler.is_alive():
            self._settler.join(timeout=10)
        if self.scanner is not None:
            self.scanner.stop()
        self.runtime.stop()
        self.printer.close()
        self.sounds.close()

    # ------------------------------------------------------------------ what the screen calls

    def scroll(self, dy: int) -> None:
        with self._lock:
            self._after(self.model.scroll(dy, time.monotonic()), None)

    def set_scroll_limit(self, limit: int) -> None:
        with self._lock:
            self._after(self.model.set_scroll_limit(limit), None)

    def wait_settled(self, timeout: float) -> bool:
        """Block until every cancel or unanswered request has been settled with the dispatcher."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._settle:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(min(remaining, 0.5))
            return True

    # ------------------------------------------------------------------ inputs

    def scanned(self, code: str) -> None:
        with self._lock:
            self._after(*self.model.scanned(code, time.monotonic()))

    def _bad_scan(self, reason: str) -> None:
        with self._lock:
            self._after(self.model.bad_scan(time.monotonic()), None)

    def hall_config(self, config: HallConfig) -> None:
        with self._lock:
            self._after(self.model.hall_config(config), None)

    def area_summary(self, summary: AreaSummary) -> None:
        with self._lock:
            self._after(self.model.area_summary(summary), None)

    def _on_hall_config(self, config: HallConfig, inbound: Inbound) -> None:
        if config.site != self.settings.site:
            log.warning("hall config for site %s on site %s: ignored", config.site, self.settings.site)
            return
        self.hall_config(config)

    def _on_area_summary(self, summary: AreaSummary, inbound: Inbound) -> None:
        self.area_summary(summary)

    def _watch_link(self) -> None:
        with self._lock:
            self._after(self.model.set_connected(self.runtime.connected), None)

    def _effect(self, effect: Effect) -> None:
        self._work.put((effect, time.monotonic()))

    # ------------------------------------------------------------------ the work

    def _work_forever(self) -> None:
        while True:
            item = self._work.get()
            if item is None:
                return
            effect, _ = item
            try:
                if isinstance(effect, IssueTicket):
                    self._issue(effect)
                elif isinstance(effect, LookupDossier):
                    self._lookup(effect)
            except Exception as exc:  # noqa: BLE001 - the citizen must never be left on a spinner
                log.exception("kiosk work failed")
                self.runtime.last_error = f"{type(exc).__name__}: {exc}"
                with self._lock:
                    if isinstance(effect, IssueTicket) and self.model.busy:
                        self._after(self.model.issue_failed("refused", time.monotonic()), None)
                    elif self.model.busy:
                        self._after(self.model.lookup_failed(time.monotonic()), None)

    def _fail(self, text_key: str) -> None:
        with self._lock:
            self._after(self.model.issue_failed(text_key, time.monotonic()), None)

    def _issue(self, effect: IssueTicket) -> None:
        status = self.check_printer()
        if status.refusal:
            log.warning("no ticket issued: %s", status.refusal.replace("_", " "))
            self._fail(status.refusal)
            return
        req = TicketRequest(command_id=new_id(), area=effect.area, priority=effect.priority,
                            dossier_code=effect.dossier_code)
        try:
            reply = self.runtime.request(self.topics.ticket_issue(self.runtime.login), req, TicketReply,
                                         timeout=self.settings.timeouts.request_s, expiry_s=ISSUE_EXPIRY_S)
        except Offline as exc:
            log.warning("no ticket issued: %s", exc)
            self._fail("no_dispatcher")
            return
        except BrokerRefused as exc:  # the dispatcher never saw it
            log.error("no ticket issued: %s", exc)
            self.runtime.last_error = str(exc)
            self._fail("no_dispatcher")
            return
        except RequestTimeout as exc:
            # The dispatcher may have issued it and only the reply was lost: settle it later
            # (same command id, so at most that one ticket), and cancel it if it exists.
            log.warning("no ticket issued: %s; settling %s in the background", exc, req.command_id)
            self._owe(req)
            self._fail("no_dispatcher")
            return
        if not reply.ok or reply.ticket is None:
            code = reply.error.code if reply.error else "?"
            log.warning("dispatcher refused a ticket in %s: %s", effect.area, reply.error)
            self._fail(REFUSAL_TEXTS.get(code, "refused"))
            return
        t = reply.ticket
        content = self.ticket_content(reply)
        image = self.renderer.render(content)
        tm = self.settings.printer.text_mode
        job = (self.printer.text_job(ticket_lines(content, self.settings.texts, tm.columns)) if tm
               else self.printer.image_job(image))
        for attempt in (1, 2):
            try:
                self.printer.send(job)
                break
            except PrinterError as exc:
                self.printer_error = str(exc)
                self.runtime.last_error = f"printing {t.number} failed (attempt {attempt}): {exc}"
                log.warning("printing %s failed (attempt %d): %s", t.number, attempt, exc)
        else:
            log.error("ticket %s could not be printed: asking the dispatcher to cancel it", t.number)
            self._owe(TicketCancel(command_id=new_id(), ticket_id=t.ticket_id,
                                   reason="kiosk printer failed; ticket not printed"))
            self._fail("print_failed")
            return
        done = time.monotonic()
        self.printer_error = None
        printed = Printed(reply=reply, image=image, job=job, done_at=done)
        with self._lock:
            self.printed += 1
            self._refill += 1
            self.last_printed = printed
            self._after(self.model.issued(reply, done), None)
        self._save_refill_count()
        log.info("ticket %s (%s) printed, %s ahead", t.number, t.area, reply.waiting_ahead)
        self.sounds.number(t.number)
        self.on_printed(printed)
        release_free_memory()  # the raster's and the job's temporaries: a day of tickets keeps the kiosk flat

    def ticket_content(self, reply: TicketReply) -> TicketContent:
        t = reply.ticket
        assert t is not None
        v = self.model.view
        names = {a.code: a.name for a in v.areas}
        cats = dict(v.categories)
        return TicketContent(
            hall_name=v.hall_name, area_name=names.get(t.area, t.area), number=t.number, ticket_id=t.ticket_id,
            issued_at=t.issued_at.astimezone(self.zone), waiting_ahead=reply.waiting_ahead,
            estimated_wait_min=reply.estimated_wait_min,
            # no token (a dispatcher older than the queue page): no QR code rather than a dead link
            tracking_url=self.settings.tracking_url.format(token=reply.tracking_token) if reply.tracking_token else None,
            priority_name=cats.get(t.priority) if t.priority else None,
            area_closed=next((a.closed for a in v.areas if a.code == t.area), False))

    def _lookup(self, effect: LookupDossier) -> None:
        req = DossierLookup(command_id=new_id(), code=effect.code)
        try:
            reply = self.runtime.request(self.topics.dossier_lookup(self.runtime.login), req, DossierReply,
                                         timeout=self.settings.timeouts.request_s, expiry_s=ISSUE_EXPIRY_S)
        except RequestFailed as exc:
            log.warning("dossier lookup failed: %s", exc)
            with self._lock:
                self._after(self.model.lookup_failed(time.monotonic()), None)
            return
        with self._lock:
            self._after(self.model.looked_up(reply, effect.code, time.monotonic()), None)

    # ------------------------------------------------------------------ the printer's state

    def check_printer(self) -> PrinterStatus:
        """Ask the printer now; remember the answer for the health; count a refill."""
        try:
            status = self.printer.status()
        except PrinterError as exc:
            self.printer_error = str(exc)
            status = PrinterStatus(False, "unknown")
            log.warning("printer unreachable: %s", exc)
        before = self.printer_status
        if before is not None and before.paper in ("out", "near_end") and status.paper == "ok":
            log.info("paper refilled after %d tickets", self._refill)
            self._refill = 0
            self._save_refill_count()
        if before is None or before != status:
            log.info("printer: online %s, paper %s", status.online, status.paper)
        self.printer_status = status
        return status

    def _poll_printer(self) -> None:
        if not self.settings.flow.issue_tickets:
            return  # a lookup kiosk has no printer to ask
        with self._lock:
            busy = self.model.busy
        if not busy:  # the worker is asking it anyway
            self.check_printer()

    def _load_refill_count(self) -> int:
        try:
            return int(json.loads(self.settings.printer.counter_file.read_text())["since_refill"])
        except (OSError, ValueError, KeyError, TypeError):
            return 0

    def _save_refill_count(self) -> None:
        path = self.settings.printer.counter_file
        try:
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps({"since_refill": self._refill,
                                       "at": datetime.now(timezone.utc).isoformat()}))
            tmp.replace(path)
        except OSError as exc:
            log.debug("cannot keep the refill count in %s: %s", path, exc)

    # ------------------------------------------------------------------ settling with the dispatcher

    def _owe(self, message: TicketRequest | TicketCancel) -> None:
        with self._changed:
            self._settle.append(_Obligation(message, time.monotonic()))
            self._changed.notify_all()
        self._settle_wake.set()

    def _settle_forever(self) -> None:
        delay = 1.0
        while not self._stopping.is_set():
            self._settle_wake.wait(delay)
            self._settle_wake.clear()
            with self._lock:
                owed = list(self._settle)
            for ob in owed:
                if self._stopping.is_set():
                    return
                done = self._settle_one(ob)
                with self._changed:
                    if done:
                        self._settle.remove(ob)
                    elif time.monotonic() - ob.since > SETTLE_GIVE_UP_S:
                        self._settle.remove(ob)
                        self.runtime.last_error = f"gave up settling {ob.message.command_id} with the dispatcher"
                        log.error("gave up settling %s after %d attempts", ob.message.command_id, ob.attempts)
                    self._changed.notify_all()
            delay = 2.0 if self._settle else 30.0

    def _settle_one(self, ob: _Obligation) -> bool:
        msg = ob.message
        ob.attempts += 1
        login = self.runtime.login
        topic = self.topics.ticket_issue(login) if isinstance(msg, TicketRequest) else self.topics.ticket_cancel(login)
        try:
            reply = self.runtime.request(topic, msg, TicketReply, timeout=5,
                                         expiry_s=ISSUE_EXPIRY_S if isinstance(msg, TicketRequest) else None)
        except RequestFailed:
            return False
        if isinstance(msg, TicketRequest):
            if reply.ok and reply.ticket is not None:  # it exists but was never printed: cancel it
                log.warning("ticket %s was issued after the kiosk gave up waiting: cancelling it", reply.ticket.number)
                self._owe(TicketCancel(command_id=new_id(), ticket_id=reply.ticket.ticket_id,
                                       reason="kiosk gave up waiting for the dispatcher; ticket not printed"))
            return True
        if reply.ok:
            self.cancelled += 1
            log.info("ticket %s cancelled by the dispatcher", msg.ticket_id)
        else:
            log.error("dispatcher would not cancel %s: %s", msg.ticket_id, reply.error)
        return True

    # ------------------------------------------------------------------ health

    def _checks(self) -> dict[str, str]:
        if not self.settings.flow.issue_tickets:
            checks = {"printer": "ok: none (dossier lookup and procedures only)"}
            if self.scanner is not None:
                checks["scanner"] = self.scanner.status
            checks["screen"] = self.screen_check()
            return checks
        st = self.printer_status
        err = f"; last error: {self.printer_error}" if self.printer_error else ""
        one_way = self.settings.printer.status_query == "none" or self.settings.printer.transport.kind in (
            "dummy", "file")
        if st is None:
            printer, paper = "unknown: not asked yet", "unknown: not asked yet"
        else:
            if st.online is False:
                printer = f"fault: printer offline or unreachable{err}"
            elif st.online is None:
                printer = ("ok: status not reported by this transport" if one_way
                           else "unknown: printer did not answer the status query") + err
            else:
                printer = f"ok: online{err}"
            paper = {"ok": "ok", "near_end": "degraded: paper near end", "out": "fault: out of paper",
                     "unknown": "ok: not reported by this transport" if one_way
                     else "unknown: printer did not answer"}[st.paper]
        checks = {"printer": printer, "paper": paper,
                  "tickets_since_refill": f"ok ({self._refill})",
                  "settling": f"ok ({len(self._settle)} pending)" if len(self._settle) < 5
                  else f"degraded: {len(self._settle)} tickets to settle with the dispatcher"}
        if self.scanner is not None:
            checks["scanner"] = self.scanner.status
        checks["screen"] = self.screen_check()
        return checks
