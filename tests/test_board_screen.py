"""The hall calling board: pure model, pixels under SDL's dummy driver, and end to end with the dispatcher."""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

import pygame  # noqa: E402
import pygame.freetype  # noqa: E402
import pytest  # noqa: E402

from counter_display.board.app import BoardScreen  # noqa: E402
from counter_display.board.config import BoardSettings, BoardTexts  # noqa: E402
from counter_display.board.model import BoardModel  # noqa: E402
from counter_display.board.service import BoardService  # noqa: E402
from counter_display.screenshots import AREAS, feed_board  # noqa: E402
from motcua.protocol import (  # noqa: E402
    CallEvent,
    DossierRecord,
    DossierStatusUpdate,
    HallNotice,
)

from hallfactory import HallDriver  # noqa: E402


WALL = datetime(2026, 3, 2, 2, 41, 30, tzinfo=timezone.utc)  # 09:41:30 in the hall


def call(n: int, number: str = "A1023", counter: int = 3, event_id: str | None = None) -> CallEvent:
    return CallEvent(event_id=event_id or f"ev-{n}", ticket_id=f"20260302-TP-{number}", number=number, area="TP",
                     counter=counter, counter_name=f"Quầy {counter}", call_count=1)


# --------------------------------------------------------------------------- Vietnamese


def test_the_board_font_covers_every_vietnamese_text_it_shows():
    s = BoardSettings()
    texts = [v for v in BoardTexts().model_dump().values() if isinstance(v, str)] + s.texts.weekdays
    texts += [s.notice] + [name for _, name, _, _ in AREAS] + ["Trung tâm Phục vụ hành chính công phường Long Châu",
                                                              "ư ị ứ ự ố ộ ằ ẵ ẫ ỡ ữ ỹ Đ đ"]
    pygame.freetype.init()
    for path in (s.screen.font, s.screen.bold_font):
        font = pygame.freetype.Font(str(path), 24)
        for text in texts:
            metrics = font.get_metrics(text)
            missing = [c for c, m in zip(text, metrics) if m is None]
            assert not missing, f"{path.name} has no glyph for {missing} in {text!r}"


# --------------------------------------------------------------------------- model


def test_newest_call_flashes_for_a_while_then_stays_highlighted():
    m = BoardModel(BoardSettings(flash_s=2.0, flash_period_ms=500))
    assert m.call(call(1), now=100.0)
    assert m.view(100.1, WALL).flash is True
    assert m.view(100.6, WALL).flash is False
    assert m.view(101.1, WALL).flash is True
    assert m.view(102.5, WALL).flash is None  # done flashing: highlighted, still
    assert m.next_deadline(100.1, WALL) == pytest.approx(100.5)
    assert m.next_deadline(103.0, WALL) == pytest.approx(103.0 + 30)  # the next minute on the clock


def test_calls_list_newest_first_without_repeats_and_ignores_redelivered_events():
    m = BoardModel(BoardSettings(recent_calls=3))
    for i, number in enumerate(["A1001", "A1002", "A1003", "A1004"]):
        m.call(call(i, number), now=i)
    assert not m.call(call(3, "A1004"), now=9)  # the same event delivered twice
    m.call(call(9, "A1002", counter=5), now=10)  # a recall moves it to the top
    assert [(c.number, c.counter) for c in m.view(10, WALL).calls] == [("A1002", 5), ("A1004", 3), ("A1003", 3)]


def test_pages_rotate_only_when_they_have_data_and_a_call_brings_the_calls_back():
    s = BoardSettings(calls_page_s=30, page_s=10)
    m = BoardModel(s)
    assert m.view(0, WALL).page == "calls" and m.view(1000, WALL).page == "calls"  # nothing else to show
    service = type("S", (), {"model": m})()
    feed_board(service, 1000.0)
    assert [m.view(t, WALL).page for t in (1010, 1031, 1042, 1053)] == ["calls", "ready", "figures", "calls"]
    m.view(1084, WALL)
    assert m.page == "ready"
    m.call(call(77, "B2001"), now=1085)
    assert m.view(1085, WALL).page == "calls"


