"""The ticket kiosk's settings: its screen, its printer, its scanner, its words, its timings.

Every citizen-facing word is here, in Vietnamese, so a hall can change the
wording without touching code. Every table forbids unknown keys.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Union

from pydantic import Field, field_validator, model_validator

from announcer.touch import TouchSoundSettings
from motcua.protocol.messages import ProcedureInfo
from motcua.screen_settings import Colour, ScreenSettings
from motcua.settings import DeviceSettings, StrictModel, TimeZoneName
from motcua.wording import wait_phrase



class Texts(StrictModel):
    """Every word a citizen reads on the screen or on the ticket."""

    idle_title: str = "Xin kính chào Quý Ông/Bà"
    idle_hint: str = "Chạm vào màn hình để bắt đầu"
    home_title: str = "Ông/Bà cần làm gì?"
    take_number: str = "Lấy số thứ tự"
    take_number_hint: str = "Để được phục vụ tại quầy"
    dossier: str = "Tra cứu hồ sơ"
    dossier_hint: str = "Xem hồ sơ đã giải quyết đến đâu"
    procedures: str = "Thủ tục hành chính"
    procedures_hint: str = "Giấy tờ cần nộp, phí, lệ phí, thời gian"
    back: str = "Quay lại"
    large_text_on: str = "Chữ to, rõ hơn"
    large_text_off: str = "Chữ cỡ thường"
    home: str = "Về trang chính"
    choose_area: str = "Xin chọn lĩnh vực cần giải quyết"
    waiting: str = "Đang chờ: {n} người"
    priority_path: str = "Tôi thuộc diện ưu tiên"
    priority_chosen: str = "Ưu tiên: {name} (chạm để đổi)"
    choose_area_priority: str = "Số ưu tiên: xin chọn lĩnh vực"
    area_closed: str = "Chưa có quầy mở"
    refused_area_closed: str = "Lĩnh vực này hiện chưa có quầy nào mở. Xin Ông/Bà liên hệ quầy hướng dẫn."
    ticket_area_closed: str = "Lĩnh vực này hiện chưa có quầy mở, xin Ông/Bà chờ quầy mở."
    choose_priority: str = "Ông/Bà thuộc diện ưu tiên nào?"
    no_priority: str = "Không thuộc diện ưu tiên"
    confirm_title: str = "Xin kiểm tra lại"
    confirm: str = "Đồng ý, in số"
    area_label: str = "Lĩnh vực"
    priority_label: str = "Ưu tiên"
    issuing: str = "Đang lấy số, xin chờ trong giây lát…"
    your_number: str = "Số thứ tự của Ông/Bà"
    ahead: str = "Số người chờ trước: {n}"
    estimated_wait: str = "Thời gian chờ dự kiến: khoảng {n} phút"
    estimated_wait_short: str = "Thời gian chờ dự kiến: dưới {n} phút"
    estimated_wait_floor_min: int = Field(5, ge=1, le=60, description=(
        "Below this many minutes the kiosk and ticket say 'dưới N phút', never 'khoảng 0 phút'."))
    take_ticket_hint: str = "Xin nhận phiếu ở khe máy in bên dưới"
    ticket_title: str = "PHIẾU SỐ THỨ TỰ"
    ticket_time: str = "Giờ lấy số: {time}"
    ticket_footer: str = "Xin vui lòng chờ đến lượt được mời"
    ticket_qr_hint: str = "Quét mã để theo dõi lượt"
    no_dispatcher: str = "Hệ thống lấy số đang bận hoặc mất kết nối. Chưa có số nào được cấp. Xin thử lại sau ít phút hoặc liên hệ quầy hướng dẫn."
    paper_out: str = "Máy in hết giấy, vui lòng liên hệ quầy hướng dẫn"
    printer_offline: str = "Máy in đang tạm ngừng, vui lòng liên hệ quầy hướng dẫn"
    print_failed: str = "Không in được phiếu. Số vừa lấy đã được hủy. Vui lòng liên hệ quầy hướng dẫn."
    refused: str = "Chưa cấp được số. Vui lòng liên hệ quầy hướng dẫn."
    refused_closed_hours: str = "Ngoài giờ làm việc, chưa cấp số. Xin mời Ông/Bà quay lại trong giờ hành chính."
    refused_exhausted: str = "Lĩnh vực này đã hết số trong ngày. Vui lòng liên hệ quầy hướng dẫn."
    refused_rate_limited: str = "Máy đang bận, xin Ông/Bà chờ giây lát rồi bấm lại."
    no_areas: str = "Chưa nhận được danh sách lĩnh vực. Xin chờ trong giây lát."
    dossier_title: str = "Tra cứu hồ sơ"
    dossier_hint_scan: str = "Đưa mã vạch hoặc mã QR trên Giấy tiếp nhận hồ sơ và hẹn trả kết quả vào máy quét, hoặc nhập mã hồ sơ:"
    lookup: str = "Tra cứu"
    delete: str = "Xóa"
    looking_up: str = "Đang tra cứu…"
    dossier_code: str = "Mã hồ sơ"
    procedure: str = "Thủ tục"
    dossier_status: str = "Tình trạng"
    appointment: str = "Ngày hẹn trả kết quả"
    ready_yes: str = "Đã có kết quả, mời Ông/Bà đến quầy trả kết quả"
    ready_no: str = "Hồ sơ chưa có kết quả. Mời Ông/Bà quay lại theo ngày hẹn trả kết quả."
    freshness: str = "Thông tin cập nhật cách đây {age}"
    unknown_dossier: str = "Không tìm thấy hồ sơ có mã {code}. Xin kiểm tra lại mã trên Giấy tiếp nhận hồ sơ và hẹn trả kết quả."
    malformed_code: str = "Mã vừa quét không phải mã hồ sơ. Xin quét lại mã trên Giấy tiếp nhận hồ sơ và hẹn trả kết quả."
    lookup_failed: str = "Chưa tra cứu được, hệ thống đang bận. Xin thử lại sau ít phút."
    procedures_title: str = "Thủ tục hành chính"
    search: str = "Tìm thủ tục theo tên"
    search_hint: str = "Gõ vài chữ trong tên thủ tục, không cần dấu:"
    search_none: str = "Không tìm thấy thủ tục nào có các chữ này."
    space: str = "Dấu cách"
    no_procedures: str = "Lĩnh vực này chưa có thủ tục được niêm yết tại đây."
    documents: str = "Giấy tờ cần nộp"
    fee: str = "Phí, lệ phí"
    processing_time: str = "Thời gian giải quyết"
    where: str = "Nơi nộp hồ sơ"
    scroll_up: str = "▲ Lên"
    scroll_down: str = "▼ Xuống"
    status_received: str = "Đã tiếp nhận"
    status_processing: str = "Đang giải quyết"
    status_additional_documents_required: str = "Cần bổ sung giấy tờ"
    status_ready: str = "Đã có kết quả"
    status_returned: str = "Đã trả kết quả"
    status_rejected: str = "Không đủ điều kiện giải quyết"
    status_withdrawn: str = "Đã rút hồ sơ"
    minutes: str = "{n} phút"
    hours: str = "{n} giờ"
    days: str = "{n} ngày"
    just_now: str = "vài giây"

    def wait_text(self, minutes: float) -> str:
        """The estimated wait as the kiosk and the ticket word it: never "khoảng 0 phút"."""
        return wait_phrase(minutes, self.estimated_wait, self.estimated_wait_short, self.estimated_wait_floor_min)

    @field_validator("waiting", "ahead", "estimated_wait", "estimated_wait_short", "minutes", "hours", "days")
    @classmethod
    def _has_n(cls, v: str) -> str:
        if "{n}" not in v:
            raise ValueError("must contain {n}")
        return v


class Colours(StrictModel):
    background: Colour = (246, 248, 250)
    text: Colour = (20, 28, 38)
    muted: Colour = (80, 90, 102)
    header: Colour = (176, 30, 35)  # the red of public-service signage
    header_text: Colour = (255, 255, 255)
    primary: Colour = (25, 90, 170)
    secondary: Colour = (30, 120, 70)
    tertiary: Colour = (120, 70, 20)
    priority: Colour = (150, 40, 130)
    button_text: Colour = (255, 255, 255)
    nav: Colour = (60, 66, 76)
    error: Colour = (190, 40, 30)
    ok: Colour = (30, 130, 60)
    key: Colour = (255, 255, 255)


HIGH_CONTRAST = dict(background=(255, 255, 255), text=(0, 0, 0), muted=(0, 0, 0), header=(0, 0, 0),
                     header_text=(255, 230, 0), primary=(0, 40, 140), secondary=(0, 85, 30), tertiary=(90, 40, 0),
                     priority=(100, 0, 90), button_text=(255, 255, 255), nav=(0, 0, 0), error=(160, 0, 0),
                     ok=(0, 90, 20), key=(255, 255, 255))


class Screen(ScreenSettings):
    """The shared screen settings; a kiosk is usually a 32" portrait panel."""

    width: int = Field(1080, ge=320, le=7680, description="Window width of a windowed run (not used full screen).")
    height: int = Field(1920, ge=240, le=7680, description="Window height of a windowed run (not used full screen).")
    diagonal_in: float = Field(32.0, ge=3, le=120, description="The panel's diagonal in inches.")
    colours: Colours = Colours()
    high_contrast: Colours = Field(Colours(**HIGH_CONTRAST), description=(
        "The colours of the large-text mode a citizen switches on with the home screen's button."))
    large_text_scale: float = Field(1.3, ge=1.0, le=2.0, description="How much larger text is in that mode.")


