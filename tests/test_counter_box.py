"""Counter boxes end to end: real Mosquitto, real dispatcher, gpiozero MockFactory pins, a serial keypad on
a pty, and the frame on luma's dummy device: press -> command -> counter state -> frame."""

from __future__ import annotations

import os
import pty
import signal
import tty

from luma.core.device import dummy

from counter_display.config import CounterBoxSettings
from counter_display.matrix import ascii_art
from counter_display.service import CounterBoxService
from motcua.protocol import Health, TicketEvent

from daemonkit import wait_until



def make_box(broker, site, counter: int = 1, **overrides) -> CounterBoxService:
    fields = dict(site=site, device_id=f"counter-{counter}", counter=counter, officer="lan.nguyen",
                  reply_timeout_s=2.0, attempts=3, offline_after_s=0.5, health_interval_s=1,
                  matrix={"driver": "dummy", "blink_count": 0}, gpio={"pin_factory": "mock", "buzzer_pin": 18},
                  mqtt=broker.mqtt(f"counter-{counter}", "counter", counter))
    fields.update(overrides)
    settings = CounterBoxSettings(**fields)
    device = dummy(width=settings.matrix.width, height=8, mode="1")
    box = CounterBoxService(settings, device=device).start()
    box.device = device
    wait_until(lambda: box.model.reachable, what="the box to see the dispatcher")
    return box


def press(box: CounterBoxService, token: str, timeout: float = 10):
    """Push and release the button like a finger (pull-up: low while pressed); the outcome of that press."""
    seq = box.presses + 1
    pin = box.keypads[0].pin(token)
    pin.drive_low()
    pin.drive_high()
    outcome = box.wait_outcome(seq, timeout)
    assert outcome is not None, f"no outcome for {token}"
    return outcome


def frame_text(box: CounterBoxService, text: str) -> None:
    assert box.display.wait_frame(lambda f: f.text == text, 5), f"matrix shows {box.display.frame}, not {text}"


def buzzer_on_times(box) -> list[float]:
    """Lengths of the buzzer's on periods so far (MockPin stamps each change with the time since the last)."""
    states = box.keypads[0].buzzer.pin.states
    return [round(b.timestamp, 2) for a, b in zip(states, states[1:]) if a.state and not b.state]


def test_gpio_presses_call_numbers_onto_the_matrix(broker, site, dispatcher, client):
    box = make_box(broker, site)
    try:
        client.ticket("TP"), client.ticket("TP")
        frame_text(box, "NGHI")  # the retained state: closed
        opened = press(box, "open_close")
        assert opened.ok and opened.action == "open"
        wait_until(lambda: buzzer_on_times(box), what="the short beep")
        assert buzzer_on_times(box)[0] < 0.3
        frame_text(box, "---")
        called = press(box, "next")
        assert called.ok and called.reply.counter.current.number == "A1001"
        frame_text(box, "A1001")
        assert ascii_art(box.device.image).splitlines()[0] == "....###...#...###...###...#....."
        assert press(box, "next").ok
        frame_text(box, "A1002")
        assert press(box, "pause_resume").action == "pause"
        frame_text(box, "TAM NGHI")
        assert press(box, "pause_resume").action == "resume"
        refused = press(box, "next")  # nobody left: the dispatcher refuses, the officer hears the long beep
        assert not refused.ok and "nobody is waiting" in refused.detail
        wait_until(lambda: buzzer_on_times(box) and buzzer_on_times(box)[-1] > 0.5, what="the long beep")
        assert press(box, "open_close").action == "close"
        frame_text(box, "NGHI")
        # the same state reached the dispatcher's retained topic: another box would show the same
        assert client.counter(1, "recall").error.code in ("bad_state", "not_allowed", "closed_hours")
    finally:
        box.stop()


