"""End to end: real Mosquitto, the real dispatcher process, the announcer service; settings and the daemon."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta

import pytest

from announcer.config import AnnouncerSettings
from announcer.service import AnnouncerService
from motcua.protocol import utcnow
from motcua.settings import SettingsError, load_settings
from announcerkit import Recorder, publish_call, settings, start, tone_pack


@pytest.fixture
def pack(tmp_path):
    return tone_pack(tmp_path / "pack", word_ms=20, chime_ms=40)


@pytest.fixture
def announcer(broker, site, pack, watcher_factory, tmp_path):
    s = settings(broker, site, pack, voice={"gap_ms": 5, "pause_ms": 20, "chime_gap_ms": 20},
                 audio={"record_dir": tmp_path / "wav"})
    service = start(AnnouncerService(s), watcher_factory)
    yield service
    service.stop()


def test_counter_next_is_announced_with_the_right_words(dispatcher, client, announcer, tmp_path):
    recorder = Recorder(announcer)
    t = client.ticket("TP").ticket
    assert t.number == "A1001"
    assert client.counter(1, "open", officer="lan.nguyen").ok
    assert client.counter(1, "next").ok
    (played,) = recorder.wait(1)
    expected = "Mời công dân có số a một nghìn không trăm linh một đến quầy số một".split()
    assert played.words == expected
    assert played.rendered.keys == ["chime"] + [w.lower() for w in expected]
    assert played.error is None
    assert played.wav is not None and played.wav.is_file()


def test_burst_from_several_counters_is_spoken_in_order(dispatcher, client, announcer):
    recorder = Recorder(announcer)
    areas = ["TP", "DD", "TP", "DD"]
    officers = {1: "lan.nguyen", 3: "hoa.le"}
    for a in areas:
        assert client.ticket(a).ok
    for c, officer in officers.items():
        r = client.counter(c, "open", officer=officer)
        assert r.ok, r.error
    called = []
    for c in (1, 3, 1, 3):
        r = client.counter(c, "next")
        assert r.ok, r.error
        called.append((r.counter.current.number, c))
    played = recorder.wait(4)
    assert [(p.call.number, p.call.counter) for p in played] == called
    for p in played:
        assert p.words[-1] == {1: "một", 3: "ba"}[p.call.counter]
    for a, b in zip(played, played[1:]):  # one after another, never overlapping
        assert b.handed_at >= a.handed_at + a.rendered.duration_s - 0.01


def test_recall_while_waiting_is_merged_and_stale_is_dropped(site, announcer, publisher):
    recorder = Recorder(announcer)
    publish_call(publisher, site, "A1", 1)  # keeps the worker busy while the rest queue up
    publish_call(publisher, site, "A2", 2)
    publish_call(publisher, site, "A2", 2, recall=True, call_count=2)
    publish_call(publisher, site, "A3", 3, at=utcnow() - timedelta(minutes=10))  # from before an outage
    publish_call(publisher, site, "A4", 4)
    played = recorder.wait(3)
    assert announcer.wait_idle(10)
    assert [p.call.number for p in announcer.history] == ["A1", "A2", "A4"]
    assert played[1].call.recall is True
    state = announcer.state()
    assert (state.merged, state.dropped_stale, state.played) == (1, 1, 3)


def test_health_reports_audio_relay_queue(site, announcer, watcher_factory):
    w = watcher_factory(announcer.topics.health(announcer.settings.device_id))
    msg = w.wait_for(lambda m: json.loads(m.payload)["role"] == "announcer", 5)
    checks = json.loads(msg.payload)["checks"]
    assert checks == {"audio": "ok", "relay": "ok", "voice_pack": "ok", "queue": "ok"}
    st = watcher_factory(announcer.topics.state(announcer.settings.device_id))
    state = json.loads(st.wait_for(lambda m: True, 5).payload)
    assert state["relay"] == "absent" and state["queue_length"] == 0 and state["audio"] == "ok"


def test_settings_are_strict(tmp_path):
    cfg = tmp_path / "announcer.toml"
    cfg.write_text('[amplifier]\nwarmup = 1\n')
    with pytest.raises(SettingsError, match="amplifier.warmup"):
        load_settings(AnnouncerSettings, "announcer", cfg)
    cfg.write_text('[wording]\ntemplate = "Mời số {ticket} quầy {quay}"\n', encoding="utf-8")
    with pytest.raises(SettingsError, match="placeholder"):
        load_settings(AnnouncerSettings, "announcer", cfg)
    cfg.write_text('[queue]\nwhen_full = "panic"\n')
    with pytest.raises(SettingsError, match="queue.when_full"):
        load_settings(AnnouncerSettings, "announcer", cfg)


def test_daemon_runs_and_exits_78_on_bad_settings(broker, site, pack, tmp_path, watcher_factory):
    bad = tmp_path / "bad.toml"
    bad.write_text("[voice]\npak = 'x'\n")
    r = subprocess.run([sys.executable, "-m", "announcer", "--config", str(bad)], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 78 and "voice.pak" in r.stderr
    cfg = tmp_path / "announcer.toml"
    login = broker.mqtt("ann-proc", "announcer")
    cfg.write_text(f'site = "{site}"\ndevice_id = "ann-proc"\n[mqtt]\nport = {broker.port}\n'
                   f'password = "{login.resolved_password()}"\n'
                   f'[voice]\npack = "{pack}"\n[audio]\ndriver = "dummy"\n', encoding="utf-8")
    w = watcher_factory(f"motcua/v1/{site}/device/ann-proc/availability")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOTCUA_")}
    proc = subprocess.Popen([sys.executable, "-m", "announcer", "--config", str(cfg)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        w.wait_for(lambda m: m.payload == b"online", 15)
        proc.terminate()
        assert proc.wait(15) == 0
        w.wait_for(lambda m: m.payload == b"offline", 5)
    finally:
        if proc.poll() is None:
            proc.kill()
    missing = tmp_path / "nopack.toml"
    missing.write_text(f'[voice]\npack = "{tmp_path / "nowhere"}"\n')
    r = subprocess.run([sys.executable, "-m", "announcer", "--config", str(missing)], capture_output=True, text=True,
                       timeout=30, env=env)
    assert r.returncode == 78 and "voicepack build" in r.stderr


def test_demo_hook_saves_each_announcement(broker, site, pack, tmp_path, publisher, watcher_factory):
    from announcer.demo import start_for_demo

    w = watcher_factory(f"motcua/v1/{site}/device/announcer/availability")
    demo = start_for_demo(broker, site, tmp_path / "demo-output", pack=pack,
                          voice={"gap_ms": 5, "chime_gap_ms": 20})
    try:
        w.wait_for(lambda m: m.payload == b"online" and not m.retain, 10)
        recorder = Recorder(demo.service)
        publish_call(publisher, site, "C3001", 7)
        (played,) = recorder.wait(1)
        assert demo.wait_idle(5)
    finally:
        demo.stop()
    wavs = sorted((tmp_path / "demo-output" / "announcements").glob("*.wav"))
    assert [p.name.split("-", 3)[-1] for p in wavs] == ["C3001-counter7.wav"]
    assert played.words[-1] == "bảy"
