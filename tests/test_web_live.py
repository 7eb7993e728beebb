"""From the dispatcher's messages to the pages' streams, without a broker or a browser.

A real Hall on a real SQLite file makes the messages the dispatcher would
publish, in the order it publishes them (counter states, area summaries,
then the outbox's events); the web service's :class:`Live` folds them in as
paho's thread would, and its :class:`Hub` hands them to the pages' mailboxes.
"""

from __future__ import annotations

import asyncio
import json
import threading
from types import SimpleNamespace

from hallfactory import SITE, HallDriver

from dispatcher.hall import Outcome
from web.history import History
from web.live import Hub, Live, sse
from web.present import Renderer
from web.settings import WebSettings


def dispatcher_messages(d: HallDriver, out: Outcome) -> list[SimpleNamespace]:
    """What the dispatcher publishes after a command, in its order (dispatcher.service: _after)."""
    msgs = [SimpleNamespace(topic=d.topics.counter_state(n), payload=d.hall.counter_state(n).to_json())
            for n in sorted(out.counters)]
    msgs += [SimpleNamespace(topic=d.topics.area_summary(a), payload=d.hall.area_summary(a).to_json())
             for a in sorted(out.areas)]
    msgs += [SimpleNamespace(topic=r["topic"], payload=bytes(r["payload"])) for r in d.store.outbox()]
    d.drain()
    return msgs


def make_live(d: HallDriver, tmp_path) -> Live:
    settings = WebSettings(site=SITE, device_id="web-1", database=d.db_path, users_file=tmp_path / "users.json",
                           secret_file=tmp_path / "secret", audit_file=tmp_path / "audit.jsonl")
    live = Live(settings, History(d.db_path), Renderer(settings.timezone, lambda name: f"/static/{name}").section)
    live._on_message(SimpleNamespace(topic=d.topics.hall_config, payload=d.hall.hall_config().to_json()))
    return live


def phone(live: Live, ticket_id: str) -> dict:
    state = live.citizen_json(ticket_id)
    assert state is not None
    return json.loads(state)


def test_a_call_landing_while_a_phone_starts_following_its_ticket_is_not_lost(tmp_path):
    """The phone's stream opens (the ticket's row is read) just as the officer calls that number."""
    d = HallDriver(tmp_path / "dispatcher.db")
    d.open(1)
    issued = d.issue("TP")
    token, ticket_id = issued.reply.tracking_token, issued.reply.ticket.ticket_id
    d.drain()
    live = make_live(d, tmp_path)
    calls: list[threading.Thread] = []

    class CalledMeanwhile(History):
        """Reads the row, then the officer presses 'next' and paho's thread delivers what the dispatcher
        published, before the service has done anything with the row it read."""

        def by_token(self, token):
            row = super().by_token(token)
            if not calls:
                msgs = dispatcher_messages(d, d.next(1))
                calls.append(threading.Thread(target=lambda: [live._on_message(m) for m in msgs]))
                calls[0].start()
                calls[0].join(1.0)  # paho's thread has delivered them, or waits for the service's lock
            return row

    live.history = CalledMeanwhile(d.db_path)
    assert live.track(token) is not None
    calls[0].join(30)
    state = phone(live, ticket_id)
    assert (state["status"], state["line"]) == ("called", "Mời Ông/Bà đến quầy số 1")
    live.untrack(ticket_id)
    d.close()


def test_the_called_number_hears_first_from_the_counters_new_state(tmp_path):
    d = HallDriver(tmp_path / "dispatcher.db")
    d.open(1)
    tickets = [d.issue("TP").reply for _ in range(3)]
    d.drain()
    live = make_live(d, tmp_path)
    for t in tickets:
        live.track(t.tracking_token)
    first, *later = dispatcher_messages(d, d.next(1))
    assert first.topic == d.topics.counter_state(1)
    live._on_message(first)  # before the area's summary and the call event
    assert phone(live, tickets[0].ticket.ticket_id)["line"] == "Mời Ông/Bà đến quầy số 1"
    assert phone(live, tickets[2].ticket.ticket_id)["ahead"] == 2  # the others move with the summary
    for m in later:
        live._on_message(m)
    assert phone(live, tickets[0].ticket.ticket_id)["call_count"] == 1
    assert phone(live, tickets[2].ticket.ticket_id)["ahead"] == 1
    d.close()


def test_a_slow_page_gets_the_newest_of_each_thing_and_is_never_dropped():
    async def scenario() -> None:
        hub = Hub(max_clients=10)
        hub.loop = asyncio.get_running_loop()
        phone, console = hub.subscribe("ticket:T1"), hub.subscribe("console:supervisor")
        assert phone is not None and console is not None
        # a phone that reads nothing while 500 calls go by (paho's thread posts them)
        posting = threading.Thread(target=lambda: [
            hub.post([("ticket:T1", "state", sse("state", json.dumps({"ahead": 499 - i}))),
                      ("console:supervisor", f"section:{('counters', 'areas')[i % 2]}", sse("section", f'"{i}"'))])
            for i in range(500)])
        posting.start()
        # Joined from a worker thread, whose return reaches the loop behind every hand-off the posting thread
        # queued before it ended: when the await returns, the loop has run them all.
        await asyncio.to_thread(posting.join)
        assert await phone.next() == sse("state", json.dumps({"ahead": 0}))
        assert await console.next() == sse("section", '"498"') + sse("section", '"499"')
        assert hub.watched("ticket:T1") and hub.clients == 2  # still connected, nothing lost that it needs
        hub.close_all()
        assert await phone.next() == sse("end", "")
        assert await phone.next() is None

    asyncio.run(scenario())
