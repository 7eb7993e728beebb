"""Test doubles for the kiosk's hardware, written from the ESC/POS manual rather than from our own code.

* :class:`EscPosStream` parses what a printer receives, answers ``DLE EOT n`` and
  ``GS r n`` status queries as a thermal printer would (or stays silent), and
  keeps every raster image it was sent.
* :class:`FakeNetworkPrinter` serves that on a loopback TCP port (port 9100 style).
* :class:`PtyPrinter` serves it on a pseudo-terminal, as a serial printer.
* :func:`decode_raster` turns ``GS v 0`` bytes back into the picture on the paper.
"""

from __future__ import annotations

import os
import pty
import select
import socket
import threading
import tty
from pathlib import Path

from PIL import Image

# Answers a TM-series printer gives, bit by bit (fixed bits 1 and 4 set).
ONLINE, OFFLINE = 0x12, 0x1A               # DLE EOT 1: bit 3 = offline
PAPER_OK, PAPER_NEAR, PAPER_OUT = 0x12, 0x1E, 0x72  # DLE EOT 4: bits 2-3 near end, bits 5-6 paper end
GSR_OK, GSR_NEAR, GSR_OUT = 0x00, 0x03, 0x0F       # GS r 1: bits 0-1 near end, bits 2-3 paper end

MODES = {  # mode -> (DLE EOT 1, DLE EOT 4, GS r 1); None = silent
    "online": (ONLINE, PAPER_OK, GSR_OK),
    "near_end": (ONLINE, PAPER_NEAR, GSR_NEAR),
    "out": (OFFLINE, PAPER_OUT, GSR_OUT),
    "offline": (OFFLINE, PAPER_OK, GSR_OK),
    "silent": (None, None, None),
}


class EscPosStream:
    """Feed it bytes as they arrive; it answers status queries through ``reply`` and records the rest."""

    def __init__(self, reply, mode: str = "online"):
        self.reply = reply
        self.mode = mode
        self.buf = bytearray()
        self.queries: list[bytes] = []
        self.printed = bytearray()  # everything except status queries
        self.images: list[tuple[int, int, bytes]] = []  # (width bytes, height, data) per GS v 0 block
        self.cuts = 0
        self.cond = threading.Condition()

    def feed(self, data: bytes) -> None:
        with self.cond:
            self.buf += data
            while self._one():
                pass
            self.cond.notify_all()

    def _one(self) -> bool:
        b = self.buf
        if not b:
            return False
        fixed = {b"\x1b@": 2, b"\x1bd": 3, b"\x1bt": 3, b"\x1bR": 3, b"\x1ba": 3, b"\x1bE": 3, b"\x1d!": 3}
        if b.startswith(b"\x10\x04") or b.startswith(b"\x1dr"):
            if len(b) < 3:
                return False
            query = bytes(b[:3])
            del b[:3]
            self.queries.append(query)
            answers = MODES[self.mode]
            answer = answers[2] if query[0] == 0x1D else {1: answers[0], 4: answers[1]}.get(query[2], answers[0])
            if answer is not None:
                self.reply(bytes([answer]))
            return True
        if b.startswith(b"\x1dv0"):
            if len(b) < 8:
                return False
            wb, h = b[4] | b[5] << 8, b[6] | b[7] << 8
            if len(b) < 8 + wb * h:
                return False
            self.images.append((wb, h, bytes(b[8:8 + wb * h])))
            self.printed += b[:8 + wb * h]
            del b[:8 + wb * h]
            return True
        if b.startswith(b"\x1dV"):
            if len(b) < 3:
                return False
            n = 4 if b[2] in (65, 66) else 3
            if len(b) < n:
                return False
            self.cuts += 1
            self.printed += b[:n]
            del b[:n]
            return True
        for prefix, n in fixed.items():
            if b.startswith(prefix):
                if len(b) < n:
                    return False
                self.printed += b[:n]
                del b[:n]
                return True
        if b[0] in (0x1B, 0x1D, 0x10) and len(b) < 2:
            return False
        self.printed.append(b[0])  # text or a command we do not model
        del b[:1]
        return True

    def wait_cuts(self, n: int, timeout: float = 10.0) -> None:
        with self.cond:
            if not self.cond.wait_for(lambda: self.cuts >= n, timeout):
                raise AssertionError(f"printer saw {self.cuts} cuts, expected {n}")

    def image(self) -> Image.Image:
        """The last ticket: every raster block since the previous cut, stacked."""
        return decode_blocks(self.images)


