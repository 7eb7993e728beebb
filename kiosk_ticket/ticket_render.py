"""The paper ticket as a 1-bit image at the printer's dot width: pure PIL, no printer, no MQTT.

Vietnamese code pages differ between printers and tone marks often print
uncomposed in text mode, so the ticket is drawn here with a font that covers
Vietnamese and sent as a raster image, which every ESC/POS printer prints the
same way. Long lines wrap at word boundaries; the number is as large as fits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path

import qrcode
from PIL import Image, ImageDraw, ImageFont

from .config import Texts

WHITE, BLACK = 255, 0


@dataclass(frozen=True)
class TicketContent:
    """What one ticket says. No personal data: a ticket is a number, not a person."""

    hall_name: str
    area_name: str
    number: str
    ticket_id: str
    issued_at: datetime  # already in the hall's zone
    waiting_ahead: int | None
    estimated_wait_min: int | None
    tracking_url: str | None
    priority_name: str | None = None
    area_closed: bool = False  # no counter of the area open when the number was issued


@lru_cache(maxsize=64)
def _font(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size)


def wrap(text: str, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    """Split ``text`` into lines no wider than ``width``; a single over-long word is cut by characters."""
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        line = ""
        for word in paragraph.split():
            candidate = f"{line} {word}" if line else word
            if font.getlength(candidate) <= width:
                line = candidate
                continue
            if line:
                lines.append(line)
            while font.getlength(word) > width:  # a URL or a code longer than the paper
                cut = len(word)
                while cut > 1 and font.getlength(word[:cut]) > width:
                    cut -= 1
                lines.append(word[:cut])
                word = word[cut:]
            line = word
        lines.append(line)
    return lines


class TicketRenderer:
    def __init__(self, width: int, font: Path, bold_font: Path, texts: Texts, logo: Path | None = None):
        self.width = width
        self.font_path = str(font)
        self.bold_path = str(bold_font)
        self.t = texts
        self.logo = self._load_logo(logo) if logo else None

    def _load_logo(self, path: Path) -> Image.Image:
        img = Image.open(path).convert("RGBA")
        white = Image.new("RGBA", img.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, img).convert("L")
        max_w, max_h = int(self.width * 0.5), int(self.width * 0.25)
        img.thumbnail((max_w, max_h))
        return img.point(lambda v: WHITE if v >= 128 else BLACK, mode="1")

    def render(self, c: TicketContent) -> Image.Image:
        """The ticket, mode '1', exactly ``width`` dots wide, as tall as it needs to be."""
        w = self.width
        u = w / 576  # sizes are designed for 80 mm paper and scale to 58 mm
        margin = int(16 * u)
        inner = w - 2 * margin
        img = Image.new("1", (w, int(2400 * u)), WHITE)
        d = ImageDraw.Draw(img)
        y = int(8 * u)

        def block(text: str, size: int, bold: bool = False, gap: int = 6) -> None:
            nonlocal y
            font = _font(self.bold_path if bold else self.font_path, max(10, int(size * u)))
            for line in wrap(text, font, inner):
                box = d.textbbox((0, 0), line, font=font)
                d.text(((w - (box[2] - box[0])) // 2 - box[0], y - box[1] + 2), line, font=font, fill=BLACK)
                y += int(box[3] - box[1]) + int(gap * u) + 4
            y += int(gap * u)

        def rule() -> None:
            nonlocal y
            d.line((margin, y, w - margin, y), fill=BLACK, width=max(1, int(2 * u)))
            y += int(14 * u)

        if self.logo is not None:
            img.paste(self.logo, ((w - self.logo.width) // 2, y))
            y += self.logo.height + int(10 * u)
        block(c.hall_name, 26, bold=True)
        rule()
        block(self.t.ticket_title, 24, bold=True, gap=2)
        number_font = self._number_font(c.number, inner, int(200 * u))
        box = d.textbbox((0, 0), c.number, font=number_font)
        d.text(((w - (box[2] - box[0])) // 2 - box[0], y - box[1]), c.number, font=number_font, fill=BLACK)
        y += int(box[3] - box[1]) + int(20 * u)
        if c.priority_name:
            label = f"{self.t.priority_label}: {c.priority_name}"
            font = _font(self.bold_path, int(26 * u))
            lines = wrap(label, font, inner - int(20 * u))
            line_h = int(font.getbbox("Ấy")[3]) + int(6 * u)
            top = y
            d.rectangle((margin, top, w - margin, top + line_h * len(lines) + int(12 * u)), fill=BLACK)
            for i, line in enumerate(lines):
                lw = font.getlength(line)
                d.text(((w - lw) // 2, top + int(6 * u) + i * line_h), line, font=font, fill=WHITE)
            y = top + line_h * len(lines) + int(26 * u)
        block(f"{self.t.area_label}: {c.area_name}", 28, bold=True)
        block(self.t.ticket_time.format(time=c.issued_at.strftime("%H:%M  %d/%m/%Y")), 24)
        if c.waiting_ahead is not None:
            block(self.t.ahead.format(n=c.waiting_ahead), 24)
        if c.estimated_wait_min is not None:
            block(self.t.wait_text(c.estimated_wait_min), 24)
        if c.area_closed:
            block(self.t.ticket_area_closed, 24, bold=True)
        rule()
        if c.tracking_url:
            qr = self._qr(c.tracking_url, int(220 * u))
            img.paste(qr, ((w - qr.width) // 2, y))
            y += qr.height + int(4 * u)
            block(self.t.ticket_qr_hint, 20)
        block(self.t.ticket_footer, 22, bold=True)
        y += int(24 * u)  # paper to tear past the cutter
        return img.crop((0, 0, w, y))

    def _number_font(self, number: str, width: int, size: int) -> ImageFont.FreeTypeFont:
        while size > 24 and _font(self.bold_path, size).getlength(number) > width:
            size -= 4
        return _font(self.bold_path, size)

    @staticmethod
    def _qr(data: str, target: int) -> Image.Image:
        q = qrcode.QRCode(border=2, error_correction=qrcode.constants.ERROR_CORRECT_M)
        q.add_data(data)
        q.make(fit=True)
        modules = q.modules_count + 2 * q.border
        box = max(2, target // modules)  # whole dots per module: a scaled QR code blurs and will not scan
        q.box_size = box
        return q.make_image(fill_color="black", back_color="white").get_image().convert("1")


def ticket_lines(c: TicketContent, t: Texts, columns: int) -> list[str]:
    """The same ticket as plain lines, for printers set to text mode with their own code page."""
    def wrapped(text: str) -> list[str]:
        out: list[str] = []
        for paragraph in text.splitlines() or [""]:
            line = ""
            for word in paragraph.split():
                while len(word) > columns:
                    if line:
                        out.append(line)
                        line = ""
                    out.append(word[:columns])
                    word = word[columns:]
                candidate = f"{line} {word}" if line else word
                if len(candidate) <= columns:
                    line = candidate
                else:
                    out.append(line)
                    line = word
            out.append(line)
        return [line.center(columns).rstrip() for line in out]

    lines = wrapped(c.hall_name) + ["-" * columns] + wrapped(t.ticket_title) + wrapped(c.number)
    if c.priority_name:
        lines += wrapped(f"{t.priority_label}: {c.priority_name}")
    lines += wrapped(f"{t.area_label}: {c.area_name}")
    lines += wrapped(t.ticket_time.format(time=c.issued_at.strftime("%H:%M  %d/%m/%Y")))
    if c.waiting_ahead is not None:
        lines += wrapped(t.ahead.format(n=c.waiting_ahead))
    if c.estimated_wait_min is not None:
        lines += wrapped(t.wait_text(c.estimated_wait_min))
    if c.area_closed:
        lines += wrapped(t.ticket_area_closed)
    return lines + ["-" * columns] + wrapped(t.ticket_footer) + ["", ""]