def test_a_timed_out_press_is_retried_with_the_same_id_and_applied_once(broker, site, dispatcher, client):
    box = make_box(broker, site, reply_timeout_s=0.4, attempts=10)
    try:
        client.ticket("TP"), client.ticket("TP")
        assert press(box, "open_close").ok
        os.kill(dispatcher.proc.pid, signal.SIGSTOP)  # the dispatcher hangs: replies stop
        try:
            seq = box.presses + 1
            pin = box.keypads[0].pin("next")
            pin.drive_low(), pin.drive_high()
            assert box.wait_outcome(seq, 1.0) is None  # no reply to the first attempts: still trying
        finally:
            os.kill(dispatcher.proc.pid, signal.SIGCONT)
        outcome = box.wait_outcome(seq, 10)
        assert outcome.ok and outcome.attempts >= 2, outcome
        frame_text(box, "A1001")
        # every attempt reached the dispatcher; it called one number, not one per attempt
        assert client.counter(1, "recall").counter.current.number == "A1001"
        assert client.ticket("TP").waiting_ahead == 1  # A1002 still waits
    finally:
        box.stop()


def test_offline_marker_and_refusal_while_the_dispatcher_is_away(broker, site, dispatcher, client):
    box = make_box(broker, site)
    try:
        client.ticket("TP")
        assert press(box, "open_close").ok and press(box, "next").ok
        frame_text(box, "A1001")
        dispatcher.stop()  # its last word: retained 'offline'
        assert box.display.wait_frame(lambda f: f.marker, 5)
        assert ascii_art(box.device.image).splitlines()[7] == "#." * 16
        refused = press(box, "next", timeout=2)  # refused at once, nothing sent, nothing queued
        assert not refused.ok and refused.detail.startswith("offline") and refused.attempts == 0
        dispatcher.start()
        assert box.display.wait_frame(lambda f: not f.marker and f.text == "A1001", 10)
        assert client.counter(1, "recall").counter.current.number == "A1001"  # the refused press never fired
    finally:
        box.stop()


def test_serial_keypad_types_a_counter_number_and_transfers(broker, site, dispatcher, client, tmp_path,
                                                             watcher_factory):
    master, slave = pty.openpty()
    tty.setraw(slave)
    link = tmp_path / "keypad"
    link.symlink_to(os.ttyname(slave))
    box = make_box(broker, site, gpio=None, serial_keypad={"port": str(link), "reopen_s": 0.2, "ok_reply": "+",
                                                           "error_reply": "-"})
    try:
        keypad = box.keypads[0]
        assert keypad.opened.wait(5)
        client.ticket("TP")
        client.counter(2, "open", officer="minh.tran")

        seq = box.presses
        os.write(master, b"O\r")
        assert box.wait_outcome(seq + 1, 10).ok
        seq = box.presses
        os.write(master, b"N\r")
        assert box.wait_outcome(seq + 1, 10).ok
        frame_text(box, "A1001")
        assert os.read(master, 16).startswith(b"+")
        events = watcher_factory(f"motcua/v1/{site}/event/ticket")
        seq = box.presses
        os.write(master, b"H40.12-260302-0007\r")  # the citizen's receipt, scanned on the keypad's line
        out = box.wait_outcome(seq + 1, 10)
        assert out.ok and out.action == "attach_dossier", out
        attached = TicketEvent.model_validate_json(events.wait_for(lambda m: b"dossier_attached" in m.payload).payload)
        assert attached.ticket.number == "A1001" and attached.ticket.dossier_code == "H40.12-260302-0007"
        assert os.read(master, 16).startswith(b"+")
        os.write(master, b"1\r2\r")
        frame_text(box, ">12")  # what was typed shows on the matrix
        os.write(master, b"C\r2\r")
        frame_text(box, ">2")
        seq = box.presses
        os.write(master, b"T\r")
        out = box.wait_outcome(seq + 1, 10)
        assert out.ok and out.action == "transfer", out
        frame_text(box, "---")
        assert client.counter(2, "next").counter.current.number == "A1001"  # counter 2 got the citizen

        health = watcher_factory(f"motcua/v1/{site}/device/counter-1/health")
        link.unlink()  # unplugged: the device node goes away with the keypad
        os.close(slave)
        os.close(master)
        h = Health.model_validate_json(health.wait_for(lambda m: b"unplugged" in m.payload, 10).payload)
        assert h.status == "degraded" and "unplugged" in h.checks["keypad_serial"]
        master, slave = pty.openpty()  # plugged back in (a new tty node behind the same udev link)
        tty.setraw(slave)
        link.symlink_to(os.ttyname(slave))
        assert keypad.opened.wait(10)
        seq = box.presses
        os.write(master, b"R\r")
        assert box.wait_outcome(seq + 1, 10).action == "recall"
        os.close(master)
        os.close(slave)
    finally:
        box.stop()


