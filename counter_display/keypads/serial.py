"""A keypad that sends key codes over a serial line (USB or RS-232), through pyserial.

A reader thread turns codes into key meanings with the key map from the
settings. Unplugged (a read fails), the keypad says so in its status and is
reopened every ``reopen_s`` until it is back; codes it does not know are
logged and ignored.
"""

from __future__ import annotations

import logging
import threading

import serial as pyserial
from pydantic import TypeAdapter, ValidationError

from motcua.protocol.messages import DossierCode

from ..config import SerialKeypadSettings
from . import Keypad

log = logging.getLogger("counter_display.keypad.serial")

_DOSSIER = TypeAdapter(DossierCode)


def _is_dossier_code(code: str) -> bool:
    try:
        _DOSSIER.validate_python(code)
    except ValidationError:
        return False
    return True


class SerialKeypad(Keypad):
    kind = "serial"

    def __init__(self, settings: SerialKeypadSettings):
        super().__init__()
        self.s = settings
        self.port: pyserial.SerialBase | None = None
        self._status = "degraded: not opened yet"
        self._stopping = threading.Event()
        self._write_lock = threading.Lock()
        self.opened = threading.Event()  # set while the port is open (tests wait on it)
        self.codes_read = 0
        self._thread = threading.Thread(target=self._run, name="serial-keypad", daemon=True)

    def start(self) -> SerialKeypad:
        self._thread.start()
        return self

    # ------------------------------------------------------------------ reading

    def _open(self) -> bool:
        try:
            self.port = pyserial.serial_for_url(self.s.port, baudrate=self.s.baudrate, timeout=0.2)
        except (pyserial.SerialException, OSError, ValueError) as exc:
            status = f"degraded: cannot open {self.s.port} (unplugged?): {exc}"
            if not self._status.startswith("degraded: cannot open"):  # logged once per outage, not every retry
                log.warning("serial keypad: %s", status)
            self._status = status
            return False
        self._status = f"ok (serial {self.s.port})"
        self.opened.set()
        log.info("serial keypad on %s", self.s.port)
        return True

    def _run(self) -> None:
        buffer = b""
        while not self._stopping.is_set():
            if self.port is None and not self._open():
                self._stopping.wait(self.s.reopen_s)
                continue
            port = self.port
            assert port is not None  # _open() set it
            try:
                chunk = port.read(64)
                if not chunk and not port.is_open:
                    raise pyserial.SerialException("port closed")
            except (pyserial.SerialException, OSError, TypeError) as exc:
                # TypeError: pyserial reading a vanished pty can fail inside select()
                self._lost(exc)
                buffer = b""
                continue
            if not chunk:
                continue
            if self.s.framing == "byte":
                for b in chunk:
                    self._code(bytes([b]).decode("latin-1"))
                continue
            buffer += chunk
            *lines, buffer = buffer.replace(b"\r", b"\n").split(b"\n")
            if len(buffer) > 256:  # a keypad that never ends its lines: drop, do not grow without bound
                buffer = b""
            for line in lines:
                if line.strip():
                    self._code(line.strip().decode("latin-1"))

    def _lost(self, exc: BaseException) -> None:
        self.opened.clear()
        self._status = f"degraded: keypad on {self.s.port} unplugged or failing ({exc}); reopening"
        log.warning("serial keypad: %s", self._status)
        self._close_port()
        self._stopping.wait(self.s.reopen_s)

    def _code(self, code: str) -> None:
        self.codes_read += 1
        token = self.s.keys.get(code)
        if token is None and self.s.dossier_scans and self.s.framing == "line" and _is_dossier_code(code):
            token = f"dossier:{code}"  # a receipt scanned on the same line: attach it to the ticket
        if token is None:
            log.warning("serial keypad sent unknown key code %r: ignored", code[:32])
            return
        self._emit(token)

    # ------------------------------------------------------------------ feedback

    def _write(self, data: str | None) -> None:
        if not data or self.port is None:
            return
        with self._write_lock:
            try:
                self.port.write(data.encode("latin-1"))
            except (pyserial.SerialException, OSError) as exc:
                log.warning("serial keypad: cannot write feedback: %s", exc)

    def accepted(self) -> None:
        self._write(self.s.ok_reply)

    def refused(self) -> None:
        self._write(self.s.error_reply)

    def status(self) -> str:
        return self._status

    def _close_port(self) -> None:
        port, self.port = self.port, None
        if port is not None:
            try:
                port.close()
            except Exception:  # noqa: BLE001
                pass

    def close(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2)
        self._close_port()
