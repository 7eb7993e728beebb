"""``motcua demo``: the whole hall on one box, narrated as it happens.

A Mosquitto with the development broker config on a free loopback port, the
dispatcher with the sample hall (examples/hall.toml: eight areas, ten
counters), a scripted stream of citizens taking numbers and ten counters
serving them: calls, recalls, no-shows, transfers. Everything goes through
the real MQTT contract. Output files land in ``demo-output/``.
"""

from __future__ import annotations

import random
import shutil
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from announcer.demo import has_audio_output, start_for_demo
from announcer.touch import TouchSoundSettings
from counter_display.demo import DemoBoard, press, start_boxes
from counter_display.service import CounterBoxService
from motcua.client import HallClient
from motcua.localbroker import REPO, LocalBroker, spawn_dispatcher, stop_process
from motcua.protocol import AVAILABILITY_ONLINE, CallEvent, HallConfig, TicketEvent, decode
from satisfaction_pad.config import PadSettings
from satisfaction_pad.service import PadService
from web.demo import DEMO_USER, DemoWeb

SAMPLE_HALL = REPO / "examples" / "hall.toml"

# How often citizens pick each area (the land and civil-status desks are the busiest).
AREA_WEIGHTS = {"TP": 5, "DD": 4, "XD": 2, "KD": 2, "NV": 1, "YT": 2, "GD": 1, "VH": 1}


@dataclass
class Tally:
    issued: Counter = field(default_factory=Counter)
    finished: Counter = field(default_factory=Counter)
    events: Counter = field(default_factory=Counter)
    waits: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class Narrator:
    """Prints what happens in the hall, from the dispatcher's own events."""

    def __init__(self, config: HallConfig, tally: Tally):
        self.t0 = time.monotonic()
        self.areas = {a.code: a.name for a in config.areas}
        self.tally = tally
        self.lock = threading.Lock()

    def say(self, who: str, text: str) -> None:
        with self.lock:
            print(f"{time.monotonic() - self.t0:6.1f}s  {who:<12} {text}", flush=True)

    def on_call(self, ev: CallEvent, _inbound) -> None:
        again = f" (again, call {ev.call_count})" if ev.recall else ""
        self.say(f"counter {ev.counter}", f"calls {ev.number}{again}: "
                                           f"«Mời công dân có số {ev.number} đến quầy số {ev.counter}»")

    def on_ticket(self, ev: TicketEvent, _inbound) -> None:
        t = ev.ticket
        with self.tally.lock:
            self.tally.events[ev.kind] += 1
            if ev.kind == "called" and t.called_at:
                self.tally.waits.append((t.called_at - t.issued_at).total_seconds())
            if ev.kind == "finished":
                self.tally.finished[t.area] += 1
        if ev.kind == "finished" and t.called_at and t.finished_at:
            self.say(f"counter {ev.counter}", f"done with {t.number} after {(t.finished_at - t.called_at).total_seconds():.1f} s")
        elif ev.kind in ("skipped", "transferred", "reactivated", "cancelled"):
            detail = f" {ev.detail}" if ev.detail else ""
            self.say(f"counter {ev.counter}" if ev.counter else "dispatcher", f"{ev.kind} {t.number}{detail}")


def _start_dispatcher(broker: LocalBroker, out: Path) -> subprocess.Popen:
    db = out / "dispatcher.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    with open(out / "dispatcher.log", "w") as log:
        return spawn_dispatcher(broker, SAMPLE_HALL, db, log=log)


def _wait_for(client: HallClient, topic: str, timeout: float, match=lambda payload: True) -> bytes:
    got: list[bytes] = []
    ready = threading.Event()

    def on(msg) -> None:
        if match(msg.payload):
            got.append(msg.payload)
            ready.set()

    client.runtime.on_raw(topic, on)
    if not ready.wait(timeout):
        raise TimeoutError(f"nothing on {topic} within {timeout} s")
    return got[0]


