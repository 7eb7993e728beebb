"""The ticket printer: python-escpos builds the bytes, one transport from the settings writes them.

python-escpos's own style: one abstract printer (``Escpos``) whose transports
(USB, serial, network, file, dummy) implement only the raw write. Here the
whole job (raster image, cut) is built once on an in-memory ``Dummy`` with the
printer's capability profile, then written to the real transport in one
write, so the bytes a test decodes are exactly the bytes the printer got.

Status: ``DLE EOT 1`` (online) and ``DLE EOT 4`` (roll paper sensor), or
``GS r 1`` for printers that only answer that. python-escpos's own
``paper_status()`` says "paper OK" when the printer answers nothing; here
silence is ``unknown``, never ``ok``: the kiosk then prints anyway (most
printers on a one-way cable never answer) but says so in its health.
"""

from __future__ import annotations

import copy
import logging
import socket
import threading
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from PIL import Image

from .config import PrinterSettings, Transport

log = logging.getLogger("kiosk_ticket.printer")

DLE_EOT_ONLINE = b"\x10\x04\x01"
DLE_EOT_PAPER = b"\x10\x04\x04"
GS_R_PAPER = b"\x1dr\x01"

PaperState = Literal["ok", "near_end", "out", "unknown"]


class PrinterError(Exception):
    """The printer could not be opened or written to."""


@dataclass(frozen=True)
class PrinterStatus:
    online: bool | None  # None: the printer did not say
    paper: PaperState

    @property
    def refusal(self) -> str | None:
        """Why no ticket may be issued now (a Texts key), or None. Unknown is not a refusal."""
        if self.paper == "out":
            return "paper_out"
        if self.online is False:
            return "printer_offline"
        return None


def decode_dle_eot_online(byte: int) -> bool:
    return not byte & 0x08  # bit 3: offline


def decode_dle_eot_paper(byte: int) -> PaperState:
    if byte & 0x60:  # bits 5, 6: roll paper end
        return "out"
    if byte & 0x0C:  # bits 2, 3: roll paper near end
        return "near_end"
    return "ok"


def decode_gs_r_paper(byte: int) -> PaperState:
    if byte & 0x0C:  # bits 2, 3: paper end
        return "out"
    if byte & 0x03:  # bits 0, 1: near end
        return "near_end"
    return "ok"


# ------------------------------------------------------------------ transports: open, read with a deadline


def open_transport(t: Transport, profile: str):
    """The python-escpos printer for the configured transport; the device opens on first use."""
    from escpos import printer as p  # imported late: a config check should not need the library loaded

    if t.kind == "usb":  # pyusb only on the box that has the USB printer
        return p.Usb(t.vendor_id, t.product_id, timeout=t.timeout_ms, in_ep=t.in_ep, out_ep=t.out_ep,
                     profile=profile)
    if t.kind == "serial":
        return p.Serial(devfile=t.device, baudrate=t.baudrate, timeout=1, profile=profile)
    if t.kind == "network":
        return p.Network(host=t.host, port=t.port, timeout=t.timeout_s, profile=profile)
    if t.kind == "file":
        return p.File(devfile=str(t.path), profile=profile)
    return p.Dummy(profile=profile)


def _read_serial(dev, query: bytes, timeout: float) -> bytes:
    ser = dev.device
    ser.reset_input_buffer()  # a late answer to an earlier query must not be read as this one's
    ser.write(query)
    ser.timeout = timeout
    try:
        return ser.read(1)
    finally:
        ser.timeout = 1


def _read_socket(dev, query: bytes, timeout: float) -> bytes:
    sock: socket.socket = dev.device
    sock.setblocking(False)
    try:
        while sock.recv(64):  # drain late answers
            pass
    except (BlockingIOError, InterruptedError):
        pass
    finally:
        sock.setblocking(True)
    sock.settimeout(dev.timeout)
    sock.sendall(query)
    sock.settimeout(timeout)
    try:
        data = sock.recv(1)
        if data == b"":
            raise ConnectionError("printer closed the connection")
        return data
    except socket.timeout:
        return b""
    finally:
        sock.settimeout(dev.timeout)


def _read_usb(dev, query: bytes, timeout: float) -> bytes:
    dev._raw(query)
    try:
        return bytes(dev.device.read(dev.in_ep, 16, int(timeout * 1000)))[:1]
    except Exception as exc:  # noqa: BLE001 - pyusb raises USBTimeoutError on silence
        if "timeout" in str(exc).lower():
            return b""
        raise


_READERS: dict[str, Callable[..., bytes]] = {"Serial": _read_serial, "Network": _read_socket, "Usb": _read_usb}


# ------------------------------------------------------------------ text mode (opt-in)

_TONE_MARKS = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0323"}


def to_cp1258(text: str) -> bytes:
    """Vietnamese in CP1258: letters with circumflex, breve and horn precomposed, tone marks combining.

    Python's cp1258 codec refuses precomposed toned letters (ế), which is how
    Vietnamese is normally typed; CP1258 spells them as base letter + tone.
    """
    out: list[str] = []
    base = -1  # index in out of the letter the next marks belong to
    for ch in unicodedata.normalize("NFD", text):
        if base >= 0 and ch not in _TONE_MARKS and unicodedata.combining(ch):
            # NFD puts a dot below before a circumflex (ệ = e + dot + circumflex): compose with the letter
            composed = unicodedata.normalize("NFC", out[base] + ch)
            if len(composed) == 1:
                out[base] = composed
                continue
        if not unicodedata.combining(ch):
            base = len(out)
        out.append(ch)
    return "".join(out).encode("cp1258", errors="replace")


# ------------------------------------------------------------------ the printer


