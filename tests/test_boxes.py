"""Provisioning: the roles catalogue, `motcua box bundle`, release signatures, install.sh's shape.

The whole path (bundle → boot → install → online → update → rollback) runs in
images/build --boot-check under qemu (from .ci/run); these are the fast parts.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from boxes import release as rel
from boxes import update
from boxes.bundle import BundleError, BundleRequest, make_bundle
from boxes.cli import register  # noqa: F401  (the entry point must import)
from boxes.roles import UNITS, MANUAL, load_roles, unit_files, unit_roles
from motcua.broker.site import SiteBroker
from motcua.localbroker import REPO
from motcua.settings import load_settings

SETTINGS_CLASSES = {
    "hub": ("dispatcher.config", "DispatcherSettings", "dispatcher"),
    "counter": ("counter_display.config", "CounterBoxSettings", "counter"),
    "kiosk": ("kiosk_ticket.config", "KioskSettings", "kiosk"),
    "pad": ("satisfaction_pad.config", "PadSettings", "satisfaction_pad"),
    "board": ("counter_display.board.config", "BoardSettings", "board"),
    "announcer": ("announcer.config", "AnnouncerSettings", "announcer"),
}


def test_every_unit_belongs_to_a_role_and_every_role_has_units():
    roles = load_roles()
    for unit in unit_files():
        named = unit_roles(unit.read_text())
        assert named, f"{unit.name} names no role: add X-Motcua-Roles= to its [Install] section"
        assert set(named) <= set(roles) | {MANUAL}, f"{unit.name} names unknown roles {set(named) - set(roles)}"
    for role in roles.values():
        assert role.units(), f"role {role.name} installs no unit"


def test_every_role_has_its_extra_and_its_example():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    for role in load_roles().values():
        assert role.extra in project["optional-dependencies"], f"pyproject.toml lacks the extra {role.extra}"
        assert (REPO / "examples" / role.settings.example).is_file()


def test_releases_carry_every_roles_extra():
    assert set(rel.ALL_EXTRAS.split(",")) == {r.extra for r in load_roles().values()}


def test_the_lock_pins_every_runtime_dependency():
    lock = {line.split("==")[0].lower() for line in (REPO / "boxes" / "box.lock").read_text().splitlines()
            if "==" in line}
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    names = list(project["dependencies"])
    for extra in {r.extra for r in load_roles().values()}:
        names += project["optional-dependencies"][extra]
    for req in names:
        name = req.split(";")[0].split("[")[0].split(">")[0].split("<")[0].split("=")[0].strip().lower()
        assert name in lock, f"{name} is not in boxes/box.lock: run scripts/lock_boxes.py"


@pytest.fixture
def hub(tmp_path: Path):
    """A central box's broker directory with its CA, and a release folder."""
    sb = SiteBroker(tmp_path / "broker")
    sb.init("hcm-q1")
    from motcua.broker.certs import SiteCA

    SiteCA(sb.certs_dir, "hcm-q1").ensure()
    release = tmp_path / "releases" / "0.1.0"
    (release / "wheels").mkdir(parents=True)
    (release / "constraints.txt").write_text("paho-mqtt==2.2.0\n")
    (release / "release.json").write_text(json.dumps({"version": "0.1.0", "files": {}}))
    return sb, release


def bundle(hub, tmp_path, role="counter", device="counter-3", counter=3, **kw):
    sb, release = hub
    return make_bundle(BundleRequest(role=role, device_id=device, counter=counter, out=tmp_path / f"b-{device}",
                                     release=release, broker_dir=sb.directory, broker_host="192.168.1.10", **kw))


@pytest.mark.parametrize("role, device, counter", [
    ("counter", "counter-3", 3), ("kiosk", "kiosk-1", None), ("pad", "pad-3", 3), ("board", "board-1", None),
    ("announcer", "announcer-1", None)])
