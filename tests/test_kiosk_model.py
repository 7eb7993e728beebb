"""The kiosk's screen state machine, pure: no pygame, no MQTT, no printer, a hand-driven clock."""

from __future__ import annotations

import pytest

from kiosk_ticket.config import KioskSettings
from kiosk_ticket.model import IssueTicket, KioskModel, LookupDossier
from kiosk_ticket.screenshots import sample_dossier, sample_hall_config, sample_reply, sample_summaries
from motcua.protocol import DossierReply, ErrorInfo


@pytest.fixture
def m() -> KioskModel:
    model = KioskModel(KioskSettings(timeouts={"debounce_ms": 0, "inactivity_s": 60, "idle_after_s": 120,
                                               "result_s": 20}))
    config = sample_hall_config()
    model.hall_config(config)
    for s in sample_summaries(config):
        model.area_summary(s)
    return model


def go(m: KioskModel, *targets: str, now: float = 0.0):
    effect = None
    for t in targets:
        _, effect = m.tap(t, now)
    return effect


def test_take_a_number_in_two_touches_from_home(m):
    assert m.view.screen == "idle"
    assert go(m, "idle", "home:take") is None
    assert m.view.screen == "areas"
    assert [(a.code, a.prefix, a.waiting) for a in m.view.areas][:2] == [("TP", "A", 7), ("DD", "B", 12)]
    effect = go(m, "area:DD")
    assert effect == IssueTicket("DD", None) and m.view.screen == "issuing"
    m.issued(sample_reply(priority=None), 1.0)
    v = m.view
    assert v.screen == "ticket" and v.ticket.number == "B2013" and v.ticket.waiting_ahead == 12
    assert v.ticket.area_name == "Đất đai, môi trường"


def test_priority_is_chosen_before_the_area_in_four_touches(m):
    go(m, "idle")
    effect = go(m, "home:take", "priority", "cat:elderly")
    assert effect is None and m.view.screen == "areas" and m.view.priority == ("elderly", "Người cao tuổi")
    assert go(m, "area:TP") == IssueTicket("TP", "elderly")
    m.issue_failed("no_dispatcher", 1.0)
    assert m.view.screen == "error" and "Chưa có số nào được cấp" in m.view.message
    go(m, "nav:home", "home:take", "priority", "no_priority")
    assert m.view.screen == "areas" and m.view.priority is None and go(m, "area:TP") == IssueTicket("TP", None)
    m.issue_failed("no_dispatcher", 2.0)
    go(m, "nav:home", "home:take", "priority", "nav:back")
    assert m.view.screen == "areas"


def test_confirm_screen_by_setting(m):
    m.s = m.s.model_copy(update={"flow": m.s.flow.model_copy(update={"confirm_before_print": True})})
    assert go(m, "idle", "home:take", "area:TP") is None and m.view.screen == "confirm"
    assert go(m, "confirm") == IssueTicket("TP", None)


def test_a_one_area_hall_prints_from_home():
    config = sample_hall_config()
    config = config.model_copy(update={"areas": config.areas[:1]})
    model = KioskModel(KioskSettings(timeouts={"debounce_ms": 0}))
    model.hall_config(config)
    assert model.view.single_area
    assert go(model, "idle", "home:take") == IssueTicket("TP", None)  # one touch from home
    model.issue_failed("no_dispatcher", 1.0)
    assert go(model, "nav:home", "home:priority", "cat:elderly") == IssueTicket("TP", "elderly")


@pytest.mark.parametrize("policy", ["issue", "refuse"])
def test_an_area_with_no_open_counter(m, policy):
    from motcua.protocol import AreaSummary

    m.s = m.s.model_copy(update={"flow": m.s.flow.model_copy(update={"closed_area": policy})})
    m.area_summary(AreaSummary(area="TP", name="x", waiting=3, waiting_priority=0, issued_today=3,
                               served_today=0, open_counters=0))
    go(m, "idle", "home:take")
    assert next(a for a in m.view.areas if a.code == "TP").closed
    effect = go(m, "area:TP")
    if policy == "refuse":
        assert effect is None and m.view.screen == "error" and "chưa có quầy nào mở" in m.view.message
    else:
        assert effect == IssueTicket("TP", None)
        m.issued(sample_reply(number="A1010", area="TP", priority=None), 1.0)
        assert m.view.ticket.area_closed


def test_one_confirming_touch_is_one_request(m):
    assert go(m, "idle", "home:take", "area:TP") is not None
    for t in ("priority", "nav:home", "nav:back", "area:TP"):  # impatient touches while it prints
        assert m.tap(t, 0.5) == (False, None)
    assert m.scanned("H57-0001", 0.6) == (False, None)
    assert m.tick(10_000) is False and m.view.screen == "issuing"  # never times out from under the printer


def test_debounce_counts_a_bounce_once():
    m = KioskModel(KioskSettings(timeouts={"debounce_ms": 300}))
    m.tap("idle", 0.0)
    m.tap("home:take", 0.1)  # a bounce of the first touch
    assert m.view.screen == "home"
    m.tap("home:take", 0.5)
    assert m.view.screen == "areas"


