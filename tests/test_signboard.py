"""The LED signboard: frames as a person sees them (ASCII art from luma's dummy device), the scrolling
over time, calls interrupting the notice, and the daemon following a real dispatcher."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from luma.core.device import dummy

from motcua.broker.roles import Device, device_rights
from motcua.protocol import CallEvent, HallNotice
from motcua.settings import SettingsError, load_settings
from signboard.__main__ import main
from signboard.config import SignboardSettings
from signboard.device import PanelLoop
from signboard.model import Frame, SignModel
from signboard.render import SignPainter, ascii_art
from signboard.service import SignboardService

WALL = datetime(2026, 3, 2, 2, 41, tzinfo=timezone.utc)


def settings(modules: int, rows: int, **kw) -> SignboardSettings:
    return SignboardSettings(panel={"driver": "dummy", "modules_per_row": modules, "rows": rows}, **kw)


def call(n: int, number: str = "A1023", counter: int = 5, recall: bool = False) -> CallEvent:
    return CallEvent(event_id=f"ev-{n}", ticket_id=f"20260302-TP-{number}", number=number, area="TP",
                     counter=counter, counter_name=f"Quầy {counter}", call_count=2 if recall else 1, recall=recall)


def on_panel(s: SignboardSettings, text: str, offset: int) -> str:
    """What the panel shows, through the real device path: PanelLoop onto luma's dummy device."""
    painter = SignPainter(s)
    device = dummy(width=s.panel.width, height=s.panel.height, mode="1")
    import threading
    loop = PanelLoop(device, lambda now, wall: Frame(painter.prepare(text), offset),
                     lambda f: painter.render(f.text, f.offset), lambda now: now + 1, threading.Condition())
    loop.draw(0.0)
    return ascii_art(device.image)


# --------------------------------------------------------------------------- pixels


def test_an_8_row_panel_shows_the_call_in_ascii():
    s = settings(4, 1)
    assert not s.with_marks and SignPainter(s).prepare("Mời số A1023 đến quầy 5") == "Moi so A1023 den quay 5"
    # the ribbon has moved in one panel width: its first letters at the left edge
    assert on_panel(s, "Mời số A1023 đến quầy 5", 32) == "\n".join([
        "##...##.........##..............",
        "###.###.........................",
        "#######..####..###.......#####..",
        "#######.##..##..##......##.....#",
        "##.#.##.##..##..##.......####..#",
        "##...##.##..##..##..........##.#",
        "##...##..####..####.....#####...",
        "................................",
    ])


def test_a_16_row_panel_keeps_the_vietnamese_marks():
    s = settings(6, 2)
    assert s.with_marks
    art = on_panel(s, "Mời số A1023 đến quầy 5", 48)
    assert art == "\n".join([
        "................##..............................",
        ".................##......##..................###",
        ".###.....###......##.....##.................##.#",
        ".####...####...........#........................",
        ".####...####.....####..#.##........#####.....###",
        ".##.##.##.##....##..####.##.......##....#...##..",
        ".##.##.##.##...##....##..##.......##.......##...",
        ".##..###..##...##....##..##.......######...##...",
        ".##..###..##...##....##..##........######..##...",
        ".##...#...##...##....##..##............##..##...",
        ".##.......##....##..##...##.......#....##...##..",
        ".##.......##.....####....##........#####.....###",
        "................................................",
        "................................................",
        "................................................",
        "................................................",
    ])  # M, ờ (horn and grave above), i, space, s, ố (circumflex and acute stacked)
    # the same panel told to strip: plain letters, larger (the M is 12 rows tall, not 10)
    stripped = on_panel(settings(6, 2, diacritics="strip"), "Mời số", 48).splitlines()
    assert [row[:14] for row in stripped[:3]] == [".###.......###", ".###.......###", ".####.....####"]
    assert sum("#" in row[:14] for row in stripped) == 12


def test_a_blank_panel_before_the_ribbon_comes_in_and_after_it_left():
    s = settings(4, 1)
    painter = SignPainter(s)
    width = painter.measure("Moi so A1023 den quay 5")
    for offset in (0, 32 + width):
        assert "#" not in on_panel(s, "Mời số A1023 đến quầy 5", offset)


# --------------------------------------------------------------------------- time


def model(s: SignboardSettings) -> tuple[SignModel, SignPainter]:
    painter = SignPainter(s)
    return SignModel(s, painter.prepare, painter.measure), painter


def test_the_ribbon_moves_one_column_per_step_of_the_configured_speed():
    s = settings(4, 1, speed_px_s=20)
    m, painter = model(s)
    first = m.frame(0.0, WALL)
    assert first.offset == 0 and first.text.startswith("Trung tam Phuc vu")
    later = m.frame(2.0, WALL)  # 2 s at 20 columns a second
    assert later.text == first.text and later.offset == 40
    assert m.next_change(2.0) == pytest.approx(2.05)
    a, b = painter.render(later.text, 40), painter.render(later.text, 45)
    shift = lambda art, n: "\n".join(row[n:] for row in art.splitlines())  # noqa: E731
    assert shift(ascii_art(a), 5) == "\n".join(row[:-5] for row in ascii_art(b).splitlines())


