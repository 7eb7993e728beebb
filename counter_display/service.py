"""The counter box's wiring: MQTT and keypads in, the model in the middle, the matrix out.

* The counter's retained state and the dispatcher's availability arrive on
  paho's thread; the model decides what the matrix shows and the display
  thread draws it.
* Key presses arrive on gpiozero's or the serial reader's thread. Typing
  (digits, area keys) is handled at once; a press that means a command goes
  to the press thread, which sends it with a fresh command id and waits for
  the reply, retrying a timed-out attempt with the same id (the dispatcher
  applies it once). Offline, or while another press is still in flight, the
  press is refused with the long beep: nothing is queued to fire later, and
  the broker drops a command older than the press's retry window.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass

from motcua.protocol import AVAILABILITY_ONLINE, COUNTER_ACTIONS, CounterReply, CounterState, HallConfig, new_id, utcnow
from motcua.runtime import BrokerRefused, DeviceRuntime, Inbound, Offline, RequestTimeout, SystemdNotifier

from .config import CounterBoxSettings
from .display import MatrixDisplay, open_device
from .keypads import Keypad
from .model import Command, CounterBoxModel, Refusal

log = logging.getLogger("counter_display")

LINK_CHECK_S = 0.5


@dataclass(frozen=True)
class PressOutcome:
    """What became of one press (for logs, tests, the demo's scripted officers)."""

    seq: int
    token: str
    action: str | None
    ok: bool
    detail: str
    command_id: str | None = None
    attempts: int = 0
    reply: CounterReply | None = None


class CounterBoxService:
    def __init__(self, settings: CounterBoxSettings, *, device=None, keypads: list[Keypad] | None = None,
                 notifier: SystemdNotifier | None = None):
        self.settings = settings
        self.runtime = DeviceRuntime(settings, "counter", checks=self._checks, notifier=notifier)
        self.topics = self.runtime.topics
        self.model = CounterBoxModel(settings)
        self.display = MatrixDisplay(settings.matrix, device if device is not None
                                     else open_device(settings.matrix, settings.device_id))
        self.keypads = keypads if keypads is not None else build_keypads(settings)
        for keypad in self.keypads:
            keypad.when_key = self.key
        self.hall: HallConfig | None = None
        self._dispatcher_online = False  # the dispatcher's retained availability, 'online' or not
        self._lock = threading.RLock()
        self._presses: queue.Queue[tuple[int, str, Command]] = queue.Queue()
        self._busy = False
        self._seq = 0
        self.outcomes: list[PressOutcome] = []
        self._outcome_cond = threading.Condition(self._lock)
        self._stopping = threading.Event()
        self._worker = threading.Thread(target=self._press_loop, name="counter-presses", daemon=True)

        t = self.topics
        self.runtime.on(t.counter_state(settings.counter), CounterState, self._on_counter_state)
        self.runtime.on(t.hall_config, HallConfig, self._on_hall_config)
        self.runtime.on_raw(t.availability(settings.dispatcher_id), self._on_dispatcher_availability)

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> CounterBoxService:
        self.display.start()
        self._show()
        self._worker.start()
        for keypad in self.keypads:
            start = getattr(keypad, "start", None)
            if start is not None:
                start()
        self.runtime.start()
        self.runtime.every(LINK_CHECK_S, self._watch_link, "link")
        return self

    def ready(self) -> None:
        kinds = ", ".join(k.kind for k in self.keypads) or "no keypad"
        self.runtime.ready(f"counter box {self.settings.device_id} at counter {self.settings.counter}: "
                           f"{self.display.describe()}, {kinds}")

    def stop(self) -> None:
        if self._stopping.is_set():
            return
        self._stopping.set()
        self._presses.put((0, "", Command("stop")))
        self._worker.join(timeout=10)
        for keypad in self.keypads:
            keypad.close()
        self.runtime.stop()
        self.display.stop()

    # ------------------------------------------------------------------ MQTT side (paho's thread)

    def _on_counter_state(self, state: CounterState, inbound: Inbound) -> None:
        self.counter_state(state)

    def counter_state(self, state: CounterState) -> None:
        with self._lock:
            if self.model.counter_state(state, time.monotonic()):
                self._show()

    def _on_hall_config(self, config: HallConfig, inbound: Inbound) -> None:
        with self._lock:
            self.hall = config

    def _on_dispatcher_availability(self, msg) -> None:
        self._dispatcher_online = msg.payload == AVAILABILITY_ONLINE
        self._watch_link()

    def _watch_link(self) -> None:
        with self._lock:
            reachable = self.model.reachable
            marker_changed = self.model.link(self.runtime.connected, self._dispatcher_online, time.monotonic())
            if marker_changed:
                log.warning("dispatcher %s", "reachable again" if not self.model.marker else
                            "unreachable: offline marker on")
                self._show()
        if reachable != self.model.reachable and self.runtime.connected:
            self.runtime.publish_health()  # the technician sees the link change now, not at the next period

    def _show(self) -> None:
        self.display.show(self.model.content(time.monotonic()))

    # ------------------------------------------------------------------ keys (keypad threads)

    def key(self, token: str) -> None:
        """A key meaning from any keypad."""
        with self._lock:
            self._seq += 1
            seq = self._seq
            what = self.model.press(token)
            self._show()
            if what is None:
                return
            if isinstance(what, Refusal):
                self._settle(PressOutcome(seq, token, None, False, what.reason))
                return
            if not self.model.reachable:
                self._settle(PressOutcome(seq, token, what.action, False, "offline: the dispatcher is unreachable"))
                return
            if self._busy:
                self._settle(PressOutcome(seq, token, what.action, False, "busy: the previous press is still waiting"))
                return
            self._busy = True
        self._presses.put((seq, token, what))

    def _press_loop(self) -> None:
        while not self._stopping.is_set():
            seq, token, command = self._presses.get()
            if self._stopping.is_set():
                return
            try:
                outcome = self._send(seq, token, command)
            except Exception as exc:  # noqa: BLE001 - a bug must not silence the keypad for good
                log.exception("press %s failed", token)
                outcome = PressOutcome(seq, token, command.action, False, f"internal error: {exc}")
            with self._lock:
                self._busy = False
                self._settle(outcome)

    def _send(self, seq: int, token: str, command: Command) -> PressOutcome:
        s = self.settings
        message = COUNTER_ACTIONS[command.action](command_id=new_id(), sent_at=utcnow(),
                                                  **command.fields)
        topic = self.topics.counter_command(s.counter, command.action, self.runtime.login)
        for attempt in range(1, s.attempts + 1):
            try:
                reply = self.runtime.request(topic, message, CounterReply, timeout=s.reply_timeout_s,
                                             expiry_s=s.message_expiry_s)
            except Offline as exc:
                return PressOutcome(seq, token, command.action, False, f"offline: {exc}", message.command_id, attempt)
            except BrokerRefused as exc:  # final: retrying will not change the broker's mind
                return PressOutcome(seq, token, command.action, False, f"refused by the broker: {exc}",
                                    message.command_id, attempt)
            except RequestTimeout:
                log.info("%s %s: no reply (attempt %d of %d)", command.action, message.command_id, attempt, s.attempts)
                continue
            if reply.counter is not None:  # the reply comes before the retained state: show it now
                self.counter_state(reply.counter)
            if reply.ok and command.action == "recall":
                with self._lock:
                    if self.model.recalled(time.monotonic()):
                        self._show()
            detail = "accepted" if reply.ok else f"refused: {reply.error.message if reply.error else '?'}"
            return PressOutcome(seq, token, command.action, reply.ok, detail, message.command_id, attempt, reply)
        return PressOutcome(seq, token, command.action, False, f"timed out after {s.attempts} attempts",
                            message.command_id, s.attempts)

    def _settle(self, outcome: PressOutcome) -> None:
        """Beep, log, record. Called with the lock held."""
        for keypad in self.keypads:
            (keypad.accepted if outcome.ok else keypad.refused)()
        if outcome.ok:
            log.info("%s: %s", outcome.action, outcome.detail)
        elif outcome.detail.startswith("refused:"):  # the dispatcher said no (an empty queue): routine
            self.runtime.last_error = f"{outcome.action}: {outcome.detail}"
            log.info("press %s (%s): %s", outcome.token, outcome.action, outcome.detail)
        else:
            self.runtime.last_error = f"{outcome.action or outcome.token}: {outcome.detail}"
            log.warning("press %s (%s): %s", outcome.token, outcome.action or "-", outcome.detail)
        self.outcomes.append(outcome)
        del self.outcomes[:-100]
        self._outcome_cond.notify_all()

    def wait_outcome(self, seq: int, timeout: float) -> PressOutcome | None:
        """The outcome of press number ``seq`` (see ``presses``), waiting up to ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._outcome_cond:
            while True:
                found = next((o for o in self.outcomes if o.seq == seq), None)
                remaining = deadline - time.monotonic()
                if found is not None or remaining <= 0:
                    return found
                self._outcome_cond.wait(remaining)

    @property
    def presses(self) -> int:
        """Key presses seen so far; the next one gets number ``presses + 1``."""
        with self._lock:
            return self._seq

    # ------------------------------------------------------------------ health

    def _checks(self) -> dict[str, str]:
        checks = {"display": self.display.status if not self.display.status.startswith("ok")
                  else f"ok ({self.display.describe()})"}
        for keypad in self.keypads:
            checks[f"keypad_{keypad.kind}"] = keypad.status()
        if not self.keypads:
            checks["keypad"] = "degraded: no keypad configured"
        checks["dispatcher"] = "ok" if self._dispatcher_online else "degraded: dispatcher unreachable"
        return checks


def build_keypads(settings: CounterBoxSettings) -> list[Keypad]:
    """The keypads the settings name. The serial one is not opened until the service starts."""
    keypads: list[Keypad] = []
    if settings.gpio is not None:
        from .keypads.gpio import GpioKeypad

        keypads.append(GpioKeypad(settings.gpio))
    if settings.serial_keypad is not None:
        from .keypads.serial import SerialKeypad

        keypads.append(SerialKeypad(settings.serial_keypad))
    return keypads
