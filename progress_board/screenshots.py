"""``python -m progress_board.screenshots DIR``: the dossier-progress screen as PNGs.

Headless through the real drawing code (SDL's dummy driver), fed with a
scripted summary from the central system for the sample hall of
examples/hall.toml and a few records from the hall's own dossier stream.
"""

from __future__ import annotations

import os
import sys
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

from motcua.protocol import (  # noqa: E402
    AreaInfo,
    DossierProgress,
    DossierRecord,
    DossierStatusUpdate,
    HallConfig,
    ProgressCounts,
    ProgressGroup,
)

from .config import ProgressScreenSettings, ProgressSettings  # noqa: E402

TZ = timezone(timedelta(hours=7))
AT = datetime(2026, 3, 18, 10, 5, tzinfo=TZ)
HALL = "Trung tâm Phục vụ hành chính công phường Long Châu"
# area, name, today (received, in progress, on time, late, overdue), this month
FIGURES = [
    ("TP", "Tư pháp - hộ tịch", (42, 17, 31, 0, 0), (612, 17, 588, 4, 0)),
    ("DD", "Đất đai, môi trường", (9, 64, 5, 1, 3), (151, 64, 97, 9, 3)),
    ("XD", "Xây dựng, giao thông, đô thị", (4, 12, 2, 0, 1), (58, 12, 41, 2, 1)),
    ("KD", "Đăng ký hộ kinh doanh", (7, 5, 6, 0, 0), (96, 5, 90, 1, 0)),
    ("NV", "Nội vụ, lao động, người có công", (5, 9, 4, 0, 0), (73, 9, 61, 0, 0)),
    ("YT", "Y tế, bảo trợ xã hội, trẻ em", (6, 8, 3, 1, 0), (80, 8, 66, 3, 0)),
    ("GD", "Giáo dục và đào tạo", (2, 3, 1, 0, 0), (25, 3, 21, 0, 0)),
    ("VH", "Văn hóa, thể thao, du lịch", (1, 2, 1, 0, 0), (12, 2, 9, 0, 0)),
]


def sample_progress() -> DossierProgress:
    def counts(c):
        return ProgressCounts(received=c[0], in_progress=c[1], done_on_time=c[2], done_late=c[3], overdue=c[4])
    return DossierProgress(
        group_by="area", day=AT.date(), updated_at=AT - timedelta(minutes=5),
        groups=[ProgressGroup(key=k, name=n, today=counts(t), month=counts(m), agency_codes=["000.00.31.H61"],
                              procedures=["Đăng ký khai sinh"] if k == "TP" else [])
                for k, n, t, m in FIGURES])


def sample_stream() -> DossierStatusUpdate:
    """Two birth registrations received at the counters after the summary was computed."""
    return DossierStatusUpdate(records=[
        DossierRecord(code=f"000.00.31.H61-260318-00{40 + i}", procedure="Đăng ký khai sinh", status="received",
                      appointment_date=date(2026, 3, 18), updated_at=AT - timedelta(minutes=2 - i))
        for i in range(2)])


def render(out: Path, settings: ProgressSettings | None = None) -> list[Path]:
    from .app import ProgressScreen
    from .service import ProgressService

    service = ProgressService(settings or ProgressSettings(device_id="progress-1", screen=ProgressScreenSettings(fullscreen=False)))
    screen = ProgressScreen(service)  # not started: no broker needed to draw
    m = service.model
    m.hall_config(HallConfig(site="demo", hall_name=HALL, day=AT.date(), counters=[], priority_categories=[],
                             areas=[AreaInfo(code=k, name=n, prefix="A", first_number=1, last_number=9999)
                                    for k, n, _, _ in FIGURES]))
    m.progress(sample_progress())
    m.dossiers(sample_stream())
    m.link(True)
    shots = []
    for name, page in (("today", 0), ("month", 1)):
        m.page_index, m.page_from = page, 1000.0
        service.frozen = (1000.1, AT)
        shots.append(screen.screenshot(out / f"progress-{name}.png"))
    return shots


if __name__ == "__main__":
    for p in render(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/images")):
        print(p)
