"""``motcua-update`` on a box: the central box's latest release, side by side, switched, checked, or rolled back.

    motcua-update                      update to the release the central box calls latest
    motcua-update --version 0.2.0      a given release (also to go back by hand)
    motcua-update --check              say what would be installed, change nothing

Steps: fetch ``release.json`` and its signature from the central box (``[update] url`` in
/etc/motcua/box.toml) and verify it with the site CA (/etc/motcua/ca.crt, ``openssl``);
download the wheels this box's Python needs, checking each sha256; build
/opt/motcua/releases/VERSION/venv, starting from a copy of what the running release installed from
wheels the new one carries unchanged (boxes/boxvenv.py; the running release is left as it is); point /opt/motcua/.venv at it; restart the role's
units; then watch them for ``--timeout`` seconds: healthy means every unit active,
no restart, and its systemd status line says it is connected to the broker and, on a
screen box whose screen showed before, not NO SCREEN (the daemons withhold the watchdog
ping while unhealthy, so a fault shows as a restart). Otherwise
the previous venv comes back, the units restart on it, and the exit status is 1.

Runs as root. Every step is logged to the journal (stdout) and /var/log/motcua-update.log.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.request
from collections.abc import Iterable
from pathlib import Path

from .boxvenv import VenvError, canonical, make_venv, usable, wheel_project
from .release import sha256

PREFIX = Path(os.environ.get("MOTCUA_PREFIX", "/opt/motcua"))
BOX = Path("/etc/motcua/box.toml")
CA = Path("/etc/motcua/ca.crt")
LOG = Path("/var/log/motcua-update.log")


class UpdateError(RuntimeError):
    pass


def say(msg: str) -> None:
    print(f"motcua-update: {msg}", flush=True)
    try:
        with LOG.open("a") as f:
            f.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {msg}\n")
    except OSError:
        pass


def fetch(url: str, timeout: float = 30) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.read()
    except OSError as exc:
        raise UpdateError(f"cannot fetch {url}: {exc}") from None


def verify_signature(manifest: bytes, signature: bytes, ca: Path) -> None:
    """ECDSA over release.json by the site CA's key, checked with openssl against ca.crt."""
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        (t / "m").write_bytes(manifest)
        (t / "s").write_bytes(signature)
        pub = subprocess.run(["openssl", "x509", "-in", str(ca), "-pubkey", "-noout"], capture_output=True)
        if pub.returncode != 0:
            raise UpdateError(f"cannot read the site CA {ca}: {pub.stderr.decode().strip()}")
        (t / "pub").write_bytes(pub.stdout)
        r = subprocess.run(["openssl", "dgst", "-sha256", "-verify", str(t / "pub"), "-signature", str(t / "s"),
                            str(t / "m")], capture_output=True)
        if r.returncode != 0:
            raise UpdateError("the release's signature does not verify with the site CA: not installed")


def wanted(name: str, from_debian: Iterable[str] = ()) -> bool:
    """Wheels this box's Python can use (the release carries CPython 3.11 and 3.13) and their byte code for
    this Python, less those of what the box takes from Debian (pygame on a screen box)."""
    if name.startswith("bytecode/"):
        folder, _, archive = name.removeprefix("bytecode/").partition("/")
        return (folder == f"cp{sys.version_info[0]}{sys.version_info[1]}" and "/" not in archive
                and archive.endswith(".zip") and not archive.startswith(".")
                and wheel_project(archive) not in {canonical(n) for n in from_debian})
    if not name.startswith("wheels/"):
        return name == "constraints.txt"
    if wheel_project(name) in {canonical(n) for n in from_debian}:
        return False
    return usable(name)


def current_release() -> str | None:
    link = PREFIX / ".venv"
    if link.is_symlink():
        return Path(os.readlink(link)).parent.name
    return None


def switch_to(version: str) -> None:
    tmp = PREFIX / ".venv.new"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    tmp.symlink_to(Path("releases") / version / "venv")
    tmp.replace(PREFIX / ".venv")


def systemctl(*args: str) -> str:
    r = subprocess.run(["systemctl", *args], capture_output=True, text=True)
    return r.stdout.strip()


def unit_state(unit: str) -> dict[str, str]:
    out = systemctl("show", unit, "-p", "ActiveState", "-p", "SubState", "-p", "NRestarts", "-p", "StatusText")
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def without_screen(units: list[str]) -> set[str]:
    """The screen daemons that say NO SCREEN in their status line (serve_screen in motcua.touchscreen)."""
    return {u for u in units if "NO SCREEN" in unit_state(u).get("StatusText", "")}


def healthy_within(units: list[str], timeout: float, settle: float,
                   dark: set[str] | frozenset[str] = frozenset()) -> tuple[bool, str]:
    """Every unit active, connected, and no restart for ``settle`` seconds, before ``timeout``; a screen
    daemon also showing its screen, unless it had none before (``dark``: a TV switched off is no reason
    to refuse a release, a release that loses the picture is)."""
    start = time.monotonic()
    restarts = {u: unit_state(u).get("NRestarts", "0") for u in units}
    good_since: float | None = None
    why = "not checked"
    while time.monotonic() - start < timeout:
        states = {u: unit_state(u) for u in units}
        bad = [f"{u}: {s.get('ActiveState')}/{s.get('SubState')} {s.get('StatusText', '')!r}"
               for u, s in states.items()
               if s.get("ActiveState") != "active"
               # our daemons say "connected" in their status line; Mosquitto says nothing there
               or (s.get("StatusText") and "connected" not in s["StatusText"].split())
               or ("NO SCREEN" in s.get("StatusText", "") and u not in dark)]
        restarted = [f"{u} restarted" for u, s in states.items() if s.get("NRestarts", "0") != restarts[u]]
        if restarted:
            return False, "; ".join(restarted)
        if bad:
            good_since, why = None, "; ".join(bad)
        else:
            good_since = good_since or time.monotonic()
            if time.monotonic() - good_since >= settle:
                return True, "active and connected"
        time.sleep(1)
    return False, f"not healthy within {timeout:.0f} s: {why}"