def run_demo(citizens: int = 40, speed: float = 1.0, seed: int = 7, output: Path = Path("demo-output")) -> int:
    rng = random.Random(seed)
    out = output.resolve()
    out.mkdir(parents=True, exist_ok=True)
    pace = 1.0 / max(speed, 0.01)
    print(f"motcua demo: {citizens} citizens, output in {out}")
    # A new day in a new hall: no sessions or logins left over from an earlier run. (Mosquitto
    # 2.0.11 was seen to crash on a SIGHUP reload with sessions persisted by an older, anonymous
    # demo broker still in its database.)
    shutil.rmtree(out / "broker", ignore_errors=True)
    broker = LocalBroker(out / "broker").start()
    print(f"  broker     mosquitto on 127.0.0.1:{broker.port} (broker_config/dev)")
    dispatcher = _start_dispatcher(broker, out)
    tally = Tally()
    workers: list[threading.Thread] = []
    done = threading.Event()
    pads: dict[int, PadService] = {}
    boxes: dict[int, CounterBoxService] = {}
    board: DemoBoard | None = None
    announcer = None
    web: DemoWeb | None = None
    try:
        watcher = HallClient(mqtt=broker.mqtt("demo-narrator", "operator")).start()
        _wait_for(watcher, watcher.topics.availability("dispatcher"), 20, lambda p: p == AVAILABILITY_ONLINE)
        config = decode(HallConfig, _wait_for(watcher, watcher.topics.hall_config, 10))
        print(f"  dispatcher {config.hall_name}: {len(config.areas)} areas, {len(config.counters)} counters "
              f"(log: {out / 'dispatcher.log'})")
        narrator = Narrator(config, tally)
        speakers = has_audio_output()
        announcer = start_for_demo(broker, "demo", out, play=speakers)
        print(f"  announcer  {'playing through the speakers and ' if speakers else ''}saving each call as a WAV "
              f"in {out / 'announcements'}\n")
        watcher.runtime.on(watcher.topics.call_event, CallEvent, narrator.on_call)
        watcher.runtime.on(watcher.topics.ticket_event, TicketEvent, narrator.on_ticket)

        officers = ["lan.nguyen", "minh.tran", "hoa.le", "tuan.pham", "huong.vo", "dung.hoang", "mai.dang",
                    "son.bui", "thu.do", "quang.ngo"]
        board = DemoBoard(broker, out).start()
        print("  board      the hall calling board " + ("in a window" if board.window else
                                                          f"saving a PNG of each call in {board.folder}"))
        boxes = start_boxes(broker, config, dict(zip((c.number for c in config.counters), officers)), out)
        for n, box in boxes.items():
            _keep_number_frames(box, out / "matrix" / f"counter-{n}.png")
        print(f"  counters   {len(boxes)} counter boxes, mock GPIO buttons, LED frames in {out / 'matrix'} "
              "(the last frame, and the last number shown)\n")
        pads = {c.number: _start_pad(broker, c.number, out) for c in config.counters}
        for counter, officer in zip(config.counters, officers):
            w = threading.Thread(target=_counter_staff, daemon=True,
                                 args=(boxes[counter.number], counter.number, officer, rng.random(), pace, done, narrator,
                                       pads[counter.number]))
            w.start()
            workers.append(w)

        web = DemoWeb(broker, out).wait_ready()
        print(f"  web        the manager's console: {web.url}/console  (login {DEMO_USER} / {web.password})")
        DemoWeb.show(web.url + "/console", board.window)
        first_page: list[str] = []

        def first_citizen_page(printed) -> None:  # the first printed ticket's QR code: its queue page
            if not first_page and printed.reply.tracking_token:
                first_page.append(web.citizen_url(printed.reply.tracking_token))
                narrator.say("web", f"the citizen's page of {printed.reply.ticket.number}: {first_page[0]}")
                DemoWeb.show(first_page[0], board.window)

        kiosk = _start_kiosk(broker, out, web.citizen_url("{token}"), first_citizen_page)
        print(f"  kiosk      citizens take numbers on the kiosk; each printed ticket saved as a PNG in "
              f"{out / 'tickets'}\n")
        areas = list(AREA_WEIGHTS)
        weights = [AREA_WEIGHTS[a] for a in areas]
        for _ in range(citizens):
            area = rng.choices(areas, weights)[0]
            priority = rng.choice(["elderly", "disabled", "pregnant", "small_children"]) if rng.random() < 0.15 else None
            view = _citizen_takes_a_number(kiosk, area, priority)
            if view.screen == "ticket" and view.ticket:
                t = view.ticket
                with tally.lock:
                    tally.issued[area] += 1
                tag = f" [{priority}]" if priority else ""
                narrator.say("kiosk", f"ticket {t.number}{tag} · {t.area_name} · "
                                      f"{t.waiting_ahead} ahead, «{kiosk.settings.texts.wait_text(t.estimated_wait_min or 0)}» (printed)")
            else:
                narrator.say("kiosk", f"no ticket: «{view.message}»")
            time.sleep(rng.uniform(0.02, 0.25) * pace)  # the next citizen walks in
        kiosk.stop()

        # let the counters clear the queue
        deadline = time.monotonic() + 120 * pace
        while time.monotonic() < deadline:
            with tally.lock:
                settled = tally.events["finished"] + tally.events["skipped"] - tally.events["reactivated"]
            if settled >= sum(tally.issued.values()):
                break
            time.sleep(0.2)
        done.set()
        for w in workers:
            w.join(timeout=10)
        watcher.close()
        announcer.wait_idle(60)
        _summary(config, tally)
        spoken = announcer.played
        print(f"  announcements: {len(spoken)} played and saved in {out / 'announcements'}")
        for p in pads.values():  # every rating reaches the dispatcher before the day's figures
            p.wait_for_view(_outbox_empty(p), 10)
            p.stop()
        _day_report(out / "dispatcher.db", out / "reports")
        return 0
    finally:
        done.set()
        for p in pads.values():
            p.stop()
        for b in boxes.values():
            b.stop()
        if board is not None:
            board.stop()
            if board.saved:
                print(f"  board: {len(board.saved)} frames saved in {board.folder}")
        if announcer is not None:
            announcer.stop()
        if web is not None:
            web.stop()
        stop_process(dispatcher)
        broker.stop()


