"""A release's virtual environment on a box: made by install.sh (from the bundle, with the OS's
python3, before any motcua is installed) and by ``motcua-update``. Standard library only.

    python3 boxvenv.py RELEASE_DIR REQUIREMENT [--system-site-packages] [--from-debian NAME ...]
                       [--seed RUNNING_RELEASE_DIR]

RELEASE_DIR holds ``wheels/`` and ``constraints.txt``; the venv is made in ``RELEASE_DIR/venv``
without pip, so it holds only what the box runs, and the OS's pip installs into it: Debian's
python3-pip (``python3 -m pip --python VENV/bin/python``, pip 22.3 or later), byte-compiled when
the OS installed it, or else pip run from the OS's pip wheel (python3-venv brings it), which
Python compiles again from the zip on every call (seconds on a Pi, over a minute under emulation).
A distribution named with ``--from-debian`` (pygame on a screen box: Debian's build draws on the
console's KMS/DRM display, PyPI's cannot) comes from the OS's Python at the version the OS has,
never from the wheels: the release's pin for it is swapped for that version, so pip
keeps the OS's, and a venv where it came out of the wheels anyway is refused.
pip installs without byte-compiling; then the release's own byte code goes in place where the release
carries it for this Python (checked-hash files that Python uses only while the source keeps its hash:
boxes/release.py, make_bytecode), and ``compileall`` compiles the rest, with every core on a box
of four or more (a Pi 4; pip compiles one file after another), leaving out the packages' own test folders, which
no daemon imports (a sixth of numpy's and matplotlib's files). The venv is root's: what a daemon
imports must be compiled here, as its user cannot write ``__pycache__``.
An update (``--seed RUNNING_RELEASE``) starts the new venv with what the running release's venv
installed from wheels that the new release carries byte for byte unchanged, as hard links to the same
files (a copy only where the two releases cannot share a file), so only what changed is unpacked and
compiled again; the running release is only read, and stays as it was to go back to.
Ends with ``boxvenv: OK ...`` or ``boxvenv: FAILED: why`` (exit 1).
"""

from __future__ import annotations

import argparse
import base64
import csv
import filecmp
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path


class VenvError(RuntimeError):
    pass


# Folders of installed packages that compileall leaves out (re.search on the path): their own tests.
NOT_COMPILED = r"[/\\]tests?[/\\]"


def canonical(name: str) -> str:
    """A distribution's name as pip compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def wheel_project(filename: str) -> str:
    """The distribution a wheel file holds: ``pygame-2.6.1-cp311-….whl`` -> ``pygame``."""
    return canonical(Path(filename).name.split("-", 1)[0])


def constraints_with_debian(constraints: str, debian: dict[str, str]) -> str:
    """The release's constraints with the pins of ``debian``'s distributions replaced by the OS's versions."""
    names = {canonical(n) for n in debian}
    kept = []
    for line in constraints.splitlines():
        m = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", line.split("#", 1)[0])
        if m and canonical(m.group(1)) in names:
            continue
        kept.append(line)
    kept += [f"{name}=={version}  # the OS's own package (Debian)" for name, version in sorted(debian.items())]
    return "\n".join(kept) + "\n"


def usable(filename: str, version: tuple[int, int] = sys.version_info[:2]) -> bool:
    """Whether a wheel in a release is one this Python can install (the release carries CPython 3.11 and 3.13)."""
    tag = f"cp{version[0]}{version[1]}"
    name = Path(filename).name
    return any(t in name for t in (f"-{tag}-", "-py3-none-", "-py2.py3-none-", "-abi3-")) or f"-{tag}-abi3" in name


def _unchanged_wheels(running: Path, release: Path, version: tuple[int, int]) -> set[tuple[str, str]]:
    """(project, version) of the distributions whose wheels this Python can use are the same files, byte for
    byte, in both releases: what the running venv installed of them is what the new release would install."""
    def usable_by_key(folder: Path) -> dict[tuple[str, str], set[str]]:
        by_key: dict[tuple[str, str], set[str]] = {}
        for whl in folder.glob("*.whl"):
            if usable(whl.name, version):
                parts = whl.name.split("-")
                by_key.setdefault((canonical(parts[0]), parts[1]), set()).add(whl.name)
        return by_key

    old, new = usable_by_key(running / "wheels"), usable_by_key(release / "wheels")
    old_digests, new_digests = _listed_digests(running), _listed_digests(release)

    def same(name: str) -> bool:
        key = f"wheels/{name}"
        if key in old_digests and key in new_digests:  # both releases list it: their digests say
            return old_digests[key] == new_digests[key]
        return filecmp.cmp(running / "wheels" / name, release / "wheels" / name, shallow=False)

    return {key for key, names in new.items() if old.get(key) == names and all(same(n) for n in names)}


