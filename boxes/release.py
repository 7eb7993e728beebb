"""Releases the central box serves to the hall's boxes: a signed wheelhouse per version.

::

    /var/lib/motcua/releases/            (RELEASES)
      latest                             the version boxes update to
      0.2.0/
        wheels/*.whl                     motcua and every dependency, for aarch64 CPython 3.11 and 3.13
        bytecode/cp311/*.zip             each wheel's modules byte-compiled, where the release's machine had
                                         that Python (a box need not compile them; see make_bytecode)
        constraints.txt                  the exact versions (the lock this release ships)
        release.json                     version and the sha256 of every file
        release.json.sig                 ECDSA signature of release.json by the site CA key

Why a signed wheelhouse and not an apt repository: the boxes install into a venv
from wheels anyway (the same files the bundle carries), the site CA the boxes
already trust for TLS signs it (no second key to manage), and `openssl`, present
on every Raspberry Pi OS, verifies it. Plain HTTP on the LAN is then enough.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import zipfile
from importlib.resources import files
from pathlib import Path

RELEASES = Path("/var/lib/motcua/releases")
LOCK = files(__package__) / "box.lock"
PYTHONS = ("3.11", "3.13")  # Raspberry Pi OS bookworm, trixie
PLATFORMS = ("manylinux2014_aarch64", "manylinux_2_28_aarch64", "manylinux_2_34_aarch64", "manylinux_2_36_aarch64")
ALL_EXTRAS = "hub,counter,kiosk,pad,board,announcer,signboard,progress"  # every role's extra (roles.toml)


class ReleaseError(RuntimeError):
    pass


def wheel_version(wheel: Path) -> str:
    with zipfile.ZipFile(wheel) as z:
        meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        for line in z.read(meta).decode().splitlines():
            if line.startswith("Version: "):
                return line.split(": ", 1)[1]
    raise ReleaseError(f"{wheel}: no version in its METADATA")


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def pip_env() -> dict[str, str]:
    """pip without this machine's own pip settings (indexes, constraints): only PyPI and our lock."""
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env["PIP_CONFIG_FILE"] = os.devnull
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def machine_gated(requires: list[str], python: str) -> list[str]:
    """Requirements marked for the box's CPU (lgpio): pip evaluates markers for the machine it runs on
    even with --platform, so those the box needs are asked for by name when downloading for it."""
    from packaging.requirements import Requirement

    box = {"platform_machine": "aarch64", "python_version": python, "python_full_version": f"{python}.0",
           "sys_platform": "linux", "platform_system": "Linux", "os_name": "posix"}
    out = []
    for text in requires:
        req = Requirement(text)
        if req.marker is None or "platform_machine" not in str(req.marker):
            continue
        if req.marker.evaluate({**box, "extra": ""}) or any(
                req.marker.evaluate({**box, "extra": e}) for e in ALL_EXTRAS.split(",")):
            out.append(f"{req.name}{req.specifier}")
    return sorted(set(out))


