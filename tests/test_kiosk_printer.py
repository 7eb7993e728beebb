"""Ticket printing: real python-escpos byte streams to Dummy, a pty serial printer and a loopback network
printer that answers status queries; the printed raster decoded back and compared with the rendering."""

from __future__ import annotations

from datetime import datetime

import pygame.freetype
import pytest
from PIL import Image, ImageChops

from kiosk_ticket.config import KioskSettings, PrinterSettings, Texts
from motcua.screen_settings import DEJAVU, DEJAVU_BOLD
from kiosk_ticket.printer import PrinterError, PrinterStatus, TicketPrinter, to_cp1258
from kiosk_ticket.ticket_render import TicketContent, TicketRenderer, ticket_lines, wrap
from kioskkit import FakeNetworkPrinter, PtyPrinter, decode_raster

CONTENT = TicketContent(
    hall_name="Trung tâm Phục vụ hành chính công phường Long Châu",
    area_name="Văn hóa, thể thao, du lịch", number="H8001",
    ticket_id="20260302-VH-8001", issued_at=datetime(2026, 3, 2, 9, 15), waiting_ahead=3, estimated_wait_min=18,
    tracking_url="https://motcua.example.gov.vn/ve/20260302-VH-8001", priority_name="Người cao tuổi")


def render(width: int = 576) -> Image.Image:
    return TicketRenderer(width, DEJAVU, DEJAVU_BOLD, Texts()).render(CONTENT)


def same_picture(a: Image.Image, b: Image.Image) -> bool:
    return a.size == b.size and ImageChops.difference(a.convert("L"), b.convert("L")).getbbox() is None


def test_dummy_gets_init_raster_and_cut_and_the_raster_is_the_ticket():
    printer = TicketPrinter(PrinterSettings(transport={"kind": "dummy"}, profile="TM-T20II"))
    assert printer.width == 576  # 80 mm paper, from the capability profile
    ticket = render(576)
    printer.send(printer.image_job(ticket))
    out = printer.device.output
    assert out.startswith(b"\x1b@\x1dv0\x00")  # ESC @, then GS v 0 raster, normal density
    assert out.endswith(b"\x1dV\x01") or out.endswith(b"\x1dVB\x00")  # partial cut
    wb = out[6] | out[7] << 8
    assert wb * 8 == 576
    assert same_picture(decode_raster(out), ticket)  # dot for dot what was rendered


def test_58mm_profile_and_width_override():
    assert TicketPrinter(PrinterSettings(profile="POS-5890")).width == 384
    p = TicketPrinter(PrinterSettings(profile="TM-T88V", width_px=576))  # profile says 512
    ticket = render(576)
    assert same_picture(decode_raster(p.image_job(ticket)), ticket)
    with pytest.raises(ValueError, match="width"):
        TicketPrinter(PrinterSettings(profile="default"))
    with pytest.raises(ValueError, match="dots wide"):
        TicketPrinter(PrinterSettings(profile="POS-5890")).image_job(ticket)


def test_long_lines_wrap_and_stay_on_the_paper():
    from PIL import ImageFont

    font = ImageFont.truetype(str(DEJAVU_BOLD), 28)
    lines = wrap(CONTENT.area_name + " " + "x" * 80, font, 300)
    assert len(lines) >= 3 and all(font.getlength(line) <= 300 for line in lines)
    narrow = render(384)
    assert narrow.width == 384
    # nothing drawn in the outermost 4 dots: the text wrapped instead of running off the paper
    assert narrow.crop((0, 0, 4, narrow.height)).getextrema() == (255, 255)
    assert narrow.crop((380, 0, 384, narrow.height)).getextrema() == (255, 255)


def test_ticket_font_covers_every_word():
    words = [v for v in Texts().model_dump().values() if isinstance(v, str)] + [CONTENT.hall_name, CONTENT.area_name,
                                                          "Người khuyết tật", "Phụ nữ mang thai", "Người đi cùng trẻ em dưới 6 tuổi"]
    pygame.freetype.init()
    for path in (DEJAVU, DEJAVU_BOLD):
        font = pygame.freetype.Font(str(path), 30)
        for text in words:
            missing = [ch for ch, m in zip(text, font.get_metrics(text)) if m is None]
            assert not missing, f"{path.name} lacks {missing} in {text!r}"


