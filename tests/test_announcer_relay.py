"""The amplifier relay with gpiozero's MockFactory: warm-up before the first sound, off after the idle timeout."""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone


import pytest
from gpiozero import Device, OutputDevice
from gpiozero.pins.mock import MockFactory

from announcer.amplifier import Amplifier
from announcer.config import AmplifierSettings, AnnouncerSettings
from announcer.service import AnnouncerService
from announcerkit import Recorder, publish_call, settings, start, tone_pack


class Clock:
    def __init__(self):
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def factory():
    old = Device.pin_factory
    Device.pin_factory = MockFactory()
    yield Device.pin_factory
    Device.pin_factory.reset()
    Device.pin_factory = old


def amp(clock, factory, **kw) -> tuple[Amplifier, object]:
    s = AmplifierSettings(relay_pin=17, warmup_s=0.8, idle_timeout_s=60, **kw)
    a = Amplifier(s, clock=clock)
    return a, factory.pin(17)


def test_warm_up_then_off_after_idle(factory):
    clock = Clock()
    a, pin = amp(clock, factory)
    assert pin.state is False and a.state == "off"
    assert a.prepare() == pytest.approx(0.8)  # switched on: wait the warm-up before sound
    assert pin.state is True and a.state == "on"
    clock.t += 0.5
    assert a.prepare() == pytest.approx(0.3)  # a second call during warm-up waits only the rest
    clock.t += 0.3
    assert a.prepare() == 0
    a.started()
    clock.t += 120  # a long announcement: never off while sound plays
    a.tick()
    assert pin.state is True
    a.finished()
    clock.t += 59.9
    a.tick()
    assert pin.state is True
    clock.t += 0.1
    a.tick()
    assert pin.state is False and a.state == "off"
    assert a.prepare() == pytest.approx(0.8)  # next call: warm up again
    assert pin.state is True


def test_idle_counts_from_the_last_sound(factory):
    clock = Clock()
    a, pin = amp(clock, factory)
    a.prepare()
    clock.t += 1
    a.started(); a.finished()
    clock.t += 50
    a.started(); clock.t += 5; a.finished()
    clock.t += 59
    a.tick()
    assert pin.state is True
    clock.t += 1
    a.tick()
    assert pin.state is False


def test_active_low_relay(factory):
    clock = Clock()
    a, pin = amp(clock, factory, active_high=False)
    assert pin.state is True  # off = high on an active-low board
    a.prepare()
    assert pin.state is False


def test_no_relay_configured():
    a = Amplifier(AmplifierSettings())
    assert a.prepare() == 0 and a.state == "absent"
    a.tick(); a.off()


def test_quiet_hours_and_volume():
    s = AnnouncerSettings(amplifier={"volume": 0.8, "quiet_hours": [
        {"start": "21:00", "end": "06:00", "volume": 0.0}, {"start": "11:30", "end": "13:00", "volume": 0.3}]})
    at = lambda h, m: datetime(2026, 3, 2, h - 7 if h >= 7 else h + 17, m, tzinfo=timezone.utc)  # noqa: E731
    assert s.volume_at(at(9, 0)) == 0.8
    assert s.volume_at(at(12, 0)) == 0.3
    assert s.volume_at(at(22, 0)) == 0.0
    assert s.volume_at(at(5, 59)) == 0.0
    assert s.volume_at(at(6, 0)) == 0.8


def test_service_switches_on_before_the_first_sound(broker, site, tmp_path, factory, watcher_factory):
    """Real service, real MQTT: the mock pin goes high at least warm-up before the sound reaches the mixer."""
    pack = tone_pack(tmp_path / "pack")
    s = settings(broker, site, pack, amplifier={"relay_pin": 27, "warmup_s": 0.3, "idle_timeout_s": 0.2})
    relay = OutputDevice(27, initial_value=False)
    switched: list[tuple[str, float]] = []

    class Spy:
        def on(self):
            switched.append(("on", time.monotonic())); relay.on()

        def off(self):
            switched.append(("off", time.monotonic())); relay.off()

        def close(self):
            relay.close()

    service = AnnouncerService(s, amplifier=Amplifier(s.amplifier, device=Spy()))
    start(service, watcher_factory)
    recorder = Recorder(service)
    pub = broker.client("relay-test-dispatcher", "dispatcher")
    pub.connect("127.0.0.1", broker.port)
    pub.loop_start()
    try:
        publish_call(pub, site, "A7", 2)
        (played,) = recorder.wait(1)
        assert switched[0][0] == "on"
        assert played.handed_at - switched[0][1] >= 0.3
        # idle timeout: the worker's tick switches it off and says so on the state topic
        watcher = watcher_factory(service.topics.state(s.device_id))
        watcher.wait_for(lambda m: not m.retain and json.loads(m.payload)["relay"] == "off", 5)
        assert [e for e, _ in switched] == ["on", "off"]
        assert switched[1][1] - played.handed_at >= played.rendered.duration_s + 0.2 - 0.05
    finally:
        pub.loop_stop()
        pub.disconnect()
        service.stop()
