"""A flood without a login: thousands of half-open TLS connections from one LAN address, in network namespaces of
our own, against the production broker config with the nftables ruleset shipped with the broker unit loaded.
The flooder keeps 16 connections; a valid kiosk from another address logs in meanwhile. (bench/flood.py
measures the same with and without the ruleset.)"""

from __future__ import annotations

import re

import pytest

from bench import flood


def test_a_half_open_flood_from_one_address_does_not_keep_devices_out(tmp_path):
    why = flood.available()
    if why:
        pytest.skip(why)
    r = flood.run(6000, 20.0, True, tmp_path)
    held = int(re.match(r"held (\d+)", r["flood"]).group(1))
    assert held <= 16, r
    assert r["flood_login_ok"], f"the valid kiosk could not log in during the flood: {r}"
