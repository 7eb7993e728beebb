"""``python -m satisfaction_pad.screenshots DIR``: the pad's screens as PNGs, for docs and review.

Runs headless (SDL dummy video driver) through the real screen code: taps go
through the same hit-testing a finger does.
"""

from __future__ import annotations

import os
import sys
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

from motcua.protocol import CounterState, RatingWindow  # noqa: E402

from .config import PadSettings  # noqa: E402

SAMPLE_STATE = CounterState(counter=3, name="Quầy 3", status="open", officer="hoa.le", officer_name="Lê Thị Hoa")


def sample_window(number: str = "B2007") -> RatingWindow:
    now = datetime.now(timezone.utc)
    return RatingWindow(ticket_id=f"20260302-DD-{number[1:]}", number=number, area="DD", officer="hoa.le",
                        dossier_code=None, opened_at=now, closes_at=now + timedelta(seconds=30))


def render_all(out: Path, settings: PadSettings | None = None) -> list[Path]:
    from .app import PadScreen
    from .service import PadService

    settings = settings or PadSettings(device_id="pad-3", counter=3, debounce_ms=0,
                                       outbox=Path(tempfile.mkdtemp()) / "outbox.db")
    service = PadService(settings)  # not started: no broker needed to draw
    screen = PadScreen(service)
    shots = []

    def shot(name: str) -> None:
        shots.append(screen.screenshot(out / f"pad-{name}.png"))

    def press(target: str) -> None:
        rect = screen.targets[target]
        screen.handle_point(rect.center)
        screen.redraw()

    service.counter_state(SAMPLE_STATE)
    shot("idle")
    service.counter_state(SAMPLE_STATE.model_copy(update={"rating_window": sample_window()}))
    shot("rating")
    press("level:unsatisfied")
    press("reason:long_wait")
    press("reason:many_trips")
    shot("reasons")
    press("send")
    shot("thanks")
    service.outbox.close()
    shots += _indicators(out, settings)
    return shots


def _indicators(out: Path, settings: PadSettings) -> list[Path]:
    """A pad with the evaluation indicators on: an indicator page, then the same in the large-text mode."""
    from .app import PadScreen
    from .service import PadService

    settings = settings.model_copy(update={"indicators_enabled": True,
                                           "outbox": Path(tempfile.mkdtemp()) / "outbox.db"})
    service = PadService(settings)
    screen = PadScreen(service)

    def press(target: str) -> None:
        screen.handle_point(screen.targets[target].center)
        screen.redraw()

    service.counter_state(SAMPLE_STATE.model_copy(update={"rating_window": sample_window("B2008")}))
    screen.redraw()
    press("level:satisfied")
    press(f"score:{settings.indicators[0].code}:2")
    shots = [screen.screenshot(out / "pad-indicator.png")]
    press("mode:large")
    shots.append(screen.screenshot(out / "pad-large-indicator.png"))
    service.counter_state(SAMPLE_STATE.model_copy(update={"rating_window": sample_window("B2009")}))  # the next one
    screen.redraw()
    press("mode:large")
    shots.append(screen.screenshot(out / "pad-large-rating.png"))
    service.outbox.close()
    return shots


if __name__ == "__main__":
    for path in render_all(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/images")):
        print(path)
