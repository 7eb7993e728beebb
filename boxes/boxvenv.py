"""A release's virtual environment on a box: made by install.sh (from the bundle, with the OS's
python3, before any motcua is installed) and by ``motcua-update``. Standard library only.

    python3 boxvenv.py RELEASE_DIR REQUIREMENT [--system-site-packages] [--from-debian NAME ...]

RELEASE_DIR holds ``wheels/`` and ``constraints.txt``; the venv is made in ``RELEASE_DIR/venv``
without pip, so it holds only what the box runs, and the OS's pip installs into it: Debian's
python3-pip (``python3 -m pip --python VENV/bin/python``, pip 22.3 or later), byte-compiled when
the OS installed it, or else pip run from the OS's pip wheel (python3-venv brings it), which
Python compiles again from the zip on every call (seconds on a Pi, over a minute under emulation).
A distribution named with ``--from-debian`` (pygame on a screen box: Debian's build draws on the
console's KMS/DRM display, PyPI's cannot) comes from the OS's Python at the version the OS has,
never from the wheels: the release's pin for it is swapped for that version, so pip
keeps the OS's, and a venv where it came out of the wheels anyway is refused.
Ends with ``boxvenv: OK ...`` or ``boxvenv: FAILED: why`` (exit 1).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path


class VenvError(RuntimeError):
    pass


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


_OS_PIP = ("import sys\ntry:\n    import pip\nexcept ImportError:\n    sys.exit(3)\n"
           "sys.exit(0 if tuple(int(x) for x in pip.__version__.split('.')[:2]) >= (22, 3) else 4)")


def has_os_pip(python: str) -> bool:
    """Whether ``python`` (the OS's) has its own pip that installs into another interpreter (``--python``:
    pip 22.3 or later; bookworm has 23.0.1, trixie a newer one). Debian's python3-pip is byte-compiled as the OS
    installs it, where pip run from its wheel is compiled again from the zip on every call."""
    r = subprocess.run([python, "-I", "-c", _OS_PIP], capture_output=True, env=pip_env())
    return r.returncode == 0


def make_venv(release: Path, requirement: str, *, system_site_packages: bool = False,
              from_debian: Sequence[str] = (), python: str = "python3",
              pip_wheels: Path = Path("/usr/share/python-wheels")) -> Path:
    """``release/venv`` with ``requirement`` installed from ``release/wheels`` at ``release/constraints.txt``."""
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
    r = subprocess.run([*pip, "install", "-q", "--no-index", "--find-links", str(release / "wheels"),
                        "-c", str(constraints), requirement], capture_output=True, text=True, env=pip_env())
    if r.returncode != 0:
        shutil.rmtree(venv, ignore_errors=True)
        raise VenvError(f"pip could not install {requirement} from {release / 'wheels'}: {r.stderr.strip()[-800:]}")
    for name in from_debian:
        found = installed(vpy, name)
        if found is None or found[1].resolve().is_relative_to(venv.resolve()):
            shutil.rmtree(venv, ignore_errors=True)
            raise VenvError(f"{name} came out of the release's wheels, not from Debian's package")
    return venv


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="boxvenv.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("release", type=Path)
    p.add_argument("requirement")
    p.add_argument("--system-site-packages", action="store_true")
    p.add_argument("--from-debian", nargs="*", default=[])
    args = p.parse_args(argv)
    try:
        # the venv of the python3 that runs this script (install.sh runs it with the OS's)
        venv = make_venv(args.release, args.requirement, system_site_packages=args.system_site_packages,
                         from_debian=args.from_debian, python=sys.executable)
    except VenvError as exc:
        print(f"boxvenv: FAILED: {exc}", file=sys.stderr)
        return 1
    extra = f"; from Debian: {', '.join(args.from_debian)}" if args.from_debian else ""
    print(f"boxvenv: OK: {args.requirement} in {venv}{extra}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
