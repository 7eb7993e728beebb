"""The screen boxes (kiosk, pad, board, progress) draw on the console's KMS/DRM display with Debian's pygame.

A box runs Raspberry Pi OS Lite: no X, no Wayland. PyPI's pygame wheels bring an SDL without the
KMS/DRM video driver; Debian's python3-pygame (bookworm 2.1.2, trixie 2.6.1) uses Debian's SDL, which
has it. So a screen role asks for python3-pygame, its venv sees the OS's modules, and its wheels never
bring PyPI's pygame over Debian's. Checked here with this machine's own Debian python3 and python3-pygame
(scripts/bootstrap.sh installs it): what the box runs, drawing with SDL's dummy driver.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import tomllib
import zipfile
from pathlib import Path

import pytest
from PIL import Image, ImageChops

from boxes import update
from boxes.boxvenv import VenvError, constraints_with_debian, make_venv
from boxes.bundle import BundleRequest, make_bundle
from boxes.roles import load_roles
from motcua.localbroker import REPO

from daemonkit import Watcher
from test_boxes import hub  # noqa: F401  (the fixture: a central box's broker directory and a release)

OS_PYTHON = "/usr/bin/python3"
SCREEN_ROLES = [name for name, role in load_roles().items() if "screen" in role.commission]
SCREENSHOTS = ["kiosk_ticket", "satisfaction_pad", "counter_display", "progress_board"]  # python -m X.screenshots


def os_python_with_pygame() -> None:
    r = subprocess.run([OS_PYTHON, "-c", "import pygame"], capture_output=True, text=True,
                       env={**os.environ, "PYGAME_HIDE_SUPPORT_PROMPT": "1"})
    assert r.returncode == 0, ("Debian's python3-pygame is missing: run make install (scripts/bootstrap.sh "
                               f"installs it): {r.stderr[-300:]}")


@pytest.fixture(scope="module")
def box_python(tmp_path_factory) -> Path:
    """The OS's python3 as a screen box's venv has it: the system site packages (Debian's pygame and numpy)
    seen, and this checkout with its other dependencies (the dev venv's, less its PyPI pygame and numpy)."""
    os_python_with_pygame()
    root = tmp_path_factory.mktemp("box-python")
    subprocess.run([OS_PYTHON, "-m", "venv", "--system-site-packages", "--without-pip", str(root / "venv")],
                   check=True)
    deps = root / "deps"
    deps.mkdir()
    dev = Path(next(p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir()))
    for entry in dev.iterdir():
        if not entry.name.startswith(("pygame", "numpy", "__editable__", "_distutils_hack", "distutils-precedence")):
            (deps / entry.name).symlink_to(entry.resolve())
    python = root / "venv" / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    # after the venv's own site packages and before the OS's: as the box's wheels are
    Path(site, "checkout.pth").write_text(f"{REPO}\n{deps}\n")
    return python


def box_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MOTCUA_", "PYTHONPATH", "VIRTUAL_ENV"))}
    return {**env, "SDL_AUDIODRIVER": "dummy", "PYGAME_HIDE_SUPPORT_PROMPT": "1", **extra}


# ---------------------------------------------------------------------------- what a screen box asks for


@pytest.mark.parametrize("role", SCREEN_ROLES)
def test_a_screen_role_asks_for_debians_pygame_and_may_open_the_display(role):
    r = load_roles()[role]
    assert r.python_from_debian == ["pygame"] and r.system_site_packages
    # SDL presents on KMS/DRM through OpenGL ES: Mesa's EGL, GLES and DRI drivers (Pi: vc4/v3d)
    assert {"python3-pygame", "libegl1", "libgles2", "libgl1-mesa-dri"} <= set(r.debian)
    assert {"video", "render", "input"} <= set(r.groups)  # /dev/dri/card*, renderD*, the touch panel
    for unit in r.units():
        text = unit.read_text()
        assert "Environment=SDL_VIDEODRIVER=kmsdrm" in text.splitlines(), unit.name
        groups = next(ln for ln in text.splitlines() if ln.startswith("SupplementaryGroups=")).split("=", 1)[1]
        assert {"video", "render", "input"} <= set(groups.split()), unit.name
        assert "PrivateDevices=no" in text and "MemoryDenyWriteExecute=yes" not in text  # Mesa may JIT


@pytest.mark.parametrize("role, device, counter", [("kiosk", "kiosk-1", None), ("pad", "pad-3", 3),
                                                   ("board", "board-1", None), ("progress", "progress-1", None)])
def test_a_screen_bundle_leaves_pypis_pygame_out(hub, tmp_path, role, device, counter):  # noqa: F811
    sb, release = hub
    wheels = ["pygame-2.6.1-cp311-cp311-manylinux_2_17_aarch64.manylinux2014_aarch64.whl",
              "pygame-2.6.1-cp313-cp313-manylinux_2_17_aarch64.manylinux2014_aarch64.whl",
              "paho_mqtt-2.2.0-py3-none-any.whl", "pygame_menu_fake-1.0-py3-none-any.whl"]
    for name in wheels:
        (release / "wheels" / name).write_bytes(b"")
    out = make_bundle(BundleRequest(role=role, device_id=device, counter=counter, out=tmp_path / role,
                                    release=release, broker_dir=sb.directory, broker_host="192.168.1.10"))
    box = tomllib.loads((out / "box.toml").read_text())
    assert box["python_from_debian"] == ["pygame"] and box["system_site_packages"] is True
    assert "python3-pygame" in box["debian"]
    assert sorted(p.name for p in (out / "release" / "wheels").iterdir()) == [
        "paho_mqtt-2.2.0-py3-none-any.whl", "pygame_menu_fake-1.0-py3-none-any.whl"]
    assert (out / "boxvenv.py").read_text() == (REPO / "boxes" / "boxvenv.py").read_text()
    # the announcer plays its calls through PyPI's pygame (audio only): its bundle keeps the wheels
    other = make_bundle(BundleRequest(role="announcer", device_id="announcer-1", out=tmp_path / "announcer",
                                      release=release, broker_dir=sb.directory, broker_host="192.168.1.10"))
    assert len(list((other / "release" / "wheels").glob("pygame-*.whl"))) == 2
    # motcua-update on a screen box does not even download them
    assert not update.wanted(f"wheels/{wheels[0]}", ["pygame"]) and update.wanted("wheels/" + wheels[2], ["pygame"])


def test_constraints_take_the_oss_version():
    lock = "# the lock\npaho-mqtt==2.2.0\npygame==2.6.1\nPyGame_CE==2.5.0\nqrcode==8.2\n"
    out = constraints_with_debian(lock, {"pygame": "2.1.2"})
    assert out.splitlines() == ["# the lock", "paho-mqtt==2.2.0", "PyGame_CE==2.5.0", "qrcode==8.2",
                                "pygame==2.1.2  # the OS's own package (Debian)"]


# ---------------------------------------------------------------------------- the box's venv


def fake_wheel(folder: Path, name: str, version: str, requires: list[str], module: str) -> Path:
    """A pure-Python wheel (what pip reads of one: METADATA, WHEEL, RECORD, and a module)."""
    path = folder / f"{name}-{version}-py3-none-any.whl"
    info = f"{name}-{version}.dist-info"
    meta = "Metadata-Version: 2.1\nName: {}\nVersion: {}\n{}".format(
        name, version, "".join(f"Requires-Dist: {r}\n" for r in requires))
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(f"{name}/__init__.py", module)
        z.writestr(f"{info}/METADATA", meta)
        z.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        z.writestr(f"{info}/RECORD", "")
    return path


@pytest.fixture
def release(tmp_path) -> Path:
    """A release whose wheels hold a 'pygame' of PyPI's newer version, pinned by the lock, and a daemon needing it."""
    rel = tmp_path / "releases" / "9.9.9"
    (rel / "wheels").mkdir(parents=True)
    fake_wheel(rel / "wheels", "pygame", "2.6.1", [], "FROM_THE_WHEELS = True\n")
    fake_wheel(rel / "wheels", "screenbox", "9.9.9", ["pygame>=2.1.2,<3"], "")
    (rel / "constraints.txt").write_text("pygame==2.6.1\nscreenbox==9.9.9\n")
    return rel


def where_pygame(python: Path) -> dict:
    code = ("import json, pygame, importlib.metadata as m; print(json.dumps({'file': pygame.__file__, "
            "'version': m.version('pygame'), 'wheel': hasattr(pygame, 'FROM_THE_WHEELS')}))")
    r = subprocess.run([str(python), "-c", code], capture_output=True, text=True, env=box_env())
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_the_box_venv_keeps_debians_pygame(release):
    os_python_with_pygame()
    # as install.sh runs it from the bundle: the OS's python3 and the script as the bundle carries it
    r = subprocess.run([OS_PYTHON, str(REPO / "boxes" / "boxvenv.py"), str(release), "screenbox==9.9.9",
                        "--system-site-packages", "--from-debian", "pygame"], capture_output=True, text=True,
                       env=box_env())
    assert r.returncode == 0 and "boxvenv: OK" in r.stdout, r.stdout + r.stderr
    seen = where_pygame(release / "venv" / "bin" / "python")
    assert seen["file"].startswith("/usr/lib/python3/dist-packages/") and not seen["wheel"], seen
    debian = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "python3-pygame"], capture_output=True,
                            text=True).stdout
    assert debian.startswith(seen["version"]), (debian, seen)  # 2.1.2+dfsg-5 on bookworm
    site = next((release / "venv" / "lib").glob("python3*/site-packages"))
    assert not list(site.glob("pygame*")), "PyPI's pygame was installed over Debian's"


