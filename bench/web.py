"""Web service benchmark: 300 citizens' phones and 5 consoles following one hall, live.

    python bench/web.py [--pages 300] [--consoles 5] [--calls 30]

With a real Mosquitto, the real dispatcher and the real ``motcua-web``
process. 300 tickets wait in one area; each phone follows one of them over
Server-Sent Events, each console follows the hall. An officer's ``next``
moves every ticket up one place, so every page gets an update per call.

Measures
* from the officer's ``next`` (sent over MQTT, as the keypad does) until
  each page has its update: p50, p99 and max over every page and call
  (goal: p99 < 250 ms on this machine);
* the web service's resident memory and CPU share, idle with every page
  connected, and during the calls;
* the citizen's page weight: the HTML, its CSS and JS, as sent (gzip) and raw.

Prints readable figures, then one JSON line holding them.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import http.cookiejar
import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.dispatcher import percentile, proc_figures, start_bench_hall, wait_for_dispatcher  # noqa: E402
from motcua.client import HallClient  # noqa: E402
from motcua.localbroker import free_port  # noqa: E402
from web.accounts import add_user  # noqa: E402

PASSWORD = "bench password, long enough"


class Streams:
    """Many SSE connections on one event loop in a thread; records when each one last received an event."""

    def __init__(self, port: int):
        self.port = port
        self.loop = asyncio.new_event_loop()
        self.last: list[float] = []
        self.connected = 0
        self.reconnects = 0
        self.errors: list[str] = []
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def open(self, path: str, cookie: str | None = None) -> None:
        index = len(self.last)
        self.last.append(0.0)
        asyncio.run_coroutine_threadsafe(self._follow(index, path, cookie), self.loop)

    async def _follow(self, index: int, path: str, cookie: str | None) -> None:
        first = True
        while True:  # as a browser's EventSource: reconnect when the server ends the stream
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
                head = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n"
                if not first:
                    head += "Last-Event-ID: 1\r\n"
                writer.write((head + (f"Cookie: {cookie}\r\n" if cookie else "") + "\r\n").encode())
                status = await reader.readline()
                if b" 200 " not in status:
                    self.errors.append(f"{path}: {status.decode().strip()}")
                    return
                if first:
                    self.connected += 1
                    first = False
                else:
                    self.reconnects += 1
                while chunk := await reader.read(65536):
                    if b"event: state" in chunk or b"event: section" in chunk:
                        self.last[index] = time.perf_counter()
                    if chunk.endswith(b"\r\n0\r\n\r\n") or chunk == b"0\r\n\r\n":  # the response ended
                        break
                writer.close()
            except OSError as exc:
                self.errors.append(f"{path}: {exc}")
                return
            await asyncio.sleep(2.0)  # the stream's own 'retry: 2000'

    def stop(self) -> None:
        async def close() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)


def fetch(url: str, gzip_ok: bool, cookie_jar=None) -> tuple[int, bytes]:
    req = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"} if gzip_ok else {})
    with urllib.request.urlopen(req, timeout=10) as r:
        body = r.read()
        return len(body), (gzip.decompress(body) if r.headers.get("content-encoding") == "gzip" else body)


def page_weight(base: str, token: str) -> dict:
    sizes = {"gzip": 0, "raw": 0}
    size, html = fetch(f"{base}/ve/{token}", True)
    sizes["gzip"] += size
    sizes["raw"] += len(fetch(f"{base}/ve/{token}", False)[1])
    for asset in re.findall(r'(?:href|src)="(/static/[^"]+)"', html.decode()):
        sizes["gzip"] += fetch(base + asset, True)[0]
        sizes["raw"] += len(fetch(base + asset, False)[1])
    return sizes


def console_cookie(base: str) -> str:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    html = opener.open(base + "/login", timeout=10).read().decode()
    csrf = re.search(r'name="csrf" value="([^"]+)"', html).group(1)
    form = urllib.parse.urlencode({"csrf": csrf, "username": "bench.sup", "password": PASSWORD}).encode()
    opener.open(base + "/login", data=form, timeout=10).read()
    return "; ".join(f"{c.name}={c.value}" for c in jar)


def cpu_share(pid: int, seconds: float) -> float:
    _, cpu0 = proc_figures(pid)
    t0 = time.monotonic()
    time.sleep(seconds)
    return 100.0 * (proc_figures(pid)[1] - cpu0) / (time.monotonic() - t0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pages", type=int, default=300)
    ap.add_argument("--consoles", type=int, default=5)
    ap.add_argument("--calls", type=int, default=30)
    args = ap.parse_args()

    work, broker, daemon = start_bench_hall()
    web = streams = client = None
    try:
        client = HallClient("bench", mqtt=broker.mqtt("bench-keypad", "operator")).start()
        wait_for_dispatcher(client)
        assert client.counter(1, "open", officer="bench").ok
        while client.counter(1, "next").ok:  # start from an empty queue
            pass
        tokens = [client.ticket("TP").tracking_token for _ in range(args.pages)]

        add_user(work / "web-users.json", "bench.sup", PASSWORD, "supervisor")
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("MOTCUA_")}
        env.update(broker.env("web-1", "web"))
        env.update(MOTCUA_SITE="bench", MOTCUA_DEVICE_ID="web-1", MOTCUA_LISTEN_PORT=str(port),
                   MOTCUA_DATABASE=str(work / "dispatcher.db"), MOTCUA_USERS_FILE=str(work / "web-users.json"),
                   MOTCUA_SECRET_FILE=str(work / "web-secret"), MOTCUA_AUDIT_FILE=str(work / "audit.jsonl"),
                   MOTCUA_LOG_LEVEL=os.environ.get("BENCH_WEB_LOG_LEVEL", "WARNING"))
        with open(work / "web.log", "w") as log:
            web = subprocess.Popen([sys.executable, "-m", "web"], env=env, cwd=REPO, stdout=log,
                                   stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if urllib.request.urlopen(base + "/healthz", timeout=1).status == 200:
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError((work / "web.log").read_text()) from None
                time.sleep(0.1)
        rss_empty, _ = proc_figures(web.pid)

        streams = Streams(port)
        cookie = console_cookie(base)
        for _ in range(args.consoles):
            streams.open("/console/events", cookie)
        for token in tokens:
            streams.open(f"/ve/{token}/events")
        total = args.consoles + args.pages
        deadline = time.monotonic() + 60
        while streams.connected + len(streams.errors) < total and time.monotonic() < deadline:
            time.sleep(0.05)
        if streams.errors:
            raise RuntimeError(f"{len(streams.errors)} pages failed: {streams.errors[:3]}")
        time.sleep(1.0)
        rss_idle, _ = proc_figures(web.pid)
        cpu_idle = cpu_share(web.pid, 5.0)

        # when the dispatcher's new counter state reaches an MQTT subscriber: the web service's share of
        # the latency starts there (the rest is the dispatcher's transaction and the broker)
        state_seen: list[float] = []
        client.runtime.on_raw(client.topics.counter_state(1), lambda msg: state_seen.append(time.perf_counter()))
        latencies: list[float] = []
        from_publish: list[float] = []
        missed = 0
        _, cpu0 = proc_figures(web.pid)
        t_start = time.monotonic()
        for k in range(args.calls):
            # call k finishes ticket k-1 and calls ticket k; every later one moves up: all of those pages
            # change, and every console (streams 0..consoles-1, then the phones in ticket order)
            expected = list(range(args.consoles)) + [args.consoles + i for i in range(max(0, k - 1), args.pages)]
            t0 = time.perf_counter()
            assert client.counter(1, "next").ok
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and min(streams.last[i] for i in expected) < t0:
                time.sleep(0.002)
            got = [streams.last[i] - t0 for i in expected if streams.last[i] >= t0]
            published = next((t for t in state_seen if t >= t0), None)
            if published is not None:
                from_publish += [streams.last[i] - published for i in expected if streams.last[i] >= t0]
            missed += len(expected) - len(got)
            latencies += got
            time.sleep(0.1)
        cpu_burst = 100.0 * (proc_figures(web.pid)[1] - cpu0) / (time.monotonic() - t_start)
        rss_burst, _ = proc_figures(web.pid)
        weight = page_weight(base, tokens[-1])

        ms = [x * 1000 for x in latencies]
        pub_ms = [x * 1000 for x in from_publish] or [0.0]
        load = os.getloadavg()[0]
        figures = {
            "bench": "web", "pages": args.pages, "consoles": args.consoles, "calls": args.calls,
            "updates": len(ms), "missed": missed, "reconnects": streams.reconnects,
            "update_p50_ms": round(percentile(ms, 50), 1), "update_p99_ms": round(percentile(ms, 99), 1),
            "update_max_ms": round(max(ms), 1),
            "from_publish_p50_ms": round(percentile(pub_ms, 50), 1), "from_publish_p99_ms": round(percentile(pub_ms, 99), 1),
            "load_average": round(load, 1),
            "rss_mb_no_pages": round(rss_empty, 1), "rss_mb_idle": round(rss_idle, 1),
            "rss_mb_burst": round(rss_burst, 1), "cpu_pct_idle": round(cpu_idle, 1),
            "cpu_pct_burst": round(cpu_burst, 1),
            "citizen_page_bytes_gzip": weight["gzip"], "citizen_page_bytes_raw": weight["raw"],
        }
        print(f"{args.pages} phones + {args.consoles} consoles, {args.calls} calls, each moving every ticket up:")
        print(f"  call -> page updated   p50 {figures['update_p50_ms']} ms, p99 {figures['update_p99_ms']} ms, "
              f"max {figures['update_max_ms']} ms over {len(ms)} updates ({missed} missed, {streams.reconnects} streams "
              "dropped as too slow and reopened; goal p99 < 250 ms)")
        print(f"  state published -> page p50 {figures['from_publish_p50_ms']} ms, p99 {figures['from_publish_p99_ms']} ms "
              f"(the web service's share: from the dispatcher's counter state reaching a subscriber)")
        print(f"  machine load average   {load:.1f} (this machine has {os.cpu_count()} cores)")
        print(f"  motcua-web RSS         {rss_empty:.1f} MB with no page, {rss_idle:.1f} MB with every page open, "
              f"{rss_burst:.1f} MB after the calls")
        print(f"  motcua-web CPU         {cpu_idle:.1f} % idle, {cpu_burst:.1f} % during the calls "
              f"(one call every ~{(time.monotonic() - t_start) / args.calls * 1000:.0f} ms)")
        print(f"  citizen's page weight  {weight['gzip']} bytes as sent (gzip), {weight['raw']} raw "
              "(HTML + CSS + JS; no font, no image)")
        print(json.dumps(figures))
        return 0 if missed == 0 else 1
    finally:
        if streams is not None:
            streams.stop()
        if client is not None:
            client.close()
        if web is not None:
            web.terminate()
            try:
                web.wait(10)
            except subprocess.TimeoutExpired:
                web.kill()
        daemon.terminate()
        daemon.wait(10)
        broker.stop()


if __name__ == "__main__":
    sys.exit(main())