def test_bundle_holds_a_valid_box(hub, tmp_path, role, device, counter, monkeypatch):
    out = bundle(hub, tmp_path, role, device, counter)
    sb, _ = hub
    box = tomllib.loads((out / "box.toml").read_text())
    assert box["role"] == role and box["device_id"] == device and box["site"] == "hcm-q1"
    assert box["broker"] == {"host": "192.168.1.10", "port": 8883}
    assert box["time"]["server"] == "192.168.1.10" and box["update"]["url"] == "http://192.168.1.10:8090/"
    # the password is the one the broker knows, readable by root only
    secret = out / "secrets" / "mqtt.password"
    assert secret.read_text().strip() == sb.password_of(device)
    assert secret.stat().st_mode & 0o077 == 0
    assert (out / "secrets" / "ca.crt").read_bytes() == (sb.certs_dir / "ca.crt").read_bytes()
    assert sb.load().find(device).role == load_roles()[role].broker_role
    assert sorted(p.name for p in (out / "units").iterdir()) == sorted(box["units"] + ["motcua.sysusers.conf"])
    # the settings file loads as the daemon will load it
    import importlib

    for var in [v for v in __import__("os").environ if v.startswith("MOTCUA_")]:
        monkeypatch.delenv(var)
    module, cls, settings_role = SETTINGS_CLASSES[role]
    settings = load_settings(getattr(importlib.import_module(module), cls), settings_role,
                             out / "settings" / box["settings_file"])
    assert settings.device_id == device and settings.site == "hcm-q1"
    assert settings.mqtt.host == "192.168.1.10" and settings.mqtt.port == 8883
    r = subprocess.run(["bash", "-n", str(out / "install.sh")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_bundle_again_keeps_the_password_and_refuses_a_changed_role(hub, tmp_path):
    sb, _ = hub
    bundle(hub, tmp_path)
    first = sb.password_of("counter-3")
    bundle(hub, tmp_path)
    assert sb.password_of("counter-3") == first
    with pytest.raises(BundleError, match="registered as counter"):
        bundle(hub, tmp_path, "pad", "counter-3", 3)
    with pytest.raises(BundleError, match="--counter"):
        bundle(hub, tmp_path, "counter", "counter-4", None)


def test_bench_overrides_and_the_kiosk_printer_udev_rule(hub, tmp_path):
    out = bundle(hub, tmp_path, "kiosk", "kiosk-1", None, sets=["printer.transport.product_id=0x0202"],
                 unsets=["scanner"])
    settings = tomllib.loads((out / "settings" / "kiosk.toml").read_text())
    assert settings["printer"]["transport"]["product_id"] == 0x0202 and "scanner" not in settings
    assert "# Every key is checked" in (out / "settings" / "kiosk.toml").read_text()  # comments kept
    rules = (out / "udev" / "60-motcua.rules").read_text()
    assert 'ATTR{idVendor}=="04b8", ATTR{idProduct}=="0202", GROUP="lp"' in rules
    with pytest.raises(BundleError, match="no such key"):
        bundle(hub, tmp_path, "kiosk", "kiosk-1", None, unsets=["printr"])


def test_hub_bundle_needs_a_site_and_uses_loopback(hub, tmp_path):
    with pytest.raises(BundleError, match="--site"):
        bundle(hub, tmp_path, "hub", "dispatcher", None)
    out = bundle(hub, tmp_path, "hub", "dispatcher", None, site="hcm-q1")
    settings = tomllib.loads((out / "settings" / "dispatcher.toml").read_text())
    assert settings["mqtt"]["host"] == "127.0.0.1" and settings["mqtt"]["port"] == 1883
    assert "motcua-broker.service" in tomllib.loads((out / "box.toml").read_text())["units"]


def test_release_signature_is_checked_with_the_site_ca(hub, tmp_path):
    sb, release = hub
    manifest = release / "release.json"
    sig = rel.sign(manifest, sb.certs_dir / "ca.key")
    update.verify_signature(manifest.read_bytes(), sig.read_bytes(), sb.certs_dir / "ca.crt")
    tampered = manifest.read_bytes().replace(b"0.1.0", b"0.1.1")
    with pytest.raises(update.UpdateError, match="does not verify"):
        update.verify_signature(tampered, sig.read_bytes(), sb.certs_dir / "ca.crt")
    # another hall's CA does not vouch for this release
    from motcua.broker.certs import SiteCA

    other = SiteCA(tmp_path / "other", "other").ensure()
    with pytest.raises(update.UpdateError, match="does not verify"):
        update.verify_signature(manifest.read_bytes(), sig.read_bytes(), other.cert)


def test_update_downloads_only_what_this_python_can_use():
    import sys

    tag = f"cp{sys.version_info.major}{sys.version_info.minor}"
    assert update.wanted(f"wheels/pydantic_core-2.50.5-{tag}-{tag}-manylinux_2_17_aarch64.whl")
    assert update.wanted("wheels/paho_mqtt-2.2.0-py3-none-any.whl")
    assert update.wanted("wheels/cryptography-50.0.2-cp311-abi3-manylinux_2_34_aarch64.whl")
    assert not update.wanted("wheels/pygame-2.6.1-cp399-cp399-manylinux_2_17_aarch64.whl")
    assert update.wanted("constraints.txt") and not update.wanted("release.json")
    # the byte code of this Python only, and none of what the box takes from Debian
    assert update.wanted(f"bytecode/{tag}/paho_mqtt-2.2.0-py3-none-any.zip")
    assert not update.wanted("bytecode/cp399/paho_mqtt-2.2.0-py3-none-any.zip")
    assert not update.wanted(f"bytecode/{tag}/pygame-2.6.1-{tag}-{tag}-manylinux_2_17_aarch64.zip",
                             from_debian=["pygame"])
    assert not update.wanted(f"bytecode/{tag}/../x.zip") and not update.wanted(f"bytecode/{tag}/..")


def test_machine_gated_requirements_follow_the_box_not_the_builder():
    reqs = ["lgpio>=0.2,<1; (platform_machine == 'aarch64' or platform_machine == 'armv7l') "
            "and python_version < '3.13'", "paho-mqtt>=2.1,<3"]
    assert rel.machine_gated(reqs, "3.11") == ["lgpio<1,>=0.2"]
    assert rel.machine_gated(reqs, "3.13") == []


def test_units_ship_inside_the_package():
    assert {u.name for u in unit_files()} >= {"motcua-counter.service", "motcua-dispatcher.service"}
    assert (UNITS / "motcua.sysusers.conf").is_file()


# ---------------------------------------------------------------------------- commissioning


def test_commission_a_counter_box_and_see_it_in_status(broker, site, tmp_path, monkeypatch, capsys):
    """LED pattern, every key pressed (gpiozero's mock pins), the buzzer; the result retained on the central box."""
    from gpiozero import Device
    from gpiozero.pins.mock import MockFactory, MockPin

    from motcua.cli import main as motcua

    for var in [v for v in __import__("os").environ if v.startswith("MOTCUA_")]:
        monkeypatch.delenv(var)
    for var, value in broker.env("counter-7", "counter", 7).items():
        monkeypatch.setenv(var, value)
    settings = tmp_path / "counter.toml"
    settings.write_text(f'site = "{site}"\ndevice_id = "counter-7"\ncounter = 7\n'
                        '[matrix]\ndriver = "dummy"\n'
                        '[gpio]\npin_factory = "mock"\nbuttons = { next = 17, recall = 27 }\nbuzzer_pin = 18\n')
    box = tmp_path / "box.toml"
    box.write_text(f'role = "counter"\nsite = "{site}"\ndevice_id = "counter-7"\ncounter = 7\nrelease = "0.1.0"\n'
                   'units = ["motcua-counter.service"]\n')
    keys = {"GPIO17", "GPIO27"}  # the box's two keys: a check listening on another pin waits in vain

    class Key(MockPin):
        """A key under the officer's finger: pressed as soon as the check listens to it (turns its pull-up on),
        let go when the check is done with it (closes it). No thread, no timing: the check's own steps drive it."""

        def _set_pull(self, value):
            super()._set_pull(value)
            if value == "up" and self.info.name in keys:
                self.drive_low()

        def close(self):
            super().close()
            if self.info.name in keys:
                self.drive_high()

    Device.pin_factory = MockFactory(pin_class=Key)
    try:
        rc = motcua(["commission", "--box", str(box), "--yes", "--keep-running", "--technician", "tuan.le"])
    finally:
        Device.pin_factory = None
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "counter-7: COMMISSIONED (3/3 checks passed)" in out
    assert "matrix" in out and "all 2 keys" in out
    for var, value in broker.env("tech-com", "operator").items():
        monkeypatch.setenv(var, value)
    assert motcua(["status", "--port", str(broker.port), "--site", site]) == 0
    status = capsys.readouterr().out
    assert "counter-7" in status and "commissioned 20" in status, status


def test_commission_fails_plainly_when_a_key_is_never_pressed(tmp_path, monkeypatch):
    from gpiozero import Device
    from gpiozero.pins.mock import MockFactory

    from boxes import commission
    from counter_display.config import CounterBoxSettings

    Device.pin_factory = MockFactory()
    try:
        s = CounterBoxSettings(site="x", device_id="counter-1", counter=1,
                               gpio={"pin_factory": "mock", "buttons": {"next": 17}})
        result = commission.check_keys(s, commission.Ask(True), wait_s=0.2)  # the wait running out is the test
    finally:
        Device.pin_factory = None
    assert not result.ok and result.detail == "not pressed: next (GPIO 17)"


def test_hub_bundle_carries_the_broker_firewall_rules(hub, tmp_path):
    out = bundle(hub, tmp_path, "hub", "dispatcher", None, site="hcm-q1")
    assert (out / "units" / "motcua-broker.nft").read_text() == (REPO / "systemd" / "motcua-broker.nft").read_text()
    assert "/etc/motcua/" in (REPO / "systemd" / "motcua-broker.service").read_text()


def test_a_command_of_another_role_does_not_break_motcua_on_a_box(monkeypatch, capsys):
    """A kiosk's venv has no numpy: a hub command (like `motcua report`) cannot load there; the rest works."""
    import importlib.metadata as md

    from motcua import cli

    class Missing:
        name = "tally"

        def load(self):
            raise ModuleNotFoundError("No module named 'numpy'", name="numpy")

    real = md.entry_points
    monkeypatch.setattr(md, "entry_points", lambda group: [*real(group=group), Missing()]
                        if group == cli.COMMANDS_GROUP else real(group=group))
    parser = cli.build_parser()
    args = parser.parse_args(["tally", "weekly"])
    assert args.func(args) == cli.EXIT_USAGE
    assert "motcua tally: not installed on this box (it needs numpy" in capsys.readouterr().err
    assert parser.parse_args(["commission", "--yes"]).yes


def test_motcua_command_on_a_box_without_other_roles_libraries():
    """A box holds only its role's extra: `motcua` still starts there (status, commission, box,
    voicepack), and a command whose libraries are missing is left out, not a traceback."""
    blocked = ["numpy", "matplotlib", "openpyxl", "starlette", "uvicorn", "psycopg", "pygame", "luma", "escpos",
               "qrcode", "barcode", "usb", "serial", "gpiozero"]
    code = ("import sys\n"
            f"for name in {blocked!r}: sys.modules[name] = None\n"
            "from motcua.cli import main\n"
            "sys.exit(main(sys.argv[1:]))\n")
    for argv in (["--help"], ["voicepack", "--help"], ["commission", "--help"], ["province", "report"]):
        r = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=120)
        assert "Traceback" not in r.stderr, (argv, r.stderr[-2000:])
        if argv == ["--help"]:
            assert r.returncode == 0 and all(c in r.stdout for c in ("status", "commission", "box", "voicepack"))
        elif argv == ["province", "report"]:
            assert r.returncode != 0 and "not installed on this box" in r.stderr
        else:
            assert r.returncode == 0, (argv, r.stdout, r.stderr)


def test_a_bundle_made_with_sudo_belongs_to_the_technician(tmp_path, monkeypatch):
    """`sudo motcua box bundle …` then `scp -r` as the technician: the folder, password included, is theirs."""
    import os

    from boxes.cli import _give_to_sudo_user

    folder = tmp_path / "motcua-box-counter-3"
    (folder / "secrets").mkdir(parents=True)
    (folder / "secrets" / "mqtt.password").write_text("x")
    (folder / "secrets" / "mqtt.password").chmod(0o600)
    monkeypatch.setenv("SUDO_UID", "65534")
    monkeypatch.setenv("SUDO_GID", "65534")
    _give_to_sudo_user(folder)
    owner = 65534 if os.geteuid() == 0 else os.geteuid()  # without root nothing can (or needs to) change hands
    for p in (folder, folder / "secrets", folder / "secrets" / "mqtt.password"):
        assert p.stat().st_uid == owner
    assert (folder / "secrets" / "mqtt.password").stat().st_mode & 0o777 == 0o600


def test_the_commissioning_test_ticket_renders_with_the_shipped_kiosk_settings():
    """`motcua commission --only printer` on a kiosk: the test ticket (its QR from tracking_url) renders."""
    from boxes import commission
    from kiosk_ticket.config import KioskSettings
    from motcua.settings import load_settings

    settings = load_settings(KioskSettings, "kiosk", str(Path(__file__).parent.parent / "examples" / "kiosk.toml"))
    picture = commission.test_ticket(settings, 576)
    assert picture.width == 576 and picture.height > 300


def test_a_new_box_login_reloads_the_running_site_broker(hub, tmp_path, monkeypatch, capsys):
    """On the central box `sudo motcua box bundle …` registers the box and reloads motcua-broker (systemd's
    reload is Mosquitto's SIGHUP), so the box is let in the first time it connects; a bundle made again
    changes no login and reloads nothing. Elsewhere (a laptop, another registry) it says what to run."""
    import os

    import boxes.cli as cli
    from motcua.cli import main

    sb, release = hub
    calls = tmp_path / "systemctl-calls"
    fake = tmp_path / "bin" / "systemctl"  # systemd's tool, not ours: records what it was asked
    fake.parent.mkdir()
    fake.write_text(f'#!/bin/sh\necho "$@" >>{calls}\n[ "$1" != is-active ] || exit "${{BROKER_STATE:-0}}"\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:{os.environ['PATH']}")
    monkeypatch.setattr(cli, "DEFAULT_DIR", sb.directory)
    args = ["box", "bundle", "counter", "counter-3", "--counter", "3", "--broker-host", "192.168.1.10",
            "--release", str(release), "--dir", str(sb.directory), "--out", str(tmp_path / "b")]
    assert main(args) == 0
    assert calls.read_text().splitlines() == ["is-active --quiet motcua-broker.service",
                                              "reload motcua-broker.service"]
    assert "motcua-broker reloaded, so it lets counter-3 in" in capsys.readouterr().out
    assert main(args) == 0  # the same box again: same login, nothing to reload
    assert len(calls.read_text().splitlines()) == 2
    monkeypatch.setenv("BROKER_STATE", "3")  # not running here
    assert not cli.reload_site_broker("pad-3", sb.directory)
    assert not cli.reload_site_broker("pad-3", tmp_path / "another-registry")
    assert capsys.readouterr().out.count("then: systemctl reload motcua-broker") == 2
    assert "reload motcua-broker.service" not in calls.read_text().splitlines()[2:]
