"""A technician overrides any setting of a file from MOTCUA_* variables alone: a nested choice, a cleared path."""

from __future__ import annotations

import subprocess
import sys

from kiosk_ticket.config import KioskSettings
from motcua.settings import load_settings

FILE = """device_id = "kiosk-9"
[mqtt]
host = "10.1.1.1"
ca_file = "/etc/motcua/ca.crt"
[printer.transport]
kind = "usb"
vendor_id = 1208
product_id = 3605
"""


def test_a_kind_from_the_environment_replaces_the_files_table_and_empty_clears(tmp_path, monkeypatch):
    path = tmp_path / "kiosk.toml"
    path.write_text(FILE)
    monkeypatch.setenv("MOTCUA_MQTT__CA_FILE", "")
    monkeypatch.setenv("MOTCUA_PRINTER__TRANSPORT__KIND", "network")
    monkeypatch.setenv("MOTCUA_PRINTER__TRANSPORT__HOST", "10.0.0.9")
    s = load_settings(KioskSettings, "kiosk", path)
    assert s.mqtt.ca_file is None and s.mqtt.host == "10.1.1.1"
    assert s.printer.transport.kind == "network" and s.printer.transport.host == "10.0.0.9"
    monkeypatch.delenv("MOTCUA_PRINTER__TRANSPORT__KIND")
    monkeypatch.delenv("MOTCUA_PRINTER__TRANSPORT__HOST")
    monkeypatch.setenv("MOTCUA_PRINTER__TRANSPORT__PRODUCT_ID", "1")  # the same kind: merged key by key
    s = load_settings(KioskSettings, "kiosk", path)
    assert (s.printer.transport.kind, s.printer.transport.vendor_id, s.printer.transport.product_id) == ("usb", 1208, 1)


def test_help_names_the_default_file_and_the_prefix():
    out = subprocess.run([sys.executable, "-m", "satisfaction_pad", "--help"], capture_output=True, text=True,
                         timeout=60).stdout
    assert "/etc/motcua/satisfaction_pad.toml" in out and "MOTCUA_" in out and "MOTCUA_MQTT__CA_FILE=" in out


def test_the_dispatcher_queues_more_than_a_device_unless_told(tmp_path, monkeypatch):
    """Under a flood the dispatcher's replies and events wait for the broker's acknowledgements: its own
    default for mqtt.max_queued holds with an [mqtt] table or MOTCUA_MQTT__* variables, and a set value wins."""
    from dispatcher.config import DISPATCHER_MAX_QUEUED, DispatcherSettings

    path = tmp_path / "dispatcher.toml"
    path.write_text('site = "s"\n[mqtt]\nhost = "10.1.1.1"\n[hall]\nname = "Hall"\n'
                    '[[hall.areas]]\ncode = "TP"\nname = "Tư pháp"\nprefix = "A"\n'
                    '[[hall.counters]]\nnumber = 1\nareas = ["TP"]\n', encoding="utf-8")
    monkeypatch.setenv("MOTCUA_MQTT__PORT", "8883")
    s = load_settings(DispatcherSettings, "dispatcher", path)
    assert (s.mqtt.host, s.mqtt.port, s.mqtt.max_queued) == ("10.1.1.1", 8883, DISPATCHER_MAX_QUEUED)
    kiosk = tmp_path / "kiosk.toml"
    kiosk.write_text(FILE)
    assert load_settings(KioskSettings, "kiosk", kiosk).mqtt.max_queued < DISPATCHER_MAX_QUEUED
    monkeypatch.setenv("MOTCUA_MQTT__MAX_QUEUED", "50")
    assert load_settings(DispatcherSettings, "dispatcher", path).mqtt.max_queued == 50
