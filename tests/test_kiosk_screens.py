"""The kiosk's screens, headless: synthetic touches and clicks, frames checked, fonts covering Vietnamese."""

from __future__ import annotations

import os
import time

os.environ["SDL_VIDEODRIVER"] = "dummy"

import pygame  # noqa: E402
import pygame.freetype  # noqa: E402
import pytest  # noqa: E402

from kiosk_ticket.app import KioskScreen  # noqa: E402
from kiosk_ticket.config import KioskSettings, Texts  # noqa: E402
from kiosk_ticket.screenshots import (  # noqa: E402
    render_all,
    sample_dossier,
    sample_hall_config,
    sample_reply,
    sample_summaries,
)
from kiosk_ticket.service import KioskService  # noqa: E402
from motcua.localbroker import REPO  # noqa: E402


@pytest.fixture
def screen(tmp_path):
    settings = KioskSettings(device_id="kiosk-1", screen={"fullscreen": False}, timeouts={"debounce_ms": 0},
                             printer={"counter_file": tmp_path / "n.json"})
    service = KioskService(settings)  # not started: these tests are about the screen
    s = KioskScreen(service)
    config = sample_hall_config()
    service.hall_config(config)
    for summary in sample_summaries(config):
        service.area_summary(summary)
    s.redraw()
    return s


def pump(screen: KioskScreen) -> None:
    screen.pump()


def touch(screen: KioskScreen, target: str) -> None:
    """A finger down and up on the middle of ``target``, as SDL reports it: normalised coordinates."""
    w, h = screen.surface.get_size()
    x, y = screen.targets[target].center
    for kind in (pygame.FINGERDOWN, pygame.FINGERUP):
        pygame.event.post(pygame.event.Event(kind, x=x / w, y=y / h, dx=0.0, dy=0.0, touch_id=1, finger_id=0,
                                             pressure=1.0))
    pump(screen)


def click(screen: KioskScreen, target: str) -> None:
    pos = screen.targets[target].center
    pygame.event.post(pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=pos, button=1))
    pygame.event.post(pygame.event.Event(pygame.MOUSEBUTTONUP, pos=pos, button=1))
    pump(screen)


def outcome(screen: KioskScreen, fn, *args) -> None:
    svc = screen.service
    with svc._lock:
        svc._after(fn(*args, time.monotonic()), None)
    pump(screen)


def pixels(screen: KioskScreen, colour, rect: pygame.Rect | None = None) -> int:
    """How many pixels of exactly ``colour`` the screen shows (within ``rect``)."""
    from PIL import Image

    rect = rect or screen.surface.get_rect()
    img = Image.frombytes("RGB", screen.surface.get_size(), pygame.image.tostring(screen.surface, "RGB"))
    counts = img.crop((rect.left, rect.top, rect.right, rect.bottom)).getcolors(1 << 22)
    return next((n for n, c in counts if c == tuple(colour)), 0)


def test_take_a_number_by_touch_shows_the_number(screen, tmp_path):
    c = screen.service.settings.screen.colours
    assert screen.surface.get_size() == (1080, 1920)  # portrait by default
    touch(screen, "idle")
    assert set(screen.targets) == {"home:take", "home:dossier", "home:procedures", "mode:large"}
    assert all(r.height >= 300 for n, r in screen.targets.items() if n.startswith("home:"))  # first-time users
    touch(screen, "home:take")
    assert {"nav:back", "nav:home"} <= set(screen.targets)  # always a way back
    assert all(screen.targets[f"area:{a}"].height >= 120 for a in ("TP", "DD", "VH"))  # 44 mm on the 32-inch panel
    click(screen, "area:DD")  # the second touch from home prints
    assert screen.service.view.screen == "issuing" and "nav:home" not in screen.targets
    outcome(screen, lambda now: screen.service.model.issued(sample_reply(), now))
    path = screen.screenshot(tmp_path / "number.png")
    shot = pygame.image.load(str(path))
    assert shot.get_size() == (1080, 1920)
    # the number is drawn large in the header red inside the card: measure it against the font itself
    painter = screen.painter
    card = pygame.Rect(60, 310, 960, 600)  # inside the card's red border
    red = [(x, y) for x in range(card.left, card.right) for y in range(card.top, card.bottom, 2)
           if shot.get_at((x, y))[:3] == c.header]
    xs, ys = [x for x, _ in red], [y for _, y in red]
    size = 330
    while painter.font(size, True).get_rect("B2013").width > 1000 - 80:  # the card, less its margins
        size -= 10
    expected = painter.font(size, True).get_rect("B2013")
    assert abs((max(xs) - min(xs)) - expected.width) <= 4 and abs((max(ys) - min(ys)) - expected.height) <= 4
    assert expected.height >= 150  # readable from across the hall


def test_error_screen_says_why(screen, tmp_path):
    c = screen.service.settings.screen.colours
    touch(screen, "idle")
    touch(screen, "home:take")
    touch(screen, "area:TP")
    outcome(screen, screen.service.model.issue_failed, "paper_out")
    screen.screenshot(tmp_path / "error.png")
    assert screen.service.view.message == "Máy in hết giấy, vui lòng liên hệ quầy hướng dẫn"
    assert pixels(screen, c.error) > 20_000  # the red warning sign and the message in red
    touch(screen, "nav:home")
    assert screen.service.view.screen == "home"


