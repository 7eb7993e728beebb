"""Two processes with one login (a technician sourcing the wrong env file, a stolen password): each side notices,
says so in its log and retained health, and the newer one stops instead of fighting."""

from __future__ import annotations

import json
import logging
import time

from motcua.cli import render_status
from motcua.runtime import DeviceRuntime
from motcua.settings import DeviceSettings


def _wait(check, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


def test_the_newer_of_two_instances_yields_and_both_say_so(broker, site, caplog, watcher_factory):
    caplog.set_level(logging.INFO, logger="motcua.runtime")
    login = broker.mqtt("kiosk-7", "kiosk")
    settings = DeviceSettings(site=site, device_id="kiosk-7", mqtt=login, health_interval_s=1)
    health = watcher_factory(f"motcua/v1/{site}/device/kiosk-7/health")
    first = DeviceRuntime(settings, "kiosk")
    first.start()
    first.ready()
    assert first.wait_connected(10)
    time.sleep(1.5)  # it has published its health for a while
    second = DeviceRuntime(settings, "kiosk")
    try:
        second.start()
        second.ready()
        assert _wait(lambda: second.yielded is not None), "the newer instance kept fighting"
        assert first.instance in second.yielded and "started before this one" in second.yielded
        assert _wait(lambda: first.connected and first.takeovers >= 1)
        # the older one stays, and tells the technician in its retained health
        assert _wait(lambda: any(json.loads(m.payload).get("takeovers", 0) >= 1 for m in health.messages)), [m.payload[:300] for m in health.messages[-3:]]
        last = json.loads(health.messages[-1].payload)
        assert last["instance"] == first.instance and "login" in last["checks"]
        before = first.takeovers
        time.sleep(3)  # and the fight is over: no more takeovers
        assert first.takeovers == before and not second.connected
        assert "took over login" in caplog.text and "is already in use by a live instance" in caplog.text
        status = render_status(site, {m.topic: m.payload for m in health.messages[-1:]})
        assert "LOGIN USED TWICE" in status
    finally:
        second.stop()
        first.stop()


def test_a_restart_after_a_crash_is_not_a_second_instance(broker, site):
    """The previous run's retained health (its last word before a power cut) must not make the new run yield."""
    settings = DeviceSettings(site=site, device_id="kiosk-8", mqtt=broker.mqtt("kiosk-8", "kiosk"),
                              health_interval_s=1)
    old = DeviceRuntime(settings, "kiosk")
    old.start()
    old.ready()
    assert old.wait_connected(10)
    time.sleep(1.2)
    old._stopping.set()
    old._client.loop_stop()  # vanishes without a word: no offline, no disconnect
    new = DeviceRuntime(settings, "kiosk")
    try:
        new.start()
        new.ready()
        assert new.wait_connected(10)
        time.sleep(2.5)
        assert new.yielded is None and new.connected
    finally:
        new.stop()