class TicketPrinter:
    def __init__(self, settings: PrinterSettings):
        self.s = settings
        from escpos.capabilities import get_profile

        profile = get_profile(settings.profile)
        pixels = profile.profile_data.get("media", {}).get("width", {}).get("pixels")
        if settings.width_px is not None:
            self.width = settings.width_px
        elif isinstance(pixels, int):
            self.width = pixels
        else:
            raise ValueError(f"printer profile {settings.profile!r} does not know its dot width: set printer.width_px")
        self._dev = None
        self._lock = threading.Lock()
        self.bytes_written = 0

    # ---------------------------------------------------------------- building jobs

    def _builder(self):
        from escpos.printer import Dummy

        d = Dummy(profile=self.s.profile)
        data = copy.deepcopy(d.profile.profile_data)  # the class-level dict is shared: never mutate it
        data.setdefault("media", {})["width"] = {"mm": data.get("media", {}).get("width", {}).get("mm"),
                                                  "pixels": self.width}
        d.profile.profile_data = data
        return d

    def image_job(self, image: Image.Image) -> bytes:
        """Initialise, the ticket as GS v 0 raster, feed, cut."""
        if image.width != self.width:
            raise ValueError(f"ticket is {image.width} dots wide, the printer {self.width}")
        d = self._builder()
        d.hw("INIT")
        d.image(image, impl="bitImageRaster", high_density_vertical=True, high_density_horizontal=True)
        d.cut(mode="FULL" if self.s.cut == "full" else "PART")
        return d.output

    def text_job(self, lines: list[str]) -> bytes:
        """Opt-in text mode: the printer's own Vietnamese code page (``ESC t n``), font A."""
        tm = self.s.text_mode
        if tm is None:
            raise ValueError("text mode is not configured for this printer")
        d = self._builder()
        d.hw("INIT")
        body = b"\x1bt" + bytes([tm.codepage])
        for line in lines:
            body += to_cp1258(line) + b"\n"
        d._raw(body)
        d.cut(mode="FULL" if self.s.cut == "full" else "PART")
        return d.output

    # ---------------------------------------------------------------- talking to the printer

    @property
    def device(self):
        if self._dev is None:
            self._dev = open_transport(self.s.transport, self.s.profile)
        return self._dev

    def send(self, job: bytes) -> None:
        """Write a whole job; on failure the transport is closed so the next attempt reopens it."""
        with self._lock:
            try:
                dev = self.device
                dev._raw(job)
                flush = getattr(getattr(dev, "_device", None), "flush", None)
                if callable(flush):  # serial and file: the bytes have left the process
                    flush()
                self.bytes_written += len(job)
            except Exception as exc:  # noqa: BLE001 - escpos, pyserial, socket and pyusb all raise their own
                self._drop()
                raise PrinterError(f"{type(exc).__name__}: {exc}") from exc

    def status(self) -> PrinterStatus:
        """Ask the printer; what it does not answer is unknown. Raises PrinterError if it cannot be reached."""
        if self.s.status_query == "none":
            return PrinterStatus(None, "unknown")
        with self._lock:
            try:
                dev = self.device
                reader = _READERS.get(type(dev).__name__)
                if reader is None:  # Dummy, File: a one-way path, nothing can answer
                    return PrinterStatus(None, "unknown")
                t = self.s.status_timeout_s
                if self.s.status_query == "gs_r":
                    paper = reader(dev, GS_R_PAPER, t)
                    return PrinterStatus(None, decode_gs_r_paper(paper[0]) if paper else "unknown")
                online = reader(dev, DLE_EOT_ONLINE, t)
                if not online:  # silent: do not wait a second time for the paper answer
                    return PrinterStatus(None, "unknown")
                paper = reader(dev, DLE_EOT_PAPER, t)
                return PrinterStatus(decode_dle_eot_online(online[0]),
                                     decode_dle_eot_paper(paper[0]) if paper else "unknown")
            except Exception as exc:  # noqa: BLE001
                self._drop()
                raise PrinterError(f"{type(exc).__name__}: {exc}") from exc

    def _drop(self) -> None:
        dev, self._dev = self._dev, None
        if dev is not None:
            try:
                dev.close()
            except Exception:  # noqa: BLE001 - it is broken already; we only want it gone
                pass

    def close(self) -> None:
        with self._lock:
            self._drop()


def raster_image(job: bytes) -> Image.Image:
    """The picture a printer would print from a job's GS v 0 blocks, stacked (for the demo and for review).

    Only the raster blocks are read; everything else (init, cut) is skipped by
    knowing its length, so a job with text in it is refused rather than misread.
    """
    i, blocks = 0, []
    skip = {b"\x1b@": 2, b"\x1bd": 3, b"\x1dV": 3}  # ESC @; ESC d n; GS V m (GS V A/B: one more byte)
    while i < len(job):
        if job.startswith(b"\x1dv0", i):
            wb = job[i + 4] | job[i + 5] << 8
            h = job[i + 6] | job[i + 7] << 8
            data = job[i + 8:i + 8 + wb * h]
            block = Image.frombytes("1", (wb * 8, h), data)
            blocks.append(block.point(lambda v: 255 - v))  # a set bit is a black dot
            i += 8 + wb * h
            continue
        for prefix, n in skip.items():
            if job.startswith(prefix, i):
                i += n + (1 if prefix == b"\x1dV" and job[i + 2] in (65, 66) else 0)
                break
        else:
            if job[i] in (0x0A,):  # line feeds around the cut
                i += 1
                continue
            raise ValueError(f"unexpected byte 0x{job[i]:02x} at {i} in a raster job")
    if not blocks:
        raise ValueError("no raster image in this job")
    out = Image.new("1", (blocks[0].width, sum(b.height for b in blocks)), 255)
    y = 0
    for b in blocks:
        out.paste(b, (0, y))
        y += b.height
    return out
