"""The counter box's settings: its counter, its LED matrix, its keypads, its timings.

Everything a hall may want to change is here: pins, key codes, module count,
orientation, brightness by time of day, blink count, the texts shown when the
counter is closed or paused. The matrix fonts are 8-pixel bitmap fonts with
no Vietnamese diacritics, so every matrix text must be printable ASCII
(checked when the settings load); Vietnamese belongs on the hall board.
"""

from __future__ import annotations

import re
from datetime import time
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from motcua.protocol.messages import CounterNumber, OfficerId
from motcua.ledfonts import check_font_name
from motcua.settings import DeviceSettings, StrictModel, TimeZoneName


# What a key can mean. Actions map onto counter commands (open_close and pause toggle
# by the counter's state); digits and area keys fill the entry used by transfer.
KEY_ACTIONS = ("next", "recall", "skip", "transfer", "finish", "open", "close", "open_close", "pause", "resume",
               "pause_resume", "clear")
DIGITS = tuple("0123456789")
_AREA_KEY = re.compile(r"^area:[A-Za-z0-9_-]{1,32}$")


def check_token(token: str) -> str:
    if token in KEY_ACTIONS or token in DIGITS or _AREA_KEY.match(token):
        return token
    raise ValueError(f"{token!r} is not a key meaning (one of {', '.join(KEY_ACTIONS)}, a digit 0-9, or area:CODE)")


def _ascii(v: str) -> str:
    if any(not (32 <= ord(c) < 127) for c in v):
        raise ValueError("the LED matrix fonts have no accents: use printable ASCII only (Vietnamese goes on the TV)")
    return v


class BrightnessStep(StrictModel):
    """From this time of day (the box's time zone) on, this brightness, until the next step."""

    start: time = Field(alias="from")
    level: int = Field(ge=0, le=255, description="MAX7219 intensity as luma's contrast(), 0-255.")


class MatrixSettings(StrictModel):
    driver: Literal["max7219", "dummy", "capture", "pygame"] = Field(
        "max7219", description="max7219 on SPI (the Pi); dummy keeps frames in memory; capture saves PNGs "
                               "(luma.emulator); pygame shows an emulator window.")
    modules: int = Field(4, ge=1, le=32, description="Chained 8x8 MAX7219 modules.")
    block_orientation: Literal[0, 90, -90, 180] = Field(0, description="How each module is mounted (luma).")
    rotate: Literal[0, 1, 2, 3] = Field(0, description="Rotation of the whole display, in quarter turns.")
    reverse_order: bool = Field(False, description="Modules chained right to left.")
    spi_port: int = Field(0, ge=0, le=9)
    spi_device: int = Field(0, ge=0, le=9)
    fonts: list[str] = Field(
        ["cp437", "cp437_proportional", "lcd_proportional", "tiny"], min_length=1,
        description="Tried in order: the first in which the text fits is used; if none fits the text scrolls "
                    "in the first.")
    brightness: int = Field(64, ge=0, le=255, description="Used when no schedule step applies.")
    brightness_schedule: list[BrightnessStep] = Field(default_factory=list)
    timezone: TimeZoneName = "Asia/Ho_Chi_Minh"
    blink_count: int = Field(3, ge=0, le=20, description="Blinks on a new call or a recall, then the number holds.")
    blink_on_ms: int = Field(350, ge=50, le=5000)
    blink_off_ms: int = Field(250, ge=50, le=5000)
    scroll_step_ms: int = Field(60, ge=10, le=1000, description="One column of scrolling.")
    scroll_gap: int = Field(8, ge=1, le=64, description="Blank columns between the end of a scrolling text and its repeat.")
    idle_text: str = Field("---", max_length=40, description="Open, nobody called.")
    closed_text: str | None = Field(None, max_length=40, description=(
        "Shown while the counter is closed. Default: 'NGHI' (nghỉ: this counter is not serving) on fewer "
        "than 8 modules, 'QUAY NGHI' (quầy nghỉ) on 8 or more."))
    paused_text: str | None = Field(None, max_length=40, description=(
        "Shown while the officer has paused. Default: 'TAM NGHI' (tạm nghỉ: back shortly), in the smallest "
        "font on 4 modules, full size on 8."))
    waiting_text: str = Field("...", max_length=40, description="Before the counter's state is known.")
    entry_prefix: str = Field(">", max_length=4, description="Shown before digits typed on a serial keypad.")
    offline_marker: Literal["dots", "corner"] = Field(
        "dots", description="dots: every other pixel of the bottom row; corner: a 2x2 block bottom right.")
    capture_dir: Path = Field(Path("/var/lib/motcua/matrix"), description="Where the capture driver writes.")
    capture_every_frame: bool = Field(False, description="capture: one PNG per frame, or only the latest.")
    emulator_scale: int = Field(4, ge=1, le=16)

    @field_validator("fonts")
    @classmethod
    def _known_fonts(cls, v: list[str]) -> list[str]:
        return [check_font_name(name) for name in v]

    @field_validator("idle_text", "closed_text", "paused_text", "waiting_text", "entry_prefix")
    @classmethod
    def _printable(cls, v: str | None) -> str | None:
        return v if v is None else _ascii(v)

    @model_validator(mode="after")
    def _state_texts(self) -> MatrixSettings:
        # ASCII Vietnamese without its marks reads unambiguously in these two words; a lone "X" or
        # "- -" means nothing to a citizen.
        self.closed_text = self.shown_when_closed
        self.paused_text = self.shown_when_paused
        return self

    @property
    def shown_when_closed(self) -> str:
        """The closed text, or its default for this many modules (what ``closed_text`` holds once validated)."""
        if self.closed_text is not None:
            return self.closed_text
        return "NGHI" if self.modules < 8 else "QUAY NGHI"

    @property
    def shown_when_paused(self) -> str:
        return self.paused_text if self.paused_text is not None else "TAM NGHI"

    @field_validator("brightness_schedule")
    @classmethod
    def _ordered(cls, v: list[BrightnessStep]) -> list[BrightnessStep]:
        starts = [s.start for s in v]
        if starts != sorted(starts) or len(set(starts)) != len(starts):
            raise ValueError("steps must be in increasing 'from' order, each time once")
        return v

    @property
    def width(self) -> int:
        return 8 * self.modules

    @property
    def height(self) -> int:
        return 8


