"""The screens in real windows: CPU and memory of the kiosk, the pad and the board under a real X server.

Starts its own Xvfb (1920x1080, no window manager, as a bare box runs) and runs
each screen full screen in its own process, through the same code the
daemons run (``ScreenApp.run``), without a broker. Measures the screen
process's CPU (user+system over wall time) and its RSS:

* board static: the calls page, nothing flashing, the notice fits;
* board flashing: the newest call flashing all the time;
* board scrolling: a notice too long for the screen;
* kiosk and pad: idle on their first screen.

Goals on this machine: static ≈ 0 %, flashing ≤ 3 %, scrolling ≤ 5 % of a core, RSS ≤ 100 MiB each.
Ends with one JSON line.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

SECONDS = float(os.environ.get("BENCH_SCREEN_S", "10"))

CHILD = r'''
import os, resource, sys, tempfile, threading, time
from pathlib import Path
os.environ["SDL_VIDEODRIVER"] = "x11"
sys.path.insert(0, sys.argv[3])
what, seconds = sys.argv[1], float(sys.argv[2])
tmp = Path(tempfile.mkdtemp())
if what.startswith("board"):
    from counter_display.board.app import BoardScreen
    from counter_display.board.config import BoardSettings
    from counter_display.board.service import BoardService
    from counter_display.screenshots import feed_board
    notice = ("Thông báo: từ ngày 01/3 Trung tâm làm việc cả sáng thứ Bảy; xin Ông/Bà chuẩn bị đủ giấy tờ theo "
              "hướng dẫn tại kiosk tra cứu thủ tục. Xin cảm ơn!") if what == "board-scrolling" else "Xin chào"
    settings = BoardSettings(device_id="board-1", notice=notice, flash_s=60 if what == "board-flashing" else 0)
    service = BoardService(settings)
    feed_board(service, time.monotonic() - (0 if what == "board-flashing" else 100))
    service.model.notice = None
    screen = BoardScreen(service)
elif what == "kiosk":
    from kiosk_ticket.app import KioskScreen
    from kiosk_ticket.config import KioskSettings
    from kiosk_ticket.screenshots import sample_hall_config, sample_summaries
    from kiosk_ticket.service import KioskService
    service = KioskService(KioskSettings(device_id="kiosk-1", printer={"counter_file": tmp / "p.json"}))
    config = sample_hall_config()
    service.hall_config(config)
    for s in sample_summaries(config):
        service.area_summary(s)
    service.tap("idle")
    screen = KioskScreen(service)
else:
    from satisfaction_pad.app import PadScreen
    from satisfaction_pad.config import PadSettings
    from satisfaction_pad.screenshots import SAMPLE_STATE, sample_window
    from satisfaction_pad.service import PadService
    service = PadService(PadSettings(device_id="pad-3", counter=3, outbox=tmp / "o.db"))
    service.counter_state(SAMPLE_STATE.model_copy(update={"rating_window": sample_window()}))
    screen = PadScreen(service)
stop = threading.Event()
screen.redraw(force=True)
time.sleep(1.0)  # settle: fonts loaded, first frame shown
t0, w0 = time.process_time(), time.monotonic()
threading.Timer(seconds, stop.set).start()
screen.run(stop)
cpu = 100 * (time.process_time() - t0) / (time.monotonic() - w0)
rss = int(open("/proc/self/status").read().split("VmRSS:")[1].split()[0]) / 1024
print(f"{cpu:.2f} {rss:.1f} {screen.frames} {screen.partial_frames}")
'''


def measure(display: str, what: str) -> dict:
    env = {**os.environ, "DISPLAY": display, "SDL_AUDIODRIVER": "dummy"}
    env.pop("SDL_VIDEODRIVER", None)
    out = subprocess.run([sys.executable, "-c", CHILD, what, str(SECONDS), str(ROOT)], env=env, capture_output=True,
                         text=True, timeout=SECONDS + 120)
    if out.returncode != 0:
        raise SystemExit(f"{what}: {out.stderr[-2000:]}")
    cpu, rss, frames, partial = out.stdout.split()[-4:]
    return {"cpu_pct": float(cpu), "rss_mib": float(rss), "frames": int(frames), "partial_frames": int(partial)}


def main() -> None:
    from xserver import xvfb

    results = {}
    with xvfb(1920, 1080) as display:
        for what in ("board-static", "board-flashing", "board-scrolling", "kiosk", "pad"):
            r = measure(display, what)
            results[what] = r
            print(f"{what:16s} CPU {r['cpu_pct']:5.2f} % of a core   RSS {r['rss_mib']:6.1f} MiB   "
                  f"frames {r['frames']} whole, {r['partial_frames']} partial in {SECONDS:.0f} s")
    print(json.dumps({"bench": "screens", "display": "Xvfb 1920x1080x24", "seconds": SECONDS,
                      "board_static_cpu_pct": results["board-static"]["cpu_pct"],
                      "board_flashing_cpu_pct": results["board-flashing"]["cpu_pct"],
                      "board_scrolling_cpu_pct": results["board-scrolling"]["cpu_pct"],
                      "rss_mib": {k: v["rss_mib"] for k, v in results.items()},
                      "cpu_pct": {k: v["cpu_pct"] for k, v in results.items()}}))


if __name__ == "__main__":
    main()