def install_release(url: str, version: str, box: dict, running: str | None = None) -> Path:
    """The release side by side with the running one (``running``), whose unchanged distributions it reuses."""
    base = url.rstrip("/") + f"/{version}/"
    manifest = fetch(base + "release.json")
    try:
        signature = fetch(base + "release.json.sig")
    except UpdateError:
        raise UpdateError(f"release {version} is not signed: refused") from None
    verify_signature(manifest, signature, CA)
    listing = json.loads(manifest)
    if listing.get("version") != version:
        raise UpdateError(f"release.json says {listing.get('version')}, not {version}")
    rel = PREFIX / "releases" / version
    if (rel / "venv" / "bin" / "python").exists() and (rel / ".complete").exists():
        say(f"release {version} already installed in {rel}")
        return rel
    shutil.rmtree(rel, ignore_errors=True)
    (rel / "wheels").mkdir(parents=True)
    from_debian = box.get("python_from_debian", [])
    files = {name: digest for name, digest in listing["files"].items() if wanted(name, from_debian)}
    # a file the running release already has, with the digest the signed release.json gives, is taken
    # from it instead of downloaded again (forty boxes on one hall LAN; most wheels do not change): read
    # and checked (an SD card's worn block is downloaded afresh), then linked, not written a second time
    have = PREFIX / "releases" / running if running else None
    local = {name: have / name for name in files if have and (have / name).is_file()}
    say(f"downloading {sum(n not in local for n in files)} files of release {version} "
        f"({len(local)} checked against the running release's)")
    for name, digest in files.items():
        target = rel / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if name in local and sha256(local[name]) == digest:
            try:
                os.link(local[name], target)
                continue
            except OSError:  # another file system: a copy
                pass
            shutil.copyfile(local[name], target)
            continue
        data = fetch(base + name)
        if hashlib.sha256(data).hexdigest() != digest:
            raise UpdateError(f"{name}: sha256 differs from the signed release.json")
        target.write_bytes(data)
    (rel / "release.json").write_bytes(manifest)
    try:  # as install.sh: the OS's python3 and pip; what the box takes from Debian kept from Debian
        make_venv(rel, f"motcua[{box['extra']}]=={version}",
                  system_site_packages=bool(box.get("system_site_packages")), from_debian=from_debian,
                  seed=PREFIX / "releases" / running if running else None)
    except VenvError as exc:
        shutil.rmtree(rel, ignore_errors=True)
        raise UpdateError(f"release {version}: {exc}") from None
    (rel / ".complete").write_text(version + "\n")
    say(f"release {version} installed in {rel}")
    return rel


def restart(units: list[str]) -> None:
    for unit in units:
        subprocess.run(["systemctl", "restart", unit], capture_output=True)


def run(args) -> int:
    box = tomllib.loads(Path(args.box).read_text())
    url = args.url or box.get("update", {}).get("url")
    if not url:
        raise UpdateError(f"no update server: set [update] url in {args.box} or pass --url")
    version = args.version or fetch(url.rstrip("/") + "/latest").decode().strip()
    now = current_release()
    units = [u for u in box.get("start", box["units"]) if u.endswith(".service")]  # the daemons
    if version == now and not args.force:
        say(f"already on {version}")
        return 0
    if args.check:
        say(f"would update {now} -> {version}")
        return 0
    say(f"updating {box['device_id']} ({box['role']}): {now} -> {version}")
    install_release(url, version, box, running=now)
    dark = without_screen(units)
    switch_to(version)
    restart(units)
    ok, why = healthy_within(units, args.timeout, args.settle, dark)
    if ok:
        _record(args.box, version)
        say(f"on {version}: {why}")
        return 0
    say(f"release {version} unhealthy ({why}): rolling back to {now}")
    if now is None:
        say("no previous release to go back to")
        return 1
    switch_to(now)
    restart(units)
    ok, why_back = healthy_within(units, args.timeout, args.settle, dark)
    say(f"back on {now}: {why_back}" if ok else f"back on {now} but still unhealthy: {why_back}")
    return 1


def _record(box_path: str, version: str) -> None:
    """box.toml's release follows the installed one (install.sh re-run keeps it)."""
    path = Path(box_path)
    lines = path.read_text().splitlines()
    path.write_text("\n".join(f'release = "{version}"' if line.startswith("release =") else line
                              for line in lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="motcua-update", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", help="the central box's release server (default: [update] url in box.toml)")
    p.add_argument("--version", help="install this release instead of the latest")
    p.add_argument("--timeout", type=float, default=120, help="seconds the new release has to become healthy")
    p.add_argument("--settle", type=float, default=15, help="seconds it must then stay healthy")
    p.add_argument("--check", action="store_true", help="only say what would be installed")
    p.add_argument("--force", action="store_true", help="reinstall even when already on that release")
    p.add_argument("--box", default=str(BOX))
    args = p.parse_args(argv)
    try:
        return run(args)
    except UpdateError as exc:
        say(f"FAILED: {exc}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
