"""The counter box's pure logic and the serial keypad's framing, without a broker."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from counter_display.config import CounterBoxSettings, SerialKeypadSettings
from counter_display.keypads.serial import SerialKeypad
from counter_display.model import Command, CounterBoxModel, Refusal
from motcua.protocol import CounterState, Ticket

from daemonkit import wait_until

T0 = datetime(2026, 3, 2, 1, 15, tzinfo=timezone.utc)


def state(status: str = "open", number: str | None = "A1023", at: datetime = T0, counter: int = 3) -> CounterState:
    ticket = None
    if number:
        ticket = Ticket(ticket_id=f"20260302-TP-{number}", number=number, area="TP", day=T0.date(), status="called",
                        issued_at=T0 - timedelta(minutes=9), called_at=at, counter=counter)
    return CounterState(counter=counter, name=f"Quầy {counter}", status=status, current=ticket, updated_at=at)


def model(**kw) -> CounterBoxModel:
    return CounterBoxModel(CounterBoxSettings(counter=3, officer="lan.nguyen", **kw))


def test_a_new_call_blinks_a_repeated_state_does_not_and_a_recall_does_again():
    m = model()
    m.counter_state(state(), now=10.0)
    assert m.content(10.0).text == "A1023" and m.content(10.0).blink_from == 10.0
    m.counter_state(state(at=T0 + timedelta(seconds=5), number="A1023").model_copy(
        update={"current": m.state.current, "updated_at": T0 + timedelta(seconds=5)}), now=12.0)
    assert m.content(12.0).blink_from == 10.0  # the same call re-sent (a retained state, a rating window)
    assert m.recalled(20.0) and m.content(20.0).blink_from == 20.0
    m.counter_state(state(number="A1024", at=T0 + timedelta(minutes=1)), now=30.0)
    assert m.content(30.0).text == "A1024" and m.content(30.0).blink_from == 30.0


def test_older_states_and_other_counters_are_ignored():
    m = model()
    m.counter_state(state(number="A1024", at=T0 + timedelta(minutes=1)), now=1.0)
    assert not m.counter_state(state(number="A1023", at=T0), now=2.0)  # a late retained copy
    assert not m.counter_state(state(number="A1099", counter=4), now=3.0)
    assert m.content(3.0).text == "A1024"


def test_status_texts_and_no_blink_for_them():
    m = model(matrix={"closed_text": "OFF", "paused_text": "BRB", "idle_text": "--"})
    assert m.content(0).text == "..."
    for i, (st, number, text) in enumerate((("closed", None, "OFF"), ("paused", "A1023", "BRB"), ("open", None, "--"))):
        m.counter_state(state(st, number, at=T0 + timedelta(seconds=i)), now=1.0)
        assert m.content(1.0).text == text and m.content(1.0).blink_from is None


def test_offline_marker_after_the_grace_time_and_cleared_on_recovery():
    m = model(offline_after_s=3)
    assert not m.link(True, True, now=0.0) and not m.marker
    assert not m.link(True, False, now=1.0)  # the dispatcher went away: not yet
    assert m.marker_due(1.0) == 4.0
    assert m.link(True, False, now=4.0) and m.content(4.0).marker
    assert m.link(True, True, now=5.0) and not m.content(5.0).marker


def test_keys_become_commands():
    m = model(transfer_default="DD")
    assert m.press("open_close") == Command("open", {"officer": "lan.nguyen"})  # closed (unknown) -> open
    m.counter_state(state(), now=0)
    assert m.press("open_close") == Command("close")
    assert m.press("pause_resume") == Command("pause")
    assert m.press("transfer") == Command("transfer", {"to_area": "DD"})
    for key in "12":
        assert m.press(key) is None
    assert m.content(0).text == ">12"
    assert m.press("transfer") == Command("transfer", {"to_counter": 12}) and m.entry == ""
    assert m.press("area:TP") is None and m.press("transfer") == Command("transfer", {"to_area": "TP"})
    m.press("7"), m.press("clear")
    assert m.entry == "" and m.press("next") == Command("next")
    assert isinstance(model().press("transfer"), Refusal)


def test_serial_keypad_byte_framing_and_unknown_codes():
    keypad = SerialKeypad(SerialKeypadSettings(port="loop://", framing="byte", keys={"n": "next", "5": "5"}))
    seen = []
    keypad.when_key = seen.append
    keypad.start()
    try:
        assert keypad.opened.wait(5)
        keypad.port.write(b"n?5")  # loop:// reads back what is written: the keypad "sends" n, ?, 5
        wait_until(lambda: keypad.codes_read >= 3, timeout=5, what="three codes read")
        assert seen == ["next", "5"] and keypad.status().startswith("ok")
    finally:
        keypad.close()


def test_a_missing_serial_keypad_is_logged_once_and_shown_in_its_status(tmp_path, caplog, monkeypatch):
    import logging

    import serial

    opens: list[str] = []  # every attempt to open the port, counted on its way into pyserial
    real_open = serial.serial_for_url
    monkeypatch.setattr(serial, "serial_for_url", lambda url, *a, **kw: opens.append(url) or real_open(url, *a, **kw))
    caplog.set_level(logging.WARNING, "counter_display.keypad.serial")
    keypad = SerialKeypad(SerialKeypadSettings(port=str(tmp_path / "ttyUSB7"), reopen_s=0.1, keys={"n": "next"}))
    keypad.start()
    try:
        wait_until(lambda: bool(caplog.records), timeout=5, what="the missing keypad to be logged")
        wait_until(lambda: len(opens) >= 4, timeout=10, what="several more attempts to open it")
    finally:
        keypad.close()
    assert "ttyUSB7" in keypad.status() and keypad.status().startswith("degraded")
    assert sum("cannot open" in r.getMessage() for r in caplog.records) == 1