class Timeouts(StrictModel):
    inactivity_s: float = Field(60.0, ge=5, le=3600, description="Any screen untouched this long returns home.")
    idle_after_s: float = Field(120.0, ge=5, le=3600, description="Home untouched this long shows the idle screen.")
    result_s: float = Field(20.0, ge=3, le=600, description="The number or an error stays this long.")
    request_s: float = Field(4.0, ge=0.5, le=30, description="How long to wait for the dispatcher's answer.")
    debounce_ms: int = Field(300, ge=0, le=5000, description="Taps closer together than this count once.")


# ---------------------------------------------------------------- printer transports


class UsbTransport(StrictModel):
    kind: Literal["usb"]
    vendor_id: int = Field(ge=0, le=0xFFFF)
    product_id: int = Field(ge=0, le=0xFFFF)
    timeout_ms: int = Field(2000, ge=100, le=60000)
    # Epson's bulk endpoints; other makes differ (`lsusb -v -d VID:PID` lists them)
    in_ep: int = Field(0x82, ge=0x81, le=0x8F, description="bulk IN endpoint address (status replies)")
    out_ep: int = Field(0x01, ge=0x01, le=0x0F, description="bulk OUT endpoint address (print data)")


class SerialTransport(StrictModel):
    kind: Literal["serial"]
    device: str = "/dev/ttyUSB0"
    baudrate: int = Field(19200, ge=1200, le=921600)


