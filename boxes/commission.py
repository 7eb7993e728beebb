"""``motcua commission``: the checks a technician makes on site, on the box itself, recorded on the central box.

    sudo motcua commission                 every check of this box's role, asking what only a person can see or hear
    sudo motcua commission --only printer  one check
    sudo motcua commission --yes           the technician has watched: answer yes to the questions

The role's daemon holds the hardware (matrix, keys, printer, sound card) and the box's
broker login, so the command stops the role's units, runs the checks as user motcua with
the daemon's own settings and hardware classes (so a passing check proves the permissions
too: udev rules, groups), publishes the result retained on the box's own topic
``motcua/v1/SITE/device/ID/commissioning`` with the box's login, and starts the units again.
``motcua status`` on any box shows which boxes are commissioned and when.

Checks per role (roles.toml ``commission``):
  matrix   counter box: every LED on, then 8888; asks whether all are lit
  keys     counter box: asks for each configured key in turn and waits for it (GPIO)
  buzzer   counter box: two beeps; asks whether they were heard
  printer  kiosk: a test ticket through the configured printer; its status; asks whether it printed and cut
  call     announcer: the test call "Mời công dân có số A1023 đến quầy số 1"; asks whether it was heard
  screen   pad, board, kiosk: a test picture with five touch targets; waits for each to be touched (touch screens)
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import subprocess
import sys
import time
import tomllib
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

BOX = Path("/etc/motcua/box.toml")
ETC = Path("/etc/motcua")


@dataclass
class Result:
    check: str
    ok: bool
    detail: str


class Ask:
    """Questions only a person on site can answer; ``--yes`` answers them."""

    def __init__(self, assume_yes: bool, stream=sys.stdin):
        self.assume_yes = assume_yes
        self.stream = stream

    def __call__(self, question: str) -> bool:
        print(f"  ? {question} [y/n] ", end="", flush=True)
        if self.assume_yes:
            print("y (--yes)")
            return True
        answer = self.stream.readline().strip().lower()
        return answer in ("y", "yes", "c", "có", "co")


def settings_for(box: dict):
    from motcua.settings import load_settings

    from .roles import get_role

    role = get_role(box["role"])
    module, _, cls = role.settings_class.partition(":")
    import importlib

    settings_cls = getattr(importlib.import_module(module), cls)
    return load_settings(settings_cls, role.settings_role, Path(box.get("_etc", ETC)) / role.settings.file)


# ---------------------------------------------------------------------------- checks


def check_matrix(settings, ask: Ask) -> Result:
    from luma.core.render import canvas

    from counter_display.display import open_device

    device = open_device(settings.matrix)
    try:
        with canvas(device) as draw:
            draw.rectangle(device.bounding_box, outline="white", fill="white")
        time.sleep(2)
        with canvas(device) as draw:
            draw.text((0, 0), "8888", fill="white")
        ok = ask(f"Are all {settings.matrix.modules} LED modules fully lit, then showing 8888?")
    finally:
        device.cleanup() if hasattr(device, "cleanup") else None
    return Result("matrix", ok, f"{settings.matrix.driver}, {settings.matrix.modules} modules")


def _pin_factory(gpio):
    if gpio.pin_factory == "default":
        return None
    from gpiozero import Device  # type: ignore[import-untyped]

    if gpio.pin_factory == "mock":
        from gpiozero.pins.mock import MockFactory  # type: ignore[import-untyped]

        Device.pin_factory = Device.pin_factory if isinstance(Device.pin_factory, MockFactory) else MockFactory()
    return Device.pin_factory


def check_keys(settings, ask: Ask, wait_s: float = 30.0, pressed: Callable[[str, int | str], None] | None = None
               ) -> Result:
    from gpiozero import Button

    gpio = settings.gpio
    if gpio is None:
        return Result("keys", True, "no GPIO keys configured")
    _pin_factory(gpio)
    missing = []
    for meaning, pin in gpio.buttons.items():
        button = Button(pin, pull_up=gpio.pull_up)
        try:
            print(f"  > press the {meaning.upper()} key (GPIO {pin}) within {wait_s:.0f} s", flush=True)
            if pressed:
                pressed(meaning, pin)
            if not button.wait_for_press(timeout=wait_s):
                missing.append(f"{meaning} (GPIO {pin})")
        finally:
            button.close()
    if missing:
        return Result("keys", False, "not pressed: " + ", ".join(missing))
    return Result("keys", True, f"all {len(gpio.buttons)} keys")


def check_buzzer(settings, ask: Ask) -> Result:
    gpio = settings.gpio
    if gpio is None or gpio.buzzer_pin is None:
        return Result("buzzer", True, "no buzzer configured")
    from gpiozero import Buzzer

    _pin_factory(gpio)
    buzzer = Buzzer(gpio.buzzer_pin, active_high=gpio.buzzer_active_high)
    try:
        for _ in range(2):
            buzzer.on()
            time.sleep(0.2)
            buzzer.off()
            time.sleep(0.3)
    finally:
        buzzer.close()
    return Result("buzzer", ask("Did you hear two beeps?"), f"GPIO {gpio.buzzer_pin}")


TEST_NUMBER = "A1023"


def test_ticket(settings, width: int):
    from kiosk_ticket.ticket_render import TicketContent, TicketRenderer

    renderer = TicketRenderer(width, settings.screen.font, settings.screen.bold_font, settings.texts,
                              settings.printer.logo)
    now = datetime.now(timezone.utc)
    content = TicketContent(hall_name=settings.hall_name or "In thử - motcua", area_name="In thử / Test",
                            number=TEST_NUMBER, ticket_id="commissioning", issued_at=now, waiting_ahead=0,
                            estimated_wait_min=0, tracking_url=settings.tracking_url.format(token="commissioning-test"))
    return renderer.render(content)


def check_printer(settings, ask: Ask) -> Result:
    from kiosk_ticket.printer import PrinterError, TicketPrinter

    printer = TicketPrinter(settings.printer)
    transport = settings.printer.transport
    where = transport.kind + (f" {transport.vendor_id:04x}:{transport.product_id:04x}"
                              if transport.kind == "usb" else "")
    try:
        try:
            status = printer.status()
            state = f"online {status.online}, paper {status.paper}"
        except PrinterError as exc:
            return Result("printer", False, f"{where}: cannot reach the printer: {exc}")
        job = printer.image_job(test_ticket(settings, printer.width))
        try:
            printer.send(job)
        except PrinterError as exc:
            return Result("printer", False, f"{where}: printing failed: {exc}")
    finally:
        printer.close()
    ok = ask(f"Did a test ticket with number {TEST_NUMBER} print and cut cleanly?")
    return Result("printer", ok, f"{where}: {len(job)} bytes sent; {state}")


def check_call(settings, ask: Ask) -> Result:
    """The announcer's own parts: its voice pack, wording, amplifier relay and ALSA output."""
    import threading

    from announcer.amplifier import Amplifier
    from announcer.audio import Player, render_announcement
    from announcer.phrases import Wording
    from announcer.voicepack import VoicePack

    pack = VoicePack(settings.voice.pack)
    w, v = settings.wording, settings.voice
    words = Wording(w.template, w.dialect, w.digits).words(TEST_NUMBER, 1)
    rendered = render_announcement(pack.lookup(words), pack.rate, repeats=1, gap_ms=v.gap_ms, pause_ms=v.pause_ms,
                                   chime=pack.chime() if w.chime else None, chime_gap_ms=v.chime_gap_ms)
    player = Player(pack.rate, settings.audio.driver, settings.audio.device, settings.audio.buffer)
    amplifier = Amplifier(settings.amplifier)
    player.open()
    time.sleep(amplifier.prepare())
    amplifier.started()
    try:
        player.play(rendered, 1.0, threading.Event())
    finally:
        amplifier.finished()
    said = " ".join(words)
    return Result("call", ask(f"Did you hear “{said}” through the speakers?"),
                  f"{rendered.duration_s:.1f} s, relay {amplifier.state}")


