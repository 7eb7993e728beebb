"""The hall board's settings: screen, font, colours, Vietnamese texts, timings, the notice line."""

from __future__ import annotations


from pydantic import Field

from motcua.screen_settings import Colour, ScreenSettings
from motcua.settings import DeviceSettings, StrictModel, TimeZoneName
from motcua.wording import wait_phrase



class BoardTexts(StrictModel):
    calls_title: str = "Mời công dân"
    number: str = "Số thứ tự"
    counter: str = "Quầy"
    waiting_title: str = "Đang chờ"
    waiting_unit: str = "người"
    no_calls: str = "Chưa có số nào được gọi"
    ready_title: str = "Hồ sơ đã có kết quả"
    ready_hint: str = "Mời Ông/Bà mang Giấy tiếp nhận hồ sơ và hẹn trả kết quả đến quầy trả kết quả"
    figures_title: str = "Kết quả phục vụ hôm nay"
    served: str = "Lượt đã phục vụ"
    issued: str = "Số đã cấp"
    average_wait: str = "Thời gian chờ trung bình"
    minutes: str = "phút"
    average_wait_about: str = "{n} phút"
    average_wait_under: str = "dưới {n} phút"
    satisfaction: str = "Tỷ lệ hài lòng"
    weekdays: list[str] = Field(
        ["Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ Nhật"], min_length=7, max_length=7)
    offline: str = "Mất kết nối với hệ thống"

    def wait_text(self, minutes: float) -> str:
        """An average wait as the board words it: under a minute is "dưới 1 phút", never "0 phút"."""
        return wait_phrase(minutes, self.average_wait_about, self.average_wait_under, 1)


class BoardColours(StrictModel):
    background: Colour = (10, 24, 48)
    panel: Colour = (20, 40, 74)
    header: Colour = (176, 30, 35)  # the red of public-service signage
    header_text: Colour = (255, 255, 255)
    text: Colour = (235, 240, 246)
    muted: Colour = (150, 165, 185)
    number: Colour = (255, 210, 60)
    highlight: Colour = (255, 210, 60)
    highlight_text: Colour = (20, 24, 32)
    notice: Colour = (255, 255, 255)
    notice_background: Colour = (0, 90, 60)
    warning: Colour = (255, 120, 60)


class BoardScreen(ScreenSettings):
    """The shared screen settings; a board is usually a 43" landscape TV."""

    width: int = Field(1920, ge=320, le=7680, description="Window width of a windowed run (not used full screen).")
    height: int = Field(1080, ge=240, le=7680, description="Window height of a windowed run (not used full screen).")
    diagonal_in: float = Field(43.0, ge=3, le=120, description="The panel's diagonal in inches.")
    colours: BoardColours = BoardColours()


class BoardSettings(DeviceSettings):
    device_id: str = Field("board-1", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    dispatcher_id: str = Field("dispatcher", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    timezone: TimeZoneName = "Asia/Ho_Chi_Minh"
    recent_calls: int = Field(6, ge=1, le=20, description="Calls listed, newest first.")
    flash_s: float = Field(6.0, ge=0, le=60, description="How long the newest call flashes.")
    flash_period_ms: int = Field(500, ge=100, le=5000, description="One on/off half-cycle of the flash.")
    calls_page_s: float = Field(30.0, ge=5, le=3600, description="The calls page, before the other pages take a turn.")
    page_s: float = Field(10.0, ge=2, le=600, description="Each of the other pages (when it has data).")
    ready_max: int = Field(12, ge=1, le=50, description="Dossiers listed on the 'ready for pickup' page.")
    notice: str = Field("Trung tâm Phục vụ hành chính công xin kính chào Ông/Bà. Xin vui lòng giữ trật tự và "
                        "chờ đến lượt.", max_length=500,
                        description="The notice line until the central system sends one (hall/notice).")
    notice_speed_px_s: float = Field(120.0, ge=10, le=2000, description="Scrolling speed at 1920 pixels wide.")
    notice_fps: int = Field(20, ge=1, le=60, description="Frame rate of the scrolling notice strip (only that strip); at most screen.max_fps.")
    screen: BoardScreen = BoardScreen()
    texts: BoardTexts = BoardTexts()