class NetworkTransport(StrictModel):
    kind: Literal["network"]
    host: str
    port: int = Field(9100, ge=1, le=65535)
    timeout_s: float = Field(5.0, gt=0, le=60)


class FileTransport(StrictModel):
    kind: Literal["file"]
    path: Path = Path("/dev/usb/lp0")


class DummyTransport(StrictModel):
    """Bytes kept in memory: for tests, the demo and a kiosk without a printer attached."""

    kind: Literal["dummy"]


Transport = Annotated[Union[UsbTransport, SerialTransport, NetworkTransport, FileTransport, DummyTransport],
                      Field(discriminator="kind")]


class TextMode(StrictModel):
    """Opt-in: print text with the printer's own Vietnamese code page instead of a raster image.

    Code pages differ between printers (CP1258, TCVN-3, none): check the
    printer's self-test page for the ``ESC t`` number before turning this on.
    """

    codepage: int = Field(ge=0, le=255, description="The ESC t n number of the printer's Vietnamese code page.")
    encoding: Literal["cp1258"] = "cp1258"
    columns: int = Field(42, ge=16, le=80, description="Characters per line in font A.")


class PrinterSettings(StrictModel):
    transport: Transport = DummyTransport(kind="dummy")
    profile: str = Field("TM-T20II", description="python-escpos capability profile (its media width is used).")
    width_px: int | None = Field(None, ge=128, le=1024, description="Override the profile's dot width.")
    status_query: Literal["dle_eot", "gs_r", "none"] = Field(
        "dle_eot", description="How to ask paper/online status; 'none' for printers that cannot answer.")
    status_timeout_s: float = Field(0.3, gt=0, le=5, description="Silence this long means 'unknown'.")
    status_poll_s: float = Field(30.0, ge=1, le=3600, description="Status asked this often for the health.")
    cut: Literal["full", "partial"] = "partial"
    text_mode: TextMode | None = None
    logo: Path | None = Field(None, description="A PNG printed at the top of each ticket.")
    counter_file: Path = Field(Path("/var/lib/motcua/kiosk-printed.json"),
                               description="Tickets printed since the last paper refill, kept across restarts.")

    @field_validator("profile")
    @classmethod
    def _known_profile(cls, v: str) -> str:
        from escpos.capabilities import get_profile

        try:
            get_profile(v)
        except Exception:  # noqa: BLE001 - python-escpos raises its own NotSupported
            raise ValueError(f"unknown python-escpos profile {v!r}") from None
        return v