def check_screen(settings, ask: Ask, wait_s: float = 30.0) -> Result:
    from .touchtest import run_touch_test

    missed = run_touch_test(settings.screen.width, settings.screen.height, settings.screen.fullscreen, wait_s)
    if missed:
        return Result("screen", False, "not touched: " + ", ".join(missed))
    return Result("screen", ask("Was the test picture sharp, the right way up, and did each target turn green?"),
                  "five targets touched")


CHECKS: dict[str, Callable[..., Result]] = {
    "matrix": check_matrix, "keys": check_keys, "buzzer": check_buzzer, "printer": check_printer,
    "call": check_call, "screen": check_screen,
}


# ---------------------------------------------------------------------------- the command


def run_checks(box: dict, names: list[str], ask: Ask) -> list[Result]:
    settings = settings_for(box)
    results = []
    for name in names:
        print(f"[{name}]", flush=True)
        try:
            result = CHECKS[name](settings, ask)
        except Exception as exc:  # noqa: BLE001 - a broken part is a failed check, said plainly
            result = Result(name, False, f"{type(exc).__name__}: {exc}")
        print(f"  {'OK' if result.ok else 'FAILED'}: {result.detail}", flush=True)
        results.append(result)
    return results


def as_daemon_user(fn: Callable[[], list[Result]]) -> list[Result]:
    """Run ``fn`` in a child with the motcua user's rights (its groups: spi, gpio, lp, audio...)."""
    try:
        user = pwd.getpwnam("motcua")
    except KeyError:  # a development machine: no such user, run as we are
        return fn()
    if os.geteuid() != 0:
        return fn()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(read)
        code = 0
        try:
            groups = os.getgrouplist(user.pw_name, user.pw_gid)
            os.setgroups(groups)
            os.setgid(user.pw_gid)
            os.setuid(user.pw_uid)
            os.environ["HOME"] = user.pw_dir
            payload = json.dumps([asdict(r) for r in fn()]).encode()
            os.write(write, payload)
        except BaseException as exc:  # noqa: BLE001
            os.write(write, json.dumps([asdict(Result("setup", False, f"{type(exc).__name__}: {exc}"))]).encode())
            code = 1
        finally:
            os.close(write)
            os._exit(code)
    os.close(write)
    chunks = []
    while chunk := os.read(read, 65536):
        chunks.append(chunk)
    os.close(read)
    os.waitpid(pid, 0)
    return [Result(**r) for r in json.loads(b"".join(chunks) or b"[]")]


