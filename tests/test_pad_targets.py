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
        assert len(screen.targets) <= 4  # three answers and back: not a grid of 27
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