class GpioKeypadSettings(StrictModel):
    pin_factory: Literal["default", "mock", "lgpio", "rpigpio", "pigpio", "native"] = Field(
        "default", description="default: gpiozero's choice (GPIOZERO_PIN_FACTORY); mock for a laptop.")
    buttons: dict[str, int | str] = Field(
        default_factory=lambda: dict[str, int | str]({"next": 17, "recall": 27, "skip": 22, "transfer": 23, "finish": 24,
                                 "open_close": 25, "pause_resume": 5}),
        description="Key meaning -> pin (BCM number or a gpiozero name like 'GPIO17').")
    pull_up: bool = Field(True, description="Buttons connect the pin to ground.")
    bounce_ms: int = Field(30, ge=0, le=1000)
    buzzer_pin: int | str | None = 18
    buzzer_active_high: bool = True
    led_pin: int | str | None = None
    ok_beep_ms: int = Field(80, ge=10, le=5000)
    error_beep_ms: int = Field(700, ge=10, le=10000)

    @field_validator("buttons")
    @classmethod
    def _known_meanings(cls, v: dict[str, int | str]) -> dict[str, int | str]:
        for token in v:
            check_token(token)
        pins = [str(p) for p in v.values()]
        if len(set(pins)) != len(pins):
            raise ValueError("two keys on one pin")
        return v


class SerialKeypadSettings(StrictModel):
    port: str = Field("/dev/ttyUSB0", description="A device path or a pyserial URL (loop://, socket://…).")
    baudrate: int = Field(9600, ge=300, le=4000000)
    framing: Literal["line", "byte"] = Field(
        "line", description="line: each key code ends with CR or LF; byte: every byte is a key code.")
    keys: dict[str, str] = Field(
        default_factory=lambda: {**{d: d for d in DIGITS}, "N": "next", "R": "recall", "S": "skip", "T": "transfer",
                                 "F": "finish", "O": "open_close", "P": "pause_resume", "C": "clear"},
        description="Key code as the keypad sends it -> key meaning.")
    ok_reply: str | None = Field(None, description="Written back to the keypad when the dispatcher accepted (e.g. a beep code).")
    error_reply: str | None = None
    reopen_s: float = Field(2.0, ge=0.1, le=300, description="Pause between attempts to reopen an unplugged keypad.")
    dossier_scans: bool = Field(
        True, description="A line that is no key code but a dossier code (a receipt scanned by a barcode scanner "
                          "on this line) attaches that dossier to the ticket being served or just finished.")

    @field_validator("keys")
    @classmethod
    def _known_meanings(cls, v: dict[str, str]) -> dict[str, str]:
        for code, token in v.items():
            if not code or len(code) > 32:
                raise ValueError(f"key code {code!r} must be 1-32 characters")
            check_token(token)
        return v


class CounterBoxSettings(DeviceSettings):
    device_id: str = Field("counter-1", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    counter: CounterNumber = Field(1, description="The counter this box sits at; it commands only this one.")
    officer: OfficerId | None = Field(None, description="Officer logged in when 'open' is pressed.")
    dispatcher_id: str = Field("dispatcher", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    reply_timeout_s: float = Field(1.5, gt=0, le=30, description="Wait for the dispatcher's reply, per attempt.")
    attempts: int = Field(3, ge=1, le=10, description="Attempts per press (same command id: applied once).")
    offline_after_s: float = Field(3.0, ge=0, le=120, description="Unreachable this long -> the offline marker.")
    transfer_default: str | None = Field(
        None, description="Transfer target when nothing was typed: a counter number or an area code.")
    matrix: MatrixSettings = MatrixSettings()
    gpio: GpioKeypadSettings | None = None
    serial_keypad: SerialKeypadSettings | None = None

    @model_validator(mode="after")
    def _officer_for_open(self) -> CounterBoxSettings:
        tokens = set((self.gpio.buttons if self.gpio else {}).keys()) | set(
            (self.serial_keypad.keys if self.serial_keypad else {}).values())
        if tokens & {"open", "open_close"} and self.officer is None:
            raise ValueError("officer: required when a key opens the counter")
        return self

    @property
    def message_expiry_s(self) -> int:
        """The broker drops a command older than the press's whole retry window: a press never fires late."""
        return max(1, int(self.reply_timeout_s * self.attempts + 0.999))

