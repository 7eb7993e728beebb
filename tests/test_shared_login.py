"""Two processes with one login (a technician sourcing the wrong env file, a stolen password): each side notices,
says so in its log and retained health, and the newer one stops instead of fighting."""

from __future__ import annotations

import json
import logging

from motcua.cli import render_status
from motcua.runtime import DeviceRuntime
from motcua.settings import DeviceSettings


def _of(runtime: DeviceRuntime, *, up_s: float = 0.0, takeovers: int = 0):
    """A health message of this run, after ``up_s`` seconds up, counting at least ``takeovers``."""

    def match(msg) -> bool:
        health = json.loads(msg.payload) if msg.payload else {}
        return (health.get("instance") == runtime.instance and health.get("uptime_s", 0) >= up_s
                and health.get("takeovers", 0) >= takeovers)

    return match


def _beats(health, runtime: DeviceRuntime, after: int, count: int, timeout: float = 20.0) -> None:
    """Wait until ``runtime`` has published ``count`` more health messages (one a second here) since
    message number ``after``: the time during which a fight, had there been one, would have shown."""
    health.wait_for(lambda _: sum(_of(runtime)(m) for m in health.messages[after:]) >= count, timeout)


def test_the_newer_of_two_instances_yields_and_both_say_so(broker, site, caplog, watcher_factory):
    caplog.set_level(logging.INFO, logger="motcua.runtime")
    login = broker.mqtt("kiosk-7", "kiosk")
    settings = DeviceSettings(site=site, device_id="kiosk-7", mqtt=login, health_interval_s=1)
    health = watcher_factory(f"motcua/v1/{site}/device/kiosk-7/health")
    first = DeviceRuntime(settings, "kiosk")
    first.start()
    first.ready()
    assert first.wait_connected(10)
    health.wait_for(_of(first, up_s=1.0), 20)  # it has published its health for a while
    second = DeviceRuntime(settings, "kiosk")
    try:
        second.start()
        second.ready()
        # the newer one stops its runtime when it yields
        assert second._stopping.wait(20) and second.yielded is not None, "the newer instance kept fighting"
        assert first.instance in second.yielded and "started before this one" in second.yielded
        # the older one stays, and tells the technician in its retained health
        told = json.loads(health.wait_for(_of(first, takeovers=1), 20).payload)
        assert first.wait_connected(10) and first.takeovers >= 1
        assert "login" in told["checks"]
        before, heard = first.takeovers, len(health.messages)
        _beats(health, first, heard, 3)  # and the fight is over: no more takeovers
        assert first.takeovers == before and not second.connected
        assert "took over login" in caplog.text and "is already in use by a live instance" in caplog.text
        status = render_status(site, {m.topic: m.payload for m in health.messages[-1:]})
        assert "LOGIN USED TWICE" in status
    finally:
        second.stop()
        first.stop()


def test_a_restart_after_a_crash_is_not_a_second_instance(broker, site, watcher_factory):
    """The previous run's retained health (its last word before a power cut) must not make the new run yield."""
    settings = DeviceSettings(site=site, device_id="kiosk-8", mqtt=broker.mqtt("kiosk-8", "kiosk"),
                              health_interval_s=1)
    health = watcher_factory(f"motcua/v1/{site}/device/kiosk-8/health")
    old = DeviceRuntime(settings, "kiosk")
    old.start()
    old.ready()
    assert old.wait_connected(10)
    health.wait_for(_of(old, up_s=1.0), 20)  # its last word is retained
    old._stopping.set()
    old._client.loop_stop()  # vanishes without a word: no offline, no disconnect
    new = DeviceRuntime(settings, "kiosk")
    try:
        new.start()
        new.ready()
        assert new.wait_connected(10)
        _beats(health, new, 0, 2)  # it heard the retained word and its own echo, and kept going
        assert new.yielded is None and new.connected
    finally:
        new.stop()