def test_a_call_interrupts_the_notice_scrolls_its_passes_then_the_notice_comes_back():
    s = settings(4, 1, speed_px_s=10, call_passes=2, gap_px=8)
    m, painter = model(s)
    m.frame(0.0, WALL)
    assert m.call(call(1), now=3.0)
    assert not m.call(call(1), now=3.1)  # the same event delivered twice
    f = m.frame(3.0, WALL)
    assert (f.text, f.offset) == ("Moi so A1023 den quay 5", 0)  # at once, from the right edge
    one_pass = (32 + painter.measure(f.text) + 8) / 10
    assert m.frame(3.0 + one_pass + 0.5, WALL) == Frame(f.text, 5)  # the second pass
    assert m.call(call(2, "B2001", 3), now=4.0)  # waits for the first call's passes
    assert m.frame(3.0 + 2 * one_pass + 0.05, WALL).text == "Moi so B2001 den quay 3"
    # a recall of a call still waiting replaces it rather than queueing twice
    m.call(call(3, "C3001", 4), now=5.0)
    m.call(call(4, "C3001", 6, recall=True), now=5.1)
    assert list(m.queue) == [("20260302-TP-C3001", "Moi so C3001 den quay 6")]
    # once every call has had its passes the notice scrolls again, from the right edge
    end = 3.0 + 2 * one_pass + 2 * (32 + painter.measure("Moi so B2001 den quay 3") + 8) / 10 \
        + 2 * (32 + painter.measure("Moi so C3001 den quay 6") + 8) / 10
    back = m.frame(end + 0.01, WALL)
    assert back.text.startswith("Trung tam") and back.offset == 0


def test_the_central_notice_replaces_the_settings_until_it_expires():
    s = settings(6, 2)
    m, _ = model(s)
    m.hall_notice(HallNotice(text="Chiều nay nghỉ từ 16 giờ", expires_at=WALL + timedelta(hours=1)), 0.0)
    assert m.frame(1.0, WALL).text == "Chiều nay nghỉ từ 16 giờ"  # 16 rows: with its marks
    assert m.frame(2.0, WALL + timedelta(hours=2)).text.startswith("Trung tâm Phục vụ")
    assert m.frame(2.0, WALL + timedelta(hours=2)).offset == 0


# --------------------------------------------------------------------------- settings and rights


def test_marks_on_an_8_row_panel_are_refused_naming_the_key(tmp_path):
    bad = tmp_path / "signboard.toml"
    bad.write_text('diacritics = "keep"\n[panel]\nrows = 1\n', encoding="utf-8")
    with pytest.raises(SettingsError, match="diacritics"):
        load_settings(SignboardSettings, "signboard", bad)
    assert main(["--config", str(bad)]) == 78
    bad.write_text('[panel]\nrows = 2\nreverse_order = true\n', encoding="utf-8")  # luma reverses one row only
    with pytest.raises(SettingsError, match="panel.reverse_order"):
        load_settings(SignboardSettings, "signboard", bad)


def test_the_signboard_login_only_reads_calls_and_the_hall():
    rights = device_rights(Device("signboard-1", "signboard"), "hcm-q1")
    assert {access for access, _ in rights} == {"read"}
    assert ("read", "motcua/v1/hcm-q1/event/call") in rights
    assert not any("cmd" in topic or "request" in topic or "rating" in topic for _, topic in rights)


# --------------------------------------------------------------------------- end to end


def test_the_signboard_scrolls_each_call_the_dispatcher_makes(broker, site, dispatcher, client, publisher):
    s = SignboardSettings(site=site, device_id="signboard-1", mqtt=broker.mqtt("signboard-1", "signboard"),
                          panel={"driver": "dummy", "modules_per_row": 8, "rows": 2}, speed_px_s=400,
                          call_passes=1)
    device = dummy(width=64, height=16, mode="1")
    service = SignboardService(s, device=device).start()
    try:
        assert service.wait_frame(lambda f: f.text.startswith("Trung tâm Phục vụ"), 10)
        client.ticket("TP")
        client.counter(1, "open", officer="lan.nguyen")
        client.counter(1, "next")
        assert service.wait_frame(lambda f: f.text == "Mời số A1001 đến quầy 1" and f.offset >= 64, 10)
        assert "#" in ascii_art(device.image)
        publisher.publish(f"motcua/v1/{site}/hall/notice", HallNotice(text="Hôm nay làm việc đến 17 giờ").to_json(),
                          qos=1, retain=True).wait_for_publish(5)
        assert service.wait_frame(lambda f: f.text == "Hôm nay làm việc đến 17 giờ", 10)
        publisher.publish(f"motcua/v1/{site}/hall/notice", b"{not json", qos=1, retain=True).wait_for_publish(5)
        client.counter(1, "recall")
        assert service.wait_frame(lambda f: f.text == "Mời số A1001 đến quầy 1", 10)  # hostile notice: still alive
        assert "refused" in (service.runtime.last_error or "")
        publisher.publish(f"motcua/v1/{site}/hall/notice", b"", qos=1, retain=True).wait_for_publish(5)
    finally:
        service.stop()


def test_the_signboard_font_covers_every_vietnamese_text_it_scrolls():
    import pygame.freetype

    s = SignboardSettings()
    texts = [s.texts.call.format(number="A1023", counter=5), s.texts.recall, s.texts.notice,
             "Hồ sơ đất đai nộp tại quầy 3, 4", "ư ị ứ ự ố ộ ằ ẵ ẫ ỡ ữ ỹ Đ đ Ấ Ộ"]
    pygame.freetype.init()
    font = pygame.freetype.Font(str(s.font), 16)
    for text in texts:
        missing = [c for c, mt in zip(text, font.get_metrics(text)) if mt is None]
        assert not missing, f"{s.font.name} has no glyph for {missing} in {text!r}"
