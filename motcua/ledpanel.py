"""An LED panel of MAX7219 modules on the wire: a luma device from settings, and the one thread that feeds it.

Written once for the counter box's matrix and the hall's signboard. Layering as
luma has it: interface (SPI) -> device (max7219 cascaded in rows, or an
emulator) -> frames. The device is built from settings by :func:`open_device`
or injected (tests, the benchmarks); :class:`PanelThread` never knows which. It
draws only when the frame differs from the one on the modules, and otherwise
sleeps until the next change is due (a blink, a scroll step) or it is poked
(new content): no busy loop. luma is imported only when a device is opened.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Literal, Protocol, TypeVar

if TYPE_CHECKING:
    from PIL import Image

K = TypeVar("K")  # a frame's key: equal keys, same picture

_log = logging.getLogger("motcua.ledpanel")


class PanelWiring(Protocol):
    """What :func:`open_device` reads from a daemon's panel settings."""

    @property
    def driver(self) -> Literal["max7219", "dummy", "capture", "pygame"]: ...
    @property
    def width(self) -> int: ...
    @property
    def height(self) -> int: ...
    @property
    def block_orientation(self) -> Literal[0, 90, -90, 180]: ...
    @property
    def rotate(self) -> Literal[0, 1, 2, 3]: ...
    @property
    def reverse_order(self) -> bool: ...
    @property
    def spi_port(self) -> int: ...
    @property
    def spi_device(self) -> int: ...
    @property
    def brightness(self) -> int: ...
    @property
    def capture_dir(self) -> Path: ...
    @property
    def emulator_scale(self) -> int: ...


def open_device(p: PanelWiring, capture_file: str) -> Any:
    """A luma device for the configured driver; the capture driver writes ``capture_dir/capture_file``.

    SPI and RPi libraries are only imported for max7219. Width x height makes luma treat the
    cascade as rows of modules, the first module top left (one row: ``width / 8`` modules).
    """
    if p.driver == "max7219":
        from luma.core.interface.serial import noop, spi  # needs luma.core[gpio,spi] on the Pi
        from luma.led_matrix.device import max7219

        serial = spi(port=p.spi_port, device=p.spi_device, gpio=noop())
        return max7219(serial, width=p.width, height=p.height, block_orientation=p.block_orientation,
                       rotate=p.rotate, blocks_arranged_in_reverse_order=p.reverse_order, contrast=p.brightness)
    if p.driver == "dummy":
        from luma.core.device import dummy

        return dummy(width=p.width, height=p.height, rotate=p.rotate, mode="1")
    from luma.emulator import device as emulator

    if p.driver == "capture":
        p.capture_dir.mkdir(parents=True, exist_ok=True)
        return emulator.capture(width=p.width, height=p.height, rotate=p.rotate, mode="1", transform="led_matrix",
                                scale=p.emulator_scale, file_template=str(p.capture_dir / capture_file))
    return emulator.pygame(width=p.width, height=p.height, rotate=p.rotate, mode="1", transform="led_matrix",
                           scale=p.emulator_scale)


class PanelThread(Generic[K]):
    """Owns the device. ``poke()`` from any thread when what to show changed; a private thread draws.

    ``frame_at(now)`` returns the picture's key (equal keys: no redraw) and ``render(key)`` its image;
    ``next_change(now)`` says when the picture changes by itself (None: not until poked). Both are
    called holding ``cond``, the daemon's own condition when its model lives under it. The thread
    sleeps at most ``longest_sleep`` seconds between looks.
    """

    def __init__(self, device: Any, frame_at: Callable[[float], K], render: Callable[[K], Image.Image],
                 next_change: Callable[[float], float | None], cond: threading.Condition | None = None, *,
                 name: str = "panel", clock: Callable[[], float] = time.monotonic, longest_sleep: float = 1.0,
                 log: logging.Logger = _log):
        self.device = device
        self.frame_at, self.render, self.next_change = frame_at, render, next_change
        self.clock = clock
        self.name, self.longest_sleep, self.log = name, longest_sleep, log
        self._cond = cond if cond is not None else threading.Condition()
        self.frame: K | None = None
        self.image: Image.Image | None = None
        self.frames = 0
        self.drawn_at: float | None = None  # perf_counter of the last frame written to the device
        self.status = "ok"
        self.on_frame: list[Callable[[K], None]] = []  # called on the panel thread after each new frame
        self._stopping = False
        self._thread: threading.Thread | None = None

    def start(self) -> PanelThread[K]:
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)
        try:
            self.device.cleanup()
        except Exception:  # noqa: BLE001 - a device already gone has nothing to clean
            pass

    def poke(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def draw(self, now: float | None = None) -> float | None:
        """Put the frame for ``now`` on the device if it changed; return when the next change is due.

        The panel thread calls this; tests call it directly with a chosen time.
        """
        now = self.clock() if now is None else now
        with self._cond:
            frame = self.frame_at(now)
            due = self.next_change(now)
        if frame != self.frame:
            image = self.render(frame)
            try:
                self.device.display(image)
                self.status = "ok"
            except Exception as exc:  # noqa: BLE001 - an SPI error must not kill the daemon; health reports it
                self.status = f"fault: cannot draw: {exc}"
                self.log.error("%s: %s", self.name, exc)
            with self._cond:
                self.frame, self.image = frame, image
                self.frames += 1
                self.drawn_at = time.perf_counter()
                self._cond.notify_all()
            for callback in self.on_frame:
                callback(frame)
        return due

    def wait_frame(self, predicate: Callable[[K], bool], timeout: float) -> bool:
        """Block until the frame on the panel satisfies ``predicate`` (tests, the demo)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self.frame is None or not predicate(self.frame):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True

    def _run(self) -> None:
        while True:
            with self._cond:
                if self._stopping:
                    return
            try:
                due = self.draw()
            except Exception:  # noqa: BLE001 - a bug of ours must not freeze the panel for good
                self.log.exception("%s: drawing failed", self.name)
                due = self.clock() + 1.0
            with self._cond:
                if self._stopping:
                    return
                wait = self.longest_sleep if due is None else min(due - self.clock(), self.longest_sleep)
                if wait > 0:
                    self._cond.wait(wait)