def test_hostile_payloads_are_refused_and_the_box_keeps_showing(broker, site, dispatcher, client, publisher):
    box = make_box(broker, site)
    try:
        client.ticket("TP")
        assert press(box, "open_close").ok and press(box, "next").ok
        frame_text(box, "A1001")
        topic = f"motcua/v1/{site}/counter/1/state"
        for payload in (b"\xff\xfe", b"[]", b'{"counter": 1}', b"x" * 200_000):
            publisher.publish(topic, payload, qos=1).wait_for_publish(5)
        wait_until(lambda: (box.runtime.last_error or "").startswith("refused message"), what="a refusal")
        assert press(box, "recall").ok  # still alive, still serving
        assert box.display.frame.text == "A1001"
    finally:
        box.stop()


def test_the_box_survives_a_broker_restart(own_broker, site, tmp_path):
    from daemonkit import DispatcherProcess

    d = DispatcherProcess(own_broker, site, tmp_path).start()
    box = make_box(own_broker, site)
    try:
        assert press(box, "open_close").ok
        frame_text(box, "---")
        own_broker.stop()
        assert box.display.wait_frame(lambda f: f.marker, 10)  # the officer sees the link is gone
        assert not press(box, "next", timeout=2).ok
        own_broker.start()
        assert box.display.wait_frame(lambda f: not f.marker, 15)
        wait_until(lambda: box.model.reachable, what="the dispatcher back")
        assert press(box, "recall").detail.startswith("refused:")  # reaching the dispatcher again: nobody to recall
    finally:
        box.stop()
        d.stop()


def test_daemons_start_as_systemd_runs_them_and_refuse_bad_settings(broker, site, dispatcher, tmp_path,
                                                                     watcher_factory):
    import subprocess
    import sys

    from motcua.localbroker import REPO

    bad = tmp_path / "counter.toml"
    bad.write_text('device_id = "counter-2"\n[matrix]\nmodulez = 4\n', encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOTCUA_")}
    r = subprocess.run([sys.executable, "-m", "counter_display", "--config", str(bad)], env=env, cwd=REPO,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 78 and "matrix.modulez" in r.stderr

    env.update(broker.env("counter-2", "counter", 2))
    env.update(MOTCUA_SITE=site, MOTCUA_DEVICE_ID="counter-2", MOTCUA_COUNTER="2", MOTCUA_OFFICER="minh.tran",
               MOTCUA_HEALTH_INTERVAL_S="1", MOTCUA_MATRIX__DRIVER="dummy", MOTCUA_GPIO='{"pin_factory": "mock"}',
               GPIOZERO_PIN_FACTORY="mock")
    health = watcher_factory(f"motcua/v1/{site}/device/counter-2/#")
    proc = subprocess.Popen([sys.executable, "-m", "counter_display"], env=env, cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        msg = health.wait_for(lambda m: m.topic.endswith("/health") and b'"dispatcher":"ok"' in m.payload.replace(
            b" ", b""), 20)
        h = Health.model_validate_json(msg.payload)
        assert h.role == "counter" and h.status == "ok" and h.checks["display"].startswith("ok (dummy")
        assert h.checks["keypad_gpio"].startswith("ok (gpio: 7 buttons")
    finally:
        proc.terminate()
        assert proc.wait(15) == 0, proc.stderr.read().decode(errors="replace")[-2000:]
    health.wait_for(lambda m: m.topic.endswith("/availability") and m.payload == b"offline", 10)
