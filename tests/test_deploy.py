"""What a technician installs: the systemd units must parse cleanly and stay locked down."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from motcua.localbroker import REPO

UNITS = sorted((REPO / "systemd").glob("*.service"))


def test_there_are_units():
    assert UNITS


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_unit_verifies_and_is_hardened(unit: Path, tmp_path: Path):
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze missing: make install provides it"
    # verify checks that ExecStart exists: point it at a binary this machine has
    text = re.sub(r"^ExecStart=\S+", "ExecStart=/bin/true", unit.read_text(), flags=re.M)
    assert not re.search(r"^Exec\w*=(?!/bin/sh )(?!/bin/true)/(bin|usr/bin)/(kill|pkill)", text, flags=re.M), \
        "a minimal Debian has no /bin/kill: use /bin/sh -c 'kill …'"
    copy = tmp_path / unit.name
    copy.write_text(text)
    r = subprocess.run([analyze, "verify", str(copy)], capture_output=True, text=True, timeout=60)
    # systemd-analyze verify exits 0 even on parse errors: any output is a failure
    assert r.stdout.strip() == "" and r.stderr.strip() == "", r.stdout + r.stderr
    r = subprocess.run([analyze, "security", "--offline=yes", str(copy)], capture_output=True, text=True, timeout=60)
    score = float(re.search(r"Overall exposure level for \S+: ([0-9.]+)", r.stdout).group(1))
    assert score <= 2.0, r.stdout[-2000:]


@pytest.mark.parametrize("name, module, cls", [
    ("hall.toml", "dispatcher.config", "DispatcherSettings"),
    ("satisfaction_pad.toml", "satisfaction_pad.config", "PadSettings"),
    ("announcer.toml", "announcer.config", "AnnouncerSettings"),
    ("counter_box.toml", "counter_display.config", "CounterBoxSettings"),
    ("hall_board.toml", "counter_display.board.config", "BoardSettings"),
    ("kiosk.toml", "kiosk_ticket.config", "KioskSettings"),
    ("province-collector.toml", "province.config", "CollectorSettings"),
    ("onestop.toml", "onestop.config", "OneStopSettings"),
    ("web.toml", "web.settings", "WebSettings"),
    ("signboard.toml", "signboard.config", "SignboardSettings"),
    ("progress_board.toml", "progress_board.config", "ProgressSettings"),
])
def test_shipped_examples_load(name, module, cls, monkeypatch):
    """Every example settings file a technician copies is valid as it stands."""
    import importlib

    from motcua.settings import load_settings

    for var in [v for v in __import__("os").environ if v.startswith("MOTCUA_")]:
        monkeypatch.delenv(var)
    settings_cls = getattr(importlib.import_module(module), cls)
    role = {"hall.toml": "dispatcher", "counter_box.toml": "counter", "hall_board.toml": "board",
            "progress_board.toml": "progress"}.get(
        name, name.removesuffix(".toml"))
    assert load_settings(settings_cls, role, REPO / "examples" / name)
