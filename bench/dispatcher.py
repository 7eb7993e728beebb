"""Dispatcher benchmark, with a real Mosquitto and the real daemon process.

    python bench/dispatcher.py [--calls 1000] [--tickets 2000] [--kiosks 4]

Measures
* the round trip of a counter ``next`` command: from the keypad's publish
  until the counter's new retained state arrives (what the LED display waits
  for), p50 and p99;
* ticket issue throughput: requests answered per second, several kiosks at once;
* the dispatcher's resident memory and CPU time.

Prints readable figures, then one JSON line holding them.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from motcua.client import HallClient  # noqa: E402
from motcua.localbroker import LocalBroker, spawn_dispatcher  # noqa: E402
from motcua.protocol import CallNext, CounterState, new_id  # noqa: E402
from motcua.runtime import RequestTimeout  # noqa: E402

HALL = """
site = "bench"
device_id = "dispatcher"
[hall]
name = "Benchmark hall"
[[hall.areas]]
code = "TP"
name = "Tư pháp - hộ tịch"
prefix = "A"
first_number = 1
last_number = 999999
[[hall.counters]]
number = 1
areas = ["TP"]
[[hall.officers]]
id = "bench"
name = "Cán bộ thử"
# The per-login rate limiter runs on every request, as in a hall; its limits are lifted far above what
# one kiosk or keypad may do there, so that throughput (not the limit) is what gets measured.
[hall.limits]
ticket_issue = { burst = 100000, per_minute = 100000 }
counter_command = { burst = 100000, per_minute = 100000 }
rating = { burst = 100000, per_minute = 100000 }  # bench/rating.py rates 200 in a row
"""


def proc_figures(pid: int) -> tuple[float, float]:
    """(RSS in MiB, user+system CPU seconds) of a process, from /proc."""
    rss = 0.0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) / 1024
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return rss, cpu


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def disk_sync_ms(folder: Path, n: int = 300) -> tuple[float, float]:
    """(p50, p99) of one 4 KiB append made durable (os.fdatasync) in ``folder``: the floor under every
    command's commit on this disk, to read the next figures against (a shared or virtual disk's flush
    time varies with its neighbours, not with our code)."""
    times = []
    path = folder / "sync-probe"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        for _ in range(n):
            t0 = time.perf_counter()
            os.write(fd, b"x" * 4096)
            os.fdatasync(fd)
            times.append((time.perf_counter() - t0) * 1000)
    finally:
        os.close(fd)
        path.unlink()
    return round(statistics.median(times), 2), round(percentile(times, 99), 2)


def wait_for_dispatcher(client: HallClient, area: str = "TP") -> None:
    """The daemon needs a moment to subscribe: take a first ticket, retrying until it answers."""
    command_id = new_id()  # the same id each time, so the retries issue one ticket
    for _ in range(100):
        try:
            client.ticket(area, command_id=command_id, timeout=0.5)
            return
        except RequestTimeout:
            continue
    raise RuntimeError("the dispatcher never answered")


def speaker(work: Path, name: str) -> dict:
    """Touch-sound settings for a benchmark: the sounds really play, through SDL's ``disk`` audio driver
    (a real mixer and audio thread at the device's pace, the samples written to a file instead of a sound
    card: a bench machine has none), so the figures include the cost of sounding every touch."""
    return {"driver": "disk", "device": str(work / f"{name}-speaker.raw")}


def sound_figures(sounds, settings: dict, rate: int = 22050) -> dict[str, float | int]:
    """What the speaker played: cues handed to the mixer, touches left silent, seconds of sound written."""
    path = Path(settings["device"])
    data = path.read_bytes() if path.exists() else b""
    from array import array

    samples = array("h", data[: len(data) // 2 * 2])
    audible = sum(1 for s in samples if s)
    if sounds.error:
        raise RuntimeError(f"touch sounds did not play: {sounds.error}")
    return {"sounds_played": sounds.played, "sounds_dropped": sounds.dropped,
            "sound_audible_s": round(audible / rate, 1)}


def start_bench_hall() -> tuple[Path, LocalBroker, subprocess.Popen]:
    """A real Mosquitto and the real dispatcher with the benchmark hall, in a fresh temporary folder."""
    work = Path(tempfile.mkdtemp(prefix="motcua-bench-"))
    (work / "hall.toml").write_text(HALL, encoding="utf-8")
    broker = LocalBroker(work / "broker").start()
    daemon = spawn_dispatcher(broker, work / "hall.toml", work / "dispatcher.db",
                              env={"MOTCUA_LOG_LEVEL": "WARNING"})
    return work, broker, daemon


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=1000)
    ap.add_argument("--tickets", type=int, default=2000)
    ap.add_argument("--kiosks", type=int, default=4)
    args = ap.parse_args()

    work, broker, daemon = start_bench_hall()
    sync_p50, sync_p99 = disk_sync_ms(work)
    try:
        client = HallClient("bench", mqtt=broker.mqtt("bench-keypad", "operator")).start()
        wait_for_dispatcher(client)

        # ---- ticket throughput: several kiosks asking at once
        per_kiosk = args.tickets // args.kiosks
        kiosks = [HallClient("bench", mqtt=broker.mqtt(f"bench-kiosk-{k}", "kiosk")).start()
                  for k in range(args.kiosks)]
        start = threading.Barrier(args.kiosks + 1)

        def issue(c: HallClient) -> None:
            start.wait()
            for _ in range(per_kiosk):
                assert c.ticket("TP").ok

        threads = [threading.Thread(target=issue, args=(c,)) for c in kiosks]
        for t in threads:
            t.start()
        start.wait()
        t0 = time.perf_counter()
        for t in threads:
            t.join()
        per_s = per_kiosk * args.kiosks / (time.perf_counter() - t0)
        for c in kiosks:
            c.close()

        # ---- next: keypad publish -> new counter state received
        assert client.counter(1, "open", officer="bench").ok
        arrived = threading.Event()
        want: list[str | None] = [None]

        def on_state(state: CounterState, _inbound) -> None:
            if state.current is not None and state.current.ticket_id != want[0]:
                want[0] = state.current.ticket_id
                arrived.set()

        client.runtime.on(client.topics.counter_state(1), CounterState, on_state)
        time.sleep(0.2)  # let the retained state settle before timing
        rss_before, cpu_before = proc_figures(daemon.pid)
        latencies = []
        topic = client.topics.counter_command(1, "next", client.login)
        for _ in range(args.calls):
            arrived.clear()
            t0 = time.perf_counter()
            client.runtime.publish(topic, CallNext(command_id=new_id()), expiry_s=30)
            if not arrived.wait(5):
                raise RuntimeError("no counter state within 5 s")
            latencies.append((time.perf_counter() - t0) * 1000)
        rss, cpu_after = proc_figures(daemon.pid)
        client.close()
    finally:
        daemon.terminate()
        daemon.wait(10)
        broker.stop()

    figures = {
        "next_p50_ms": round(statistics.median(latencies), 2),
        "next_p99_ms": round(percentile(latencies, 99), 2),
        "next_max_ms": round(max(latencies), 2),
        "calls": len(latencies),
        "ticket_per_s": round(per_s, 1),
        "kiosks": args.kiosks,
        "rss_mb": round(rss, 1),
        "cpu_ms_per_next": round((cpu_after - cpu_before) * 1000 / len(latencies), 3),
        "disk_sync_p50_ms": sync_p50,
        "disk_sync_p99_ms": sync_p99,
        "load_average_1min": round(os.getloadavg()[0], 2),
    }
    print(f"counter 'next' -> new counter state, {len(latencies)} calls: "
          f"p50 {figures['next_p50_ms']} ms, p99 {figures['next_p99_ms']} ms, max {figures['next_max_ms']} ms")
    print(f"ticket issue: {figures['ticket_per_s']} tickets/s with {args.kiosks} kiosks asking at once")
    print(f"dispatcher: RSS {figures['rss_mb']} MiB, {figures['cpu_ms_per_next']} ms CPU per 'next'")
    print(f"this disk: a 4 KiB append made durable takes p50 {sync_p50} ms, p99 {sync_p99} ms (each 'next' "
          f"commits once); load average {figures['load_average_1min']}")
    print(json.dumps({"p50_ms": figures["next_p50_ms"], "p99_ms": figures["next_p99_ms"],
                      "per_s": figures["ticket_per_s"], "rss_mb": figures["rss_mb"], **figures}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