def decode_blocks(blocks: list[tuple[int, int, bytes]]) -> Image.Image:
    width = blocks[0][0] * 8
    out = Image.new("L", (width, sum(h for _, h, _ in blocks)), 255)
    y = 0
    for wb, h, data in blocks:
        px = out.load()
        for row in range(h):
            for col in range(wb):
                byte = data[row * wb + col]
                if not byte:
                    continue
                for bit in range(8):
                    if byte & (0x80 >> bit):  # MSB is the leftmost dot; a set bit burns a black dot
                        px[col * 8 + bit, y + row] = 0
        y += h
    return out


def decode_raster(job: bytes) -> Image.Image:
    """The picture printed by the GS v 0 blocks of ``job`` (other commands ignored)."""
    stream = EscPosStream(lambda _: None)
    stream.feed(job)
    assert stream.images, "no GS v 0 raster image in the job"
    return decode_blocks(stream.images)


class FakeNetworkPrinter:
    """A thermal printer on a loopback TCP port, answering status queries per ``mode``.

    Each socket is closed only by the thread that uses it (the listener by the accept loop, a
    connection by its reader), and close() waits for those threads: no thread ever works on a
    descriptor another has closed (or the system has since given to someone else).
    """

    POLL_S = 0.1

    def __init__(self, mode: str = "online"):
        self.mode = mode
        self.streams: list[EscPosStream] = []
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(self.POLL_S)
        self.port = self.server.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._readers: list[threading.Thread] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def set_mode(self, mode: str) -> None:
        self.mode = mode
        for s in self.streams:
            s.mode = mode

    @property
    def stream(self) -> EscPosStream:
        return self.streams[-1]

    def all_images(self) -> list[tuple[int, int, bytes]]:
        return [img for s in self.streams for img in s.images]

    def cuts(self) -> int:
        return sum(s.cuts for s in self.streams)

    def _serve(self) -> None:
        with self.server:
            while not self._stop.is_set():
                try:
                    conn, _ = self.server.accept()
                except TimeoutError:
                    continue
                conn.settimeout(self.POLL_S)
                self.connections += 1
                stream = EscPosStream(conn.sendall, self.mode)
                self.streams.append(stream)
                reader = threading.Thread(target=self._read, args=(conn, stream), daemon=True)
                self._readers.append(reader)
                reader.start()

    def _read(self, conn: socket.socket, stream: EscPosStream) -> None:
        with conn:
            while not self._stop.is_set():
                try:
                    data = conn.recv(65536)
                except TimeoutError:
                    continue
                except OSError:  # the kiosk reset the connection
                    return
                if not data:
                    return
                stream.feed(data)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for reader in self._readers:
            reader.join(timeout=5)


class PtyPrinter:
    """A serial thermal printer behind a pseudo-terminal; the kiosk opens ``path``."""

    def __init__(self, mode: str = "online"):
        self.master, self.slave = pty.openpty()
        tty.setraw(self.slave)
        self.path = os.ttyname(self.slave)
        self.stream = EscPosStream(lambda data: os.write(self.master, data), mode)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._stop.is_set():
            r, _, _ = select.select([self.master], [], [], 0.1)
            if not r:
                continue
            try:
                data = os.read(self.master, 65536)
            except OSError:
                return
            self.stream.feed(data)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        for fd in (self.master, self.slave):
            try:
                os.close(fd)
            except OSError:
                pass


class PtyScanner:
    """A barcode scanner behind a pseudo-terminal at a stable path (a symlink), which can be unplugged."""

    def __init__(self, link: Path):
        self.link = link
        self.master = self.slave = -1
        self.plug()

    def plug(self) -> None:
        self.master, self.slave = pty.openpty()
        tty.setraw(self.slave)
        tmp = self.link.with_suffix(".new")
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(os.ttyname(self.slave))
        tmp.replace(self.link)

    def send(self, data: bytes) -> None:
        os.write(self.master, data)

    def unplug(self) -> None:
        self.link.unlink(missing_ok=True)
        for fd in (self.master, self.slave):
            try:
                os.close(fd)
            except OSError:
                pass

    def close(self) -> None:
        self.unplug()
