"""Province benchmark: N halls' brokers bridged to one province broker, a busy day replayed at speed.

    python bench/province.py [--sites 150] [--tickets 1500] [--ratings 1000] [--day-seconds 600]
                             [--collectors 2] [--publishers 2]

Real processes throughout: one Mosquitto per hall (the development config
plus ``broker_config/bridge`` rendered for that hall, MQTT v5, TLS, its own
identity), the province's Mosquitto (``broker_config/province``), the
collector daemons (``motcua-province-collector``, sharing the load through a
shared subscription) and a PostgreSQL cluster (``initdb``/``pg_ctl``, fsync
on, ``track_commit_timestamp`` on).

Each hall replays what its dispatcher sends up in a busy day: per ticket the
``issued``, ``called`` and ``finished`` ticket events, the call event and
the ticket outcome; per rating the accepted-rating event; spread over
``--day-seconds`` (a 9-hour day compressed). Every event carries the time it
was published at the hall; PostgreSQL records when the transaction that
stored its row committed. Latency = commit time - publish time, for every
event.

Prints figures, then one JSON line: latency p50/p99/max, collector
throughput (events/s, sustained and peak per second), collectors' RSS,
province broker CPU, rows stored vs sent (exactly once).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import random
import resource
import shutil
import socket
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import psycopg  # noqa: E402

from motcua.protocol import CallEvent, RatingEvent, Ticket, TicketEvent, TicketOutcome, Topics  # noqa: E402
from motcua.localbroker import free_port  # noqa: E402
from province.localpg import LocalPostgres  # noqa: E402
from province.stand_in import BridgedSite, ProvinceBroker, spawn_collector  # noqa: E402

PLACEHOLDER = datetime(1999, 1, 1, tzinfo=timezone.utc)
PLACEHOLDER_JSON = b'"at":"1999-01-01T00:00:00Z"'
DAY = date(2026, 3, 2)


# --------------------------------------------------------------------------- the day each hall replays


def hall_day(site: str, tickets: int, ratings: int, seed: int) -> list[tuple[float, str, bytes]]:
    """(fraction of the day, topic, payload with a placeholder time) for one hall, in time order."""
    rnd = random.Random(seed)
    topics = Topics(site)
    out: list[tuple[float, str, bytes]] = []
    base = datetime(2026, 3, 2, 0, 30, tzinfo=timezone.utc)
    for n in range(tickets):
        start = rnd.random() * 0.9
        issued = base + timedelta(hours=9 * start)
        called = issued + timedelta(minutes=rnd.randint(1, 40))
        finished = called + timedelta(minutes=rnd.randint(2, 15))
        counter = 1 + n % 8
        t = Ticket(ticket_id=f"20260302-TP-{1001 + n}", number=f"A{1001 + n}", area="TP", day=DAY,
                   status="waiting", issued_at=issued)
        tc = t.model_copy(update={"status": "called", "called_at": called, "counter": counter})
        td = tc.model_copy(update={"status": "done", "finished_at": finished})
        at_call, at_done = start + 0.04 * rnd.random(), start + 0.05 + 0.04 * rnd.random()
        events = [
            (start, topics.ticket_event, TicketEvent(at=PLACEHOLDER, kind="issued", ticket=t)),
            (at_call, topics.call_event, CallEvent(at=PLACEHOLDER, ticket_id=t.ticket_id, number=t.number, area="TP",
                                                   counter=counter, counter_name=f"Quầy {counter}", call_count=1)),
            (at_call, topics.ticket_event, TicketEvent(at=PLACEHOLDER, kind="called", ticket=tc, counter=counter)),
            (at_done, topics.ticket_event, TicketEvent(at=PLACEHOLDER, kind="finished", ticket=td, counter=counter)),
            (at_done, topics.outcome_event, TicketOutcome(at=PLACEHOLDER, outcome="done", ticket=td, issue_area="TP",
                                                          officer=f"officer{counter}",
                                                          wait_min=(called - issued).total_seconds() / 60,
                                                          service_min=(finished - called).total_seconds() / 60)),
        ]
        if n < ratings:
            events.append((at_done + 0.001, topics.rating_event, RatingEvent(
                at=PLACEHOLDER, rating_id=f"r{seed:05d}x{n:06d}", ticket_id=t.ticket_id, counter=counter, area="TP",
                officer=f"officer{counter}", level=rnd.choice(["very_satisfied", "satisfied", "satisfied",
                                                                "unsatisfied"]),
                rated_at=finished, pad=f"pad-{counter}", service_day=DAY)))
        out += [(when, topic, ev.to_json()) for when, topic, ev in events]
    out.sort(key=lambda e: e[0])
    return out


# --------------------------------------------------------------------------- publisher processes


def publisher(sites: list[tuple[str, int, str]], tickets: int, ratings: int, day_s: float, t0: float,
              ready: mp.Queue, done: mp.Queue) -> None:
    """Publish every hall's day to its own broker, each event stamped with the time it leaves."""
    import paho.mqtt.client as mqtt

    clients, timeline = {}, []
    for site, port, password, seed in sites:
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="dispatcher", protocol=mqtt.MQTTv5)
        c.username_pw_set("dispatcher", password)
        c.max_inflight_messages_set(200)
        c.max_queued_messages_set(0)
        c.connect("127.0.0.1", port)
        c.loop_start()
        clients[site] = c
        timeline += [(when, site, topic, payload) for when, topic, payload in
                     hall_day(site, tickets, ratings, seed=seed)]
    timeline.sort(key=lambda e: e[0])
    ready.put(len(timeline))
    while not t0.value or time.time() < t0.value:  # type: ignore[attr-defined]
        time.sleep(0.01)  # until the parent says when the day starts
    start = t0.value  # type: ignore[attr-defined]
    late = 0.0
    for when, site, topic, payload in timeline:
        due = start + when * day_s
        wait = due - time.time()
        if wait > 0.002:
            time.sleep(wait)
        else:
            late = max(late, -wait)
        stamp = datetime.now(timezone.utc).isoformat().replace("+00:00", "Z").encode()
        clients[site].publish(topic, payload.replace(PLACEHOLDER_JSON, b'"at":"' + stamp + b'"'), qos=1)
    time.sleep(2)
    for c in clients.values():
        c.disconnect()
        c.loop_stop()
    done.put(late)