def test_notice_from_the_central_system_overrides_settings_until_it_expires():
    m = BoardModel(BoardSettings(notice="Xin chào"))
    assert m.view(0, WALL).notice == "Xin chào"
    m.hall_notice(HallNotice(text="Nghỉ trưa từ 11:30", expires_at=WALL + timedelta(hours=1)))
    assert m.view(0, WALL).notice == "Nghỉ trưa từ 11:30"
    assert m.view(0, WALL + timedelta(hours=2)).notice == "Xin chào"


def test_ready_dossiers_newest_record_wins():
    m = BoardModel(BoardSettings())
    rec = DossierRecord(code="000.12.34.H40-260302-0015", procedure="Đăng ký khai sinh", status="ready",
                        ready_for_pickup=True, updated_at=WALL)
    m.dossiers(DossierStatusUpdate(records=[rec]))
    stale = rec.model_copy(update={"status": "processing", "ready_for_pickup": False,
                                   "updated_at": WALL - timedelta(hours=1)})
    m.dossiers(DossierStatusUpdate(records=[stale]))
    assert [r.code for r in m.view(0, WALL).ready] == [rec.code]
    m.dossiers(DossierStatusUpdate(records=[rec.model_copy(update={"status": "returned", "ready_for_pickup": False,
                                                                    "updated_at": WALL + timedelta(minutes=5)})]))
    assert m.view(0, WALL).ready == ()


# --------------------------------------------------------------------------- pixels


def pixel_share(image: pygame.Surface, rect: pygame.Rect, colour) -> float:
    """Share of the pixels in ``rect`` that have exactly ``colour``."""
    sub = image.subsurface(rect)
    hits = sum(1 for x in range(0, rect.width, 4) for y in range(0, rect.height, 4)
               if tuple(sub.get_at((x, y)))[:3] == tuple(colour))
    return hits / (len(range(0, rect.width, 4)) * len(range(0, rect.height, 4)))


def test_board_png_shows_the_flashing_newest_call_queues_and_notice(tmp_path):
    settings = BoardSettings(device_id="board-1", screen={"fullscreen": False, "width": 1280, "height": 720})
    service = BoardService(settings)
    screen = BoardScreen(service)
    feed_board(service, 1000.0)
    c = settings.screen.colours
    service.frozen = (1000.1, WALL)
    lit = pygame.image.load(str(screen.screenshot(tmp_path / "lit.png")))
    assert lit.get_size() == (1280, 720)  # designed at 1920x1080, scaled
    u = 1280 / 1920
    newest = pygame.Rect(int(40 * u), int(240 * u), int(700 * u), int(150 * u))
    assert pixel_share(lit, newest, c.highlight) > 0.5  # the newest call, lit
    assert pixel_share(lit, newest, c.highlight_text) > 0.05  # with its number written in it
    header = pygame.Rect(0, 0, 1280, int(120 * u))
    assert pixel_share(lit, header, c.header) > 0.6
    strip = screen.painter.notice_rect(lit)
    assert pixel_share(lit, strip, c.notice_background) > 0.6 and pixel_share(lit, strip, c.notice) > 0.01
    right = pygame.Rect(int(1300 * u), int(260 * u), int(560 * u), int(600 * u))
    assert pixel_share(lit, right, c.number) > 0.003  # the waiting counts, in the number colour

    service.frozen = (1000.6, WALL)  # half a period later: the flash is off, the row is a plain panel
    dark = pygame.image.load(str(screen.screenshot(tmp_path / "dark.png")))
    # the row is a plain panel; only the number itself is still in yellow
    assert pixel_share(dark, newest, c.panel) > 0.5 and pixel_share(dark, newest, c.highlight_text) == 0

    frames = screen.frames
    assert not screen.redraw() and screen.frames == frames  # nothing changed: nothing drawn


# --------------------------------------------------------------------------- end to end


