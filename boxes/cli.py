"""``motcua box …``: what a technician runs on the central box to provision and update the hall's boxes.

    motcua box roles                                      the kinds of box and what each installs
    motcua box release dist/motcua-0.2.0-py3-none-any.whl  a signed release for the boxes (aarch64 wheels)
    motcua box bundle counter counter-3 --counter 3 --broker-host 192.168.1.10
                                                          the folder to copy onto that box's boot partition
    motcua box serve                                      serve releases to the boxes (motcua-update)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from motcua.broker.site import DEFAULT_DIR


def cmd_roles(_args) -> int:
    from .roles import load_roles

    for role in load_roles().values():
        units = ", ".join(u.name for u in role.units())
        print(f"{role.name:10} {role.summary}\n{'':10}   motcua[{role.extra}]  units: {units}  "
              f"settings: /etc/motcua/{role.settings.file}")
    return 0


def cmd_bundle(args) -> int:
    from .bundle import BundleRequest, make_bundle

    release = Path(args.release) if args.release else None
    if release is None:
        latest = Path(args.releases) / "latest"
        if not latest.is_file():
            print(f"motcua box bundle: no release in {args.releases}: `motcua box release WHEEL` first, "
                  "or --release DIR", file=sys.stderr)
            return 2
        release = Path(args.releases) / latest.read_text().strip()
    out = Path(args.out or f"motcua-box-{args.device_id}")
    new_login = args.role != "hub" and not _registered(Path(args.dir), args.device_id)
    made = make_bundle(BundleRequest(
        role=args.role, device_id=args.device_id, counter=args.counter, out=out, release=release, site=args.site,
        broker_dir=Path(args.dir), broker_host=args.broker_host, broker_port=args.broker_port,
        time_server=args.time_server, update_url=args.update_url, sets=args.set or [], unsets=args.unset or [],
        debs=Path(args.debs) if args.debs else None))
    _give_to_sudo_user(made)
    if new_login:
        reload_site_broker(args.device_id, Path(args.dir))
    print(f"bundle for {args.device_id} ({args.role}): {made}")
    print("copy it to the box's boot partition as motcua/, then on the box: "
          "sudo bash /boot/firmware/motcua/install.sh   (images/README.md)")
    return 0


BROKER_UNIT = "motcua-broker.service"


def _registered(broker_dir: Path, device_id: str) -> bool:
    from motcua.broker.site import RegistryError, SiteBroker

    try:
        return SiteBroker(broker_dir).load().find(device_id) is not None
    except RegistryError:
        return False  # make_bundle says what is wrong with the registry


def reload_site_broker(device_id: str, broker_dir: Path) -> bool:
    """A new login counts once Mosquitto re-reads passwd and acl. On the central box, where the site broker
    runs as motcua-broker.service from this registry, the bundle reloads it, so the box is let in the first
    time it connects (without this it is refused until someone reloads the broker). True if reloaded."""
    import shutil
    import subprocess

    from motcua.broker.cli import RELOAD_HINT

    systemctl = shutil.which("systemctl")
    if broker_dir.resolve() == Path(DEFAULT_DIR).resolve() and systemctl and subprocess.run(
            [systemctl, "is-active", "--quiet", BROKER_UNIT], capture_output=True).returncode == 0:
        done = subprocess.run([systemctl, "reload", BROKER_UNIT], capture_output=True, text=True)
        if done.returncode == 0:
            print(f"{device_id} registered with the broker; motcua-broker reloaded, so it lets {device_id} in")
            return True
        print(f"motcua box bundle: `systemctl reload motcua-broker` failed: {done.stderr.strip()}",
              file=sys.stderr)
    print(f"{device_id} registered with the broker; {RELOAD_HINT}")
    return False


def _give_to_sudo_user(folder: Path) -> None:
    """`sudo motcua box bundle` (root reads the broker's registry) leaves the folder to the technician
    who typed it, so `scp -r` as that user copies the box's password too (its mode stays 0600)."""
    import os

    uid, gid = os.environ.get("SUDO_UID"), os.environ.get("SUDO_GID")
    if os.geteuid() != 0 or not uid or not gid or not uid.isdigit() or not gid.isdigit():
        return
    for path in (folder, *folder.rglob("*")):
        os.chown(path, int(uid), int(gid), follow_symlinks=False)


def cmd_release(args) -> int:
    from .release import make_release

    ca_key = Path(args.dir) / "certs" / "ca.key"
    target = make_release(Path(args.wheel), releases=Path(args.releases), ca_key=ca_key if ca_key.is_file() else None,
                          lock=Path(args.lock) if args.lock else None, pythons=tuple(args.python or ("3.11", "3.13")),
                          latest=not args.no_latest)
    signed = (target / "release.json.sig").is_file()
    print(f"release {target.name}: {target} ({'signed by the site CA' if signed else 'NOT signed: no site CA key'})")
    return 0


def cmd_sign(args) -> int:
    from .release import make_latest, sign

    release = Path(args.release)
    sign(release / "release.json", Path(args.dir) / "certs" / "ca.key")
    if not args.no_latest:
        make_latest(release)
    print(f"release {release.name} signed by the site CA" + ("" if args.no_latest else "; boxes update to it"))
    return 0


def cmd_serve(args) -> int:
    from .release import serve

    serve(Path(args.releases), args.host, args.port)
    return 0


def run(args) -> int:
    from motcua.broker.site import RegistryError

    from .bundle import BundleError
    from .release import ReleaseError
    from .roles import RolesError

    try:
        return args.box_func(args)
    except (BundleError, ReleaseError, RolesError, RegistryError) as exc:
        print(f"motcua box: {exc}", file=sys.stderr)
        return 2


def register(sub: argparse._SubParsersAction) -> None:
    from .release import RELEASES

    bp = sub.add_parser("box", help="provision and update the hall's boxes: bundles, releases",
                        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    bsub = bp.add_subparsers(dest="box_command", required=True)

    sp = bsub.add_parser("roles", help="the kinds of box")
    sp.set_defaults(func=run, box_func=cmd_roles)

    sp = bsub.add_parser("bundle", help="the folder that turns a fresh SD card into this box")
    sp.add_argument("role")
    sp.add_argument("device_id")
    sp.add_argument("--counter", type=int, help="the counter this box stands at (counter box, pad)")
    sp.add_argument("--broker-host", help="the central box's address as the box reaches it (on its certificate)")
    sp.add_argument("--broker-port", type=int, default=8883)
    sp.add_argument("--time-server", help="NTP server (default: the broker host)")
    sp.add_argument("--update-url", help="where motcua-update looks for releases (default http://BROKER-HOST:8090/)")
    sp.add_argument("--site", help="the hall's id (central box only; other boxes take the registry's)")
    sp.add_argument("--set", action="append", metavar="KEY=VALUE",
                    help='a settings value for this box, e.g. matrix.modules=8 or printer.transport.product_id=0x0202')
    sp.add_argument("--unset", action="append", metavar="KEY",
                    help="drop a settings key or table, e.g. amplifier.relay_pin (no relay) or serial_keypad")
    sp.add_argument("--release", help="release folder (default: the latest in --releases)")
    sp.add_argument("--releases", default=str(RELEASES))
    sp.add_argument("--debs", help="a folder of .deb files for a box without a mirror")
    sp.add_argument("--out", help="where to write the bundle (default ./motcua-box-ID)")
    sp.add_argument("--dir", default=str(DEFAULT_DIR), help=f"broker directory (default {DEFAULT_DIR})")
    sp.set_defaults(func=run, box_func=cmd_bundle)

    sp = bsub.add_parser("release", help="make a signed release of a motcua wheel for the boxes")
    sp.add_argument("wheel")
    sp.add_argument("--releases", default=str(RELEASES))
    sp.add_argument("--lock", help="constraints file (default: the lock shipped with this motcua)")
    sp.add_argument("--python", action="append", help="target CPython versions (default 3.11 and 3.13)")
    sp.add_argument("--no-latest", action="store_true", help="do not make it the version boxes update to")
    sp.add_argument("--dir", default=str(DEFAULT_DIR), help="broker directory: its site CA key signs the release")
    sp.set_defaults(func=run, box_func=cmd_release)

    sp = bsub.add_parser("sign", help="sign a release with this hall's site CA (and make it the latest)")
    sp.add_argument("release", help="the release folder, e.g. /var/lib/motcua/releases/0.2.0")
    sp.add_argument("--no-latest", action="store_true")
    sp.add_argument("--dir", default=str(DEFAULT_DIR), help="broker directory holding certs/ca.key")
    sp.set_defaults(func=run, box_func=cmd_sign)

    sp = bsub.add_parser("serve", help="serve releases to the boxes over HTTP")
    sp.add_argument("--releases", default=str(RELEASES))
    sp.add_argument("--host", default="0.0.0.0")
    sp.add_argument("--port", type=int, default=8090)
    sp.set_defaults(func=run, box_func=cmd_serve)
