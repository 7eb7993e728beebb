"""Today's names and plain wording, as a Vietnamese reader checks them: no name from before the 2025
reform in any example or default, no "0 phút", the pad's indicators a citizen can judge, and a skipped
number no longer presented as the newest call."""

from __future__ import annotations

from datetime import datetime

import pytest

from counter_display.board.config import BoardSettings, BoardTexts
from counter_display.board.model import BoardModel
from kiosk_ticket.config import KioskSettings, Texts
from kiosk_ticket.ticket_render import TicketContent, ticket_lines
from motcua.localbroker import REPO
from motcua.protocol import CallEvent, Ticket, TicketEvent
from motcua.wording import to_ascii, wait_phrase
from progress_board.config import ProgressSettings
from satisfaction_pad.config import PadSettings
from signboard.config import SignboardSettings

# Names and phrases a reader of today's texts would stop at (Decree 118/2025 and the 2025 mergers), with
# why; each must appear nowhere a citizen, an officer or a technician copying an example reads.
OUTDATED = {
    "huyện": "no district level since 1 July 2025",
    "thương binh và xã hội": "merged into Nội vụ (labour) and Y tế (social protection)",
    "phát triển nông thôn": "now Nông nghiệp và Môi trường",
    "tài nguyên": "now Nông nghiệp và Môi trường",
    "thông tin và truyền thông": "merged into Khoa học và Công nghệ",
    "quản lý đô thị": "the sector is Xây dựng (with transport since 2025)",
    "Bộ phận một cửa": "the hall is a Trung tâm Phục vụ hành chính công",
    "giấy biên nhận": "the decisions' paper is the Giấy tiếp nhận hồ sơ và hẹn trả kết quả",
    "trẻ nhỏ": "the category is a child under 6",
    "khoảng 0 phút": "an estimate of nothing",
    "đã đến giao dịch": "thanks before the citizen was served",
}


def _strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in _strings(v)]
    return []


def _citizen_texts() -> dict[str, list[str]]:
    return {
        "kiosk": _strings(KioskSettings().model_dump(mode="json")),
        "pad": _strings(PadSettings().model_dump(mode="json")),
        "board": _strings(BoardSettings().model_dump(mode="json")),
        "signboard": _strings(SignboardSettings().model_dump(mode="json")),
        "progress": _strings(ProgressSettings().model_dump(mode="json")),
        **{p.name: [p.read_text(encoding="utf-8")] for p in sorted((REPO / "examples").glob("*.toml"))},
    }


@pytest.mark.parametrize("phrase", sorted(OUTDATED))
def test_no_outdated_name_or_odd_phrase_in_any_default_or_example(phrase):
    found = [(where, text[:80]) for where, texts in _citizen_texts().items() for text in texts
             if phrase.lower() in text.lower()]
    assert not found, f"{phrase!r} ({OUTDATED[phrase]}) in {found}"


def test_the_kiosk_words_the_receipt_and_the_fees_as_the_decisions_do():
    t = Texts()
    assert "Giấy tiếp nhận hồ sơ và hẹn trả kết quả" in t.dossier_hint_scan and t.fee == "Phí, lệ phí"
    assert "Giấy tiếp nhận hồ sơ và hẹn trả kết quả" in BoardTexts().ready_hint


@pytest.mark.parametrize("minutes, kiosk, board", [
    (0, "Thời gian chờ dự kiến: dưới 5 phút", "dưới 1 phút"),
    (0.4, "Thời gian chờ dự kiến: dưới 5 phút", "dưới 1 phút"),
    (4, "Thời gian chờ dự kiến: dưới 5 phút", "4 phút"),
    (5, "Thời gian chờ dự kiến: khoảng 5 phút", "5 phút"),
    (23.6, "Thời gian chờ dự kiến: khoảng 24 phút", "24 phút"),
])
def test_an_estimated_wait_never_says_zero_minutes(minutes, kiosk, board):
    assert Texts().wait_text(minutes) == kiosk
    assert BoardTexts().wait_text(minutes) == board
    assert wait_phrase(minutes, "khoảng {n} phút", "dưới {n} phút", 1) != "khoảng 0 phút"


