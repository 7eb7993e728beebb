"""Fuzzing every daemon of the production hall, not only the dispatcher.

The hall runs as a site does: the broker from `motcua broker init / add-device / gen-certs`, the dispatcher and
the web service as processes, and in this process the counter box (luma's dummy matrix, gpiozero's mock pins),
the hall board (pygame on SDL's dummy driver, its screen loop drawing), the announcer (a tone voice pack, no
sound card), the satisfaction pad, the ticket kiosk (python-escpos's Dummy printer), the LED signboard (luma's
dummy device) and the dossier-progress screen, each with its own production login.

Then every role sends hostile messages from a login of its own (one not held by a running daemon: a second
process with a daemon's login is the shared-login case, tested elsewhere) on **every topic its ACL lets it
write**, derived from the broker's role table: a right granted tomorrow is fuzzed tomorrow. Requests, its own
availability, health, state and commissioning, the hall's notice line; retained or not; over MQTT v5 and 3.1.1.
Whatever the broker lets through reaches the daemons that read it, directly (availability, health, the notice)
or through the dispatcher (calls, counter states, figures that the fuzz's own valid commands cause).

Afterwards every daemon is still up and does one valid thing: a citizen's ticket prints and its queue page
loads; the officer's `next` is shown on the counter box, on the board, on the signboard and announced; the
citizen's rating is acknowledged. No log holds a traceback.

Deterministic (a fixed seed). With ``-s`` the figures are printed as one JSON line.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
import urllib.request
from collections import Counter

import paho.mqtt.client as mqtt
import pytest
from pydantic import SecretStr

from attackkit import DEVICES, SITE, ProductionHall
from daemonkit import wait_until
from fuzzkit import availability, device_body, hostile, request_body
from motcua.broker.roles import OWN_TOPICS, READ, ROLES, Device, device_rights, site_root
from motcua.protocol import COUNTER_ACTIONS
from motcua.settings import MqttSettings
from webkit import WebProcess

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

PER_LOGIN = 1000
SEED = 20261202

# The daemons running in the hall, each with its own login: (role, login, counter)
DAEMONS = {"kiosk": ("kiosk-1", None), "counter": ("counter-1", 1), "pad": ("pad-1", 1), "board": ("board-1", None),
           "announcer": ("announcer", None), "signboard": ("signboard-1", None), "progress": ("progress-1", None),
           "web": ("web-1", None)}
HELD = {login for login, _ in DAEMONS.values()} | {"dispatcher"}


def _fuzz_logins() -> tuple[list[Device], list[tuple[str, str, int | None]]]:
    """A login for every role but the dispatcher that no daemon holds, registering one where the hall has none."""
    devices = [Device(login, role, counter) for role, login, counter in DEVICES if login not in HELD]
    extra = [(role, login, counter) for role, (login, counter) in DAEMONS.items()
             if not any(d == login for _, d, _ in DEVICES)]
    for name, role in ROLES.items():
        if name != "dispatcher" and not any(d.role == name for d in devices):
            counter = 2 if role.needs_counter else None
            devices.append(Device(f"{name}-fuzz", name, counter))
            extra.append((name, f"{name}-fuzz", counter))
    return devices, extra


FUZZERS, EXTRA_DEVICES = _fuzz_logins()


def writable(device: Device) -> list[str]:
    """Every topic (below the site's root, ``+`` still in place) this login's ACL lets it publish on."""
    root = site_root(SITE) + "/"
    own = [topic.replace("%u", device.device_id) for access, topic in OWN_TOPICS if access != READ]
    granted = [topic.removeprefix(root) for access, topic in device_rights(device, SITE) if access != READ]
    return own + granted


COUNTER_LEVELS = ["1", "2", "³", "0", "1000", "٣", "01", "99"]
ACTION_LEVELS = [*COUNTER_ACTIONS, "explode", "next/again", "", "Quầy"]


def instantiate(r: random.Random, pattern: str) -> str:
    levels = pattern.split("/")
    out = []
    for i, level in enumerate(levels):
        if level == "+":
            level = r.choice(COUNTER_LEVELS if i and levels[i - 1] == "counter" else ACTION_LEVELS)
        out.append(level)
    return "/".join(out)


def queue_page(base: str, token: str) -> str:
    try:
        with urllib.request.urlopen(f"{base}/ve/{token}", timeout=5) as page:
            return page.read().decode()
    except OSError:  # 404 until the service has heard of the ticket
        return ""


class Logins:
    """The daemons' ``[mqtt]`` settings (and env) from the production hall's registry."""

    def __init__(self, hall: ProductionHall):
        self.hall = hall

    def mqtt(self, device_id: str, role: str, counter: int | None = None) -> MqttSettings:
        return MqttSettings(host="127.0.0.1", port=self.hall.local, username=device_id,
                            password=SecretStr(self.hall.password(device_id)))

    def env(self, device_id: str, role: str, counter: int | None = None) -> dict[str, str]:
        return {"MOTCUA_MQTT__HOST": "127.0.0.1", "MOTCUA_MQTT__PORT": str(self.hall.local),
                "MOTCUA_MQTT__USERNAME": device_id,
                "MOTCUA_MQTT__PASSWORD_FILE": str(self.hall.sb.secret_path(device_id))}


class Tracebacks:
    """Every log record with an exception attached, and every exception that ended a thread, in this process."""

    def __init__(self):
        import logging

        self.found: list[str] = []
        outer = self

        class Handler(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                if record.exc_info or "Traceback" in record.getMessage():
                    outer.found.append(f"{record.name}: {self.format(record)}")

        self.handler = Handler(level=logging.DEBUG)
        self.handler.setFormatter(logging.Formatter("%(message)s"))
        self._hook = threading.excepthook

    def __enter__(self) -> Tracebacks:
        import logging

        logging.getLogger().addHandler(self.handler)
        threading.excepthook = lambda args: self.found.append(
            f"thread {args.thread.name if args.thread else '?'} died: {args.exc_type.__name__}: {args.exc_value}")
        return self

    def __exit__(self, *exc) -> None:
        import logging

        logging.getLogger().removeHandler(self.handler)
        threading.excepthook = self._hook


class Board:
    """The board's service and its screen loop on a thread of their own (the screen owns SDL's events)."""

    def __init__(self, logins: Logins):
        from counter_display.board.config import BoardSettings

        self.settings = BoardSettings(site=SITE, device_id="board-1", mqtt=logins.mqtt("board-1", "board"),
                                      screen={"fullscreen": False, "width": 1280, "height": 720})
        self.stop_event = threading.Event()
        self.started = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="board-screen", daemon=True)

    def start(self) -> Board:
        self.thread.start()
        assert self.started.wait(30), "the board did not start"
        if self.error:
            raise self.error
        return self

    def _run(self) -> None:
        from counter_display.board.app import BoardScreen
        from counter_display.board.service import BoardService

        try:
            self.service = BoardService(self.settings).start()
            self.screen = BoardScreen(self.service)
        except BaseException as exc:  # noqa: BLE001 - reported by start()
            self.error = exc
            self.started.set()
            return
        self.started.set()
        try:
            self.screen.run(self.stop_event)
        finally:  # as the daemon's own loop does: later screens in this process start afresh
            import pygame

            pygame.display.quit()

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(10)
        if hasattr(self, "service"):
            self.service.stop()


class Fuzzer:
    """One login sending hostile messages on its writable topics; counts the broker's refusals and the replies."""

    def __init__(self, hall: ProductionHall, device: Device, protocol):
        self.hall, self.device = hall, device
        self.replies: Counter = Counter()
        self.denied = 0
        self.cond = threading.Condition()
        self.inflight: set[int] = set()
        self.early: set[int] = set()  # acks that beat send() to its lock
        self.last_reply = time.monotonic()
        self.c = hall.fuzz_client(device.device_id, protocol, self._reply, self._acked)

    def _acked(self, client, userdata, mid, rc, props) -> None:
        with self.cond:
            if mid in self.inflight:
                self.inflight.discard(mid)
            else:  # acknowledged before send() noted the mid (paho calls back from its network thread)
                self.early.add(mid)
            if getattr(rc, "is_failure", False):
                self.denied += 1
            self.cond.notify_all()

    def _reply(self, client, userdata, msg) -> None:
        body = json.loads(msg.payload)  # a reply we cannot parse is a failure of ours: let it raise
        with self.cond:
            self.replies[(body.get("error") or {}).get("code", "ok")] += 1
            self.last_reply = time.monotonic()

    def send(self, topic: str, payload: bytes, retain: bool) -> None:
        info = self.c.publish(self.hall.topic(topic), payload, qos=1, retain=retain)
        with self.cond:
            if info.rc == mqtt.MQTT_ERR_SUCCESS:
                if info.mid in self.early:
                    self.early.discard(info.mid)
                else:
                    self.inflight.add(info.mid)
            while len(self.inflight) > 40:  # a bounded number in flight
                if not self.cond.wait(10):
                    raise AssertionError(f"{self.device.device_id}: the broker stopped acknowledging")

    def settle(self, quiet: float, timeout: float = 30.0) -> None:
        """Until every publish is acknowledged and replies have stopped coming for ``quiet`` s."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while time.monotonic() < deadline and (self.inflight or time.monotonic() - self.last_reply < quiet):
                self.cond.wait(0.2)

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


def message(r: random.Random, device: Device, pattern: str) -> tuple[str, bytes, bool]:
    topic = instantiate(r, pattern)
    if topic.startswith("request/"):
        path = topic.split("/", 2)[2]
        body = request_body(r, path)
        return topic, (hostile(r, body) if r.random() < 0.85 else json.dumps(body).encode()), False
    retain = r.random() < 0.3
    if topic.endswith("/availability"):
        return topic, availability(r), retain
    body = device_body(r, topic, device.device_id)
    return topic, (hostile(r, body) if r.random() < 0.85 else json.dumps(body).encode()), retain


@pytest.fixture(scope="module")
def hall(tmp_path_factory):
    h = ProductionHall(tmp_path_factory.mktemp("fuzzed-hall"), extra_devices=EXTRA_DEVICES).start()
    yield h
    h.stop()


def test_every_daemon_survives_hostile_messages_from_every_role_on_every_topic_it_may_write(hall, tmp_path, capfd, request):
    from announcer.demo import start_for_demo
    from announcerkit import tone_pack
    from counter_display.config import CounterBoxSettings
    from counter_display.demo import press
    from counter_display.service import CounterBoxService
    from kiosk_ticket.config import KioskSettings
    from kiosk_ticket.service import KioskService
    from luma.core.device import dummy
    from announcer.touch import TouchSoundSettings
    from progress_board.config import ProgressSettings
    from progress_board.service import ProgressService
    from satisfaction_pad.config import PadSettings
    from satisfaction_pad.service import PadService
    from signboard.config import SignboardSettings
    from signboard.service import SignboardService

    logins = Logins(hall)
    quiet = TouchSoundSettings(enabled=False)
    running: dict[str, object] = {}
    web = WebProcess(logins, SITE, tmp_path, database=hall.database, device_id="web-1")
    with Tracebacks() as caught:
        try:
            web.start()
            box = running["counter box"] = CounterBoxService(CounterBoxSettings(
                site=SITE, device_id="counter-1", counter=1, officer="lan.nguyen", mqtt=logins.mqtt("counter-1", "counter", 1),
                matrix={"driver": "dummy", "modules": 6}, gpio={"pin_factory": "mock"})).start()
            box.ready()
            board = Board(logins).start()
            running["board"] = board.service
            announcer = start_for_demo(logins, SITE, tmp_path / "announcer", pack=tone_pack(tmp_path / "pack"))
            running["announcer"] = announcer.service
            pad = running["pad"] = PadService(PadSettings(
                site=SITE, device_id="pad-1", counter=1, outbox=tmp_path / "pad-outbox.db", debounce_ms=0,
                retry_s=[0.2, 0.5], mqtt=logins.mqtt("pad-1", "pad", 1), sound=quiet))
            pad.start()
            kiosk = running["kiosk"] = KioskService(KioskSettings(
                site=SITE, device_id="kiosk-1", mqtt=logins.mqtt("kiosk-1", "kiosk"), timeouts={"debounce_ms": 0},
                tracking_url=web.url + "/ve/{token}", sound=quiet,
                printer={"transport": {"kind": "dummy"}, "counter_file": tmp_path / "kiosk-printed.json"}))
            kiosk.start()
            sign = running["signboard"] = SignboardService(SignboardSettings(
                site=SITE, device_id="signboard-1", mqtt=logins.mqtt("signboard-1", "signboard"),
                panel={"driver": "dummy", "modules_per_row": 8, "rows": 2}, speed_px_s=400, call_passes=1),
                device=dummy(width=64, height=16, mode="1")).start()
            running["progress screen"] = ProgressService(ProgressSettings(
                site=SITE, device_id="progress-1", mqtt=logins.mqtt("progress-1", "progress"))).start()
            assert kiosk.wait_for_view(lambda v: bool(v.areas), 30), "the kiosk has no hall configuration"
            for name, service in running.items():
                assert service.runtime.wait_connected(20), f"{name} did not log in"

            # ------------------------------------------------------------ the fuzz
            r = random.Random(SEED)
            figures: dict[str, dict] = {}
            replies: Counter = Counter()
            messages = denied = 0
            t0 = time.monotonic()
            for device in FUZZERS:
                topics = writable(device)
                sent = Counter()
                for protocol in (mqtt.MQTTv5, mqtt.MQTTv311):
                    f = Fuzzer(hall, device, protocol)
                    try:
                        for _ in range(PER_LOGIN // 2):
                            topic, payload, retain = message(r, device, r.choice(topics))
                            f.send(topic, payload, retain)
                            sent[topic.split("/", 2)[0] if topic.startswith("request/") else
                                 topic.rsplit("/", 1)[-1] if topic.startswith("device/") else topic] += 1
                        f.settle(quiet=1.0 if sent["request"] else 0.0)
                    finally:
                        f.close()
                    replies.update(f.replies)
                    denied += f.denied
                messages += sum(sent.values())
                figures[device.device_id] = {"role": device.role, "topics": len(topics), "by_topic": dict(sent)}
            fuzz_s = time.monotonic() - t0

            # ------------------------------------------------------------ every daemon still up ...
            assert hall.daemon.poll() is None, "the dispatcher died"
            assert web.proc.poll() is None, "the web service died"
            for name, service in running.items():
                rt = service.runtime
                assert rt._loop_thread is not None and rt._loop_thread.is_alive(), f"{name}: its network loop died"
                wait_until(lambda rt=rt: rt.connected, 20, f"{name} connected")
            assert board.thread.is_alive(), "the board's screen loop died"

            # ------------------------------------------------------------ ... and does one valid thing
            # a citizen takes a number: the ticket prints, and its queue page loads
            printed_before = kiosk.last_printed
            for target in ("nav:home", "home:take", "area:TP"):
                kiosk.tap(target)
            assert kiosk.wait_for_view(lambda v: v.screen in ("ticket", "error"), 20)
            assert kiosk.view.screen == "ticket", kiosk.view.message
            printed = kiosk.last_printed
            assert printed is not printed_before and printed.job and printed.reply.ticket.area == "TP"
            wait_until(lambda: printed.reply.ticket.number in queue_page(web.url, printed.reply.tracking_token), 15,
                       "the ticket's queue page")
            # the officer calls: the box, the board and the signboard show the number, the announcer says it
            state = box.model.state
            if state is None or state.status == "closed":
                assert press(box, "open_close").ok
            elif state.status == "paused":
                assert press(box, "pause_resume").ok
            heard = len(announcer.played)
            called = None
            for _ in range(50):  # the fuzz's own valid tickets may be ahead of the citizen's: call until it comes
                out = press(box, "next", 20)
                assert out is not None and out.ok, out and out.detail
                called = out.reply.counter.current.number
                if called == printed.reply.ticket.number:
                    break
            assert called == printed.reply.ticket.number
            assert box.display.wait_frame(lambda fr: fr.text == called, 15), "the counter box does not show it"
            wait_until(lambda: any(c.number == called for c in board.service.view_at().calls), 15, "the board shows it")
            assert sign.wait_frame(lambda fr: called in fr.text, 15), "the signboard does not scroll it"
            wait_until(lambda: any(p.call.number == called for p in announcer.played[heard:]), 30, "the call announced")
            # the citizen rates: the pad asks, the dispatcher acknowledges
            done = press(box, "finish", 20)
            assert done is not None and done.ok, done and done.detail
            assert pad.wait_for_view(lambda v: v.screen == "rating" and v.ticket_number == called, 15)
            pad.tap("level:satisfied")
            wait_until(lambda: pad.outbox.size() == 0, 20, "the rating acknowledged")
            with hall.db() as db:
                assert db.execute("SELECT level FROM ratings WHERE ticket_id = ?",
                                  (printed.reply.ticket.ticket_id,)).fetchone() == ("satisfied",)
        finally:
            for service in reversed(list(running.values())):
                if service is not running.get("board"):
                    service.stop()
            if "board" in running:
                board.stop()
            web.stop()

    out, err = capfd.readouterr()  # what in this process wrote to its stdout or stderr, bypassing the logs
    tracebacks = {"this process": len(caught.found) + (out + err).count("Traceback"),
                  "dispatcher": hall.log().count("Traceback"), "web": web.log().count("Traceback")}
    line = json.dumps({"fuzz_messages": messages, "per_login": PER_LOGIN, "logins": figures,
                      "denied_by_broker": denied,
                      "replies_by_code": dict(sorted(replies.items())), "fuzz_s": round(fuzz_s, 1),
                      "tracebacks": tracebacks}, sort_keys=True, ensure_ascii=False)
    if request.config.option.capture == "no":  # with -s: the figures as one JSON line
        with capfd.disabled():
            print(line)
    assert not caught.found, "\n\n".join(caught.found[:5])
    assert "Traceback" not in out + err, (out + err)[(out + err).index("Traceback"):][:4000]
    for name, log in (("dispatcher", hall.log()), ("web", web.log())):
        assert "Traceback" not in log, f"{name}: " + log[max(0, log.index("Traceback") - 500):][:4000]