def _listed_digests(release: Path) -> dict[str, str]:
    """The sha256 of every file a release's release.json lists (what install.sh and motcua-update checked
    its files against); nothing when it has none, and then the files are compared byte for byte."""
    try:
        files = json.loads((release / "release.json").read_text())["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    return {str(k): str(v) for k, v in files.items()} if isinstance(files, dict) else {}


def _site_packages(venv: Path) -> list[Path]:
    return sorted((venv / "lib").glob("python3*/site-packages"))


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _link_or_copy(src: str, dst: str) -> None:
    """``dst`` as a second name of ``src`` (no data copied: the release's files are never changed in place,
    pip and compileall replace a file rather than write into it); a copy where the two cannot share it."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def seed_venv(venv: Path, release: Path, running: Path) -> list[str]:
    """Give the fresh ``venv`` every distribution of ``running``'s venv whose wheels ``release`` carries
    unchanged (``_unchanged_wheels``): the files its RECORD lists, with their byte-compiled files, as hard
    links (the same times and bytes, so the compiled files stay valid; no copy of the data), and its scripts
    rewritten to name the new venv. ``running`` is only read. Returns the distributions reused; nothing when
    the running venv is of another Python (the OS was upgraded)."""
    running, venv = Path(os.path.abspath(running)), Path(os.path.abspath(venv))
    old_venv, sites = running / "venv", _site_packages(running / "venv")
    new_sites = _site_packages(venv)
    if len(sites) != 1 or len(new_sites) != 1 or sites[0].parent.name != new_sites[0].parent.name:
        return []
    old_site, new_site = sites[0], new_sites[0]
    major, minor = (int(x) for x in old_site.parent.name.removeprefix("python").split(".")[:2])
    same = _unchanged_wheels(running, release, (major, minor))
    old_root, new_root = os.path.normpath(old_venv), os.path.normpath(venv)
    old_bin = os.path.join(old_root, "bin") + os.sep
    made: set[str] = set()
    compiled: dict[str, list[str]] = {}  # a __pycache__ folder of the running venv: its files, listed once

    def folder_for(path: str) -> None:
        folder = os.path.dirname(path)
        if folder not in made:
            os.makedirs(folder, exist_ok=True)
            made.add(folder)

    copied = []
    for info in sorted(old_site.glob("*.dist-info")):
        name, _, version = info.name.removesuffix(".dist-info").partition("-")
        record = info / "RECORD"
        if (canonical(name), version) not in same or not record.is_file():
            continue
        rows = list(csv.reader(io.StringIO(record.read_text())))
        files = [os.path.normpath(os.path.join(old_site, row[0])) for row in rows]
        if not files or not all(src.startswith(old_root + os.sep) and (os.path.isfile(src) or src == str(record))
                                for src in files):
            continue  # a file outside the venv, or one gone: this one is installed afresh instead
        rewritten: dict[str, bytes] = {}
        for src in files:
            dst = new_root + src[len(old_root):]
            folder_for(dst)
            if src == str(record):
                continue
            if src.startswith(old_bin):
                data = Path(src).read_bytes()
                if old_root.encode() in data:  # a script: its #! names the running venv
                    data = data.replace(old_root.encode(), new_root.encode())
                    Path(dst).write_bytes(data)
                    shutil.copystat(src, dst)
                    rewritten[src] = data
                    continue
            _link_or_copy(src, dst)
            if src.endswith(".py"):  # its byte-compiled forms, current for this very source (same time, size)
                folder, base = os.path.split(src)
                cache = os.path.join(folder, "__pycache__")
                if cache not in compiled:
                    compiled[cache] = os.listdir(cache) if os.path.isdir(cache) else []
                prefix = base[:-3] + "."
                for pyc in compiled[cache]:
                    if pyc.startswith(prefix) and pyc.endswith(".pyc") and pyc.count(".") >= 2:
                        target = new_root + os.path.join(cache, pyc)[len(old_root):]
                        folder_for(target)
                        _link_or_copy(os.path.join(cache, pyc), target)
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\n")
        for row in rows:
            src = os.path.normpath(os.path.join(old_site, row[0]))
            if src in rewritten:
                row = [row[0], _record_hash(rewritten[src]), str(len(rewritten[src]))]
            w.writerow(row)
        (new_site / info.name / "RECORD").write_text(out.getvalue())
        copied.append(f"{name}-{version}")
    return copied


#: Below this many cores the venv is compiled by one process: each of compileall's worker processes is
#: another Python starting up, which on two cores cost more than it saved (under qemu-user, the central
#: box's venv took 46 s of CPU with two workers, 28 s with one).
PARALLEL_COMPILE_CORES = 4


def apply_bytecode(venv: Path, release: Path) -> int:
    """Put in place the release's byte-compiled modules (``bytecode/cpXY/WHEEL.zip``, made by the release's
    machine with this Python version: boxes/release.py, make_bytecode) for the distributions the venv has
    from those very wheels. Only a compiled file whose source is installed, that has none yet (a reused
    distribution keeps its own) and whose source hash and magic number are this Python's and this source's:
    what Python would use. Returns how many were placed."""
    import importlib.util
    import zipfile
    from pathlib import PurePosixPath

    sites = _site_packages(venv)
    tag = f"cp{sys.version_info[0]}{sys.version_info[1]}"
    folder = release / "bytecode" / tag
    if len(sites) != 1 or sites[0].parent.name != f"python{sys.version_info[0]}.{sys.version_info[1]}" \
            or not folder.is_dir():
        return 0
    site = sites[0]
    have = {(canonical(d.name.removesuffix(".dist-info").partition("-")[0]),
             d.name.removesuffix(".dist-info").partition("-")[2]) for d in site.glob("*.dist-info")}
    magic = importlib.util.MAGIC_NUMBER
    placed = 0
    for archive in sorted(folder.glob("*.zip")):
        parts = archive.name.split("-")
        if len(parts) < 2 or (canonical(parts[0]), parts[1]) not in have:
            continue
        with zipfile.ZipFile(archive) as z:
            for name in z.namelist():
                path = PurePosixPath(name)
                if (path.is_absolute() or ".." in path.parts or path.parent.name != "__pycache__"
                        or not path.name.endswith(f".{sys.implementation.cache_tag}.pyc")):
                    continue
                source = site / path.parent.parent / (path.name.split(".", 1)[0] + ".py")
                target = site / path
                if target.exists() or not source.is_file():
                    continue
                data = z.read(name)
                # the header: magic, flags (0b11: checked hash), the source's hash
                if (len(data) < 16 or data[:4] != magic or int.from_bytes(data[4:8], "little") != 0b11
                        or data[8:16] != importlib.util.source_hash(source.read_bytes())):
                    continue
                target.parent.mkdir(exist_ok=True)
                part = target.with_name(target.name + ".part")
                part.write_bytes(data)
                os.replace(part, target)  # a new file: never written into one a reused release shares
                placed += 1
    return placed


def compile_venv(venv: Path) -> int:
    """Byte-compile what has no compiled file yet (neither the release's nor a reused distribution's), less
    the packages' test folders: with every core on a box of four or more, with one process on a smaller
    one. Returns how many files were given to compileall."""
    import importlib.util

    jobs = "0" if (os.cpu_count() or 1) >= PARALLEL_COMPILE_CORES else "1"
    tests = re.compile(NOT_COMPILED)
    count = 0
    for site in _site_packages(venv):
        todo = []
        same_python = site.parent.name == f"python{sys.version_info[0]}.{sys.version_info[1]}"
        for folder, dirs, names in os.walk(site):
            dirs[:] = [d for d in dirs if d != "__pycache__"]
            for name in names:
                path = os.path.join(folder, name)
                if name.endswith(".py") and not tests.search(path) and not (
                        same_python and os.path.exists(importlib.util.cache_from_source(path))):
                    todo.append(path)
        if todo:
            # failures are pip's own behaviour too: a file for another Python version stays uncompiled
            subprocess.run([str(venv / "bin" / "python"), "-m", "compileall", "-q", "-j", jobs, "-i", "-"],
                           input="\n".join(todo) + "\n", capture_output=True, text=True)
        count += len(todo)
    return count


_WHERE = ("import importlib.metadata as m, sys\n"
          "try:\n    d = m.distribution(sys.argv[1])\nexcept m.PackageNotFoundError:\n    sys.exit(3)\n"
          "print(d.version); print(d.locate_file(''))")


def installed(python: Path | str, name: str) -> tuple[str, Path] | None:
    """The version of distribution ``name`` that ``python`` sees, and the folder it is in (None: not there)."""
    r = subprocess.run([str(python), "-c", _WHERE, name], capture_output=True, text=True)
    if r.returncode != 0:
        return None
    version, where = r.stdout.splitlines()[:2]
    return version, Path(where)


def pip_env() -> dict[str, str]:
    """The box's or the image's pip settings must not redirect the offline install."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    return env | {"PIP_CONFIG_FILE": os.devnull, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"}