def record(box: dict, results: list[Result], technician: str | None) -> str:
    """Retained on the box's own topic, with the box's login: the broker binds it to this box."""
    from motcua.protocol.topics import Topics

    settings = settings_for(box)
    payload = {
        "device_id": box["device_id"], "role": box["role"], "at": datetime.now(timezone.utc).isoformat(),
        "technician": technician, "passed": all(r.ok for r in results),
        "release": box.get("release"), "checks": {r.check: {"ok": r.ok, "detail": r.detail} for r in results},
    }
    topic = f"{Topics(box['site']).device(box['device_id'])}/commissioning"
    _publish_retained(settings.mqtt, box["device_id"], topic, json.dumps(payload, ensure_ascii=False))
    return topic


def _publish_retained(mqtt, username: str, topic: str, payload: str, timeout: float = 15.0) -> None:
    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion

    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=username, protocol=paho.MQTTv5)
    client.username_pw_set(username, mqtt.resolved_password())
    if mqtt.ca_file:
        client.tls_set(ca_certs=str(mqtt.ca_file))
    client.connect(mqtt.host, mqtt.port, keepalive=30)
    client.loop_start()
    try:
        info = client.publish(topic, payload, qos=1, retain=True)
        info.wait_for_publish(timeout=timeout)
        if not info.is_published():
            raise ConnectionError(f"the central box did not take the record on {topic}")
    finally:
        client.disconnect()
        client.loop_stop()


def main_args(args) -> int:
    from .roles import get_role

    box = tomllib.loads(Path(args.box).read_text())
    box["_etc"] = str(Path(args.box).parent)  # the settings file sits next to box.toml (/etc/motcua)
    role = get_role(box["role"])
    names = args.only or role.commission
    unknown = [n for n in names if n not in CHECKS]
    if unknown:
        print(f"motcua commission: unknown check(s) {', '.join(unknown)}; checks: {', '.join(CHECKS)}",
              file=sys.stderr)
        return 2
    units = [u for u in box.get("start", box["units"]) if u.endswith(".service")] \
        if os.geteuid() == 0 and not args.keep_running else []
    daemon_units = [u for u in units if u != "motcua-broker.service"]
    print(f"commissioning {box['device_id']} ({box['role']}): {', '.join(names) or 'no hardware checks'}")
    if daemon_units:
        print(f"stopping {', '.join(daemon_units)} while the hardware is tested", flush=True)
        subprocess.run(["systemctl", "stop", *daemon_units], check=False)
    ask = Ask(args.yes)
    try:
        results = as_daemon_user(lambda: run_checks(box, names, ask))
    finally:
        if daemon_units:
            subprocess.run(["systemctl", "start", *daemon_units], check=False)
    passed = all(r.ok for r in results)
    try:
        topic = record(box, results, args.technician)
        print(f"recorded on the central box: {topic}")
    except Exception as exc:  # noqa: BLE001
        print(f"motcua commission: could not record the result on the central box: {exc}", file=sys.stderr)
        return 3
    print(f"{box['device_id']}: {'COMMISSIONED' if passed else 'NOT commissioned'} "
          f"({sum(r.ok for r in results)}/{len(results)} checks passed)")
    return 0 if passed else 1


def register(sub: argparse._SubParsersAction) -> None:
    sp = sub.add_parser("commission", help="on a box: the technician's on-site checks, recorded on the central box",
                        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sp.add_argument("--only", action="append", help=f"one check ({', '.join(CHECKS)}); repeatable")
    sp.add_argument("--yes", action="store_true", help="answer yes to the questions (you watched and listened)")
    sp.add_argument("--technician", help="who commissioned it (recorded)")
    sp.add_argument("--keep-running", action="store_true", help="do not stop the role's units")
    sp.add_argument("--box", default=str(BOX))
    sp.set_defaults(func=main_args)
