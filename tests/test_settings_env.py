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