def _keep_number_frames(box: CounterBoxService, frame_file: Path) -> None:
    """Beside the box's latest frame (the closed text, once the day is over), keep the last frame that
    showed a called number, as counter-N-number.png: what a newcomer wants to see."""
    keep = frame_file.with_name(frame_file.stem + "-number.png")

    def on_frame(frame) -> None:  # on the display thread, right after the capture device wrote the file
        state = box.model.state
        if frame.visible and state is not None and state.current is not None and frame.text == state.current.number:
            shutil.copyfile(frame_file, keep)

    box.display.on_frame.append(on_frame)


def config_area(config: HallConfig, code: str) -> str:
    return next((a.name for a in config.areas if a.code == code), code)


def _counter_staff(box: CounterBoxService, number: int, officer: str, luck: float, pace: float,
                   done: threading.Event, narrator: Narrator, pad: PadService | None = None) -> None:
    """One officer at one counter box: open, then next / serve / finish until the hall empties, by its buttons."""
    rng = random.Random(number * 1000 + int(luck * 1000))
    r = press(box, "open_close")
    who = r.reply.counter.officer_name if r and r.reply and r.reply.counter else officer
    narrator.say(f"counter {number}", f"opens, officer {who}")
    while not done.is_set():
        r = press(box, "next")
        if r is None or not r.ok:
            if r is None or not r.detail.startswith("refused:"):  # offline, timed out: the long beep
                narrator.say(f"counter {number}", f"keypad error: {r.detail if r else 'no answer'}")
                done.wait(0.5)
            else:  # nobody waiting for this counter
                done.wait(0.3 * pace)
            continue
        current = r.reply.counter.current if r.reply and r.reply.counter else None
        roll = rng.random()
        if roll < 0.08:  # nobody comes: call again, then mark a no-show
            done.wait(0.4 * pace)
            press(box, "recall")
            done.wait(0.4 * pace)
            press(box, "skip")
            continue
        if roll < 0.14:  # wrong desk: choose the area on the keypad, then transfer
            other = rng.choice([a for a in AREA_WEIGHTS if a != (current.area if current else "")])
            done.wait(0.3 * pace)
            box.key(f"area:{other}")
            press(box, "transfer")
            continue
        done.wait(rng.uniform(1.0, 3.0) * pace)  # serving the citizen
        finished = press(box, "finish")
        shown = finished.reply.counter if finished and finished.ok and finished.reply else None
        window = shown.rating_window if shown else None
        if pad is not None and window:
            _citizen_rates(pad, window.number, rng, pace, narrator)
    press(box, "open_close")