# --------------------------------------------------------------------------- process figures


def province_observer(province: ProvinceBroker, login: str, out: list[float]):
    """A plain subscriber (not in the collectors' group) timing each outcome event's arrival at the province."""
    import paho.mqtt.client as mqtt

    cfg = province.mqtt(login)
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=login, protocol=mqtt.MQTTv5)
    c.username_pw_set(login, cfg.resolved_password())
    c.tls_set(ca_certs=str(cfg.ca_file))

    def on_message(client, userdata, msg):
        at = json.loads(msg.payload)["at"]
        out.append((time.time() - datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp()) * 1000)

    c.on_message = on_message
    c.on_connect = lambda client, *a: client.subscribe("motcua/v1/+/event/outcome", qos=0)
    c.connect("127.0.0.1", province.port)
    c.loop_start()
    return c


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int, key: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def distinct_ports(n: int) -> list[int]:
    """n free loopback ports, all different (each held until all are chosen)."""
    held = []
    for _ in range(n):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        held.append(sock)
    ports = [sock.getsockname()[1] for sock in held]
    for sock in held:
        sock.close()
    return ports


def percentile(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sites", type=int, default=150)
    ap.add_argument("--tickets", type=int, default=1500, help="tickets per hall in the day")
    ap.add_argument("--ratings", type=int, default=1000, help="accepted ratings per hall in the day")
    ap.add_argument("--day-seconds", type=float, default=600, help="the 9-hour day is replayed in this many seconds")
    ap.add_argument("--collectors", type=int, default=2)
    ap.add_argument("--publishers", type=int, default=2, help="processes publishing the halls' events")
    ap.add_argument("--observe", action="store_true",
                    help="also time the outcome events' arrival at the province broker (one more subscriber)")
    ap.add_argument("--batch-max", type=int, default=None, help="collector setting batch_max")
    ap.add_argument("--receive-maximum", type=int, default=None, help="collector setting receive_maximum")
    args = ap.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = 64 + 8 * args.sites
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(need, 4096)), hard))
    work = Path(tempfile.mkdtemp(prefix="motcua-province-bench-"))
    work.chmod(0o755)
    names = [f"hall-{i:03d}" for i in range(args.sites)]
    readers = tuple(f"collector-{i + 1}" for i in range(args.collectors))
    pg = LocalPostgres(work / "pg", settings={"track_commit_timestamp": "on", "shared_buffers": "256MB",
                                               "max_wal_size": "2GB"})
    province = ProvinceBroker(work / "province", names, readers=(*readers, "observer"), writers=(),
                              extra_config="max_queued_messages 0\n")
    sites = [BridgedSite(work / name, name, province) for name in names]
    for s, port in zip(sites, distinct_ports(len(sites))):
        s.broker.port = port
    collectors, figures = [], {}
    try:
        t = time.monotonic()
        pg.start()
        dsn = pg.create_database("province")
        province.start()
        logins = [s.broker.mqtt("dispatcher", "dispatcher").resolved_password() for s in sites]
        # collectors first: the bridges' "connected" notices are live messages, not retained, on a shared subscription
        for name in readers:
            tuning = {k: str(v) for k, v in (("batch_max", args.batch_max), ("receive_maximum", args.receive_maximum))
                      if v is not None}
            tuning["stats_interval_s"] = "10"
            collectors.append(spawn_collector(province, dsn, name, work / f"{name}.log", **tuning))
        deadline = time.monotonic() + 60
        while not all("subscribed" in (work / f"{name}.log").read_text() for name in readers):
            if time.monotonic() > deadline:
                raise RuntimeError("the collectors did not subscribe within 60 s")
            time.sleep(0.1)  # collectors starting; bounded by the deadline
        for s in sites:
            for _ in range(5):  # a port chosen at set-up may have been taken since (150 brokers, busy machine)
                try:
                    s.start()
                    break
                except RuntimeError as exc:
                    if "already in use" not in str(exc):
                        raise
                    s.broker.port = free_port()
        with psycopg.connect(dsn, autocommit=True) as db:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                try:
                    up = db.execute("SELECT count(*) FROM devices WHERE device_id = 'bridge' "
                                    "AND availability = 'online'").fetchone()[0]
                except psycopg.Error:
                    up = 0
                if up >= args.sites:
                    break
                time.sleep(0.5)  # bridges connecting; bounded by the deadline
            else:
                raise RuntimeError(f"only {up} of {args.sites} bridges came up within 120 s")
        setup_s = time.monotonic() - t
        print(f"{args.sites} hall brokers bridged to the province broker, {args.collectors} collectors, "
              f"PostgreSQL up in {setup_s:.1f} s", flush=True)

        observed: list[float] = []
        observer = province_observer(province, "observer", observed) if args.observe else None
        ctx = mp.get_context("fork")
        ready, done = ctx.Queue(), ctx.Queue()
        t0 = ctx.Value("d", 0.0)
        chunks = [list(zip(names, (s.broker.port for s in sites), logins, range(len(names))))[i::args.publishers]
                  for i in range(args.publishers)]
        procs = [ctx.Process(target=publisher, args=(chunk, args.tickets, args.ratings, args.day_seconds, t0,
                                                     ready, done)) for chunk in chunks]
        for p in procs:
            p.start()
        sent = sum(ready.get(timeout=600) for _ in procs)
        with psycopg.connect(dsn, autocommit=True) as db:
            before = db.execute("SELECT count(*) FROM events").fetchone()[0]
        broker_pid = province.broker.proc.pid
        cpu0 = {"broker": cpu_s(broker_pid), **{f"c{i}": cpu_s(c.pid) for i, c in enumerate(collectors)},
                "sites": sum(cpu_s(s.broker.proc.pid) for s in sites), "pg": 0.0}
        t0.value = time.time() + 1.0
        wall0 = time.monotonic()
        print(f"replaying {sent} events ({sent / args.sites:.0f} per hall) over {args.day_seconds:.0f} s", flush=True)
        late = max(done.get(timeout=args.day_seconds + 900) for _ in procs)
        load = os.getloadavg()  # the machine while the day was replayed (1, 5, 15 minutes)
        for p in procs:
            p.join()
        with psycopg.connect(dsn, autocommit=True) as db:
            deadline = time.monotonic() + 300
            while db.execute("SELECT count(*) FROM events").fetchone()[0] < before + sent:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.5)  # the last batches committing; bounded by the deadline
        wall = time.monotonic() - wall0 - 1.0
        if observer is not None:
            observer.disconnect()
            observer.loop_stop()
        cpu = {"broker": cpu_s(broker_pid) - cpu0["broker"],
               "collectors": sum(cpu_s(c.pid) - cpu0[f"c{i}"] for i, c in enumerate(collectors)),
               "sites": sum(cpu_s(s.broker.proc.pid) for s in sites) - cpu0["sites"]}
        rss = [rss_mb(c.pid) for c in collectors]
        hwm = [rss_mb(c.pid, "VmHWM") for c in collectors]
        with psycopg.connect(dsn, autocommit=True) as db:
            stored = db.execute("SELECT count(*) FROM events").fetchone()[0] - before
            rows = db.execute(
                "SELECT EXTRACT(EPOCH FROM pg_xact_commit_timestamp(xmin) - at) * 1000, "
                "EXTRACT(EPOCH FROM pg_xact_commit_timestamp(xmin)) FROM events").fetchall()
            size_mb = db.execute("SELECT pg_database_size(current_database())").fetchone()[0] / 2**20
            table_mb = {t: round(db.execute("SELECT pg_total_relation_size(%s)", (t,)).fetchone()[0] / 2**20, 1)
                        for t in ("events", "ticket_outcomes", "ratings")}
            outcomes = db.execute("SELECT count(*) FROM ticket_outcomes").fetchone()[0]
            ratings = db.execute("SELECT count(*) FROM ratings").fetchone()[0]
        lat = [float(r[0]) for r in rows if r[0] is not None]
        per_second: dict[int, int] = {}
        for r in rows:
            per_second[int(r[1])] = per_second.get(int(r[1]), 0) + 1
        figures = {
            "load_average_5min": round(load[1], 1),
            "sites": args.sites, "collectors": args.collectors, "events_sent": sent, "events_stored": stored,
            "outcome_rows": outcomes, "rating_rows": ratings,
            "p50_ms": round(percentile(lat, 50), 1), "p99_ms": round(percentile(lat, 99), 1),
            "max_ms": round(max(lat), 1),
            "offered_per_s": round(sent / args.day_seconds, 0),
            "throughput_per_s": round(stored / wall, 0),
            "peak_per_s": max(per_second.values()) if per_second else 0,
            "collector_rss_mb": [round(x, 1) for x in rss], "collector_peak_rss_mb": [round(x, 1) for x in hwm],
            "collectors_cpu_pct": round(100 * cpu["collectors"] / wall, 1),
            "province_broker_cpu_pct": round(100 * cpu["broker"] / wall, 1),
            "site_brokers_cpu_pct": round(100 * cpu["sites"] / wall, 1),
            "province_broker_rss_mb": round(rss_mb(broker_pid), 1),
            "publisher_late_max_s": round(late, 2), "database_mb": round(size_mb, 1), "table_mb": table_mb,
            "bytes_per_event": round(size_mb * 2**20 / max(stored, 1)),
            "setup_s": round(setup_s, 1), "cores": os.cpu_count(),
        }
        if observed:
            figures.update(at_province_broker_p50_ms=round(percentile(observed, 50), 1),
                           at_province_broker_p99_ms=round(percentile(observed, 99), 1))
    finally:
        for c in collectors:
            c.terminate()
        for c in collectors:
            try:
                c.wait(15)
            except Exception:  # noqa: BLE001
                c.kill()
        for s in sites:
            s.stop()
        province.stop()
        pg.destroy()
        for name in readers:
            tail = (work / f"{name}.log").read_text(errors="replace").splitlines()[-3:]
            print(f"{name}: " + " | ".join(tail))
        shutil.rmtree(work, ignore_errors=True)

    print(f"site publish -> province row committed, {len(lat)} events: p50 {figures['p50_ms']} ms, "
          f"p99 {figures['p99_ms']} ms, max {figures['max_ms']} ms")
    print(f"stored {stored} of {sent} events once each ({outcomes} ticket outcomes, {ratings} ratings)")
    print(f"collectors: {figures['throughput_per_s']:.0f} events/s sustained (offered {figures['offered_per_s']:.0f}/s), "
          f"peak {figures['peak_per_s']}/s; RSS {figures['collector_rss_mb']} MiB; "
          f"CPU {figures['collectors_cpu_pct']}% of one core")
    print(f"province broker: CPU {figures['province_broker_cpu_pct']}% of one core, RSS {figures['province_broker_rss_mb']} MiB; "
          f"{args.sites} hall brokers together: CPU {figures['site_brokers_cpu_pct']}%")
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
