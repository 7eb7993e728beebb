"""Announcer benchmark, with a real Mosquitto.

    python bench/announce.py [--calls 200] [--idle-s 10]

Measures
* latency: from a call event published on the broker to the first audio sample
  handed to pygame.mixer (``Sound.play``), p50 and p99 over ``--calls`` calls.
  The announcer runs in this process (SDL dummy audio driver) with the default
  voice pack, so words, clip lookup, rendering and the mixer hand-off are the
  real ones. Each call is published when the previous one has finished, so no
  call waits behind another (queueing is policy, not latency), and playback is
  cut right after the hand-off so 200 calls take seconds rather than the
  twenty minutes of speech they would fill;
* the real daemon (``python -m announcer``) as a separate process, after it has
  spoken one call: its idle CPU share over ``--idle-s`` seconds and its RSS.

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
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")


from announcer import voicepack as vp  # noqa: E402
from announcer.audio import Player  # noqa: E402
from announcer.config import DEFAULT_PACK, AnnouncerSettings  # noqa: E402
from announcer.service import AnnouncerService, Played  # noqa: E402
from motcua.localbroker import LocalBroker  # noqa: E402
from motcua.protocol import CallEvent, Topics  # noqa: E402


def percentile(values: list[float], p: float) -> float:
    s = sorted(values)
    k = (len(s) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


class CuttingPlayer(Player):
    """The real player, stopped right after the hand-off (outside the measured path)."""

    def play(self, rendered, volume=1.0, stop=None):
        cut = threading.Event()
        self.on_handed.append(lambda t: cut.set())
        try:
            super().play(rendered, volume, cut)
        finally:
            self.on_handed.pop()


def pack_for_bench(tmp: Path) -> tuple[Path, str]:
    if (DEFAULT_PACK / vp.MANIFEST).is_file():
        return DEFAULT_PACK, "default (espeak-ng)"
    if vp.espeak_binary():
        vp.build(tmp / "pack")
        return tmp / "pack", "espeak-ng, built for the benchmark"
    vp.synthetic(tmp / "pack", vp.required_words(), rate=22050, word_ms=300)
    return tmp / "pack", "synthetic tones (espeak-ng not installed)"


def proc_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=200)
    ap.add_argument("--idle-s", type=float, default=10.0)
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="motcua-bench-announce-"))
    broker = LocalBroker(tmp / "broker").start()
    pack, pack_kind = pack_for_bench(tmp)
    site = "bench"
    topics = Topics(site)
    pub = broker.client("bench-dispatcher", "dispatcher")  # publishes call events as the dispatcher does
    pub.connect("127.0.0.1", broker.port)
    pub.loop_start()
    try:
        # ---------------------------------------------------------------- latency, in process
        settings = AnnouncerSettings(site=site, device_id="announcer-bench",
                                     mqtt=broker.mqtt("announcer-bench", "announcer"),
                                     voice={"pack": pack}, audio={"driver": "dummy"}, queue={"max_age_s": 600})
        service = AnnouncerService(settings, player=CuttingPlayer(vp.VoicePack(pack).rate, "dummy"))
        handed: dict[str, float] = {}
        done = threading.Condition()

        def on_handed(p: Played) -> None:
            with done:
                handed[p.call.ticket_id] = time.perf_counter()
                done.notify_all()

        service.on_handed.append(on_handed)
        service.start()
        if not service.runtime.wait_connected(10):
            raise RuntimeError("announcer did not connect")
        time.sleep(0.3)  # its subscription settles (once, before measuring)
        latencies, audio_s = [], []
        for i in range(args.calls + 5):  # the first 5 warm caches and are not counted
            number = f"A{1000 + i}"
            ev = CallEvent(ticket_id=f"bench-{i}", number=number, area="TP", counter=1 + i % 9,
                           counter_name="Quầy", call_count=1)
            payload = ev.to_json()
            t0 = time.perf_counter()
            pub.publish(topics.call_event, payload, qos=1)
            with done:
                if not done.wait_for(lambda ev=ev: ev.ticket_id in handed, 5):
                    raise RuntimeError(f"call {number} not handed to the mixer within 5 s")
            if i >= 5:
                latencies.append((handed[ev.ticket_id] - t0) * 1000)
            if not service.wait_idle(5):
                raise RuntimeError("announcer did not go idle")
            audio_s.append(service.history[-1].rendered.duration_s)
        service.stop()

        # ---------------------------------------------------------------- the daemon: idle CPU, RSS
        cfg = tmp / "announcer.toml"
        cfg.write_text(f'site = "{site}"\ndevice_id = "announcer-proc"\nlog_level = "WARNING"\n'
                       f'[mqtt]\nport = {broker.port}\n'
                       f'password = "{broker.mqtt("announcer-proc", "announcer").resolved_password()}"\n[voice]\npack = "{pack}"\n[audio]\ndriver = "dummy"\n',
                       encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith("MOTCUA_")}
        daemon = subprocess.Popen([sys.executable, "-m", "announcer", "--config", str(cfg)], env=env, cwd=REPO)
        state_seen = threading.Event()
        watch = broker.client("bench-watch", "operator")
        watch.on_connect = lambda c, *_: c.subscribe(topics.state("announcer-proc"), qos=1)
        watch.on_message = lambda c, u, m: (json.loads(m.payload).get("last_called") and state_seen.set())
        watch.connect("127.0.0.1", broker.port)
        watch.loop_start()
        try:
            online = threading.Event()
            pub.message_callback_add(topics.availability("announcer-proc"),
                                      lambda c, u, m: m.payload == b"online" and online.set())
            pub.subscribe(topics.availability("announcer-proc"), qos=1)
            if not online.wait(20):
                raise RuntimeError("daemon did not come online")
            time.sleep(0.3)
            ev = CallEvent(ticket_id="bench-daemon", number="A1023", area="TP", counter=5, counter_name="Quầy 5",
                           call_count=1)
            pub.publish(topics.call_event, ev.to_json(), qos=1)
            if not state_seen.wait(60):
                raise RuntimeError("daemon did not announce")
            cpu0, w0 = proc_cpu_s(daemon.pid), time.monotonic()
            time.sleep(args.idle_s)
            idle_cpu = (proc_cpu_s(daemon.pid) - cpu0) / (time.monotonic() - w0) * 100
            rss = proc_rss_mb(daemon.pid)
        finally:
            watch.loop_stop()
            watch.disconnect()
            daemon.terminate()
            daemon.wait(15)
    finally:
        pub.loop_stop()
        pub.disconnect()
        broker.stop()

    p50, p99 = statistics.median(latencies), percentile(latencies, 99)
    print(f"voice pack: {pack_kind} ({pack})")
    print(f"call event published -> first sample handed to the mixer, {len(latencies)} calls: "
          f"p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {max(latencies):.1f} ms "
          f"(announcements of {statistics.median(audio_s):.1f} s of audio each)")
    print(f"daemon idle: {idle_cpu:.2f} % of one CPU over {args.idle_s:g} s; RSS {rss:.1f} MiB")
    print(json.dumps({"p50_ms": round(p50, 2), "p99_ms": round(p99, 2), "idle_cpu_pct": round(idle_cpu, 2),
                      "rss_mb": round(rss, 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