RATING_WORDS = {"very_satisfied": "Rất hài lòng", "satisfied": "Hài lòng", "unsatisfied": "Không hài lòng"}


def _outbox_empty(pad: PadService) -> Callable[[object], bool]:
    """A view predicate: every rating of this pad delivered."""
    return lambda _view: pad.outbox.size() == 0


def _citizen_rates(pad: PadService, number: str, rng: random.Random, pace: float, narrator: Narrator) -> None:
    """The citizen turns to the pad: most are satisfied, some are not, some walk away without a word."""
    if not pad.wait_for_view(lambda v: v.screen == "rating" and v.ticket_number == number, 5):
        return
    roll = rng.random()
    if roll < 0.08:
        return  # walks away: the next finish records 'not rated'
    level = "very_satisfied" if roll < 0.62 else "satisfied" if roll < 0.88 else "unsatisfied"
    time.sleep(rng.uniform(0.2, 0.6) * pace)  # reading the question
    pad.tap(f"level:{level}")
    detail = ""
    if level == "unsatisfied":
        reasons = rng.sample([r.code for r in pad.settings.reasons], rng.randint(1, 2))
        for code in reasons:
            pad.tap(f"reason:{code}")
        pad.tap("send")
        detail = f" ({', '.join(reasons)})"
    narrator.say(f"pad {pad.settings.counter}", f"{number}: «{RATING_WORDS[level]}»{detail}")


def _start_kiosk(broker: LocalBroker, out: Path, tracking_url: str, on_printed=lambda printed: None):
    """The ticket kiosk's own code (model, service, raster ticket, ESC/POS bytes) with an in-memory printer."""
    from kiosk_ticket.config import DummyTransport, KioskSettings, PrinterSettings, Timeouts
    from kiosk_ticket.printer import raster_image
    from kiosk_ticket.service import KioskService

    tickets = out / "tickets"
    shutil.rmtree(tickets, ignore_errors=True)
    tickets.mkdir(parents=True)
    login = broker.mqtt("kiosk-1", "kiosk")
    kiosk = KioskService(KioskSettings(site="demo", device_id="kiosk-1", mqtt=login, timeouts=Timeouts(debounce_ms=0),
                                       tracking_url=tracking_url,
                                       # one process, one pygame mixer: the announcer's voice only
                                       sound=TouchSoundSettings(enabled=False),
                                       printer=PrinterSettings(transport=DummyTransport(kind="dummy"),
                                                               counter_file=out / "kiosk-printed.json")))

    def save(printed) -> None:  # what the paper shows, decoded back from the bytes sent to the printer
        raster_image(printed.job).save(tickets / f"{printed.reply.ticket.number}.png")
        on_printed(printed)

    kiosk.on_printed = save
    kiosk.start()
    if not kiosk.wait_for_view(lambda v: bool(v.areas), 20):
        raise TimeoutError("the kiosk received no hall configuration")
    return kiosk