def test_the_ticket_of_the_first_citizen_of_the_day_says_under_five_minutes():
    content = TicketContent(hall_name="Trung tâm Phục vụ hành chính công phường Long Châu",
                            area_name="Tư pháp - hộ tịch", number="A1001", ticket_id="20260302-TP-1001",
                            issued_at=datetime(2026, 3, 2, 7, 1), waiting_ahead=0, estimated_wait_min=0,
                            tracking_url="https://motcua.example.gov.vn/ve/20260302-TP-1001")
    text = "\n".join(ticket_lines(content, Texts(), 42))
    assert "dưới 5 phút" in text and "0 phút" not in text.replace("dưới 5 phút", "")


def test_the_pad_greets_before_service_and_scores_with_words():
    s = PadSettings()
    assert s.texts.idle_title == "Xin kính chào Ông/Bà" and "Cảm ơn" not in s.texts.idle_title
    assert s.texts.score_labels == ["Chưa tốt", "Đạt", "Tốt"]
    codes = [i.code for i in s.indicators]
    assert "processing_time" not in codes and "online_service" not in codes  # unknowable at the counter
    assert not any("một cửa" in i.label for i in s.indicators)


def test_vietnamese_to_ascii_for_displays_without_marks():
    assert to_ascii("Mời số A1023 đến quầy 5 – Đắk Lắk") == "Moi so A1023 den quay 5 - Dak Lak"
    assert to_ascii("Trung tâm\nPhục vụ") == "Trung tam Phuc vu" and to_ascii("价") == "?"


# --------------------------------------------------------------------------- the board and a skipped number


def _ticket_event(kind: str, number: str) -> TicketEvent:
    return TicketEvent(kind=kind, counter=3, ticket=Ticket(
        ticket_id=f"20260302-TP-{number}", number=number, area="TP", day=datetime(2026, 3, 2).date(),
        status="skipped" if kind == "skipped" else "done", issued_at=datetime.fromisoformat("2026-03-02T08:00+07:00")))


def test_a_skipped_number_leaves_the_board_and_stops_flashing():
    m = BoardModel(BoardSettings(flash_s=6))
    for i, number in enumerate(["A1001", "A1002"]):
        m.call(CallEvent(event_id=f"e{i}", ticket_id=f"20260302-TP-{number}", number=number, area="TP", counter=3,
                         counter_name="Quầy 3", call_count=1), now=float(i))
    assert m.ticket_event(_ticket_event("skipped", "A1002"))
    wall = datetime.fromisoformat("2026-03-02T09:00+07:00")
    v = m.view(1.5, wall)
    assert [c.number for c in v.calls] == ["A1001"] and v.flash is None  # no longer the newest, nothing flashes
    assert not m.ticket_event(_ticket_event("finished", "A1001"))  # served: stays listed


def test_the_board_drops_a_number_the_officer_skips(broker, site, dispatcher, client):
    from counter_display.board.service import BoardService

    settings = BoardSettings(site=site, device_id="board-1", mqtt=broker.mqtt("board-1", "board"),
                             screen={"fullscreen": False, "width": 640, "height": 360})
    service = BoardService(settings).start()
    try:
        assert service.wait_for_view(lambda v: v.hall_name and v.online, 10)
        client.ticket("TP"), client.ticket("TP")
        client.counter(1, "open", officer="lan.nguyen")
        client.counter(1, "next")
        client.counter(1, "next")
        assert service.wait_for_view(lambda v: [c.number for c in v.calls][:2] == ["A1002", "A1001"], 10)
        client.counter(1, "skip")  # A1002 did not come
        assert service.wait_for_view(lambda v: v.calls and v.calls[0].number == "A1001" and v.flash is None, 10)
    finally:
        service.stop()
