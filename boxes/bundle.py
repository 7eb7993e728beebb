"""``motcua box bundle ROLE ID``: the one folder a technician copies onto a box's boot partition.

::

    motcua-box-counter-3/
      box.toml            role, site, device id, counter, broker, time server, release, update server
      install.sh          idempotent: users and groups, config.txt, Debian packages, venv, /etc/motcua, time, unit
      boxvenv.py          install.sh's venv maker (the OS's python3; keeps what the role takes from Debian)
      settings/<file>     the role's settings, from the shipped example with this box's identity filled in
      secrets/mqtt.password, secrets/ca.crt
      units/              the role's systemd units and the sysusers file
      udev/60-motcua.rules
      release/            the release the box installs: wheels for aarch64 (CPython 3.11 and 3.13), constraints.txt;
                          without the wheels of what the role takes from Debian (pygame on a screen box)
      debs/               optional: Debian packages for a box without a mirror (install.sh uses them first)

On the central box the device is registered with the broker as ``motcua broker add-device``
does (or kept, with its password, when it already is).
"""

from __future__ import annotations

import shutil
import socket
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path

import tomlkit

from motcua.broker.site import DEFAULT_DIR, RegistryError, SiteBroker, write_file

from .boxvenv import canonical, wheel_project
from .roles import EXAMPLES, UNITS, Role, get_role, started

INSTALL_SH = files(__package__) / "install.sh"
BOXVENV = files(__package__) / "boxvenv.py"
ETC_FILES = (".nft",)  # files beside a unit that install.sh puts in /etc/motcua


@dataclass
class BundleRequest:
    role: str
    device_id: str
    out: Path
    release: Path
    counter: int | None = None
    site: str | None = None
    broker_dir: Path = DEFAULT_DIR
    broker_host: str | None = None
    broker_port: int = 8883
    time_server: str | None = None
    update_url: str | None = None
    sets: list[str] = field(default_factory=list)
    unsets: list[str] = field(default_factory=list)
    debs: Path | None = None


class BundleError(ValueError):
    """Something the technician asked for cannot be bundled; the message says what to do."""


def _release_version(release: Path) -> str:
    manifest = release / "release.json"
    if not manifest.is_file():
        raise BundleError(f"{release} is not a release (no release.json): make one with `motcua box release`")
    import json

    return json.loads(manifest.read_text())["version"]


def render_settings(role: Role, *, site: str, device_id: str, counter: int | None, host: str, port: int,
                    sets: Sequence[str], unsets: Sequence[str] = ()) -> str:
    """The role's shipped example with this box's identity and broker filled in; comments kept."""
    doc = tomlkit.parse((EXAMPLES / role.settings.example).read_text(encoding="utf-8"))
    doc["site"] = site
    doc["device_id"] = device_id
    if counter is not None:
        doc["counter"] = counter
    mqtt = doc.setdefault("mqtt", tomlkit.table())
    mqtt["host"] = host
    mqtt["port"] = port
    if not role.local_broker:
        mqtt["ca_file"] = "/etc/motcua/ca.crt"
    mqtt["password_file"] = "/etc/motcua/mqtt.password"
    for assignment in sets:
        key, sep, value = assignment.partition("=")
        if not sep:
            raise BundleError(f"--set {assignment!r}: write KEY=VALUE, e.g. matrix.driver=\"dummy\"")
        try:
            parsed = tomllib.loads(f"v = {value}")["v"]
        except tomllib.TOMLDecodeError:
            parsed = value  # a bare word is a string
        *tables, last = key.split(".")
        node = doc
        for t in tables:
            node = node.setdefault(t, tomlkit.table())
        node[last] = parsed
    for key in unsets:  # e.g. amplifier.relay_pin on a box without a relay, serial_keypad without one
        *tables, last = key.split(".")
        node = doc
        for t in tables:
            node = node.get(t, {})
        if last not in node:
            raise BundleError(f"--unset {key}: the settings have no such key")
        del node[last]
    return tomlkit.dumps(doc)


def render_udev(role: Role, settings_text: str) -> str:
    lines = ["# motcua: device permissions for the daemons' group (motcua box bundle)"] + list(role.udev)
    settings = tomllib.loads(settings_text)
    transport = settings.get("printer", {}).get("transport", {})
    if transport.get("kind") == "usb":
        # the kiosk prints through libusb as user motcua: the printer's USB device goes to group lp
        lines.append(f'SUBSYSTEM=="usb", ATTR{{idVendor}}=="{transport["vendor_id"]:04x}", '
                     f'ATTR{{idProduct}}=="{transport["product_id"]:04x}", GROUP="lp", MODE="0660"')
    return "\n".join(lines) + "\n"


