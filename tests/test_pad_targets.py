"""The pad's evaluation indicators as an elderly citizen meets them: one a page, three large answers, every
target at least 15 mm on the shipped 10.1-inch panel; "back" undoes the last answer."""

from __future__ import annotations

import os

os.environ["SDL_VIDEODRIVER"] = "dummy"

import pygame  # noqa: E402
import pytest  # noqa: E402

from satisfaction_pad.app import PadScreen  # noqa: E402
from satisfaction_pad.config import PadSettings  # noqa: E402
from satisfaction_pad.screenshots import SAMPLE_STATE, sample_window  # noqa: E402
from satisfaction_pad.service import PadService  # noqa: E402

MIN_TARGET_MM = 15.0
SHIPPED = [((1280, 800), 10.1), ((800, 1280), 10.1)]


@pytest.mark.parametrize("size,diagonal", SHIPPED, ids=lambda v: str(v))
def test_indicators_one_a_page_with_large_targets(tmp_path, size, diagonal):
    settings = PadSettings(device_id="pad-3", counter=3, debounce_ms=0, outbox=tmp_path / "outbox.db",
                           indicators_enabled=True, screen={"fullscreen": False, "diagonal_in": diagonal})
    service = PadService(settings)
    screen = PadScreen(service, pygame.Surface(size))
    px_mm = settings.screen.px_per_mm(size)
    service.counter_state(SAMPLE_STATE.model_copy(update={"rating_window": sample_window()}))
    screen.redraw()
    pages = []

    def press(target: str) -> None:
        assert target in screen.targets, (service.view.screen, sorted(screen.targets))
        screen.handle_point(screen.targets[target].center)
        screen.redraw()
        pages.append(dict(screen.targets))

    press("level:satisfied")
    codes = [i.code for i in settings.indicators]
    for k, code in enumerate(codes):
        assert {f"score:{code}:{s}" for s in range(3)} <= set(screen.targets)
        assert len(screen.targets) <= 5  # three answers, back and the large-text switch: not a grid of 27
        press(f"score:{code}:{k % 3}")
        if k == 1:  # a wrong touch is undone with back, the same page comes again
            press("back")
            assert f"score:{code}:0" in screen.targets
            press(f"score:{code}:{k % 3}")
    screen.screenshot(tmp_path / "indicators-done.png")
    for targets in pages:
        for name, rect in targets.items():
            mm = min(rect.width, rect.height) / px_mm
            assert mm >= MIN_TARGET_MM, f"{name}: {mm:.1f} mm"
    press("send")
    [r] = service.outbox.pending()
    assert r.indicators == {code: k % 3 for k, code in enumerate(codes)}
    service.outbox.close()


@pytest.mark.parametrize("size,diagonal", SHIPPED, ids=lambda v: str(v))
def test_large_text_and_high_contrast_switched_by_a_finger(tmp_path, size, diagonal):
    """"Aa Chữ to" in the header: larger words and high-contrast colours for this citizen, every target still
    at least 15 mm; the next citizen finds the usual screen."""
    settings = PadSettings(device_id="pad-3", counter=3, debounce_ms=0, outbox=tmp_path / "outbox.db",
                           indicators_enabled=True, screen={"fullscreen": False, "diagonal_in": diagonal})
    service = PadService(settings)
    screen = PadScreen(service, pygame.Surface(size))
    px_mm = settings.screen.px_per_mm(size)
    w, h = size

    def finger(target: str) -> None:
        """A finger on the middle of ``target``, as SDL reports it: normalised to the panel."""
        x, y = screen.targets[target].center
        screen.handle(pygame.event.Event(pygame.FINGERDOWN, x=x / w, y=y / h, dx=0.0, dy=0.0, touch_id=1,
                                         finger_id=0, pressure=1.0))
        screen.redraw()

    def background() -> tuple[int, int, int]:
        return tuple(screen.surface.get_at((5, h - 5)))[:3]

    def all_large_enough() -> None:
        for name, rect in screen.targets.items():
            assert min(rect.size) / px_mm >= MIN_TARGET_MM, f"{name}: {min(rect.size) / px_mm:.1f} mm"

    service.counter_state(SAMPLE_STATE.model_copy(update={"rating_window": sample_window()}))
    screen.redraw()
    normal_label = screen.painter.font(46).size
    assert "mode:large" in screen.targets and background() == settings.screen.colours.background
    all_large_enough()
    finger("mode:large")
    assert service.view.large and background() == settings.screen.high_contrast.background
    assert screen.painter.font(46).size == int(46 * settings.screen.large_text_scale) > normal_label
    all_large_enough()
    finger("level:unsatisfied")  # the mode stays while this citizen goes on
    assert service.view.screen == "reasons" and service.view.large
    all_large_enough()
    finger("reason:long_wait")
    finger("send")
    for k, ind in enumerate(settings.indicators):
        assert service.view.screen == "indicators" and service.view.large
        all_large_enough()
        finger(f"score:{ind.code}:{k % 3}")
    all_large_enough()
    finger("mode:large")  # and off again
    assert not service.view.large and background() == settings.screen.colours.background
    finger("mode:large")
    finger("send")
    [rating] = service.outbox.pending()
    assert rating.level == "unsatisfied" and rating.reasons == ["long_wait"] and len(rating.indicators) == 7
    service.counter_state(SAMPLE_STATE.model_copy(update={"rating_window": sample_window("B2010")}))
    screen.redraw()
    assert service.view.screen == "rating" and not service.view.large  # the next citizen: the usual screen
    service.outbox.close()