def _citizen_takes_a_number(kiosk, area: str, priority: str | None):
    """Touch by touch, as a citizen would: home, take a number, [priority], the area (which prints)."""
    for target in ("nav:home", "home:take") + (("priority", f"cat:{priority}") if priority else ()) + (f"area:{area}",):
        kiosk.tap(target)
    kiosk.wait_for_view(lambda v: v.screen in ("ticket", "error"), 15)
    return kiosk.view


def _start_pad(broker: LocalBroker, counter: int, out: Path) -> PadService:
    outbox = out / "pads" / f"pad-{counter}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{outbox}{suffix}").unlink(missing_ok=True)
    # debounce off: the scripted citizen taps faster than a finger could bounce
    settings = PadSettings(site="demo", device_id=f"pad-{counter}", counter=counter, outbox=outbox, debounce_ms=0,
                           mqtt=broker.mqtt(f"pad-{counter}", "pad", counter), retry_s=[0.2, 0.5],
                           sound=TouchSoundSettings(enabled=False))  # one process, one pygame mixer: the announcer's only
    pad = PadService(settings)
    pad.start()
    return pad


def _satisfaction(report) -> None:
    """The day's satisfaction per counter and area, from the leadership report's own figures."""
    target = report.targets.satisfaction_pct
    lines = [(f"counter {f.key}", f) for f in report.groups["counter"] if f.rated or f.not_rated]
    lines += [(f"{f.key}  {f.name}", f) for f in report.groups["area"] if f.rated or f.not_rated]
    width = max((len(label) for label, _ in lines), default=10)
    print(f"\nSatisfaction (target: at least {target:.0f}% satisfied; ! marks those below)")
    for label, f in lines:
        rate = "    -" if f.satisfied_pct is None else f"{f.satisfied_pct:5.1f}%"
        flag = "!" if f.below_satisfaction_target else " "
        print(f"  {label:<{width}} {rate} {flag} ({f.very_satisfied} very satisfied, {f.satisfied} satisfied, "
              f"{f.unsatisfied} not satisfied, {f.not_rated} did not rate)")


def _day_report(database: Path, folder: Path) -> None:
    """The day's leadership report, as the timer would write it: XLSX, PDF, CSV and charts."""
    from datetime import datetime, timezone

    import reports
    from dispatcher.config import DispatcherSettings
    from reports.cli import hall_info

    from motcua.settings import load_settings

    settings = load_settings(DispatcherSettings, "dispatcher", SAMPLE_HALL, database=database)
    now = datetime.now(timezone.utc)
    period = reports.current("day", now, settings.hall.timezone)
    report = reports.build(reports.load_sqlite(database, period), period, hall_info(settings),
                           settings.reports.targets, generated_at=now)
    _satisfaction(report)
    paths = reports.write_all(report, folder)
    print(f"\nThe day's report (XLSX, PDF, CSV, charts) in {paths[0].parent}:")
    for p in paths[:2]:
        print(f"  {p}")
    print(f"  (a week's: .venv/bin/motcua report week --config {SAMPLE_HALL} --database {database} --out {folder})")


def _summary(config: HallConfig, tally: Tally) -> None:
    rows = [a for a in config.areas if tally.issued[a.code] or tally.finished[a.code]]
    width = max(len(a.name) for a in rows) if rows else 10
    print("\nEnd of the day")
    print(f"  {'area':<{width + 5}} {'issued':>6} {'served':>6}")
    for a in rows:
        print(f"  {a.code:<4} {a.name:<{width}} {tally.issued[a.code]:>6} {tally.finished[a.code]:>6}")
    print("  (a transferred citizen counts as served in the area that served them)")
    e = tally.events
    avg = sum(tally.waits) / len(tally.waits) if tally.waits else 0.0
    print(f"  tickets issued {sum(tally.issued.values())}, served {e['finished']}, no-shows {e['skipped']}, "
          f"transfers {e['transferred']}, recalls {e['recalled']}; average wait {avg:.1f} s")
