"""The satisfaction pad's settings: its counter, its screen, its words, its timings.

Every citizen-facing word is here, in Vietnamese, so a hall can change the
wording without touching code.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator

from announcer.touch import TouchSoundSettings
from motcua.protocol.messages import CounterNumber
from motcua.screen_settings import Colour, ScreenSettings
from motcua.settings import DeviceSettings, StrictModel



class Choice(StrictModel):
    code: str = Field(pattern=r"^[a-z0-9_]{1,64}$")
    label: str = Field(min_length=1, max_length=120)


class Texts(StrictModel):
    idle_title: str = "Xin kính chào Ông/Bà"
    idle_hint: str = "Sau khi được phục vụ, xin Ông/Bà cho biết ý kiến tại đây"
    officer: str = "Cán bộ"
    question: str = "Ông/Bà đánh giá thế nào về sự phục vụ tại quầy?"
    ticket: str = "Số thứ tự"
    very_satisfied: str = "Rất hài lòng"
    satisfied: str = "Hài lòng"
    unsatisfied: str = "Không hài lòng"
    reasons_title: str = "Ông/Bà chưa hài lòng vì điều gì? (có thể chọn nhiều ý)"
    indicators_title: str = "Xin Ông/Bà đánh giá từng nội dung"
    score_labels: list[str] = Field(["Chưa tốt", "Đạt", "Tốt"], min_length=3, max_length=3, description=(
        "The words on the three score buttons, for the scores 0, 1 and 2 the national form records."))
    send: str = "Gửi đánh giá"
    back: str = "Quay lại"
    thanks: str = "Cảm ơn Ông/Bà đã đánh giá!"
    thanks_hint: str = "Ý kiến của Ông/Bà giúp chúng tôi phục vụ tốt hơn"
    general: str = "Đánh giá chung"
    large_text_on: str = "Chữ to"
    large_text_off: str = "Chữ thường"


class Colours(StrictModel):
    background: Colour = (246, 248, 250)
    text: Colour = (20, 28, 38)
    muted: Colour = (90, 100, 112)
    header: Colour = (176, 30, 35)  # the red of public-service signage
    header_text: Colour = (255, 255, 255)
    very_satisfied: Colour = (30, 140, 60)
    satisfied: Colour = (25, 100, 190)
    unsatisfied: Colour = (200, 70, 30)
    button_text: Colour = (255, 255, 255)
    selected: Colour = (255, 196, 0)


HIGH_CONTRAST = dict(background=(255, 255, 255), text=(0, 0, 0), muted=(0, 0, 0), header=(0, 0, 0),
                     header_text=(255, 230, 0), very_satisfied=(0, 90, 20), satisfied=(0, 40, 140),
                     unsatisfied=(150, 30, 0), button_text=(255, 255, 255), selected=(255, 215, 0))


class Screen(ScreenSettings):
    """The shared screen settings; a pad is usually a 10" landscape tablet panel."""

    diagonal_in: float = Field(10.1, ge=3, le=120, description="The panel's diagonal in inches.")
    colours: Colours = Colours()
    high_contrast: Colours = Field(Colours(**HIGH_CONTRAST), description=(
        "The colours of the large-text mode a citizen switches on with the header's \"Aa\" button."))
    large_text_scale: float = Field(1.3, ge=1.0, le=2.0, description="How much larger text is in that mode.")


DEFAULT_REASONS = [
    Choice(code="long_wait", label="Thời gian chờ đợi lâu"),
    Choice(code="attitude", label="Thái độ phục vụ chưa tốt"),
    Choice(code="unclear_guidance", label="Hướng dẫn chưa rõ ràng"),
    Choice(code="many_trips", label="Phải đi lại nhiều lần"),
    Choice(code="complex_procedure", label="Thủ tục, giấy tờ phức tạp"),
    Choice(code="other", label="Lý do khác"),
]

# The national evaluation's indicators that a citizen can judge at the counter,
# each recorded as the national form's score 0, 1 or 2 (Texts.score_labels name
# them). Processing time against the legal limit and the quality of the online
# service are left out: nobody knows them when the dossier has just been handed
# in. docs/vietnamese.md lists the national indicators and why each is or is not here.
DEFAULT_INDICATORS = [
    Choice(code="procedure_published", label="Thủ tục, giấy tờ, phí, lệ phí được niêm yết rõ ràng"),
    Choice(code="guidance", label="Cán bộ hướng dẫn đầy đủ, dễ hiểu, một lần"),
    Choice(code="officer_attitude", label="Thái độ, tinh thần trách nhiệm của cán bộ"),
    Choice(code="one_stop", label="Được tiếp nhận hồ sơ ngay tại quầy, không phải đến nơi khác"),
    Choice(code="trips", label="Không phải đi lại nhiều lần để nộp, bổ sung hồ sơ"),
    Choice(code="waiting_time", label="Thời gian chờ đến lượt"),
    Choice(code="receipt", label="Giấy tiếp nhận hồ sơ và hẹn trả kết quả ghi rõ ngày hẹn"),
]


# The national indicators the pad no longer asks by default (nobody can judge them at the counter), and the
# earlier wording of those it still asks: ratings recorded with them keep a name in the reports.
EARLIER_INDICATORS = [
    Choice(code="processing_time", label="Thời gian giải quyết so với quy định"),
    Choice(code="time_at_agencies", label="Thời gian tại từng cơ quan"),
    Choice(code="agencies_contacted", label="Số cơ quan phải liên hệ"),
    Choice(code="complaints", label="Tiếp nhận, xử lý phản ánh, kiến nghị"),
    Choice(code="online_service", label="Chất lượng dịch vụ công trực tuyến"),
]


class PadSettings(DeviceSettings):
    device_id: str = Field("pad-1", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    counter: CounterNumber = Field(1, description="The counter this pad stands at.")
    outbox: Path = Field(Path("/var/lib/motcua/pad-outbox.db"), description="Ratings not yet acknowledged.")
    rating_timeout_s: float = Field(
        30.0, ge=5, le=600, description="Untouched this long after the last touch, a rating ends: what was chosen is "
        "sent and thanked for; nothing chosen is 'not rated'.")
    late_tap_s: float = Field(3.0, ge=0, le=30, description="A face tapped this soon after the rating screen timed "
                              "out still rates that ticket (the tap was meant for it).")
    thanks_s: float = Field(5.0, ge=1, le=60)
    debounce_ms: int = Field(400, ge=0, le=5000, description="Taps closer together than this count once.")
    allow_general: bool = Field(False, description="Offer a rating without a ticket from the idle screen.")
    indicators_enabled: bool = Field(False, description="Ask the evaluation indicators after the level.")
    reasons: list[Choice] = Field(default_factory=lambda: list(DEFAULT_REASONS), min_length=1, max_length=12)
    indicators: list[Choice] = Field(default_factory=lambda: list(DEFAULT_INDICATORS), min_length=1, max_length=12)
    retry_s: list[float] = Field([1, 2, 5, 10], min_length=1, description="Delays between delivery attempts.")
    screen: Screen = Screen()
    sound: TouchSoundSettings = Field(TouchSoundSettings(speak_number=False), description=(
        "A tick through the pad's own speaker on every touch (the announcer's voice pack); "
        "`enabled = false` for silence."))
    texts: Texts = Texts()

    @field_validator("reasons", "indicators")
    @classmethod
    def _unique_codes(cls, v: list[Choice]) -> list[Choice]:
        codes = [c.code for c in v]
        if len(set(codes)) != len(codes):
            raise ValueError("codes must be unique")
        return v
