"""The kiosk against a real Mosquitto and the real dispatcher: tickets through the kiosk's own code path,
printed to a loopback printer that answers status queries; refusals, print failures, lookups."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from kiosk_ticket.config import KioskSettings
from kiosk_ticket.service import KioskService
from motcua.protocol import DossierRecord, DossierStatusUpdate, Health, TicketEvent
from kioskkit import FakeNetworkPrinter, decode_raster


def settings(broker, site, tmp_path, **kw) -> KioskSettings:
    base = dict(site=site, device_id="kiosk-1", mqtt=broker.mqtt("kiosk-1", "kiosk"), health_interval_s=1,
                timeouts={"debounce_ms": 0, "request_s": 3},
                printer={"counter_file": tmp_path / "printed.json", "status_timeout_s": 0.3},
                screen={"fullscreen": False})
    for k, v in kw.items():
        base[k] = {**base[k], **v} if isinstance(v, dict) and k in base else v
    return KioskSettings(**base)


@pytest.fixture
def fake_printer():
    p = FakeNetworkPrinter("online")
    yield p
    p.close()


@pytest.fixture
def kiosk_factory():
    made: list[KioskService] = []

    def make(s: KioskSettings) -> KioskService:
        k = KioskService(s)
        k.start()
        made.append(k)
        return k

    yield make
    for k in made:
        k.stop()


def net(printer: FakeNetworkPrinter) -> dict:
    return {"transport": {"kind": "network", "host": "127.0.0.1", "port": printer.port}}


def take(kiosk: KioskService, area: str, priority: str | None = None) -> str:
    assert kiosk.wait_for_view(lambda v: len(v.areas) == 8, 10), "no hall config from the dispatcher"
    for target in ("nav:home", "home:take") + (("priority", f"cat:{priority}") if priority else ()) + (f"area:{area}",):
        kiosk.tap(target)
    assert kiosk.wait_for_view(lambda v: v.screen in ("ticket", "error"), 10)
    return kiosk.view.screen


def health(watcher) -> Health:
    return Health.model_validate_json(watcher.wait_for(lambda m: True).payload)


def test_tickets_through_the_kiosk_printed_on_a_network_printer(dispatcher, broker, site, tmp_path, fake_printer,
                                                               kiosk_factory, watcher_factory):
    fake_printer.set_mode("near_end")
    kiosk = kiosk_factory(settings(broker, site, tmp_path, printer=net(fake_printer)))
    assert take(kiosk, "TP") == "ticket"
    assert take(kiosk, "TP", "elderly") == "ticket"
    v = kiosk.view
    assert v.ticket.number == "A1002" and v.ticket.priority_name == "Người cao tuổi" and v.ticket.waiting_ahead == 0
    # what came out of the printer is, dot for dot, the ticket the kiosk rendered
    wait = fake_printer.cuts
    from daemonkit import wait_until
    wait_until(lambda: wait() == 2, 5, "two cuts")
    printed = decode_raster(b"".join(s.printed for s in fake_printer.streams))
    assert printed.size[0] == 576
    last = decode_raster(kiosk.last_printed.job)
    assert last.tobytes() == kiosk.last_printed.image.convert("L").tobytes()
    # the printer was asked before each ticket; its near-end paper is in the health
    queries = [q for s in fake_printer.streams for q in s.queries]
    assert queries.count(b"\x10\x04\x04") >= 2
    h = health(watcher_factory(f"motcua/v1/{site}/device/kiosk-1/health"))
    assert h.role == "kiosk" and h.checks["paper"] == "degraded: paper near end"
    assert h.checks["printer"].startswith("ok") and h.checks["tickets_since_refill"] == "ok (2)"
    assert json.loads((tmp_path / "printed.json").read_text())["since_refill"] == 2
    # refilled: the count starts again
    fake_printer.set_mode("online")
    kiosk.check_printer()
    assert "(0)" in kiosk._checks()["tickets_since_refill"]


def test_out_of_paper_refuses_on_screen_and_issues_nothing(dispatcher, broker, site, tmp_path, fake_printer,
                                                           kiosk_factory, client):
    fake_printer.set_mode("out")
    kiosk = kiosk_factory(settings(broker, site, tmp_path, printer=net(fake_printer)))
    assert take(kiosk, "DD") == "error"
    assert kiosk.view.message == "Máy in hết giấy, vui lòng liên hệ quầy hướng dẫn"
    checks = kiosk._checks()
    assert checks["paper"] == "fault: out of paper" and checks["printer"].startswith("fault")
    assert kiosk.runtime.healthy()  # published as a fault, but a restart refills no paper: no watchdog kill
    assert fake_printer.all_images() == []
    assert client.ticket("DD").ticket.number == "B2001"  # nothing was issued for the refused citizen
    fake_printer.set_mode("offline")
    assert take(kiosk, "DD") == "error" and "tạm ngừng" in kiosk.view.message
    fake_printer.set_mode("silent")  # unknown is not a refusal: most printers never answer
    assert take(kiosk, "DD") == "ticket" and kiosk.view.ticket.number == "B2002"
    assert kiosk._checks()["paper"].startswith("unknown")


def test_print_failure_after_issue_cancels_the_ticket(dispatcher, broker, site, tmp_path, kiosk_factory, client,
                                                      watcher_factory, caplog):
    events = watcher_factory(f"motcua/v1/{site}/event/ticket")
    broken = {"transport": {"kind": "file", "path": tmp_path / "unplugged" / "lp0"}}
    kiosk = kiosk_factory(settings(broker, site, tmp_path, printer=broken))
    assert take(kiosk, "KD") == "error"
    assert kiosk.view.message.startswith("Không in được phiếu")
    assert kiosk.wait_settled(10)
    cancelled = TicketEvent.model_validate_json(
        events.wait_for(lambda m: json.loads(m.payload)["kind"] == "cancelled").payload)
    assert cancelled.ticket.number == "D4001" and "printer" in cancelled.detail
    assert kiosk.cancelled == 1
    assert sum("attempt" in r.message for r in caplog.records) == 2  # tried, retried once, then gave up
    assert client.ticket("KD").ticket.number == "D4002"  # never reissued, never called


def test_no_dispatcher_means_a_clear_message_and_no_ticket(broker, site, tmp_path, kiosk_factory):
    from kiosk_ticket.screenshots import sample_hall_config

    kiosk = kiosk_factory(settings(broker, site, tmp_path, timeouts={"request_s": 0.5}))
    assert kiosk.runtime.wait_connected(10)
    kiosk.hall_config(sample_hall_config(site))
    assert take(kiosk, "TP") == "error"
    assert "Chưa có số nào được cấp" in kiosk.view.message
    assert kiosk.last_printed is None and kiosk.printer.bytes_written == 0


def test_dossier_lookup_by_scan(dispatcher, broker, site, tmp_path, kiosk_factory, publisher, client):
    rec = DossierRecord(code="000.00.17.H57-260225-0042", procedure="Đăng ký khai sinh", status="ready",
                        ready_for_pickup=True, updated_at=datetime.now(timezone.utc))
    publisher.publish(f"motcua/v1/{site}/dossier/status", DossierStatusUpdate(records=[rec]).to_json(), qos=1)
    from daemonkit import wait_until
    wait_until(lambda: client.lookup(rec.code).found, 10, "the dispatcher to cache the dossier")
    kiosk = kiosk_factory(settings(broker, site, tmp_path))
    assert kiosk.runtime.wait_connected(10)
    kiosk.scanned(rec.code)
    assert kiosk.wait_for_view(lambda v: v.screen == "dossier_result", 10)
    d = kiosk.view.dossier
    assert d.status == "Đã có kết quả" and d.ready and d.freshness == "Thông tin cập nhật cách đây vài giây"
    kiosk.tap("nav:home")
    kiosk.scanned("H57-9999")
    assert kiosk.wait_for_view(lambda v: v.screen == "dossier_result", 10)
    assert kiosk.view.dossier is None and "Không tìm thấy hồ sơ có mã H57-9999" in kiosk.view.message


def test_a_rate_limited_kiosk_says_so_plainly(broker, site, tmp_path, fake_printer, kiosk_factory):
    from daemonkit import DispatcherProcess

    d = DispatcherProcess(broker, site, tmp_path, MOTCUA_HALL__LIMITS__TICKET_ISSUE__BURST="1",
                          MOTCUA_HALL__LIMITS__TICKET_ISSUE__PER_MINUTE="0.5").start()
    try:
        kiosk = kiosk_factory(settings(broker, site, tmp_path, printer=net(fake_printer)))
        assert take(kiosk, "TP") == "ticket"
        assert take(kiosk, "TP") == "error"
        assert kiosk.view.message == "Máy đang bận, xin Ông/Bà chờ giây lát rồi bấm lại."
    finally:
        d.stop()
