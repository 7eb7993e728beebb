"""The pad's screens, headless: synthetic touches and clicks, frames checked, fonts covering Vietnamese."""

from __future__ import annotations

import os

os.environ["SDL_VIDEODRIVER"] = "dummy"

import pygame  # noqa: E402
import pygame.freetype  # noqa: E402
import pytest  # noqa: E402

from satisfaction_pad.app import PadScreen  # noqa: E402
from satisfaction_pad.config import PadSettings, Texts  # noqa: E402
from satisfaction_pad.screenshots import SAMPLE_STATE, render_all, sample_window  # noqa: E402
from satisfaction_pad.service import PadService  # noqa: E402


@pytest.fixture
def screen(tmp_path):
    settings = PadSettings(device_id="pad-3", counter=3, debounce_ms=0, outbox=tmp_path / "outbox.db",
                           screen={"fullscreen": False})
    service = PadService(settings)
    s = PadScreen(service)
    service.counter_state(SAMPLE_STATE)
    s.redraw()
    yield s
    service.outbox.close()


def pump(screen: PadScreen) -> None:
    for event in pygame.event.get():
        screen.handle(event)
    screen.service.tick()
    screen.redraw()


def touch(screen: PadScreen, target: str) -> None:
    """A finger on the middle of ``target``, as SDL reports it: normalised coordinates."""
    w, h = screen.surface.get_size()
    x, y = screen.targets[target].center
    pygame.event.post(pygame.event.Event(pygame.FINGERDOWN, x=x / w, y=y / h, dx=0.0, dy=0.0, touch_id=1,
                                         finger_id=0, pressure=1.0))
    pump(screen)


def click(screen: PadScreen, target: str) -> None:
    pygame.event.post(pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=screen.targets[target].center, button=1))
    pump(screen)


def colour_at(screen: PadScreen, target: str, dx: int = 0, dy: int = 0) -> tuple[int, int, int]:
    rect = screen.targets[target]
    return tuple(screen.surface.get_at((rect.right - 12 + dx, rect.centery + dy)))[:3]


def test_rating_flow_by_touch(screen, tmp_path):
    c = screen.service.settings.screen.colours
    assert screen.service.view.screen == "idle" and screen.targets == {}
    screen.service.counter_state(SAMPLE_STATE.model_copy(update={"rating_window": sample_window()}))
    pump(screen)
    assert set(screen.targets) == {"level:very_satisfied", "level:satisfied", "level:unsatisfied", "mode:large"}
    # the three big buttons wear their colours, left to right, in the same row
    assert colour_at(screen, "level:very_satisfied") == c.very_satisfied
    assert colour_at(screen, "level:unsatisfied") == c.unsatisfied
    rects = [screen.targets[t] for t in ("level:very_satisfied", "level:satisfied", "level:unsatisfied")]
    assert rects[0].right < rects[1].left < rects[1].right < rects[2].left and rects[0].height > 400
    screen.screenshot(tmp_path / "rating.png")

    touch(screen, "level:unsatisfied")
    assert screen.service.view.screen == "reasons"
    assert colour_at(screen, "reason:long_wait") == (255, 255, 255)
    touch(screen, "reason:long_wait")
    assert colour_at(screen, "reason:long_wait") == c.selected  # the choice lights up
    screen.screenshot(tmp_path / "reasons.png")
    click(screen, "send")
    assert screen.service.view.screen == "thanks"
    [r] = screen.service.outbox.pending()
    assert r.level == "unsatisfied" and r.reasons == ["long_wait"] and r.ticket_id == "20260302-DD-2007"
    assert (tmp_path / "rating.png").stat().st_size > 10_000


def test_a_static_screen_is_not_redrawn(screen):
    before = screen.frames
    for _ in range(5):
        pump(screen)
    assert screen.frames == before


def test_touches_outside_any_target_do_nothing(screen):
    screen.service.counter_state(SAMPLE_STATE.model_copy(update={"rating_window": sample_window()}))
    pump(screen)
    pygame.event.post(pygame.event.Event(pygame.FINGERDOWN, x=0.5, y=0.02, dx=0.0, dy=0.0, touch_id=1,
                                         finger_id=0, pressure=1.0))  # the header
    pump(screen)
    assert screen.service.view.screen == "rating"


def test_every_citizen_facing_word_has_glyphs():
    settings = PadSettings()
    words = [v for v in Texts().model_dump().values() if isinstance(v, str)] + Texts().score_labels + [r.label for r in settings.reasons] + \
        [i.label for i in settings.indicators] + ["Quầy 3", "QUẦY 3", "Số thứ tự B2007", "Lê Thị Hoa"]
    pygame.freetype.init()
    for path in (settings.screen.font, settings.screen.bold_font):
        font = pygame.freetype.Font(str(path), 30)
        for text in words:
            metrics = font.get_metrics(text)
            missing = [ch for ch, m in zip(text, metrics) if m is None]
            assert not missing, f"{path.name} lacks {missing} in {text!r}"


def test_screenshots_for_the_docs(tmp_path):
    shots = render_all(tmp_path)
    assert [p.name for p in shots] == ["pad-idle.png", "pad-rating.png", "pad-reasons.png", "pad-thanks.png",
                                       "pad-indicator.png", "pad-large-indicator.png", "pad-large-rating.png"]
    for p in shots:
        img = pygame.image.load(str(p))
        assert img.get_size() == (1280, 800)
    # the committed copies in docs/images are the same screens
    from motcua.localbroker import REPO
    for p in shots:
        assert (REPO / "docs" / "images" / p.name).is_file()


def test_a_panel_mounted_sideways_turns_the_picture_and_the_touches(tmp_path):
    from motcua.touchscreen import Display
    from satisfaction_pad.config import PadSettings

    settings = PadSettings(device_id="pad-3", counter=3, outbox=tmp_path / "o.db",
                           screen={"fullscreen": False, "width": 800, "height": 1280, "rotation": 90})
    display = Display(settings.screen, surface=pygame.Surface((800, 1280)))
    assert display.size == (1280, 800)  # laid out landscape on a portrait panel
    corner = pygame.Rect(0, 0, 100, 50)  # the canvas's top-left corner lands top-right on the panel
    assert display.to_window(corner) == pygame.Rect(750, 0, 50, 100)
    assert display.to_canvas((795, 5)) == (5, 5) and display.to_canvas((5, 1275)) == (1275, 795)
