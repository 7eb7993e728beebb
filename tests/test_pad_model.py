"""The pad's screen logic, without a screen or a network: taps, windows, timeouts, the outbox."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from motcua.protocol import CounterState, RatingWindow
from satisfaction_pad.config import PadSettings
from satisfaction_pad.model import PadModel
from satisfaction_pad.outbox import Outbox

T0 = datetime(2026, 3, 2, 1, 15, tzinfo=timezone.utc)


def window(ticket: str = "A1023", area: str = "TP", officer: str = "lan.nguyen") -> RatingWindow:
    return RatingWindow(ticket_id=f"20260302-{area}-{ticket[1:]}", number=ticket, area=area, officer=officer,
                        dossier_code="H12.22-240115-0001", opened_at=T0, closes_at=T0 + timedelta(seconds=30))


def state(counter: int = 3, w: RatingWindow | None = None) -> CounterState:
    return CounterState(counter=counter, name=f"Quầy {counter}", status="open", officer="lan.nguyen",
                        officer_name="Nguyễn Thị Lan", rating_window=w)


@pytest.fixture
def make(tmp_path):
    def build(**overrides) -> PadModel:
        settings = PadSettings(device_id="pad-3", counter=3, outbox=tmp_path / "outbox.db", **overrides)
        return PadModel(settings, Outbox(settings.outbox), wall_clock=lambda: T0)
    return build


def test_idle_shows_the_counter_and_officer(make):
    m = make()
    assert m.counter_state(state(), 0)
    v = m.view
    assert (v.screen, v.counter_name, v.officer_name) == ("idle", "Quầy 3", "Nguyễn Thị Lan")


def test_a_satisfied_citizen_is_recorded_before_being_thanked(make):
    m = make()
    m.counter_state(state(w=window()), 0)
    assert m.view.screen == "rating" and m.view.ticket_number == "A1023"
    m.tap("level:very_satisfied", 1)
    assert m.view.screen == "thanks"
    [r] = m.outbox.pending()
    assert (r.ticket_id, r.counter, r.officer, r.area, r.level) == ("20260302-TP-1023", 3, "lan.nguyen", "TP",
                                                                      "very_satisfied")
    assert r.dossier_code == "H12.22-240115-0001" and r.reasons == [] and r.indicators is None
    assert r.rated_at == T0 and r.device_id is None  # the login says who sent it
    m.tick(1 + 4.9)
    assert m.view.screen == "thanks"
    m.tick(1 + 5.0)
    assert m.view.screen == "idle"


def test_unsatisfied_asks_why_and_records_the_reasons(make):
    m = make()
    m.counter_state(state(w=window()), 0)
    m.tap("level:unsatisfied", 1)
    assert m.view.screen == "reasons"
    m.tap("reason:long_wait", 2)
    m.tap("reason:attitude", 3)
    m.tap("reason:attitude", 4)  # changed their mind
    m.tap("reason:no_such_reason", 5)
    assert m.view.reasons == {"long_wait"}
    m.tap("send", 6)
    [r] = m.outbox.pending()
    assert r.level == "unsatisfied" and r.reasons == ["long_wait"] and m.view.screen == "thanks"


def test_nobody_answers_then_not_rated_is_recorded(make):
    m = make()
    m.counter_state(state(w=window()), 0)
    assert m.next_deadline() == 30
    m.tick(29.9)
    assert m.view.screen == "rating" and m.outbox.size() == 0
    m.tick(30)
    assert m.view.screen == "idle" and m.outbox.size() == 0  # a face tapped just now would still count
    assert m.next_deadline() == 33
    m.tick(33)
    [r] = m.outbox.pending()
    assert r.level == "not_rated"


def test_a_face_tapped_just_after_the_timeout_still_rates_that_ticket_once(make):
    m = make()
    m.counter_state(state(w=window()), 0)
    m.tick(30)
    assert m.view.screen == "idle"
    m.tap("level:satisfied", 31.5)  # the finger was on its way
    assert m.view.screen == "thanks"
    m.tick(40)
    [r] = m.outbox.pending()
    assert r.level == "satisfied" and r.ticket_id.endswith("-1023")


def test_a_citizen_still_choosing_at_29_s_is_never_cut_off(make):
    m = make()
    m.counter_state(state(w=window()), 0)
    m.tap("level:unsatisfied", 10)
    m.tap("reason:long_wait", 38)  # 28 s after the face, 38 s after the officer finished
    m.tick(60)
    assert m.view.screen == "reasons" and m.outbox.size() == 0  # the clock restarted at the touch
    m.tap("reason:attitude", 67)  # 29 s after the last touch
    m.tick(96.9)
    assert m.view.screen == "reasons" and m.outbox.size() == 0
    m.tick(97)  # 30 s untouched: what was chosen is sent, and the citizen is thanked
    assert m.view.screen == "thanks"
    m.tap("send", 97.2)  # the "send" meant for the reasons lands on the thank-you: nothing more
    m.tick(200)
    [r] = m.outbox.pending()
    assert r.level == "unsatisfied" and r.reasons == ["attitude", "long_wait"] and m.view.screen == "idle"


def test_back_from_the_reasons_to_the_faces(make):
    m = make()
    m.counter_state(state(w=window()), 0)
    m.tap("level:unsatisfied", 1)
    m.tap("reason:long_wait", 2)
    m.tap("back", 3)
    assert m.view.screen == "rating" and m.view.reasons == frozenset()
    m.tap("level:satisfied", 4)
    [r] = m.outbox.pending()
    assert r.level == "satisfied" and r.reasons == []


def test_walking_away_from_the_reasons_keeps_the_level(make):
    m = make()
    m.counter_state(state(w=window()), 0)
    m.tap("level:unsatisfied", 1)
    m.tap("reason:many_trips", 2)
    m.tick(32)
    [r] = m.outbox.pending()
    assert r.level == "unsatisfied" and r.reasons == ["many_trips"] and m.view.screen == "thanks"


def test_bursts_of_taps_count_once(make):
    m = make(debounce_ms=400)
    m.counter_state(state(w=window()), 0)
    m.tap("level:unsatisfied", 1.0)
    m.tap("reason:long_wait", 1.1)  # the same finger bouncing onto the next screen
    assert m.view.reasons == frozenset()
    m.tap("reason:long_wait", 1.5)
    m.tap("reason:long_wait", 1.6)
    assert m.view.reasons == {"long_wait"}


def test_a_ticket_is_rated_once_even_after_a_reboot(make, tmp_path):
    m = make()
    m.counter_state(state(w=window()), 0)
    m.tap("level:satisfied", 1)
    again = make()  # the pad rebooted; the retained counter state still carries the window
    again.counter_state(state(w=window()), 0)
    assert again.view.screen == "idle"
    again.tap("level:satisfied", 10)
    assert again.outbox.size() == 1


def test_another_counters_window_is_not_ours(make):
    m = make()
    assert not m.counter_state(state(counter=4, w=window()), 0)
    assert m.view.screen == "idle"


def test_the_next_citizen_closes_the_previous_rating(make):
    m = make()
    m.counter_state(state(w=window("A1023")), 0)
    m.counter_state(state(w=window("A1024")), 5)  # officer finished the next one already
    assert m.view.screen == "rating" and m.view.ticket_number == "A1024"
    [r] = m.outbox.pending()
    assert r.ticket_id.endswith("-1023") and r.level == "not_rated"


def test_general_rating_only_when_allowed(make):
    m = make()
    m.counter_state(state(), 0)
    m.tap("general", 1)
    assert m.view.screen == "idle"
    g = make(allow_general=True)
    g.counter_state(state(), 0)
    g.tap("general", 1)
    assert g.view.screen == "rating" and g.view.ticket_number is None
    g.tap("level:satisfied", 2)
    [r] = g.outbox.pending()
    assert r.ticket_id is None and r.level == "satisfied"
    g.tap("general", 10)
    g.tick(10 + 30)  # a general rating nobody gave is not recorded at all
    assert g.outbox.size() == 1


def test_indicators_when_enabled(make):
    m = make(indicators_enabled=True)
    m.counter_state(state(w=window()), 0)
    m.tap("level:satisfied", 1)
    assert m.view.screen == "indicators"
    codes = [i.code for i in m.s.indicators]
    # the national evaluation's indicators a citizen can judge at the counter: not the processing time
    # against the legal limit, nor the online service
    assert len(codes) == 7 and not {"processing_time", "online_service"} & set(codes)
    m.tap("send", 2)  # not complete yet: nothing happens
    assert m.view.screen == "indicators"
    for k, code in enumerate(codes):
        m.tap(f"score:{code}:{k % 3}", 3 + k)
    m.tap("score:trips:7", 20)  # out of range: ignored
    m.tap("send", 21)
    [r] = m.outbox.pending()
    assert r.indicators == {code: k % 3 for k, code in enumerate(codes)}
