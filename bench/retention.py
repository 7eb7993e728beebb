"""How big the dispatcher's database gets over a year of a busy hall, with and without retention.

One service day of a busy hall is played through the real Hall rules, with the hall's default rate limits
(hall.limits) on: 1,500 tickets from two kiosks, more of them in the morning rush, served at 10 counters, four
citizens in five rating at their counter's own pad, a few refused requests. Every reply is counted by code and the
day must be played in full (no request refused by the limiter: a limited day would store less than a real one).
Then that day's rows are copied for every other day of a year (ids and
dates shifted), as a year of such days would leave them. Then the year-end pruning runs with the default
settings (hall.retention) and the file is measured before and after (VACUUM, so the figures are the data).

    .venv/bin/python -m bench.retention [--tickets-per-day 1500] [--days 365]

Prints figures, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dispatcher.config import AreaConfig, CounterConfig, HallSettings  # noqa: E402
from dispatcher.hall import Hall  # noqa: E402
from dispatcher.store import Store  # noqa: E402
from motcua.protocol import COUNTER_ACTIONS, Rating, TicketRequest, Topics, new_id  # noqa: E402

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
COPIED = {"tickets": ("ticket_id", "day"), "ratings": ("rating_id", "ticket_id"), "commands": ("command_id",)}


def arrival_steps(tickets: int) -> list[timedelta]:
    """Gaps between arrivals over a 9-hour day (07:00-16:00): half the citizens in the first three hours."""
    morning, rest = tickets // 2, tickets - tickets // 2
    return [timedelta(seconds=3 * 3600 / morning)] * morning + [timedelta(seconds=6 * 3600 / rest)] * rest


def play_one_day(path: Path, tickets: int, replies: Counter) -> datetime:
    settings = HallSettings(
        name="Busy hall", areas=[AreaConfig(code=c, name=c, prefix=p, first_number=1, last_number=9999)
                                 for c, p in (("TP", "A"), ("DD", "B"))],
        counters=[CounterConfig(number=n, areas=["TP", "DD"] if n % 2 else ["DD", "TP"]) for n in range(1, 11)],
    )  # default limits: a real hall runs with them
    now = [datetime(2026, 1, 5, 7, 0, tzinfo=TZ)]
    store = Store(path)
    store.db.execute("PRAGMA synchronous=OFF")  # sizes, not durability, are measured here
    hall = Hall(settings, store, Topics("bench"), clock=lambda: now[0], monotonic=lambda: now[0].timestamp())
    for n in range(1, 11):
        hall.counter_command(n, "open", COUNTER_ACTIONS["open"](command_id=new_id(), officer=f"officer{n}"),
                             sender=f"counter-{n}")
    def count(kind: str, out):
        replies[f"{kind}:{'ok' if out.reply.ok else out.reply.error.code}"] += 1
        return out

    for i, step in enumerate(arrival_steps(tickets)):
        now[0] += step
        count("issue", hall.issue_ticket(TicketRequest(command_id=new_id(), area="TP" if i % 3 else "DD"),
                                         sender=f"kiosk-{i % 2}"))
        if i % 50 == 0:  # a few refused requests, kept only for a retry's time
            count("issue", hall.issue_ticket(TicketRequest(command_id=new_id(), area="ZZ"), sender="kiosk-0"))
        n = 1 + i % 10
        out = count("next", hall.counter_command(n, "next", COUNTER_ACTIONS["next"](command_id=new_id()),
                                                 sender=f"counter-{n}"))
        if out.reply.ok:
            current = out.reply.counter.current
            count("finish", hall.counter_command(n, "finish", COUNTER_ACTIONS["finish"](command_id=new_id()),
                                                 sender=f"counter-{n}"))
            if i % 5:  # four citizens in five rate, on their counter's own pad
                count("rating", hall.rate(n, Rating(rating_id=new_id(), counter=n, ticket_id=current.ticket_id,
                                                    level="satisfied" if i % 7 else "unsatisfied",
                                                    rated_at=now[0]), sender=f"pad-{n}"))
        hall.tick()
    store.db.execute("DELETE FROM outbox")  # delivered in a running hall
    store.close()
    return now[0]


def copy_days(path: Path, days: int) -> None:
    db = sqlite3.connect(path)
    day0 = db.execute("SELECT MIN(day) FROM tickets").fetchone()[0]
    start = datetime.fromisoformat(day0).date()
    cols = {t: [r[1] for r in db.execute(f"PRAGMA table_info({t})")] for t in COPIED}
    for k in range(1, days):
        day = (start - timedelta(days=k)).isoformat()  # earlier days: the played day is the newest
        shift = f"-{k} days"
        tag = day.replace("-", "")
        db.execute(f"INSERT INTO tickets SELECT {', '.join(_ticket_col(c, tag, day) for c in cols['tickets'])} "
                   "FROM tickets WHERE day = ?", (day0,))
        db.execute(f"INSERT INTO ratings SELECT {', '.join(_rating_col(c, tag, shift) for c in cols['ratings'])} "
                   "FROM ratings WHERE ticket_id LIKE ?", (day0.replace("-", "") + "%",))
        db.execute(f"INSERT INTO commands SELECT {', '.join(_command_col(c, tag, shift) for c in cols['commands'])} "
                   "FROM commands WHERE applied_at >= ?", (day0,))
    db.commit()
    db.close()


def _ticket_col(c: str, tag: str, day: str) -> str:
    return {"ticket_id": f"'{tag}' || substr(ticket_id, 9)", "day": f"'{day}'",
            "tracking_token": f"tracking_token || '{tag}'"}.get(c, c)


def _rating_col(c: str, tag: str, shift: str) -> str:
    return {"rating_id": f"rating_id || '{tag}'", "ticket_id": f"'{tag}' || substr(ticket_id, 9)",
            "received_at": f"datetime(received_at, '{shift}')", "rated_at": f"datetime(rated_at, '{shift}')"}.get(c, c)


def _command_col(c: str, tag: str, shift: str) -> str:
    return {"command_id": f"command_id || '{tag}'", "applied_at": f"datetime(applied_at, '{shift}')"}.get(c, c)


def size_mb(path: Path) -> float:
    db = sqlite3.connect(path)
    db.execute("VACUUM")
    db.close()
    return round(path.stat().st_size / 2**20, 1)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tickets-per-day", type=int, default=1500)
    ap.add_argument("--days", type=int, default=365)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "dispatcher.db"
        replies: Counter = Counter()
        last = play_one_day(path, args.tickets_per_day, replies)
        limited = sum(v for k, v in replies.items() if k.endswith(":rate_limited"))
        if limited:
            raise SystemExit(f"the simulated day hit the rate limiter {limited} times: it would store less than a "
                             f"real day ({dict(replies)})")
        one_day = size_mb(path)
        copy_days(path, args.days)
        db = sqlite3.connect(path)
        counts = {t: db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in ("tickets", "ratings", "commands")}
        db.close()
        unpruned = size_mb(path)
        store = Store(path)
        settings = HallSettings(name="Busy hall", areas=[AreaConfig(code="TP", name="TP")],
                                counters=[CounterConfig(number=1, areas=["TP"])])
        hall = Hall(settings, store, Topics("bench"), clock=lambda: last + timedelta(hours=1))
        removed = hall.prune(last + timedelta(hours=1))
        store.close()
        pruned = size_mb(path)
    figures = {"tickets_per_day": args.tickets_per_day, "days": args.days, "one_day_mb": one_day,
               "year_without_pruning_mb": unpruned, "year_with_retention_mb": pruned, "rows": counts,
               "replies_in_the_played_day": dict(sorted(replies.items())),
               "pruned": {k: v for k, v in removed.items() if v}}
    print(f"one busy day ({args.tickets_per_day} tickets): {one_day} MB")
    print(f"a year ({args.days} days): {unpruned} MB kept whole; {pruned} MB after the default retention "
          f"(tickets and ratings 400 days, applied commands 2 days, refused ones 10 minutes)")
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
