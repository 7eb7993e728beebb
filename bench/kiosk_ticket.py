"""Ticket kiosk benchmark, with a real Mosquitto and the real dispatcher process.

    python bench/kiosk_ticket.py [--tickets 200]

Measures, for each ticket, the time from the citizen's confirming touch to
the last byte of the printed ticket written to the printer: printer status
query, ticket request and reply through the dispatcher, raster rendering
(PIL, QR code), ESC/POS encoding, the write. Two printers: python-escpos's
in-memory Dummy, and a serial printer on a pty (the bytes cross the kernel;
the far end answers the DLE EOT status queries as a thermal printer does).
p50 and p99 for each. Also the kiosk's RSS and CPU time: the kiosk runs in
this process with its pygame screen on SDL's dummy driver and redraws after
each ticket, so the figures include the screen (and this benchmark's loop).
Its touch sounds are on: a tick on every touch and each number spoken, played
through a real pygame mixer on SDL's ``disk`` audio driver (the bench machine
has no sound card); the figures say how many sounds played.

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

from bench.dispatcher import percentile, proc_figures, sound_figures, speaker, start_bench_hall  # noqa: E402
from kiosk_ticket.app import KioskScreen  # noqa: E402
from kiosk_ticket.config import KioskSettings  # noqa: E402
from kiosk_ticket.service import KioskService  # noqa: E402
from tests.kioskkit import PtyPrinter  # noqa: E402


def run(work: Path, broker, transport: dict, tickets: int, device_id: str) -> tuple[list[float], dict]:
    sound = speaker(work, device_id)
    kiosk = KioskService(KioskSettings(
        site="bench", device_id=device_id, mqtt=broker.mqtt(device_id, "kiosk"), log_level="WARNING",
        screen={"fullscreen": False}, timeouts={"debounce_ms": 0}, sound=sound,
        printer={"transport": transport, "counter_file": work / f"{device_id}.json"}))
    screen = KioskScreen(kiosk)
    kiosk.start()
    latencies = []
    try:
        if not kiosk.wait_for_view(lambda v: bool(v.areas), 20):
            raise RuntimeError("no hall configuration from the dispatcher")
        for _ in range(tickets):
            kiosk.tap("nav:home")
            kiosk.tap("home:take")
            screen.redraw()
            t0 = time.monotonic()
            kiosk.tap("area:TP")  # the second touch prints
            if not kiosk.wait_for_view(lambda v: v.screen in ("ticket", "error"), 10):
                raise RuntimeError("no ticket within 10 s")
            if kiosk.view.screen != "ticket":
                raise RuntimeError(f"refused: {kiosk.view.message}")
            latencies.append((kiosk.last_printed.done_at - t0) * 1000)
            screen.redraw()
        kiosk.sounds.wait_idle(10)
    finally:
        kiosk.stop()
    return latencies, sound_figures(kiosk.sounds, sound)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tickets", type=int, default=200)
    args = ap.parse_args()

    work, broker, daemon = start_bench_hall()
    pty_printer = PtyPrinter("online")
    figures: dict[str, float | int] = {"tickets": args.tickets}
    try:
        cpu0 = time.process_time()
        for name, transport in (("dummy", {"kind": "dummy"}),
                                ("pty", {"kind": "serial", "device": pty_printer.path, "baudrate": 115200})):
            lat, sounds = run(work, broker, transport, args.tickets, f"kiosk-{name}")
            figures[f"{name}_p50_ms"] = round(statistics.median(lat), 2)
            figures[f"{name}_p99_ms"] = round(percentile(lat, 99), 2)
            figures[f"{name}_max_ms"] = round(max(lat), 2)
            figures.update({f"{name}_{k}": v for k, v in sounds.items()})
        figures["kiosk_cpu_s"] = round(time.process_time() - cpu0, 2)
        rss, _ = proc_figures(os.getpid())
        figures["rss_mb"] = round(rss, 1)
        if pty_printer.stream.cuts != args.tickets:
            raise RuntimeError(f"the pty printer cut {pty_printer.stream.cuts} tickets, expected {args.tickets}")
    finally:
        pty_printer.close()
        daemon.terminate()
        daemon.wait(10)
        broker.stop()

    for name in ("dummy", "pty"):
        print(f"confirming touch -> last byte at the {name} printer, {args.tickets} tickets: "
              f"p50 {figures[f'{name}_p50_ms']} ms, p99 {figures[f'{name}_p99_ms']} ms, "
              f"max {figures[f'{name}_max_ms']} ms (goal: p99 < 150 ms)")
        print(f"  touch sounds on: {figures[f'{name}_sounds_played']} played (ticks and numbers spoken, "
              f"{figures[f'{name}_sound_audible_s']} s of sound at the speaker), "
              f"{figures[f'{name}_sounds_dropped']} touches left silent while the speaker was busy")
    print(f"kiosk process RSS (kiosk + pygame screen + this benchmark): {figures['rss_mb']} MiB; "
          f"CPU {figures['kiosk_cpu_s']} s for {2 * args.tickets} tickets")
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