def test_lookup_by_keypad_and_result(screen, tmp_path):
    touch(screen, "idle")
    touch(screen, "home:dossier")
    for key in "H57-0042":
        click(screen, f"key:{key}")
    assert "lookup" in screen.targets and screen.service.view.typed == "H57-0042"
    touch(screen, "lookup")
    assert screen.service.view.screen == "looking_up"
    outcome(screen, lambda now: screen.service.model.looked_up(sample_dossier(), "H57-0042", now))
    screen.screenshot(tmp_path / "lookup.png")
    c = screen.service.settings.screen.colours
    assert pixels(screen, c.primary) > 3_000  # the status, large, in blue
    assert pixels(screen, c.nav) > 50_000  # the navigation bar


def test_procedures_scroll_by_drag_and_buttons(tmp_path):
    from motcua.protocol import ProcedureInfo

    procs = [ProcedureInfo(code=f"P-{i}", area="TP", name=f"Thủ tục số {i}", documents=["Tờ khai"] * 3)
             for i in range(14)]
    settings = KioskSettings(screen={"fullscreen": False}, timeouts={"debounce_ms": 0}, procedures=procs,
                             printer={"counter_file": tmp_path / "n.json"})
    service = KioskService(settings)
    screen = KioskScreen(service)
    service.hall_config(sample_hall_config())
    screen.redraw()
    touch(screen, "idle")
    touch(screen, "home:procedures")
    touch(screen, "parea:TP")
    assert {"scroll:up", "scroll:down"} <= set(screen.targets) and "proc:P-13" not in screen.targets
    w, h = screen.surface.get_size()
    # a finger drags the list up by 600 px: a scroll, not a tap on whatever it started on
    x, y0 = w // 2, 1200
    pygame.event.post(pygame.event.Event(pygame.FINGERDOWN, x=x / w, y=y0 / h, dx=0, dy=0, touch_id=1, finger_id=0,
                                         pressure=1.0))
    for step in range(1, 7):
        pygame.event.post(pygame.event.Event(pygame.FINGERMOTION, x=x / w, y=(y0 - 100 * step) / h, dx=0, dy=0,
                                             touch_id=1, finger_id=0, pressure=1.0))
    pygame.event.post(pygame.event.Event(pygame.FINGERUP, x=x / w, y=(y0 - 600) / h, dx=0, dy=0, touch_id=1,
                                         finger_id=0, pressure=1.0))
    pump(screen)
    assert service.view.screen == "proc_list" and service.view.scroll == 600
    for _ in range(5):
        touch(screen, "scroll:down")
    assert "proc:P-13" in screen.targets  # the end of the list is reachable
    touch(screen, "proc:P-13")
    assert service.view.procedure.code == "P-13"


def test_landscape_fits_the_same_screens(tmp_path):
    settings = KioskSettings(screen={"fullscreen": False, "width": 1920, "height": 1080},
                             timeouts={"debounce_ms": 0}, printer={"counter_file": tmp_path / "n.json"})
    service = KioskService(settings)
    screen = KioskScreen(service, pygame.Surface((1920, 1080)))
    service.hall_config(sample_hall_config())
    screen.redraw()
    touch(screen, "idle")
    assert len({r.top for n, r in screen.targets.items() if n.startswith("home:")}) == 1  # side by side
    touch(screen, "home:take")
    rects = [r for n, r in screen.targets.items() if n.startswith("area:")]
    assert len(rects) == 8 and all(screen.surface.get_rect().contains(r) for r in rects)
    assert len({r.left for r in rects}) == 2  # two columns


def test_every_citizen_facing_word_has_glyphs():
    settings = KioskSettings()
    config = sample_hall_config()
    words = [v for v in Texts().model_dump().values() if isinstance(v, str)] + [a.name for a in config.areas] + \
        [p.name for p in config.priority_categories] + [config.hall_name] + \
        [x for p in config.procedures for x in (p.name, p.fee, p.processing_time, p.where, *p.documents)] + \
        ["◀ ⌂ ⌫ ▌ • ▲ ▼ ! · Aa", "QWERTYUIOPASDFGHJKLZXCVBNM1234567890.-/_"] + \
        [a.prefix for a in config.areas]
    pygame.freetype.init()
    for path in (settings.screen.font, settings.screen.bold_font):
        font = pygame.freetype.Font(str(path), 30)
        for text in words:
            missing = [ch for ch, m in zip(text, font.get_metrics(text)) if m is None]
            assert not missing, f"{path.name} lacks {missing} in {text!r}"


def test_screenshots_for_the_docs(tmp_path):
    shots = render_all(tmp_path)
    names = [p.name for p in shots]
    assert {"kiosk-number.png", "kiosk-error-paper-out.png", "kiosk-dossier-result.png", "ticket-80mm.png",
            "ticket-58mm.png"} <= set(names)
    assert pygame.image.load(str(tmp_path / "ticket-58mm.png")).get_width() == 384
    for p in shots:  # the committed copies in docs/images are the same screens
        assert (REPO / "docs" / "images" / p.name).is_file(), p.name
