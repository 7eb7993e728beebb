"""LED signboard benchmark: the cost of scrolling, without a broker.

    python bench/signboard.py [--seconds 5] [--modules 32] [--rows 2]

Runs the signboard's own panel thread (model, painter, luma's max7219 driver
over a serial interface that swallows the bytes, as the counter box benchmark
does) scrolling a long Vietnamese notice at the default speed, then a burst of
calls. Figures: time to compute and send one frame, p50 / p99; frames a second;
CPU used by this process while scrolling, in percent of one core.

Prints readable figures, then one JSON line holding them.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from luma.led_matrix.device import max7219  # noqa: E402

from bench.dispatcher import percentile  # noqa: E402
from motcua.protocol import CallEvent, HallNotice  # noqa: E402
from signboard.config import SignboardSettings  # noqa: E402
from signboard.device import PanelLoop  # noqa: E402
from signboard.model import SignModel  # noqa: E402
from signboard.render import SignPainter  # noqa: E402


class NullSerial:
    """A luma serial interface that swallows the bytes: the SPI transfer is the kernel's, not ours."""

    def command(self, *cmd):
        pass

    def data(self, data):
        pass

    def cleanup(self):
        pass


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--modules", type=int, default=32)
    ap.add_argument("--rows", type=int, default=2)
    args = ap.parse_args()

    s = SignboardSettings(panel={"driver": "dummy", "modules_per_row": args.modules, "rows": args.rows})
    painter = SignPainter(s)
    model = SignModel(s, painter.prepare, painter.measure)
    model.hall_notice(HallNotice(text="Trung tâm Phục vụ hành chính công phường Long Châu xin kính chào Ông/Bà. "
                                      "Hồ sơ đất đai, môi trường nộp tại quầy 3 và quầy 4."), 0.0)
    device = max7219(NullSerial(), width=s.panel.width, height=s.panel.height, block_orientation=-90)
    lock = threading.Condition(threading.RLock())
    timings: list[float] = []

    def render(frame):
        return painter.render(frame.text, frame.offset)

    loop = PanelLoop(device, model.frame, render, model.next_change, lock)
    original = loop.draw

    def timed_draw(now=None):
        t0 = time.perf_counter()
        frames = loop.frames
        due = original(now)
        if loop.frames != frames:
            timings.append((time.perf_counter() - t0) * 1000)
        return due

    loop.draw = timed_draw
    cpu0, wall0 = time.process_time(), time.perf_counter()
    loop.start()
    for i in range(10):  # calls arrive while it scrolls
        time.sleep(args.seconds / 10)
        with lock:
            model.call(CallEvent(event_id=f"b{i}", ticket_id=f"t{i}", number=f"A{1001 + i}", area="TP",
                                 counter=1 + i % 10, counter_name="Quầy", call_count=1), time.monotonic())
            lock.notify_all()
    cpu = (time.process_time() - cpu0) / (time.perf_counter() - wall0) * 100
    loop.stop()
    frames_s = len(timings) / args.seconds
    figures = {"panel": f"{s.panel.width}x{s.panel.height}", "marks": painter.marks, "frames": len(timings),
               "frames_per_s": round(frames_s, 1), "frame_p50_ms": round(percentile(timings, 50), 2),
               "frame_p99_ms": round(percentile(timings, 99), 2), "cpu_pct": round(cpu, 1),
               "at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    print(f"signboard {figures['panel']} ({'Vietnamese' if painter.marks else 'ASCII'}), scrolling at "
          f"{s.speed_px_s:g} columns/s: {figures['frames_per_s']} frames/s, frame p50 {figures['frame_p50_ms']} ms / "
          f"p99 {figures['frame_p99_ms']} ms, CPU {figures['cpu_pct']}% of one core")
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
