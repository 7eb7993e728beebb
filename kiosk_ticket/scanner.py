"""The barcode scanner on a serial port (USB-CDC or RS-232): line-terminated codes in, dossier codes out.

A receipt carries its dossier code as a 1D barcode (the code itself) or as a
QR code holding a URL of the central system that contains the code. The
scanner sends each reading followed by CR and/or LF, possibly in several
pieces. Anything else (binary noise, a line longer than any code, text that
is not UTF-8) is refused with a log line and never reaches the screen as
anything but "that was not a dossier code".

Pure parts (:func:`parse_scan`, :class:`LineAssembler`) are separate from
the thread that owns the port, which reopens it after an unplug.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from .config import ScannerSettings

log = logging.getLogger("kiosk_ticket.scanner")

DOSSIER_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{2,63}$")  # the contract's DossierCode
_PATH_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{2,63}$")  # one URL path segment


class ScanError(ValueError):
    """A reading that is not a dossier code; the message is for the log, not the citizen."""


def parse_scan(raw: bytes, url_query_keys: list[str]) -> str:
    """The dossier code in one scanned line, or ScanError saying why there is none."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ScanError(f"not UTF-8 ({len(raw)} bytes)") from None
    text = text.strip()
    if not text:
        raise ScanError("empty reading")
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise ScanError("control characters in the reading")
    if "://" in text:
        return _code_from_url(text, url_query_keys)
    if not DOSSIER_CODE.match(text):
        raise ScanError(f"not a dossier code: {text[:80]!r}")
    return text


def _code_from_url(url: str, keys: list[str]) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ScanError(f"URL scheme {parts.scheme!r} is not http(s)")
    query = parse_qs(parts.query)
    for key in keys:
        for value in query.get(key, []):
            if DOSSIER_CODE.match(value):
                return value
    segments = [unquote(s) for s in parts.path.split("/") if s]
    if segments and _PATH_CODE.match(segments[-1]) and any(ch.isdigit() for ch in segments[-1]):
        return segments[-1]
    raise ScanError(f"no dossier code in URL {url[:120]!r}")


class LineAssembler:
    """Bytes in any pieces → whole lines; an over-long line is dropped whole, reported once."""

    def __init__(self, max_line_bytes: int):
        self.max = max_line_bytes
        self._buf = bytearray()
        self._overflow = False

    def feed(self, data: bytes) -> list[bytes | ScanError]:
        out: list[bytes | ScanError] = []
        for b in data:
            if b in (0x0D, 0x0A):  # CR, LF or CRLF: an empty line between them is no reading
                if self._overflow:
                    self._overflow = False
                elif self._buf:
                    out.append(bytes(self._buf))
                self._buf.clear()
                continue
            if self._overflow:
                continue
            self._buf.append(b)
            if len(self._buf) > self.max:
                out.append(ScanError(f"line longer than {self.max} bytes"))
                self._buf.clear()
                self._overflow = True
        return out


class BarcodeScanner:
    """Owns the serial port on its own thread; calls ``on_code(code)`` or ``on_bad(reason)`` per line."""

    def __init__(self, settings: ScannerSettings, on_code: Callable[[str], None],
                 on_bad: Callable[[str], None] = lambda reason: None):
        self.s = settings
        self.on_code = on_code
        self.on_bad = on_bad
        self.status = "fault: not opened yet"
        self.readings = 0
        self.refused = 0
        self._stop = threading.Event()
        self._opened = threading.Event()
        self._port: Any = None  # a serial.Serial while open
        self._thread = threading.Thread(target=self._run, name="kiosk-scanner", daemon=True)

    def start(self) -> BarcodeScanner:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        port = self._port
        if port is not None:
            try:
                port.cancel_read()
            except Exception:  # noqa: BLE001
                pass
        self._thread.join(timeout=5)

    def wait_open(self, timeout: float) -> bool:
        return self._opened.wait(timeout)

    def _run(self) -> None:
        import serial

        said_missing = False  # a missing scanner is logged once, not at every retry
        while not self._stop.is_set():
            try:
                self._port = serial.Serial(self.s.device, self.s.baudrate, timeout=0.5)
            except (serial.SerialException, OSError) as exc:
                self.status = f"degraded: scanner {self.s.device} unavailable ({exc.__class__.__name__})"
                if not said_missing:
                    log.warning("scanner %s cannot be opened: %s; retrying every %.0f s", self.s.device, exc,
                                self.s.reopen_s)
                    said_missing = True
                self._stop.wait(self.s.reopen_s)
                continue
            said_missing = False
            log.info("scanner open on %s", self.s.device)
            self.status = f"ok ({self.s.device})"
            self._opened.set()
            try:
                self._read_lines(self._port)
            except (serial.SerialException, OSError) as exc:
                log.warning("scanner %s lost: %s; reopening", self.s.device, exc)
                self.status = f"degraded: scanner {self.s.device} unplugged"
            finally:
                self._opened.clear()
                try:
                    self._port.close()
                except Exception:  # noqa: BLE001
                    pass
                self._port = None
            self._stop.wait(self.s.reopen_s)

    def _read_lines(self, port) -> None:
        assembler = LineAssembler(self.s.max_line_bytes)
        while not self._stop.is_set():
            data = port.read(max(1, port.in_waiting or 1))
            for item in assembler.feed(data):
                if isinstance(item, ScanError):
                    self._bad(str(item))
                    continue
                try:
                    code = parse_scan(item, self.s.url_query_keys)
                except ScanError as exc:
                    self._bad(str(exc))
                    continue
                self.readings += 1
                self.on_code(code)

    def _bad(self, reason: str) -> None:
        self.refused += 1
        log.warning("scanner reading refused: %s", reason)
        self.on_bad(reason)
