"""What the dispatcher tells the province: accepted ratings and ticket outcomes, once, through the outbox.

The test hall is tests/hallfactory.py's; events are read back from the outbox,
exactly what the service publishes (and the bridge carries up).
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from motcua.protocol import RatingEvent, TicketOutcome, TicketRequest, new_id

from hallfactory import HallDriver


@pytest.fixture
def h(tmp_path):
    d = HallDriver(tmp_path / "hall.db")
    yield d
    d.close()


def ratings(h: HallDriver) -> list[RatingEvent]:
    return [RatingEvent.model_validate_json(r["payload"]) for r in h.store.outbox()
            if r["topic"] == h.topics.rating_event]


def outcomes(h: HallDriver) -> list[TicketOutcome]:
    return [TicketOutcome.model_validate_json(r["payload"]) for r in h.store.outbox()
            if r["topic"] == h.topics.outcome_event]


def test_an_accepted_rating_goes_up_once_with_the_dispatchers_record(h):
    h.open(1, "lan")
    t = h.ticket("TP")
    h.called(1)
    assert h.cmd(1, "attach_dossier", dossier_code="H40.12-260302-0007").reply.ok
    h.clock.advance(minutes=7)
    assert h.cmd(1, "finish").reply.ok
    pad_claims = h.rating(1, t.ticket_id, rating_id="rating-0000001", level="unsatisfied").model_copy(
        update={"officer": "hoa", "area": "DD", "reasons": ["slow"]})
    assert h.hall.rate(1, pad_claims, sender="pad-1").reply.ok
    assert h.hall.rate(1, pad_claims, sender="pad-1").reply.duplicate  # the pad's retry: not published again
    assert not h.rate(1, t.ticket_id).reply.ok  # a second rating of the ticket: refused, not published

    [event] = ratings(h)
    assert (event.rating_id, event.ticket_id, event.counter) == ("rating-0000001", t.ticket_id, 1)
    assert (event.officer, event.area, event.dossier_code) == ("lan", "TP", "H40.12-260302-0007")
    assert (event.level, event.reasons, event.pad) == ("unsatisfied", ["slow"], "pad-1")
    assert event.service_day == t.day


def test_refused_ratings_publish_nothing(h):
    h.open(1)
    waiting = h.ticket("TP")
    assert not h.rate(1, waiting.ticket_id).reply.ok  # not served yet
    assert not h.rate(1, "20240515-TP-9999").reply.ok  # no such ticket
    assert not h.rate(1, None).reply.ok  # general ratings are off in the test hall
    assert ratings(h) == []


def test_each_ticket_ends_once_with_its_outcome(h):
    h.open(1, "lan")
    served, cancelled, skipped, left = (h.ticket("TP") for _ in range(4))
    assert h.cancel(cancelled.ticket_id).reply.ok
    h.clock.advance(minutes=10)
    assert h.called(1) == served.number
    h.clock.advance(minutes=5)
    assert h.cmd(1, "finish").reply.ok
    assert h.called(1) == skipped.number
    assert h.cmd(1, "skip").reply.ok
    h.clock.advance(days=1)  # the daily reset expires the skipped and the never-called ticket
    h.hall.tick()

    got = {o.ticket.ticket_id: o for o in outcomes(h)}
    assert len(outcomes(h)) == 4
    assert got[served.ticket_id].outcome == "done"
    assert got[served.ticket_id].officer == "lan"
    assert got[served.ticket_id].wait_min == pytest.approx(10.0)
    assert got[served.ticket_id].service_min == pytest.approx(5.0)
    assert got[cancelled.ticket_id].outcome == "cancelled"
    assert got[skipped.ticket_id].outcome == got[left.ticket_id].outcome == "expired"
    assert got[skipped.ticket_id].skipped_at is not None and got[left.ticket_id].skipped_at is None
    assert {o.issue_area for o in got.values()} == {"TP"}
    assert len({o.event_id for o in got.values()}) == 4


def test_the_kiosk_can_attach_a_dossier_code_to_a_ticket(h):
    req = TicketRequest(command_id=new_id(), area="TP", dossier_code="H40.12-260302-0007")
    out = h.hall.issue_ticket(req, sender="kiosk-1")
    assert out.reply.ok and out.reply.ticket.dossier_code == "H40.12-260302-0007"
    h.open(1)
    h.called(1)
    h.clock.advance(minutes=3)
    h.cmd(1, "finish")
    assert h.rate(1, out.reply.ticket.ticket_id).reply.ok
    [event] = ratings(h)
    assert event.dossier_code == "H40.12-260302-0007"
    [outcome] = outcomes(h)
    assert outcome.ticket.dossier_code == "H40.12-260302-0007"
    assert outcome.ticket.finished_at - outcome.ticket.called_at == timedelta(minutes=3)
