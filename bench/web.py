"""Web service benchmark: 300 citizens' phones and 5 consoles following one hall, live.

    python bench/web.py [--pages 300] [--consoles 5] [--calls 30]

With a real Mosquitto, the real dispatcher and the real ``motcua-web``
process. 300 tickets wait in one area; each phone follows one of them over
Server-Sent Events, each console follows the hall. An officer's ``next``
moves every ticket up one place, so every page gets an update per call.

Measures
* from the officer's ``next`` (sent over MQTT, as the keypad does) until
  each page shows what it must (the called phone "Mời Ông/Bà đến quầy số 1",
  each waiting phone its new place, every console the call): p50, p99 and
  max over every page and call (goal: p99 < 250 ms on this machine); a page
  that does not show it within 5 s is counted missed;
* the web service's resident memory and CPU share, idle with every page
  connected, and during the calls (and its CPU time per call);
* the citizen's page weight: the HTML, its CSS and JS, as sent (gzip) and raw.

Prints readable figures, then one JSON line holding them. With
``BENCH_WEB_PROFILE=FILE`` the service runs under cProfile and leaves its
profile there.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
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
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.dispatcher import percentile, proc_figures, start_bench_hall, wait_for_dispatcher  # noqa: E402
from motcua.client import HallClient  # noqa: E402
from motcua.localbroker import free_port, stop_process  # noqa: E402
from web.accounts import add_user  # noqa: E402

PASSWORD = "bench password, long enough"


class Streams:
    """Many SSE connections on one event loop in a thread, read as a browser's EventSource reads them.

    For each call the bench says what every page must show (:meth:`expect`); a page counts as updated when
    an event with that content arrives, timed from the call: a console redrawn by an unrelated later
    event (a device's health, the hall's figures) does not count, and a page that got an event but the
    wrong content is missed.
    """

    def __init__(self, port: int):
        self.port = port
        self.loop = asyncio.new_event_loop()
        self.connected = 0
        self.reconnects = 0
        self.errors: list[str] = []
        self.paths: list[str] = []
        # asyncio keeps only weak references to tasks, and a client stream's protocol holds its reader
        # weakly: an idle stream's task is a garbage cycle unless someone keeps it (a collected one stops
        # reading and its page looks "missed" for the rest of the run).
        self._tasks: list[concurrent.futures.Future] = []
        self._pending: dict[int, Callable[[str, str], bool]] = {}
        self.arrived: dict[int, float] = {}
        self.all_arrived = threading.Event()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def open(self, path: str, cookie: str | None = None) -> None:
        self.paths.append(path)
        self._tasks.append(asyncio.run_coroutine_threadsafe(self._follow(len(self.paths) - 1, path, cookie),
                                                            self.loop))

    def expect(self, checks: dict[int, Callable[[str, str], bool]]) -> None:
        """From now on, time when each page (by index) receives an event its check accepts."""
        def arm() -> None:
            self.arrived = {}
            self._pending = dict(checks)
            self.all_arrived.clear()
        self.loop.call_soon_threadsafe(arm)
        done = threading.Event()
        self.loop.call_soon_threadsafe(done.set)
        done.wait(10)

    def _event(self, index: int, event: str, data: str) -> None:
        check = self._pending.get(index)
        if check is not None and check(event, data):
            self.arrived[index] = time.perf_counter()
            del self._pending[index]
            if not self._pending:
                self.all_arrived.set()

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
                chunked = False
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    chunked |= line.lower().startswith(b"transfer-encoding:") and b"chunked" in line.lower()
                if not chunked:
                    self.errors.append(f"{path}: the stream is not chunked")
                    return
                if first:
                    self.connected += 1
                    first = False
                else:
                    self.reconnects += 1
                buf = b""
                while size := int((await reader.readline()).split(b";")[0] or b"0", 16):
                    buf += (await reader.readexactly(size + 2))[:-2]
                    *blocks, buf = buf.split(b"\n\n")
                    for block in blocks:
                        fields = dict(line.split(": ", 1) for line in block.decode().split("\n")
                                      if ": " in line and not line.startswith(":"))
                        if "data" in fields:
                            self._event(index, fields.get("event", "message"), fields["data"])
                writer.close()
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                self.errors.append(f"{path}: {exc!r}")
                return
            await asyncio.sleep(2.0)  # the stream's own 'retry: 2000'

    def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        concurrent.futures.wait(self._tasks, timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def phone_shows(status: str, **fields) -> Callable[[str, str], bool]:
    def check(event: str, data: str) -> bool:
        if event != "state":
            return False
        state = json.loads(data)
        return state["status"] == status and all(state.get(k) == v for k, v in fields.items())
    return check


def console_shows_call(number: str) -> Callable[[str, str], bool]:
    def check(event: str, data: str) -> bool:
        if event != "section":
            return False
        section = json.loads(data)
        return section["s"] == "calls" and f"<b>{number}</b>" in section["html"]
    return check


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
        issued = [client.ticket("TP") for _ in range(args.pages)]
        tokens = [r.tracking_token for r in issued]
        numbers = [r.ticket.number for r in issued]

        add_user(work / "web-users.json", "bench.sup", PASSWORD, "supervisor")
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("MOTCUA_")}
        env.update(broker.env("web-1", "web"))
        env.update(MOTCUA_SITE="bench", MOTCUA_DEVICE_ID="web-1", MOTCUA_LISTEN_PORT=str(port),
                   MOTCUA_DATABASE=str(work / "dispatcher.db"), MOTCUA_USERS_FILE=str(work / "web-users.json"),
                   MOTCUA_SECRET_FILE=str(work / "web-secret"), MOTCUA_AUDIT_FILE=str(work / "audit.jsonl"),
                   MOTCUA_LOG_LEVEL=os.environ.get("BENCH_WEB_LOG_LEVEL", "WARNING"))
        with open(work / "web.log", "w") as log:
            profile = os.environ.get("BENCH_WEB_PROFILE")  # a file: the service runs under cProfile
            cmd = ["-m", "cProfile", "-o", profile, "-m", "web"] if profile else ["-m", "web"]
            web = subprocess.Popen([sys.executable, *cmd], env=env, cwd=REPO, stdout=log,
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
            # call k finishes ticket k-1 and calls ticket k; every later one moves up a place. What each page
            # must then show: every console the call of ticket k; phone k "Mời Ông/Bà đến quầy số 1"; phone
            # k-1 served; phone i > k, i-k-1 people ahead of it. Consoles are streams 0..consoles-1, then
            # the phones in ticket order.
            checks = {c: console_shows_call(numbers[k]) for c in range(args.consoles)}
            if k >= 1:
                checks[args.consoles + k - 1] = phone_shows("done")
            checks[args.consoles + k] = phone_shows("called", counter=1, line="Mời Ông/Bà đến quầy số 1")
            checks |= {args.consoles + i: phone_shows("waiting", ahead=i - k - 1) for i in range(k + 1, args.pages)}
            streams.expect(checks)
            t0 = time.perf_counter()
            assert client.counter(1, "next").ok
            streams.all_arrived.wait(5.0)
            arrived = dict(streams.arrived)
            latencies += [arrived[i] - t0 for i in checks if i in arrived]
            published = next((t for t in state_seen if t >= t0), None)
            if published is not None:
                from_publish += [arrived[i] - published for i in checks if i in arrived]
            if len(arrived) < len(checks):
                late = sorted(streams.paths[i] for i in checks if i not in arrived)
                print(f"  call {k + 1}: {len(late)} pages did not show it within 5 s, e.g. {late[:3]}", file=sys.stderr)
            missed += len(checks) - len(arrived)
            time.sleep(0.1)
        cpu_calls = proc_figures(web.pid)[1] - cpu0
        cpu_burst = 100.0 * cpu_calls / (time.monotonic() - t_start)
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
            "cpu_pct_burst": round(cpu_burst, 1), "cpu_ms_per_call": round(1000 * cpu_calls / max(1, args.calls), 1),
            "citizen_page_bytes_gzip": weight["gzip"], "citizen_page_bytes_raw": weight["raw"],
        }
        print(f"{args.pages} phones + {args.consoles} consoles, {args.calls} calls, each moving every ticket up:")
        print(f"  call -> page updated   p50 {figures['update_p50_ms']} ms, p99 {figures['update_p99_ms']} ms, "
              f"max {figures['update_max_ms']} ms over {len(ms)} updates ({missed} missed, {streams.reconnects} streams "
              "ended by the service and reopened; goal p99 < 250 ms)")
        print(f"  state published -> page p50 {figures['from_publish_p50_ms']} ms, p99 {figures['from_publish_p99_ms']} ms "
              f"(the web service's share: from the dispatcher's counter state reaching a subscriber)")
        print(f"  machine load average   {load:.1f} (this machine has {os.cpu_count()} cores)")
        print(f"  motcua-web RSS         {rss_empty:.1f} MB with no page, {rss_idle:.1f} MB with every page open, "
              f"{rss_burst:.1f} MB after the calls")
        print(f"  motcua-web CPU         {cpu_idle:.1f} % idle, {cpu_burst:.1f} % during the calls "
              f"(one call every ~{(time.monotonic() - t_start) / args.calls * 1000:.0f} ms); "
              f"{figures['cpu_ms_per_call']} ms of CPU per call")
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
            stop_process(web)
        stop_process(daemon)
        broker.stop()


if __name__ == "__main__":
    sys.exit(main())
