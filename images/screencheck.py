"""What a screen box's display shows, seen from the host: QEMU's own picture of the VM's screen.

A screen box (kiosk, pad, board, progress) draws with SDL straight on KMS/DRM; under the
stand-in that is the virtio-gpu display, whose picture QEMU keeps. While the box boots, the
host asks QEMU (QMP ``screendump``) for that picture every few seconds; afterwards the check
passes when one of them is the daemon's own screen: most of it in the background colour of the
role's settings (the kiosk's and the pad's near-white, the TVs' dark blue), not the text console.

Used by images/standin.py's boot (``qemu_args`` on the qemu command line, ``ScreenWatch``
around the run, ``judge`` after it), or on its own around a whole build::

    images/screencheck.py --role kiosk --boot-check      (the arguments of images/build)
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

EVERY_S = 4.0  # a capture this often: the daemon's screen is up for a minute or more before the box powers off
MIN_SHARE = 0.25  # the background colour covers at least this much of a daemon's screen (the console: black)


def qemu_args(work: Path) -> list[str]:
    """The QMP socket the host takes the screen's pictures through."""
    return ["-qmp", f"unix:{work / 'qmp.sock'},server=on,wait=off"]


class QMP:
    def __init__(self, path: Path, timeout: float = 60.0):
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.connect(str(path))
                break
            except OSError:
                self.sock.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        self.sock.settimeout(60)
        self.file = self.sock.makefile("rwb")
        self._read()  # the greeting
        self.call("qmp_capabilities")

    def _read(self) -> dict:
        while True:
            line = self.file.readline()
            if not line:
                raise ConnectionError("QEMU closed its QMP socket")
            msg = json.loads(line)
            if "event" not in msg:
                return msg

    def call(self, command: str, **arguments) -> dict:
        self.file.write(json.dumps({"execute": command, "arguments": arguments}).encode() + b"\n")
        self.file.flush()
        reply = self._read()
        if "error" in reply:
            raise RuntimeError(f"QMP {command}: {reply['error'].get('desc')}")
        return reply

    def close(self) -> None:
        self.sock.close()


class ScreenWatch:
    """Takes the VM's screen as a PNG every ``EVERY_S`` into ``work/screen/`` until the VM is gone."""

    def __init__(self, work: Path):
        self.work = work
        self.folder = work / "screen"
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True)
        self.error: str | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> ScreenWatch:
        self.thread.start()
        return self

    def _run(self) -> None:
        try:
            qmp = QMP(self.work / "qmp.sock")
        except OSError as exc:
            self.error = f"no QMP socket: {exc}"
            return
        n = 0
        try:
            while True:
                n += 1
                qmp.call("screendump", filename=str(self.folder / f"{n:04d}.png"), format="png")
                time.sleep(EVERY_S)
        except (OSError, ConnectionError, ValueError):
            pass  # the VM powered off
        except RuntimeError as exc:
            self.error = str(exc)
        finally:
            qmp.close()

    def join(self) -> None:
        self.thread.join(timeout=30)


def background_of(role: str, work: Path) -> tuple[int, int, int]:
    """The background colour of the role's screen, as its settings on the box give it."""
    from importlib import import_module

    from boxes.roles import load_roles
    from motcua.settings import load_settings

    r = load_roles()[role]
    module, cls = r.settings_class.split(":")
    # the box's file alone: this host's MOTCUA_* variables (STANDIN_CACHE) are not the box's settings
    ours = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith("MOTCUA_")}
    try:
        settings = load_settings(getattr(import_module(module), cls), r.settings_role,
                                 work / "bootfs" / "motcua" / "settings" / r.settings.file)
    finally:
        os.environ.update(ours)
    return tuple(settings.screen.colours.background)  # type: ignore[return-value]


def share_of(png: Path, colour: tuple[int, int, int], tolerance: int = 6) -> float:
    from PIL import Image

    img = Image.open(png).convert("RGB")
    counts = img.getcolors(img.width * img.height) or []
    near = sum(c for c, px in counts if max(abs(a - b) for a, b in zip(px, colour)) <= tolerance)
    return near / (img.width * img.height)


def judge(role: str, work: Path, watch: ScreenWatch | None = None) -> tuple[list[str], str]:
    """Problems (as sentences) and what the screen was seen to show."""
    shots = sorted((work / "screen").glob("*.png"))
    if not shots:
        why = watch.error if watch and watch.error else "QEMU gave no picture"
        return [f"no picture of the screen was taken ({why})"], ""
    bg = background_of(role, work)
    scored = [(share_of(p, bg), p) for p in shots]
    share, best = max(scored)
    from PIL import Image

    size = "x".join(map(str, Image.open(best).size))
    text = ""
    if shutil.which("tesseract"):
        out = subprocess.run(["tesseract", str(best), "-", "--psm", "3"], capture_output=True, text=True).stdout
        text = " ".join(out.split())[:200]
    shown = f"{best.name} of {len(shots)}, {size}, {share:.0%} in the background colour {bg}; OCR: {text!r}"
    if share < MIN_SHARE:
        return [f"the screen never showed the {role}'s picture (at best {share:.0%} of it in the background "
                f"colour {bg}; see {work / 'screen'})"], shown
    return [], shown


def main(argv: list[str]) -> int:
    """images/build with the screen's pictures taken and judged for every screen role it boots."""
    import standin

    from boxes.roles import load_roles

    screens = {name for name, r in load_roles().items() if "screen" in r.commission}
    watches: dict[Path, ScreenWatch] = {}
    popen = subprocess.Popen

    class WatchedPopen(popen):  # type: ignore[misc,valid-type]
        def __init__(self, cmd, *args, **kwargs):
            if isinstance(cmd, list) and cmd and cmd[0] == "qemu-system-aarch64":
                chardev = next(a for a in cmd if a.startswith("file,id=rep,path="))
                work = Path(chardev.split("path=", 1)[1]).parent
                if work.name in screens:
                    cmd = cmd + qemu_args(work)
                    super().__init__(cmd, *args, **kwargs)
                    watches[work] = ScreenWatch(work).start()
                    return
            super().__init__(cmd, *args, **kwargs)

    subprocess.Popen = WatchedPopen  # type: ignore[misc]
    try:
        rc = standin.main(argv)
    finally:
        subprocess.Popen = popen  # type: ignore[misc]
    for work, watch in sorted(watches.items()):
        watch.join()
        problems, shown = judge(work.name, work, watch)
        standin.log(f"{work.name}: the screen showed {shown}")
        for p in problems:
            standin.log(f"{work.name}: FAILED: {p}")
        rc = rc or (1 if problems else 0)
    return rc


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    sys.exit(main(sys.argv[1:]))