def test_board_follows_the_hall_through_the_dispatcher(broker, site, dispatcher, client, publisher, tmp_path):
    settings = BoardSettings(site=site, device_id="board-1", mqtt=broker.mqtt("board-1", "board"), flash_s=3.0,
                             screen={"fullscreen": False, "width": 960, "height": 540})
    service = BoardService(settings).start()
    screen = BoardScreen(service)
    try:
        assert service.wait_for_view(lambda v: v.hall_name and len(v.areas) == 8 and v.online, 10)
        client.ticket("DD"), client.ticket("DD")
        client.counter(4, "open", officer="lan.nguyen")
        client.counter(4, "next")
        assert service.wait_for_view(lambda v: v.calls and v.calls[0].number == "B2001" and v.flash is not None, 10)
        assert service.wait_for_view(lambda v: next(a.waiting for a in v.areas if a.code == "DD") == 1, 10)
        assert service.wait_for_view(lambda v: "figures" in service.model.pages(), 10)  # from the dispatcher's hall/figures
        # the dispatcher republishes its whole-day totals on its next tick (at most a second)
        assert service.wait_for_view(lambda v: service.model.figures.issued_today == 2, 10)
        topic = f"motcua/v1/{site}"
        for payload in (b"{", b'{"number": "A1"}', b"\x00" * 10):  # hostile: refused, logged, board carries on
            publisher.publish(f"{topic}/event/call", payload, qos=1).wait_for_publish(5)
        publisher.publish(f"{topic}/hall/notice", HallNotice(text="Hôm nay làm việc đến 17 giờ").to_json(), qos=1,
                          retain=True).wait_for_publish(5)
        assert service.wait_for_view(lambda v: v.notice == "Hôm nay làm việc đến 17 giờ", 10)
        assert "refused" in (service.runtime.last_error or "")
        client.counter(4, "recall")
        png = pygame.image.load(str(screen.screenshot(tmp_path / "board.png")))
        assert png.get_size() == (960, 540)
        publisher.publish(f"{topic}/hall/notice", b"", qos=1, retain=True).wait_for_publish(5)
        assert service.wait_for_view(lambda v: v.notice == settings.notice, 10)
    finally:
        service.stop()


def test_dispatcher_figures_count_today_and_satisfaction(tmp_path):
    hall = HallDriver(tmp_path / "d.db")
    try:
        hall.open(1)
        for _ in range(3):
            hall.ticket("TP")
        served = []
        for _ in range(2):
            hall.next(1)
            served.append(hall.cmd(1, "finish").reply.counter.rating_window.ticket_id)
        hall.rate(1, served[0], level="very_satisfied")
        hall.rate(1, served[1], level="unsatisfied")
        f = hall.hall.hall_figures()
        assert (f.issued_today, f.served_today, f.waiting, f.ratings_today, f.satisfied_pct) == (3, 2, 1, 2, 50.0)
        assert f.average_wait_min is not None
    finally:
        hall.close()


def test_board_daemon_runs_headless_and_stops_cleanly(broker, site, dispatcher, watcher_factory):
    import subprocess
    import sys

    from motcua.localbroker import REPO
    from motcua.protocol import Health

    env = {k: v for k, v in os.environ.items() if not k.startswith("MOTCUA_")}
    env.update(broker.env("board-1", "board"))
    env.update(MOTCUA_SITE=site, MOTCUA_DEVICE_ID="board-1", MOTCUA_HEALTH_INTERVAL_S="1",
               MOTCUA_SCREEN__FULLSCREEN="false", SDL_VIDEODRIVER="dummy", SDL_AUDIODRIVER="dummy")
    watch = watcher_factory(f"motcua/v1/{site}/device/board-1/#")
    proc = subprocess.Popen([sys.executable, "-m", "counter_display.board"], env=env, cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        msg = watch.wait_for(lambda m: m.topic.endswith("/health") and b'"dispatcher":"ok"' in m.payload.replace(
            b" ", b""), 20)
        h = Health.model_validate_json(msg.payload)
        assert h.role == "board" and h.status == "ok" and h.checks["screen"] == "ok"
    finally:
        proc.terminate()
        assert proc.wait(15) == 0, proc.stderr.read().decode(errors="replace")[-2000:]
    watch.wait_for(lambda m: m.topic.endswith("/availability") and m.payload == b"offline", 10)


def test_the_waiting_list_shows_each_areas_ticket_letter():
    m = BoardModel(BoardSettings())
    service = type("S", (), {"model": m})()
    feed_board(service, 1000.0)
    assert [(a.prefix, a.name) for a in m.view(1000, WALL).areas] == [(p, n) for _, n, p, _ in AREAS]