def has_os_pip(python: str) -> bool:
    """Whether ``python`` (the OS's) has its own pip that installs into another interpreter (``--python``:
    pip 22.3 or later; bookworm has 23.0.1, trixie a newer one). Debian's python3-pip is byte-compiled as the OS
    installs it, where pip run from its wheel is compiled again from the zip on every call. Asked of this
    very interpreter without starting another when ``python`` is it (install.sh and motcua-update)."""
    if os.path.realpath(python) == os.path.realpath(sys.executable) and sys.prefix == sys.base_prefix:
        return _pip_installs_elsewhere(_os_pip_version())
    r = subprocess.run([python, "-I", "-c", "import importlib.metadata as m\ntry:\n    print(m.version('pip'))\n"
                        "except m.PackageNotFoundError:\n    pass"], capture_output=True, text=True, env=pip_env())
    return r.returncode == 0 and _pip_installs_elsewhere(r.stdout.strip() or None)


def _os_pip_version() -> str | None:
    """The version of the pip in this interpreter's own site packages (it is the OS's python3, not a venv's)."""
    import importlib.metadata
    import site

    for dist in importlib.metadata.distributions(name="pip", path=site.getsitepackages()):
        return dist.version
    return None


def _pip_installs_elsewhere(version: str | None) -> bool:
    try:
        return version is not None and tuple(int(x) for x in version.split(".")[:2]) >= (22, 3)
    except ValueError:
        return False