def make_bundle(req: BundleRequest) -> Path:
    role = get_role(req.role)
    if role.counter and req.counter is None:
        raise BundleError(f"a {role.name} box stands at a counter: add --counter N")
    if not role.counter and req.counter is not None:
        raise BundleError(f"a {role.name} box is not tied to a counter: drop --counter")
    version = _release_version(req.release)
    out = req.out
    if out.exists():
        shutil.rmtree(out)
    (out / "secrets").mkdir(parents=True)
    (out / "settings").mkdir()
    (out / "units").mkdir()
    (out / "udev").mkdir()

    if role.local_broker:
        # the central box: its broker is made on the box itself by install.sh (motcua broker init)
        if not req.site:
            raise BundleError("the central box's bundle needs --site (the hall's id in topics)")
        site, host, port = req.site, "127.0.0.1", 1883
    else:
        broker = SiteBroker(req.broker_dir)
        try:
            registry = broker.load()
        except RegistryError as exc:
            raise BundleError(str(exc)) from None
        site = registry.site
        existing = registry.find(req.device_id)
        if existing is None:
            broker.add_device(role.broker_role, req.device_id, req.counter)
        elif existing.role != role.broker_role or existing.counter != req.counter:
            raise BundleError(f"{req.device_id} is registered as {existing.role}"
                              + (f" (counter {existing.counter})" if existing.counter else "")
                              + f"; `motcua broker remove-device {req.device_id}` first")
        ca = broker.certs_dir / "ca.crt"
        if not ca.is_file():
            raise BundleError(f"no site CA at {ca}: run `motcua broker gen-certs --host NAME` first")
        if not req.broker_host:
            raise BundleError("--broker-host: the central box's address as the boxes reach it "
                              "(a name or address on its server certificate)")
        host, port = req.broker_host, req.broker_port
        write_file(out / "secrets" / "mqtt.password", broker.password_of(req.device_id) + "\n", 0o600)
        shutil.copyfile(ca, out / "secrets" / "ca.crt")
    time_server = req.time_server or (None if role.local_broker else host)
    update_url = req.update_url or (None if role.local_broker else f"http://{host}:8090/")

    settings_text = render_settings(role, site=site, device_id=req.device_id, counter=req.counter, host=host,
                                    port=port, sets=req.sets, unsets=req.unsets)
    (out / "settings" / role.settings.file).write_text(settings_text, encoding="utf-8")
    (out / "udev" / "60-motcua.rules").write_text(render_udev(role, settings_text))
    for unit in role.units():
        (out / "units" / unit.name).write_text(unit.read_text())
        # what a unit reads from /etc/motcua lies next to it in systemd/: motcua-broker.nft
        for extra in UNITS.iterdir():
            if extra.name.startswith(unit.name.rsplit(".", 1)[0] + ".") and extra.name.endswith(ETC_FILES):
                (out / "units" / extra.name).write_text(extra.read_text())
    (out / "units" / "motcua.sysusers.conf").write_text((UNITS / "motcua.sysusers.conf").read_text())
    if not role.units():
        raise BundleError(f"no unit names role {role.name} (X-Motcua-Roles=) in the shipped units")

    box = tomlkit.document()
    box.add(tomlkit.comment("This box, as `motcua box bundle` made it; install.sh reads it."))
    box["role"] = role.name
    box["site"] = site
    box["device_id"] = req.device_id
    if req.counter is not None:
        box["counter"] = req.counter
    box["release"] = version
    box["extra"] = role.extra
    box["settings_file"] = role.settings.file
    box["units"] = [u.name for u in role.units()]
    box["start"] = [u.name for u in role.units() if started(u.read_text())]  # the rest run from a timer
    box["debian"] = role.debian
    box["groups"] = role.groups
    box["config_txt"] = role.config_txt
    box["system_site_packages"] = role.system_site_packages
    box["python_from_debian"] = role.python_from_debian
    box["persistent_journal"] = role.persistent_journal
    box["after_install"] = role.after_install
    broker_table = tomlkit.table()
    broker_table["host"] = host
    broker_table["port"] = port
    box["broker"] = broker_table
    if time_server:
        box["time"] = {"server": time_server}
    if update_url:
        box["update"] = {"url": update_url}
    (out / "box.toml").write_text(tomlkit.dumps(box), encoding="utf-8")

    # what the box takes from Debian is not in its wheels: a venv can then never get PyPI's copy
    debian = {canonical(n) for n in role.python_from_debian}
    shutil.copytree(req.release, out / "release", symlinks=False, ignore=lambda _, names: [
        n for n in names if n.endswith((".whl", ".zip")) and wheel_project(n) in debian])
    if req.debs:
        shutil.copytree(req.debs, out / "debs")
    install = out / "install.sh"
    install.write_text(INSTALL_SH.read_text())
    install.chmod(0o755)
    (out / "boxvenv.py").write_text(BOXVENV.read_text())
    return out


def default_hostname() -> str:
    return socket.gethostname()
