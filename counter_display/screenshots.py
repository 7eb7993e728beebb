"""``python -m counter_display.screenshots DIR``: the hall board's pages and LED frames as PNGs.

Runs headless through the real drawing code: the board on SDL's dummy video
driver fed with the same messages the dispatcher sends, the LED frames
through luma.emulator's capture device (lit LEDs drawn as round dots).
"""

from __future__ import annotations

import os
import sys
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

from motcua.protocol import (  # noqa: E402
    AreaInfo,
    AreaSummary,
    CallEvent,
    CounterInfo,
    DossierRecord,
    DossierStatusUpdate,
    HallConfig,
    HallFigures,
    HallNotice,
)

from .board.config import BoardScreen as BoardScreenSettings  # noqa: E402
from .board.config import BoardSettings  # noqa: E402
from .config import MatrixSettings  # noqa: E402
from .matrix import Content, MatrixPainter  # noqa: E402

TZ = timezone(timedelta(hours=7))
AT = datetime(2026, 3, 2, 9, 41, tzinfo=TZ)
# The sample hall of examples/hall.toml: its areas, and calls to counters that serve them.
AREAS = [("TP", "Tư pháp - hộ tịch", "A", 7), ("DD", "Đất đai, môi trường", "B", 12),
         ("XD", "Xây dựng, giao thông, đô thị", "C", 3), ("KD", "Đăng ký hộ kinh doanh", "D", 4),
         ("NV", "Nội vụ, lao động, người có công", "E", 0), ("YT", "Y tế, bảo trợ xã hội, trẻ em", "F", 5),
         ("GD", "Giáo dục và đào tạo", "G", 1), ("VH", "Văn hóa, thể thao, du lịch", "H", 2)]
CALLS = [("A1023", 1), ("B2047", 3), ("D4012", 6), ("A1022", 2), ("F6008", 8), ("B2046", 4)]


def sample_hall() -> HallConfig:
    return HallConfig(site="demo", hall_name="Trung tâm Phục vụ hành chính công phường Long Châu",
                      areas=[AreaInfo(code=c, name=n, prefix=p, first_number=1, last_number=9999)
                             for c, n, p, _ in AREAS],
                      counters=[CounterInfo(number=i, name=f"Quầy {i}", areas=["TP"]) for i in range(1, 11)],
                      priority_categories=[], day=date(2026, 3, 2))


def feed_board(service, now: float) -> None:
    """The messages a board sees in a busy morning, oldest call first."""
    m = service.model
    m.hall_config(sample_hall())
    for code, name, _prefix, waiting in AREAS:
        m.area_summary(AreaSummary(area=code, name=name, waiting=waiting, waiting_priority=0, last_called=None,
                                   issued_today=30, served_today=20, open_counters=1))
    for i, (number, counter) in enumerate(reversed(CALLS)):
        m.call(CallEvent(event_id=f"shot-{i}", ticket_id=f"20260302-X-{number}", number=number, area="TP",
                         counter=counter, counter_name=f"Quầy {counter}", call_count=1), now)
    m.dossiers(DossierStatusUpdate(records=[
        DossierRecord(code=f"000.12.34.H40-260{i % 3 + 2}02-00{10 + i}", procedure=proc, status="ready",
                      ready_for_pickup=True, updated_at=AT - timedelta(minutes=i))
        for i, proc in enumerate(["Cấp bản sao trích lục hộ tịch", "Đăng ký khai sinh", "Chứng thực chữ ký",
                                  "Cấp giấy chứng nhận quyền sử dụng đất", "Đăng ký hộ kinh doanh",
                                  "Cấp giấy phép xây dựng nhà ở riêng lẻ", "Đăng ký kết hôn",
                                  "Xác nhận tình trạng hôn nhân"])]))
    m.hall_figures(HallFigures(day=date(2026, 3, 2), issued_today=184, served_today=139, waiting=34,
                               average_wait_min=11.6, ratings_today=97, satisfied_pct=93.8))
    m.hall_notice(HallNotice(text="Hồ sơ đất đai, môi trường nộp tại quầy 3 và quầy 4. Ông/Bà vui lòng "
                                  "chuẩn bị đủ giấy tờ theo hướng dẫn tại kiosk tra cứu thủ tục. Xin cảm ơn!"))
    m.link(True)


def render_board(out: Path, settings: BoardSettings | None = None) -> list[Path]:
    from .board.app import BoardScreen
    from .board.service import BoardService

    service = BoardService(settings or BoardSettings(device_id="board-1", screen=BoardScreenSettings(fullscreen=False)))
    screen = BoardScreen(service)  # not started: no broker needed to draw
    now = 1000.0
    feed_board(service, now)
    shots = []

    def shot(name: str, at: float) -> None:
        service.frozen = (at, AT)
        shots.append(screen.screenshot(out / f"board-{name}.png"))

    shot("calls", now + 0.1)  # the newest call lit (flashing)
    service.model.page, service.model.page_from = "ready", now
    shot("ready", now + 0.1)
    service.model.page, service.model.page_from = "figures", now
    shot("figures", now + 0.1)
    return shots


def render_matrix(out: Path) -> list[Path]:
    """LED frames as they look on the modules, through luma.emulator's capture device."""
    from luma.emulator.device import capture

    out.mkdir(parents=True, exist_ok=True)
    shots = []
    four, eight = MatrixSettings(), MatrixSettings(modules=8)
    for name, modules, content in [("number", 4, Content("1023")), ("prefixed", 4, Content("A1023")),
                                   ("scrolling", 4, Content("A1023>12")), ("closed", 4, Content(four.shown_when_closed)),
                                   ("paused", 4, Content(four.shown_when_paused)),
                                   ("closed-wide", 8, Content(eight.shown_when_closed)),
                                   ("paused-wide", 8, Content(eight.shown_when_paused)),
                                   ("offline", 4, Content("A1023", marker=True)), ("wide", 8, Content("A1023"))]:
        settings = MatrixSettings(driver="capture", modules=modules)
        painter = MatrixPainter(settings)
        path = out / f"counter-{name}.png"
        device = capture(width=settings.width, height=8, mode="1", transform="led_matrix", scale=4,
                         file_template=str(path))
        device.display(painter.render(painter.frame(content, 0.0)))
        shots.append(path)
    return shots


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/images")
    for p in render_matrix(target) + render_board(target):
        print(p)