def test_without_debians_pygame_kept_the_wheels_would_shadow_it(release):
    """Why the swap is needed: the lock's pin alone makes pip install the wheel's pygame over the OS's."""
    os_python_with_pygame()
    make_venv(release, "screenbox==9.9.9", system_site_packages=True, python=OS_PYTHON)
    assert where_pygame(release / "venv" / "bin" / "python")["wheel"]
    with pytest.raises(VenvError, match="system site packages"):
        make_venv(release, "screenbox==9.9.9", from_debian=["pygame"], python=OS_PYTHON)


def test_the_oss_own_pip_fills_the_venv_else_its_pip_wheel(release, tmp_path):
    """Debian's python3-pip (byte-compiled when the OS installed it) installs into the venv with --python;
    an OS without it runs pip from python3-venv's pip wheel. Either way the venv holds no pip of its own."""
    from boxes.boxvenv import has_os_pip

    assert has_os_pip(OS_PYTHON), "Debian's python3-pip is missing here (scripts/bootstrap.sh installs it)"
    make_venv(release, "screenbox==9.9.9", python=OS_PYTHON)
    site = next((release / "venv" / "lib").glob("python3*/site-packages"))
    assert (site / "screenbox").is_dir() and not list(site.glob("pip*"))
    # a Python without pip of its own (a venv made without one stands in for an OS without python3-pip)
    bare = tmp_path / "bare"
    subprocess.run([OS_PYTHON, "-m", "venv", "--without-pip", str(bare)], check=True)
    assert not has_os_pip(str(bare / "bin" / "python"))
    make_venv(release, "screenbox==9.9.9", python=str(bare / "bin" / "python"))
    assert (site / "screenbox").is_dir() and not list(site.glob("pip*"))


