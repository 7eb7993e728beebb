"""The kiosk, the pad and the board full screen on a real X server (Xvfb, no window manager, as a bare box runs)
at three display sizes: what the X server shows is the whole frame the painter drew, and every touch target is
on the screen and big enough for a finger."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image, ImageChops

from xserver import xvfb

# the display sizes, and the panel each stands for (None: each screen's default, 32" kiosk, 10" pad, 43" TV)
SIZES = [(1920, 1080, None), (1080, 1920, None), (800, 480, 7.0)]
APPS = ["kiosk", "pad", "board"]
MIN_TARGET_MM = 7.0  # smaller than a fingertip is a miss for an elderly hand
PROBE = Path(__file__).with_name("screenprobe.py")


@pytest.fixture(scope="module", params=SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def shots(request, tmp_path_factory):
    """Every frame of every screen's scenario at one display size: {app: [record]}."""
    width, height, diagonal = request.param
    out = tmp_path_factory.mktemp(f"x11-{width}x{height}")
    found = {}
    with xvfb(width, height) as display:
        env = {**os.environ, "DISPLAY": display, "SDL_AUDIODRIVER": "dummy"}
        env.pop("SDL_VIDEODRIVER", None)
        for app in APPS:
            run = subprocess.run([sys.executable, str(PROBE), app, str(out / app)] + ([str(diagonal)] if diagonal else []),
                                 env=env, capture_output=True,
                                 text=True, timeout=180)
            assert run.returncode == 0, run.stderr[-3000:]
            found[app] = json.loads(run.stdout.strip().splitlines()[-1])
    return (width, height), found


@pytest.mark.parametrize("app", APPS)
def test_the_display_shows_the_whole_frame_at_its_own_size(shots, app):
    size, found = shots
    assert found[app], f"{app} drew nothing on the X server"
    for rec in found[app]:
        assert tuple(rec["window"]) == size and tuple(rec["size"]) == size, rec["name"]
        drawn = Image.open(rec["canvas"]).convert("RGB")
        seen = Image.open(rec["x11"]).convert("RGB")
        assert seen.size == size
        diff = ImageChops.difference(drawn, seen).getbbox()
        assert diff is None, f"{rec['name']}: the display differs from the frame in {diff}"


@pytest.mark.parametrize("app", APPS)
def test_every_target_is_on_the_screen_and_big_enough(shots, app):
    (w, h), found = shots
    for rec in found[app]:
        for name, (x, y, tw, th) in rec["targets"].items():
            assert x >= 0 and y >= 0 and x + tw <= w and y + th <= h, f"{rec['name']} {name} off screen"
            assert min(tw, th) >= MIN_TARGET_MM * rec["px_per_mm"], \
                f"{rec['name']} {name}: {min(tw, th)} px is under {MIN_TARGET_MM} mm"


def test_the_same_layout_at_every_size(shots):
    """Every size draws the same frames with the same targets (nothing dropped for lack of room); only the
    ▲/▼ buttons of a text that does not fit come and go with the room."""
    _, found = shots
    layout = {app: [[r["name"], sorted(t for t in r["targets"] if not t.startswith("scroll:"))] for r in recs]
              for app, recs in found.items()}
    reference = Path(__file__).with_name("data") / "screen-layout.json"
    if not reference.exists():  # written once from the reference size, then kept under version control
        reference.write_text(json.dumps(layout, indent=1, ensure_ascii=False) + "\n")
    assert layout == json.loads(reference.read_text())


def test_a_resized_window_is_laid_out_again_at_its_new_size(tmp_path):
    """A window resized from outside (the X server's own request, as a mode change resizes a full-screen one)
    is drawn again for its new size: the same targets, all inside, and the X server shows that frame."""
    with xvfb(1920, 1080) as display:
        env = {**os.environ, "DISPLAY": display, "SDL_AUDIODRIVER": "dummy"}
        env.pop("SDL_VIDEODRIVER", None)
        run = subprocess.run([sys.executable, str(PROBE), "resize", str(tmp_path)], env=env, capture_output=True,
                             text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    before, after = json.loads(run.stdout.strip().splitlines()[-1])
    assert tuple(before["size"]) == (1280, 800) and tuple(after["size"]) == (800, 600)
    assert sorted(before["targets"]) == sorted(after["targets"]) == [
        "level:satisfied", "level:unsatisfied", "level:very_satisfied", "mode:large"]
    for x, y, w, h in after["targets"].values():
        assert x >= 0 and y >= 0 and x + w <= 800 and y + h <= 600
    seen = Image.open(after["x11"]).convert("RGB").crop((0, 0, 800, 600))
    assert ImageChops.difference(Image.open(after["canvas"]).convert("RGB"), seen).getbbox() is None