def test_back_and_home_are_always_one_touch_away(m):
    go(m, "idle", "home:procedures", "parea:DD", "proc:DD-01")
    v = m.view
    assert v.screen == "proc_detail" and v.procedure.fee == "Theo quy định của tỉnh"
    go(m, "nav:back")
    assert m.view.screen == "proc_list" and [p.code for p in m.view.procedures] == ["DD-01"]
    go(m, "nav:back", "nav:back")
    assert m.view.screen == "home"
    go(m, "home:take", "priority", "cat:elderly", "nav:home")
    assert m.view.screen == "home" and m.view.area is None and m.view.priority is None


def test_settings_procedures_replace_the_dispatchers():
    from motcua.protocol import ProcedureInfo

    m = KioskModel(KioskSettings(timeouts={"debounce_ms": 0}, procedures=[
        ProcedureInfo(code="X-1", area="TP", name="Chứng thực bản sao", fee="2.000 đồng/trang")]))
    m.hall_config(sample_hall_config())
    go(m, "idle", "home:procedures")
    assert m.view.proc_areas == (("TP", "Tư pháp - hộ tịch"),)


def test_timeouts(m):
    go(m, "idle", "home:take", "priority", now=0.0)
    assert m.next_deadline() == 60.0
    assert m.tick(59.0) is False
    m.tick(60.0)
    assert m.view.screen == "home" and m.view.area is None and m.view.priority is None
    m.tick(60.0 + 120.0)
    assert m.view.screen == "idle"
    go(m, "idle", "home:take", "area:TP", now=200.0)
    m.issued(sample_reply(), 201.0)
    m.tick(220.9)
    assert m.view.screen == "ticket"
    m.tick(221.0)  # the number stays result_s, then home for the next citizen
    assert m.view.screen == "home" and m.view.ticket is None


def test_keypad_and_lookup(m):
    go(m, "idle", "home:dossier")
    assert m.view.typed == ""
    go(m, "key:H", "key:5", "key:7", "key:-", "key:9", "key:del", "key:1")
    assert m.view.typed == "H57-1"
    assert go(m, "lookup") == LookupDossier("H57-1") and m.view.screen == "looking_up"
    m.looked_up(DossierReply(command_id="c" * 8, ok=True, found=False), "H57-1", 1.0)
    assert m.view.screen == "dossier_result" and "H57-1" in m.view.message and m.view.dossier is None
    go(m, "nav:back")
    assert m.view.screen == "dossier" and m.view.typed == "H57-1"  # to fix a typo, not retype it all


def test_scan_from_any_screen_and_result(m):
    go(m, "idle", "home:procedures")
    changed, effect = m.scanned("000.00.17.H57-260225-0042", 1.0)
    assert changed and effect == LookupDossier("000.00.17.H57-260225-0042")
    m.looked_up(sample_dossier(), "000.00.17.H57-260225-0042", 2.0)
    d = m.view.dossier
    assert d.status == "Đang giải quyết" and d.appointment == "10/03/2026" and not d.ready
    assert d.freshness == "Thông tin cập nhật cách đây 25 phút"


def test_a_receipt_scanned_before_taking_a_number_goes_with_the_ticket_once(m):
    go(m, "idle")
    m.scanned("000.00.17.H57-260225-0042", 1.0)
    m.looked_up(sample_dossier(), "000.00.17.H57-260225-0042", 2.0)
    m.tick(30.0)  # the result goes away; the citizen is still here
    assert m.view.screen == "home"
    assert go(m, "home:take", "area:DD", now=31.0) == IssueTicket("DD", None, "000.00.17.H57-260225-0042")
    m.issued(sample_reply(priority=None), 32.0)
    assert go(m, "nav:home", "home:take", "area:DD", now=40.0) == IssueTicket("DD", None)  # once
    m.issued(sample_reply(priority=None), 41.0)
    m.scanned("000.00.17.H57-260225-0042", 42.0)
    m.looked_up(sample_dossier(), "000.00.17.H57-260225-0042", 43.0)
    m.tick(300.0)
    m.tick(500.0)  # nobody touched it: idle, the next citizen's ticket carries no one else's receipt
    assert m.view.screen == "idle"
    assert go(m, "idle", "home:take", "area:DD", now=501.0) == IssueTicket("DD", None)


def test_malformed_and_failed_lookups(m):
    go(m, "idle")
    m.bad_scan(1.0)
    assert m.view.screen == "dossier_result" and "không phải mã hồ sơ" in m.view.message
    go(m, "nav:home", "home:dossier", "key:.", "key:.")
    assert go(m, "lookup") is None and "không phải mã hồ sơ" in m.view.message  # ".." is no code
    go(m, "nav:home", "home:dossier", "key:A", "key:B", "key:1", "lookup")
    m.looked_up(DossierReply(command_id="c" * 8, ok=False, error=ErrorInfo(code="internal", message="x")), "AB1", 2)
    assert m.view.message == m.t.lookup_failed