def test_a_box_without_python3_pygame_is_told_so(release):
    with pytest.raises(VenvError, match=r"python3-not-packaged\) is missing"):
        make_venv(release, "screenbox==9.9.9", system_site_packages=True, from_debian=["not-packaged"],
                  python=OS_PYTHON)
    assert not (release / "venv").exists()


# ---------------------------------------------------------------------------- the daemons on Debian's pygame


def test_debians_pygame_has_the_kms_drm_driver(box_python):
    code = ("import json, pygame; from motcua.touchscreen import sdl_video_drivers; "
            "print(json.dumps([pygame.version.ver, pygame.__file__, sdl_video_drivers()]))")
    r = subprocess.run([str(box_python), "-c", code], capture_output=True, text=True, env=box_env(), cwd="/")
    assert r.returncode == 0, r.stderr
    version, path, drivers = json.loads(r.stdout.strip().splitlines()[-1])
    assert path.startswith("/usr/lib/python3/dist-packages/"), path
    assert "kmsdrm" in drivers, drivers


def test_the_screens_draw_the_same_on_debians_pygame(box_python, tmp_path):
    """Every screen's docs scenario drawn by the daemons' own painters on Debian's pygame and on PyPI's: the
    same picture (the board's news ticker scrolls with the clock: its strip may differ)."""
    runs = {}
    for name, python in (("debian", box_python), ("pypi", Path(sys.executable))):
        for module in SCREENSHOTS:
            out = tmp_path / name / module
            runs[name, module] = subprocess.Popen(
                [str(python), "-m", f"{module}.screenshots", str(out)], cwd=REPO, env=box_env(SDL_VIDEODRIVER="dummy"),
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    for (name, module), proc in runs.items():
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, f"{module}.screenshots on {name}'s pygame: {err[-2000:]}"
    shots = sorted((tmp_path / "debian").rglob("*.png"))
    assert len(shots) >= 30 and {p.parent.name for p in shots} == set(SCREENSHOTS)
    for shot in shots:
        theirs = tmp_path / "pypi" / shot.relative_to(tmp_path / "debian")
        a, b = Image.open(shot).convert("RGB"), Image.open(theirs).convert("RGB")
        assert a.size == b.size, shot.name
        assert a.getextrema() != ((0, 0), (0, 0), (0, 0)), f"{shot.name} is blank"
        changed = ImageChops.difference(a, b).convert("L").point(lambda v: 255 if v > 40 else 0).histogram()[255]
        assert changed <= 0.02 * a.size[0] * a.size[1], f"{shot.name}: {changed} pixels differ"


# ---------------------------------------------------------------------------- no display


class NotifySocket:
    """systemd's end of sd_notify: every datagram the daemon sends."""

    def __init__(self, path: Path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.5)
        self.path = path
        self.messages: list[str] = []

    def read_for(self, seconds: float) -> list[str]:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                self.messages.append(self.sock.recv(4096).decode())
            except TimeoutError:
                pass
        return self.messages


def test_a_pad_without_a_display_says_why_and_keeps_running(broker, site, tmp_path):
    """The KMS/DRM driver asked for and none to be had (PyPI's SDL on this machine): the pad stays up, its
    health and systemd status say NO SCREEN and why, and it keeps its watchdog fed (no restart loop)."""
    notify = NotifySocket(tmp_path / "notify")
    env = box_env(SDL_VIDEODRIVER="kmsdrm", NOTIFY_SOCKET=str(notify.path), WATCHDOG_USEC="900000",
                  MOTCUA_SITE=site, MOTCUA_DEVICE_ID="pad-9", MOTCUA_COUNTER="9", MOTCUA_OUTBOX=str(tmp_path / "o.db"),
                  MOTCUA_MQTT__CA_FILE="", MOTCUA_MQTT__PASSWORD_FILE="", MOTCUA_HEALTH_INTERVAL_S="1",
                  **broker.env("pad-9", "pad", 9))
    health = Watcher(broker, f"motcua/v1/{site}/device/pad-9/health")
    proc = subprocess.Popen([sys.executable, "-m", "satisfaction_pad", "--config",
                             str(REPO / "examples" / "satisfaction_pad.toml")], env=env, cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        seen = health.wait_for(lambda m: "no screen" in json.loads(m.payload)["checks"]["screen"], 30)
        screen = json.loads(seen.payload)["checks"]["screen"]
        assert screen.startswith("fault: no screen: ") and "kmsdrm" in screen, screen
        messages = notify.read_for(3.0)  # a few of the watchdog's periods (0.9 s)
        assert proc.poll() is None, "the pad exited without a display"
        assert any(m.startswith("READY=1") and "NO SCREEN" in m for m in messages), messages
        # the status line keeps the link (what motcua-update looks for) and says why there is no screen
        assert any("STATUS=" in m and "connected" in m and "NO SCREEN" in m for m in messages), messages
        after_fault = messages[next(i for i, m in enumerate(messages) if "NO SCREEN" in m):]
        assert sum(m == "WATCHDOG=1" for m in after_fault) >= 3, messages
    finally:
        health.close()
        proc.terminate()
        out, _ = proc.communicate(timeout=20)
        notify.sock.close()
    assert "Traceback" not in out, out
    assert out.count("no screen:") == 1, out  # said once, not at every look for the display


def test_the_screen_comes_up_when_the_display_does(tmp_path, monkeypatch):
    """A TV switched on after the box: the pad finds the display at a later look, without a restart."""
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    import pygame

    from motcua import touchscreen
    from motcua.runtime.systemd import SystemdNotifier
    from satisfaction_pad.app import PadScreen
    from satisfaction_pad.config import PadSettings
    from satisfaction_pad.service import PadService

    monkeypatch.setattr(touchscreen, "SCREEN_RETRY_S", 0.2)
    notify = NotifySocket(tmp_path / "notify")
    service = PadService(PadSettings(device_id="pad-8", counter=8, outbox=tmp_path / "o.db",
                                     screen={"fullscreen": False, "width": 640, "height": 400}),
                         notifier=SystemdNotifier({"NOTIFY_SOCKET": str(notify.path)}))
    looks, states = [], []

    def display_after_three_looks(svc):
        looks.append(time.monotonic())
        if len(looks) <= 3:
            states.append((svc.screen_check(), svc.runtime.healthy()))
            raise pygame.error("kmsdrm not available")  # what SDL says with no display
        return PadScreen(svc)

    stop = threading.Event()
    loop = threading.Thread(target=touchscreen.serve_screen, args=(service, display_after_three_looks, stop, "pad"))
    loop.start()
    try:
        deadline = time.monotonic() + 20
        while service.screen_beat is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert service.screen_beat is not None, "the screen loop never ran"
    finally:
        stop.set()
        loop.join(10)
    messages = notify.read_for(0.6)
    notify.sock.close()
    assert len(looks) == 4
    # while dark: a fault in the health, yet healthy for the watchdog (a restart brings no display)
    assert states[1][0].startswith("fault: no screen: kmsdrm not available") and states[1][1] is True
    assert service.screen_check() == "ok"
    statuses = [m for m in messages if "STATUS=" in m]
    assert "NO SCREEN" in statuses[0] and statuses[-1].endswith("screen 640x400 (dummy)"), statuses