def make_venv(release: Path, requirement: str, *, system_site_packages: bool = False,
              from_debian: Sequence[str] = (), python: str = "python3",
              pip_wheels: Path = Path("/usr/share/python-wheels"), seed: Path | None = None) -> Path:
    """``release/venv`` with ``requirement`` installed from ``release/wheels`` at ``release/constraints.txt``;
    ``seed``: the running release, whose unchanged distributions are copied instead of installed again."""
    if from_debian and not system_site_packages:
        raise VenvError(f"{', '.join(from_debian)} from Debian needs a venv that sees the OS's modules "
                        "(system site packages)")
    venv = release / "venv"
    shutil.rmtree(venv, ignore_errors=True)
    cmd = [python, "-m", "venv"] + (["--system-site-packages"] if system_site_packages else [])
    wheels = sorted(pip_wheels.glob("pip-*.whl"))
    os_pip = has_os_pip(python)
    if os_pip or wheels:
        cmd.append("--without-pip")
    r = subprocess.run([*cmd, str(venv)], capture_output=True, text=True)
    if r.returncode != 0:
        raise VenvError(f"{python} -m venv failed (python3-venv missing?): {r.stderr.strip()[-400:]}")
    vpy = venv / "bin" / "python"
    if os_pip:
        pip = [python, "-I", "-m", "pip", "--python", str(vpy)]  # -I: no module of the current folder
    else:
        pip = [str(vpy), str(wheels[-1] / "pip")] if wheels else [str(vpy), "-m", "pip"]

    constraints = release / "constraints.txt"
    if from_debian:
        versions = {}
        for name in from_debian:
            found = installed(vpy, name)
            if found is None:
                shutil.rmtree(venv, ignore_errors=True)
                raise VenvError(f"{name} is not in the OS's Python: its Debian package (python3-{name}) is missing")
            versions[name] = found[0]
        constraints = release / "constraints-box.txt"
        constraints.write_text(constraints_with_debian((release / "constraints.txt").read_text(), versions))
    if seed is not None and (seed / "venv").is_dir() and seed.resolve() != release.resolve():
        reused = seed_venv(venv, release, seed)
        print(f"boxvenv: reused from {seed.name}: {len(reused)} distributions", flush=True)
    r = subprocess.run([*pip, "install", "-q", "--no-compile", "--no-index", "--find-links", str(release / "wheels"),
                        "-c", str(constraints), requirement], capture_output=True, text=True, env=pip_env())
    if r.returncode != 0:
        shutil.rmtree(venv, ignore_errors=True)
        raise VenvError(f"pip could not install {requirement} from {release / 'wheels'}: {r.stderr.strip()[-800:]}")
    for name in from_debian:
        found = installed(vpy, name)
        if found is None or found[1].resolve().is_relative_to(venv.resolve()):
            shutil.rmtree(venv, ignore_errors=True)
            raise VenvError(f"{name} came out of the release's wheels, not from Debian's package")
    placed = apply_bytecode(venv, release)
    compiled = compile_venv(venv)
    print(f"boxvenv: compiled files: {placed} from the release, {compiled} compiled here", flush=True)
    return venv


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="boxvenv.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("release", type=Path)
    p.add_argument("requirement")
    p.add_argument("--system-site-packages", action="store_true")
    p.add_argument("--from-debian", nargs="*", default=[])
    p.add_argument("--seed", type=Path, help="the running release: reuse what the new one carries unchanged")
    args = p.parse_args(argv)
    try:
        # the venv of the python3 that runs this script (install.sh runs it with the OS's)
        venv = make_venv(args.release, args.requirement, system_site_packages=args.system_site_packages,
                         from_debian=args.from_debian, python=sys.executable, seed=args.seed)
    except VenvError as exc:
        print(f"boxvenv: FAILED: {exc}", file=sys.stderr)
        return 1
    extra = f"; from Debian: {', '.join(args.from_debian)}" if args.from_debian else ""
    print(f"boxvenv: OK: {args.requirement} in {venv}{extra}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
