"""The dispatcher publishes the reports' summary figures, retained, per period: the same numbers
as the report itself, computed over its database in a child process."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import reports
from motcua.client import HallClient
from motcua.localbroker import REPO, spawn_dispatcher
from motcua.protocol import ReportSummary

from hallfactory import Clock, HallDriver, make_settings


def test_the_dispatcher_publishes_each_period_summary_retained(broker, tmp_path):
    db = tmp_path / "dispatcher.db"
    # The scripted morning ends now on the real clock (the dispatcher reports on the real day) and starts up to
    # 90 s before, but never before the hall's reset time (04:00), so it is all in today's service day.
    now = datetime.now(timezone.utc)
    local = now.astimezone(ZoneInfo("Asia/Ho_Chi_Minh"))
    reset = local.replace(hour=4, minute=0, second=0, microsecond=0)
    reset -= timedelta(days=1) if reset > local else timedelta(0)
    start = max(now - timedelta(seconds=90), reset)
    step = (now - start).total_seconds() / 3
    d = HallDriver(db, make_settings(), Clock(start))
    d.open(1)
    for _ in range(3):
        d.ticket("TP")
    d.clock.advance(seconds=step)
    d.called(1)
    d.clock.advance(seconds=step)
    out = d.cmd(1, "finish")
    d.rate(1, out.reply.counter.rating_window.ticket_id, level="very_satisfied")
    d.close()

    site = "reportfig"
    proc = spawn_dispatcher(broker, REPO / "examples" / "hall.toml", db, site=site,
                            env={"MOTCUA_REPORTS__PUBLISH_DELAY_S": "0"})
    got: dict[str, ReportSummary] = {}
    seen = threading.Event()
    niceness = watch_niceness("reports.summary", seen)
    watcher = HallClient(site, mqtt=broker.mqtt("report-reader", "operator")).start()
    try:
        def keep(msg) -> None:
            got[msg.topic.rsplit("/", 1)[-1]] = ReportSummary.model_validate_json(msg.payload)
            if {"day", "week", "month", "year"} <= set(got):
                seen.set()

        watcher.runtime.on_raw(watcher.topics.all_reports, keep)
        assert seen.wait(90), f"report summaries seen: {sorted(got)}"
    finally:
        watcher.close()
        proc.terminate()
        proc.wait(10)
    # the arithmetic ran as nice as can be from its Python's start: a keypad never waits behind it
    assert niceness and set(niceness) == {19}, niceness
    day = got["day"]
    assert day.current.issued == 3 and day.current.served == 1 and day.current.satisfied_pct == 100.0
    assert day.satisfaction_target_pct == 75.0
    # the very numbers of the report
    period = reports.current("day", day.generated_at, "Asia/Ho_Chi_Minh")
    report = reports.build(reports.load_sqlite(db, period), period, reports.HallInfo(name=""))
    assert (day.current.issued, day.current.called, day.current.served, day.current.wait_median_min,
            day.current.very_satisfied) == (report.total.issued, report.total.called, report.total.served,
                                            report.total.wait.median, report.total.very_satisfied)
    assert got["year"].period_id.isdigit() and got["year"].current.issued >= 3


def watch_niceness(module: str, done: threading.Event) -> list[int]:
    """The nice value of every Python process running ``module`` seen until ``done``, sampled from /proc."""
    seen: list[int] = []

    def sample() -> None:
        while not done.wait(0.005):
            for stat in Path("/proc").glob("[0-9]*/stat"):
                try:
                    argv = (stat.parent / "cmdline").read_bytes().split(b"\0")
                    if b"python" in Path(argv[0].decode()).name.encode() and module.encode() in argv:
                        seen.append(int(stat.read_text().rsplit(")", 1)[1].split()[16]))
                except (OSError, IndexError, ValueError):
                    continue  # gone meanwhile

    threading.Thread(target=sample, daemon=True).start()
    return seen
