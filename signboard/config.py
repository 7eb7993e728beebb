"""The LED signboard's settings: its panel, what it scrolls, how fast, and in which script.

The panel is a chain of 8x8 MAX7219 modules laid out in rows (luma arranges a
cascade of ``modules_per_row`` x ``rows`` modules as one width x height
display). Vietnamese keeps its diacritics only where the panel has the pixels
for them: 16 rows or more. An 8-pixel panel shows ASCII (tone marks dropped,
đ as d), by setting, and refuses to be told otherwise.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator

from motcua.ledfonts import check_font_name
from motcua.settings import DeviceSettings, StrictModel

DEJAVU_BOLD = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")

# Below this many pixel rows a Vietnamese letter cannot carry its marks legibly (Ấ, Ộ stack two).
DIACRITICS_MIN_HEIGHT = 16


class PanelSettings(StrictModel):
    driver: Literal["max7219", "dummy", "capture", "pygame"] = Field(
        "max7219", description="max7219 on SPI (the Pi); dummy keeps the frame in memory; capture saves PNGs "
                               "(luma.emulator); pygame shows an emulator window.")
    modules_per_row: int = Field(16, ge=1, le=64, description="8x8 modules side by side in one row.")
    rows: int = Field(2, ge=1, le=8, description="Rows of modules, one above the other.")
    block_orientation: Literal[0, 90, -90, 180] = Field(-90, description="How each module is mounted (luma); "
                                                                          "-90 for the common FC-16 modules.")
    rotate: Literal[0, 1, 2, 3] = Field(0, description="Rotation of the whole panel, in quarter turns.")
    reverse_order: bool = Field(False, description="Modules chained right to left (one row only: luma "
                                                   "reverses a single row).")
    spi_port: int = Field(0, ge=0, le=9)
    spi_device: int = Field(0, ge=0, le=9)
    brightness: int = Field(96, ge=0, le=255)
    capture_dir: Path = Field(Path("/var/lib/motcua/signboard"), description="Where the capture driver writes.")
    emulator_scale: int = Field(4, ge=1, le=16)

    @field_validator("reverse_order")
    @classmethod
    def _one_row_reversed(cls, v: bool, info: ValidationInfo) -> bool:
        if v and info.data.get("rows", 1) > 1:
            raise ValueError("luma reverses the order of a single row of modules only: chain each row left to "
                             "right, the next row after the last module of the one above, or use one row")
        return v

    @property
    def width(self) -> int:
        return 8 * self.modules_per_row

    @property
    def height(self) -> int:
        return 8 * self.rows


class SignTexts(StrictModel):
    call: str = Field("Mời số {number} đến quầy {counter}", max_length=200,
                      description="What scrolls on each call; {number} and {counter} are filled in.")
    recall: str = Field("Mời số {number} đến quầy {counter}", max_length=200, description="On a recall.")
    notice: str = Field(
        "Trung tâm Phục vụ hành chính công xin kính chào Ông/Bà. Mời Ông/Bà lấy số thứ tự tại kiosk "
        "và chờ đến lượt.", max_length=500,
        description="Scrolled between calls until the central system sends its notice (hall/notice).")

    @field_validator("call", "recall")
    @classmethod
    def _fields(cls, v: str) -> str:
        try:
            v.format(number="A1023", counter=5)
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"only {{number}} and {{counter}} can be filled in ({exc})") from None
        return v


class SignboardSettings(DeviceSettings):
    device_id: str = Field("signboard-1", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    dispatcher_id: str = Field("dispatcher", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    panel: PanelSettings = PanelSettings()
    diacritics: Literal["auto", "keep", "strip"] = Field(
        "auto", description="auto: Vietnamese with its marks on a panel of 16 rows or more, ASCII below; "
                            "keep: always with marks (needs 16 rows); strip: always ASCII.")
    font: Path = Field(DEJAVU_BOLD, description="TrueType font for panels of 16 rows or more (covers Vietnamese).")
    small_font: str = Field("cp437_proportional", description="8-pixel bitmap font for ASCII on 8-row panels.")
    speed_px_s: float = Field(32.0, ge=2, le=500, description="Scrolling speed, in LED columns per second.")
    call_passes: int = Field(2, ge=1, le=10, description="Times a call scrolls across before the notice resumes.")
    calls_queued: int = Field(6, ge=1, le=50, description="Calls waiting their turn; the oldest give way.")
    gap_px: int = Field(16, ge=0, le=256, description="Blank columns between two passes.")
    texts: SignTexts = SignTexts()

    @field_validator("small_font")
    @classmethod
    def _known_font(cls, v: str) -> str:
        return check_font_name(v)

    @field_validator("diacritics")
    @classmethod
    def _enough_rows_for_marks(cls, v: str, info: ValidationInfo) -> str:
        panel = info.data.get("panel")  # validated first: declared above
        if v == "keep" and panel is not None and panel.height < DIACRITICS_MIN_HEIGHT:
            raise ValueError(f"'keep' needs a panel of {DIACRITICS_MIN_HEIGHT} pixel rows or more "
                             f"(panel.rows >= 2); this one has {panel.height}: use 'auto' or 'strip'")
        return v

    @property
    def with_marks(self) -> bool:
        """Whether Vietnamese keeps its diacritics on this panel."""
        if self.diacritics == "strip":
            return False
        return self.panel.height >= DIACRITICS_MIN_HEIGHT
