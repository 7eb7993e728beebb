"""Satisfaction pad benchmark, with a real Mosquitto and the real dispatcher process.

    python bench/rating.py [--ratings 200]

Measures, for each rating, the time from the citizen's tap to the
dispatcher's acknowledgement arriving back at the pad (the rating written to
the pad's outbox, sent, stored by the dispatcher, acknowledged, removed from
the outbox): p50 and p99. Also the pad's resident memory: the pad runs in this
process with its pygame screen on SDL's dummy driver, so the figure is an
upper bound (it includes the benchmark's own keypad client). Its touch
sounds are on: a tick on every tap through a real pygame mixer on SDL's
``disk`` audio driver (the bench machine has no sound card).

Prints readable figures, then one JSON line holding them.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.dispatcher import percentile, sound_figures, speaker, start_bench_hall  # noqa: E402
from motcua.client import HallClient  # noqa: E402
from motcua.runtime import rss_mb  # noqa: E402
from satisfaction_pad.app import PadScreen  # noqa: E402
from satisfaction_pad.config import PadSettings  # noqa: E402
from satisfaction_pad.service import PadService  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ratings", type=int, default=200)
    args = ap.parse_args()

    work, broker, daemon = start_bench_hall()
    sound = speaker(work, "pad-1")
    pad = PadService(PadSettings(site="bench", device_id="pad-1", counter=1, outbox=work / "pad.db", debounce_ms=0,
                                 mqtt=broker.mqtt("pad-1", "pad", 1), screen={"fullscreen": False}, sound=sound,
                                 log_level="WARNING"))
    screen = PadScreen(pad)
    pad.start()
    latencies = []
    try:
        keypad = HallClient("bench", mqtt=broker.mqtt("bench-keypad", "operator")).start()
        for _ in range(100):  # the daemon needs a moment to subscribe
            try:
                keypad.counter(1, "open", officer="bench", timeout=0.5)
                break
            except Exception:  # noqa: BLE001
                continue
        for _ in range(args.ratings):
            keypad.ticket("TP")
            keypad.counter(1, "next")
            number = keypad.counter(1, "finish").counter.rating_window.number
            if not pad.wait_for_view(lambda v, number=number: v.screen == "rating" and v.ticket_number == number, 5):
                raise RuntimeError(f"the pad never showed the rating screen for {number}")
            screen.redraw()
            delivered = pad.delivered
            t0 = time.perf_counter()
            pad.tap("level:very_satisfied")
            if not pad.wait_for_view(lambda v, delivered=delivered: pad.delivered > delivered, 5):
                raise RuntimeError("no acknowledgement within 5 s")
            latencies.append((time.perf_counter() - t0) * 1000)
            screen.redraw()
        keypad.close()
        rss = rss_mb() or 0.0
        pad.sounds.wait_idle(10)
    finally:
        pad.stop()
        daemon.terminate()
        daemon.wait(10)
        broker.stop()

    figures = {"p50_ms": round(statistics.median(latencies), 2), "p99_ms": round(percentile(latencies, 99), 2),
               "max_ms": round(max(latencies), 2), "ratings": len(latencies), "rss_mb": round(rss, 1),
               **sound_figures(pad.sounds, sound)}
    print(f"tap -> acknowledgement at the pad, {len(latencies)} ratings: p50 {figures['p50_ms']} ms, "
          f"p99 {figures['p99_ms']} ms, max {figures['max_ms']} ms")
    print(f"touch sounds on: {figures['sounds_played']} ticks played ({figures['sound_audible_s']} s of sound at the "
          f"speaker), {figures['sounds_dropped']} taps left silent while the speaker was busy")
    print(f"pad process RSS (pad + pygame screen + this benchmark's keypad client): {figures['rss_mb']} MiB")
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