def wheel_requires(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as z:
        meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        return [line.split(": ", 1)[1] for line in z.read(meta).decode().splitlines()
                if line.startswith("Requires-Dist: ")]


def download_wheels(wheel: Path, dest: Path, *, lock: Path, pythons=PYTHONS, extras: str = ALL_EXTRAS,
                    cache: Path | None = None) -> None:
    """Every dependency of motcua[extras] as aarch64 wheels, at the lock's versions."""
    dest.mkdir(parents=True, exist_ok=True)
    for py in pythons:
        cmd = [sys.executable, "-m", "pip", "download", "-q", "--only-binary=:all:", "--dest", str(dest),
               "--python-version", py, "--implementation", "cp", "-c", str(lock)]
        for plat in PLATFORMS:
            cmd += ["--platform", plat]
        if cache:
            cmd += ["--cache-dir", str(cache)]
        cmd.append(f"{wheel.resolve()}[{extras}]")
        cmd += machine_gated(wheel_requires(wheel), py)
        r = subprocess.run(cmd, capture_output=True, text=True, env=pip_env())
        if r.returncode != 0:
            raise ReleaseError(f"pip download for CPython {py} failed:\n{r.stderr[-3000:]}")


def make_bytecode(wheels: Path, out: Path, pythons=PYTHONS) -> list[Path]:
    """``out/cpXY/WHEEL.zip``: every module of every wheel CPython X.Y can install, byte-compiled by that
    Python on this machine (one of those in ``pythons`` it lacks is left out, and its boxes compile as
    before). Byte code is the same on every CPU, and checked-hash files carry the hash of their source
    instead of its time: Python uses such a file only while the installed source still has that hash, and
    compiles the source itself otherwise. So these only spare a box's CPU (a Pi, and above all the images'
    emulated boxes, where compiling was half of a venv's time), never decide what runs. The archives are
    deterministic (sorted, fixed times), so an unchanged wheel's archive is the same file in the next release
    and motcua-update does not download it again. The packages' own tests are left out, as on the box."""
    import re
    import tempfile

    from .boxvenv import NOT_COMPILED, usable

    made = []
    for py in pythons:
        version = tuple(int(x) for x in py.split(".")[:2])
        exe = shutil.which(f"python{py}")
        if exe is None or subprocess.run([exe, "-c", f"import sys; sys.exit(sys.version_info[:2] != {version!r})"],
                                         capture_output=True).returncode != 0:
            continue  # not on this machine (or a shim of a version manager that cannot run it)
        with tempfile.TemporaryDirectory() as tmp:
            trees = {}
            for whl in sorted(wheels.glob("*.whl")):
                if not usable(whl.name, version):  # type: ignore[arg-type]
                    continue
                tree = Path(tmp) / whl.stem
                with zipfile.ZipFile(whl) as z:
                    for name in z.namelist():
                        if (name.endswith(".py") and ".data/" not in name and not name.startswith("/")
                                and ".." not in name.split("/") and not re.search(NOT_COMPILED, "/" + name)):
                            z.extract(name, tree)
                trees[whl.stem] = tree
            # -s: the file names inside the byte code are the wheels' own, not this temporary folder's (Python
            # puts the installed path in when it loads them): the same wheel gives the same archive
            r = subprocess.run([exe, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "checked-hash",
                                "-s", tmp, tmp], capture_output=True, text=True)
            if r.returncode not in (0, 1):  # 1: a file this Python cannot compile; the box says so, not us
                raise ReleaseError(f"python{py} -m compileall failed:\n{r.stdout[-1000:]}{r.stderr[-1000:]}")
            folder = out / f"cp{py.replace('.', '')}"
            folder.mkdir(parents=True, exist_ok=True)
            for stem, tree in trees.items():
                pycs = sorted(p for p in tree.rglob("__pycache__/*.pyc"))
                if not pycs:
                    continue
                target = folder / f"{stem}.zip"
                with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as z:
                    for pyc in pycs:
                        info = zipfile.ZipInfo(pyc.relative_to(tree).as_posix(), date_time=(1980, 1, 1, 0, 0, 0))
                        info.compress_type = zipfile.ZIP_DEFLATED
                        info.external_attr = 0o644 << 16
                        z.writestr(info, pyc.read_bytes())
                made.append(target)
    return made


def sign(manifest: Path, ca_key: Path) -> Path:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = serialization.load_pem_private_key(ca_key.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):  # the site CA's key is EC (motcua.broker.certs)
        raise ReleaseError(f"{ca_key} is not the site CA's EC key: cannot sign the release")
    sig = manifest.with_name(manifest.name + ".sig")
    sig.write_bytes(key.sign(manifest.read_bytes(), ec.ECDSA(hashes.SHA256())))
    return sig


def make_release(wheel: Path, *, releases: Path = RELEASES, ca_key: Path | None = None, lock: Path | None = None,
                 pythons=PYTHONS, cache: Path | None = None, latest: bool = True) -> Path:
    version = wheel_version(wheel)
    target = releases / version
    tmp = releases / f".{version}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "wheels").mkdir(parents=True)
    lock_path = Path(lock) if lock else Path(str(LOCK))
    download_wheels(wheel, tmp / "wheels", lock=lock_path, pythons=pythons, cache=cache)
    shutil.copy2(wheel, tmp / "wheels" / wheel.name)
    make_bytecode(tmp / "wheels", tmp / "bytecode", pythons=pythons)
    shutil.copyfile(lock_path, tmp / "constraints.txt")
    listing = {str(p.relative_to(tmp)): sha256(p) for p in sorted(tmp.rglob("*")) if p.is_file()}
    manifest = tmp / "release.json"
    manifest.write_text(json.dumps({"version": version, "files": listing}, indent=1, sort_keys=True) + "\n")
    if ca_key:
        sign(manifest, ca_key)
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    if latest:
        make_latest(target)
    return target


def make_latest(release: Path) -> None:
    """The version `motcua-update` on the boxes installs when not told which."""
    (release.parent / "latest").write_text(release.name + "\n")


def serve(releases: Path, host: str, port: int) -> None:
    """Serve the releases folder read-only over HTTP (signatures make TLS unnecessary)."""
    import functools
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    class Handler(SimpleHTTPRequestHandler):
        def log_message(self, fmt, *args):  # one line per request on stdout, for the journal
            print(f"{self.address_string()} {fmt % args}", flush=True)

    server = ThreadingHTTPServer((host, port), functools.partial(Handler, directory=str(releases)))
    print(f"serving {releases} on http://{host}:{port}/", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
