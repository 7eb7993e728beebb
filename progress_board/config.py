"""The dossier-progress screen's settings: screen, colours, Vietnamese texts, the on-time target, timings."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from motcua.settings import DeviceSettings, StrictModel, TimeZoneName

DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
DEJAVU_BOLD = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")

Colour = tuple[int, int, int]


class ProgressTexts(StrictModel):
    title: str = "Tình hình giải quyết thủ tục hành chính"
    today: str = "Hôm nay {date}"
    month: str = "Tháng {month}/{year} (đến hôm nay)"
    by_area: str = "Lĩnh vực"
    by_agency: str = "Cơ quan"
    received: str = "Tiếp nhận"
    in_progress: str = "Đang giải quyết trong hạn"
    done_on_time: str = "Đã giải quyết đúng hạn"
    done_late: str = "Đã giải quyết trễ hạn"
    overdue: str = "Đang giải quyết quá hạn"
    on_time_rate: str = "Tỷ lệ đúng hạn"
    total: str = "Tổng cộng"
    target: str = "Mục tiêu: giải quyết đúng hạn từ {pct}% hồ sơ trở lên"
    updated: str = "Số liệu cập nhật lúc {time} {date}"
    stale: str = "Số liệu chưa được cập nhật từ {time} {date}"
    waiting: str = "Đang chờ số liệu từ hệ thống thông tin giải quyết thủ tục hành chính"
    offline: str = "Mất kết nối với hệ thống"
    page: str = "Trang {n}/{of}"
    weekdays: list[str] = Field(
        ["Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ Nhật"], min_length=7, max_length=7)


class ProgressColours(StrictModel):
    background: Colour = (12, 26, 52)
    panel: Colour = (22, 42, 78)
    stripe: Colour = (28, 52, 92)
    header: Colour = (176, 30, 35)  # the red of public-service signage
    header_text: Colour = (255, 255, 255)
    text: Colour = (235, 240, 246)
    muted: Colour = (150, 165, 185)
    good: Colour = (70, 200, 110)
    bad: Colour = (255, 110, 80)
    late: Colour = (255, 190, 70)


class ProgressScreenSettings(StrictModel):
    width: int = Field(1920, ge=320, le=7680)
    height: int = Field(1080, ge=240, le=4320)
    fullscreen: bool = Field(True, description="Full screen at the display's own size; the layout scales.")
    font: Path = DEJAVU
    bold_font: Path = DEJAVU_BOLD
    colours: ProgressColours = ProgressColours()


class ProgressSettings(DeviceSettings):
    device_id: str = Field("progress-1", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    timezone: TimeZoneName = "Asia/Ho_Chi_Minh"
    on_time_target_pct: float = Field(
        95.0, ge=0, le=100, description="On-time rate the hall is held to, unless the central system sends one.")
    page_s: float = Field(15.0, ge=3, le=600, description="Each page (today, this month, more rows) stays this long.")
    rows_per_page: int = Field(8, ge=1, le=30, description="Groups per page; more groups make more pages.")
    stale_after_min: float = Field(30.0, ge=1, le=1440,
                                   description="Figures older than this are shown as not updated since.")
    screen: ProgressScreenSettings = ProgressScreenSettings()
    texts: ProgressTexts = ProgressTexts()