def test_serial_printer_over_a_pty_answers_status_and_prints():
    fake = PtyPrinter("near_end")
    try:
        printer = TicketPrinter(PrinterSettings(transport={"kind": "serial", "device": fake.path}))
        assert printer.status() == PrinterStatus(True, "near_end")
        ticket = render()
        printer.send(printer.image_job(ticket))
        fake.stream.wait_cuts(1)
        assert fake.stream.queries == [b"\x10\x04\x01", b"\x10\x04\x04"]
        assert same_picture(fake.stream.image(), ticket)
        fake.stream.mode = "out"
        assert printer.status().refusal == "paper_out"
        printer.close()
    finally:
        fake.close()


@pytest.mark.parametrize("mode, expected", [
    ("online", PrinterStatus(True, "ok")),
    ("near_end", PrinterStatus(True, "near_end")),
    ("out", PrinterStatus(False, "out")),
    ("offline", PrinterStatus(False, "ok")),
    ("silent", PrinterStatus(None, "unknown")),  # python-escpos would say "paper OK" here
])
def test_network_printer_status(mode, expected):
    fake = FakeNetworkPrinter(mode)
    try:
        printer = TicketPrinter(PrinterSettings(transport={"kind": "network", "host": "127.0.0.1", "port": fake.port},
                                                status_timeout_s=0.2))
        status = printer.status()
        assert status == expected
        assert status.refusal == {"out": "paper_out", "offline": "printer_offline"}.get(mode)
        printer.close()
    finally:
        fake.close()


def test_network_printer_gs_r_and_a_late_answer_is_not_misread():
    fake = FakeNetworkPrinter("near_end")
    try:
        settings = PrinterSettings(transport={"kind": "network", "host": "127.0.0.1", "port": fake.port},
                                   status_query="gs_r", status_timeout_s=0.2)
        printer = TicketPrinter(settings)
        assert printer.status() == PrinterStatus(None, "near_end")
        fake.set_mode("out")
        assert printer.status().paper == "out"
        ticket = render()
        printer.send(printer.image_job(ticket))
        fake.stream.wait_cuts(1)
        assert same_picture(fake.stream.image(), ticket)
    finally:
        fake.close()


def test_unreachable_printers_raise_printer_error(tmp_path):
    closed = FakeNetworkPrinter()
    closed.close()
    net = TicketPrinter(PrinterSettings(transport={"kind": "network", "host": "127.0.0.1", "port": closed.port,
                                                   "timeout_s": 1}))
    with pytest.raises(PrinterError):
        net.status()
    f = TicketPrinter(PrinterSettings(transport={"kind": "file", "path": tmp_path / "no" / "lp0"}))
    with pytest.raises(PrinterError):
        f.send(b"\x1b@")


def test_file_transport_writes_the_job(tmp_path):
    dev = tmp_path / "lp0"
    dev.write_bytes(b"")
    p = TicketPrinter(PrinterSettings(transport={"kind": "file", "path": dev}))
    ticket = render()
    job = p.image_job(ticket)
    p.send(job)
    p.close()
    assert dev.read_bytes() == job
    assert p.status() == PrinterStatus(None, "unknown")  # a one-way path cannot answer


def test_text_mode_is_opt_in_and_uses_the_configured_code_page():
    assert KioskSettings().printer.text_mode is None  # never the default
    p = TicketPrinter(PrinterSettings(text_mode={"codepage": 30}))
    job = p.text_job(ticket_lines(CONTENT, Texts(), 42))
    assert job.startswith(b"\x1b@\x1bt\x1e")
    assert to_cp1258("Hồ") == b"H\xf4\xcc" and b"ph\xfd\xf5\xccng" in job  # ô / ư ơ, then the combining grave
    assert to_cp1258("huyện") == b"huy\xea\xf2n"  # ê, then the combining dot below
    assert b"?" not in job
    assert all(len(line) <= 42 for line in ticket_lines(CONTENT, Texts(), 42))
    with pytest.raises(ValueError):
        TicketPrinter(PrinterSettings()).text_job(["x"])