class ScannerSettings(StrictModel):
    device: str = Field(description="Serial port of the barcode scanner, e.g. /dev/ttyACM0.")
    baudrate: int = Field(9600, ge=1200, le=921600)
    max_line_bytes: int = Field(512, ge=16, le=8192, description="Longer lines are refused whole.")
    reopen_s: float = Field(2.0, ge=0.1, le=60, description="Retry this often while the scanner is unplugged.")
    url_query_keys: list[str] = Field(
        ["ma_ho_so", "mahoso", "MaHoSo", "maHoSo", "code", "ma"],
        description="In a QR code holding a URL, the query parameters that may carry the dossier code.")


class Flow(StrictModel):
    """How many touches a number takes."""

    confirm_before_print: bool = Field(
        False, description="Show a 'check and print' screen after the area is chosen (one touch more); "
                           "off: touching an area prints the number.")
    issue_tickets: bool = Field(
        True, description="false: a kiosk without a printer, for the dossier lookup and the procedures only.")
    single_area_direct: bool = Field(
        True, description="A hall with one service area prints the number from the home screen's button.")
    closed_area: Literal["issue", "refuse"] = Field(
        "issue", description="An area with no open counter: 'issue' a number anyway (the screen and the "
                             "ticket say no counter is open yet) or 'refuse' it with a message.")


class KioskSettings(DeviceSettings):
    device_id: str = Field("kiosk-1", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    hall_name: str | None = Field(None, description="Shown and printed; default: the dispatcher's hall name.")
    tracking_url: str = Field("https://motcua.example.gov.vn/ve/{token}",
                              description="The ticket's QR code: the citizen's queue page (motcua-web); {token} is "
                                          "replaced by the ticket's random tracking token.")
    timezone: TimeZoneName = Field("Asia/Ho_Chi_Minh", description="For the time printed on the ticket.")
    screen: Screen = Screen()
    timeouts: Timeouts = Timeouts()
    flow: Flow = Flow()
    sound: TouchSoundSettings = Field(TouchSoundSettings(), description=(
        "A tick through the kiosk's own speaker on every touch, and the printed number spoken (the "
        "announcer's voice pack); `enabled = false` for silence."))
    printer: PrinterSettings = PrinterSettings()
    scanner: ScannerSettings | None = None
    procedures: list[ProcedureInfo] = Field(
        default_factory=list, description="The catalogue; when empty, the one in the dispatcher's hall config.")
    procedures_file: Path | None = Field(
        None, description="A catalogue written by `motcua procedures import` ([[procedures]] tables); used "
                          "when `procedures` is empty.")
    texts: Texts = Texts()

    @field_validator("procedures_file")
    @classmethod
    def _readable_catalogue(cls, v: Path | None) -> Path | None:
        if v is not None:
            cls._catalogue(v)  # a missing or broken catalogue is a settings error naming this key
        return v

    @staticmethod
    def _catalogue(path: Path) -> list[ProcedureInfo]:
        from .catalogue import load_catalogue

        try:
            return load_catalogue(path)
        except OSError as exc:
            raise ValueError(f"cannot read {path}: {exc.strerror}") from None
        except ValueError as exc:  # TOML errors and invalid procedures alike
            raise ValueError(f"{path} is not a procedures catalogue: {exc}") from None

    @model_validator(mode="after")
    def _catalogue_from_file(self) -> KioskSettings:
        if self.procedures_file is not None and not self.procedures:
            self.procedures = self._catalogue(self.procedures_file)
        return self

    @field_validator("tracking_url")
    @classmethod
    def _has_token(cls, v: str) -> str:
        # The ticket id is guessable (day, area, number): a QR carrying it would let anyone follow anyone.
        if "{ticket_id}" in v:
            raise ValueError("must not contain {ticket_id} (guessable): use {token}, e.g. https://hall.example/ve/{token}")
        if "{token}" not in v:
            raise ValueError("must contain {token}, e.g. https://hall.example/ve/{token}")
        return v

