"""``python -m kiosk_ticket.screenshots DIR``: the kiosk's screens and a printed ticket as PNGs, for docs and review.

Runs headless (SDL dummy video driver) through the real screen code: touches
go through the same hit-testing a finger does. The hall is the sample hall of
examples/hall.toml; the dispatcher's answers are fed straight to the model
(no broker needed to draw). The ticket images are the printed raster decoded
back from the ESC/POS bytes, i.e. what the paper shows.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

from motcua.protocol import (  # noqa: E402
    AreaInfo,
    AreaSummary,
    CategoryInfo,
    CounterInfo,
    DossierRecord,
    DossierReply,
    HallConfig,
    ProcedureInfo,
    Ticket,
    TicketReply,
)

from .config import KioskSettings  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def sample_hall_config(site: str = "demo") -> HallConfig:
    """The hall of examples/hall.toml, as the dispatcher would retain it."""
    from dispatcher.config import DispatcherSettings
    from motcua.settings import load_settings

    env = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith("MOTCUA_")}
    try:
        hall = load_settings(DispatcherSettings, "dispatcher", REPO / "examples" / "hall.toml").hall
    finally:
        os.environ.update(env)
    return HallConfig(
        site=site, hall_name=hall.name,
        areas=[AreaInfo(code=a.code, name=a.name, prefix=a.prefix, first_number=a.first_number,
                        last_number=a.last_number) for a in hall.areas],
        counters=[CounterInfo(number=k.number, name=k.display_name, areas=k.areas) for k in hall.counters],
        priority_categories=[CategoryInfo(code=p.code, name=p.name) for p in hall.priority_categories],
        procedures=[ProcedureInfo(**p.model_dump()) for p in hall.procedures],
        day=date(2026, 3, 2))


def sample_summaries(config: HallConfig) -> list[AreaSummary]:
    return [AreaSummary(area=a.code, name=a.name, waiting=w, waiting_priority=0, issued_today=w + 10,
                        served_today=10, open_counters=o)
            for a, w, o in zip(config.areas, (7, 12, 3, 4, 0, 5, 1, 2), (1, 2, 1, 1, 0, 1, 1, 1))]


def sample_reply(number: str = "B2013", area: str = "DD", priority: str | None = "elderly") -> TicketReply:
    issued = datetime(2026, 3, 2, 2, 15, tzinfo=timezone.utc)  # 09:15 in the hall
    ticket = Ticket(ticket_id=f"20260302-{area}-{number[1:]}", number=number, area=area, day=date(2026, 3, 2),
                    priority=priority, status="waiting", issued_at=issued)
    return TicketReply(command_id="shot-0001", ok=True, ticket=ticket, waiting_ahead=12, estimated_wait_min=24)


def sample_dossier() -> DossierReply:
    rec = DossierRecord(code="000.00.17.H57-260225-0042", procedure="Đăng ký biến động quyền sử dụng đất",
                        status="processing", appointment_date=date(2026, 3, 10), ready_for_pickup=False,
                        updated_at=datetime.now(timezone.utc) - timedelta(hours=3))
    return DossierReply(command_id="shot-0002", ok=True, found=True, record=rec,
                        received_at=datetime.now(timezone.utc) - timedelta(minutes=25), age_s=25 * 60)


def render_all(out: Path, settings: KioskSettings | None = None, landscape: bool = True) -> list[Path]:
    from .app import KioskScreen
    from .printer import TicketPrinter, raster_image
    from .ticket_render import TicketRenderer
    from .service import KioskService

    tmp = Path(tempfile.mkdtemp())
    settings = settings or KioskSettings.model_validate({
        "device_id": "kiosk-1", "screen": {"fullscreen": False}, "timeouts": {"debounce_ms": 0},
        "printer": {"counter_file": tmp / "printed.json"}})
    service = KioskService(settings)  # not started: no broker needed to draw
    screen = KioskScreen(service)
    config = sample_hall_config()
    service.hall_config(config)
    for s in sample_summaries(config):
        service.area_summary(s)
    shots: list[Path] = []

    def shot(name: str) -> None:
        shots.append(screen.screenshot(out / f"kiosk-{name}.png"))

    def press(target: str) -> None:
        screen.redraw()
        screen.handle_point(screen.targets[target].center)
        screen.redraw()

    def outcome(fn, *args) -> None:
        with service._lock:
            service._after(fn(*args, time.monotonic()), None)

    shot("idle")
    press("idle")
    shot("home")
    press("mode:large")
    press("home:take")
    shot("large-areas")  # the large-text, high-contrast mode a citizen switches on from home
    press("nav:home")
    press("mode:large")
    press("home:take")
    shot("areas")
    press("priority")
    shot("priority")
    press("cat:elderly")
    shot("areas-priority")  # the next touch, on an area, prints
    outcome(service.model.issue_failed, "paper_out")
    shot("error-paper-out")
    press("nav:home")
    outcome(lambda now: service.model.issued(sample_reply(), now))
    shot("number")
    press("nav:home")
    press("home:dossier")
    for key in "H57-0042":
        press(f"key:{key}")
    shot("dossier-keypad")
    service.model.scanned("000.00.17.H57-260225-0042", time.monotonic())
    outcome(lambda now: service.model.looked_up(sample_dossier(), "000.00.17.H57-260225-0042", now))
    shot("dossier-result")
    press("nav:home")
    press("home:procedures")
    press("parea:DD")
    press("proc:DD-01")
    shot("procedure")
    press("nav:back")
    press("nav:back")
    press("search")
    for key in "KHAI":
        press(f"skey:{key}")
    press("skey:space")
    for key in "SINH":
        press(f"skey:{key}")
    shot("procedure-search")

    # the printed ticket, decoded back from the bytes the printer receives
    for width, name in ((576, "ticket-80mm"), (384, "ticket-58mm")):
        printer = TicketPrinter(settings.printer.model_copy(update={"width_px": width}))
        renderer = TicketRenderer(width, settings.screen.font, settings.screen.bold_font, settings.texts)
        image = renderer.render(service.ticket_content(sample_reply()))
        printed = raster_image(printer.image_job(image))
        path = out / f"{name}.png"
        printed.save(path)
        shots.append(path)

    if landscape:
        wide = KioskSettings.model_validate({
            "device_id": "kiosk-1", "screen": {"fullscreen": False, "width": 1920, "height": 1080},
            "timeouts": {"debounce_ms": 0}, "printer": {"counter_file": tmp / "printed.json"}})
        s2 = KioskService(wide)
        import pygame

        screen2 = KioskScreen(s2, pygame.Surface((1920, 1080)))
        s2.hall_config(config)
        for s in sample_summaries(config):
            s2.area_summary(s)
        s2.tap("idle")
        s2.tap("home:take")
        shots.append(screen2.screenshot(out / "kiosk-landscape-areas.png"))
    return shots


if __name__ == "__main__":
    for path in render_all(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/images")):
        print(path)
