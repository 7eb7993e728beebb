"""Sounded confirmations for the touch screens (the kiosk, the pad), through the device's own speaker.

An elderly citizen is not sure a touch was taken: every touch that did something is answered with a
short tick, and the kiosk speaks the number it has just issued with the announcer's own voice pack and
number reading (:func:`announcer.numbers.ticket_words`, :class:`announcer.voicepack.VoicePack`), never a
second implementation. Pure of MQTT; the sounds are played on a thread of their own, so the screen never
waits for the speaker: a touch while sounds are still queued is dropped (the next one ticks).

No speaker, no pack, no audio driver: the screens work the same, silently, and :attr:`TouchSounds.error`
says why (the device's health shows it). A speaker that would not open is tried again only every
``retry_s``: each failed try of SDL's audio drivers takes milliseconds of the screen's interpreter and
leaks ALSA's configuration, which on every touch slowed the kiosk and grew it by hundreds of MiB a day.
"""

from __future__ import annotations

import collections
import logging
import queue
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from motcua.settings import StrictModel

from . import audio
from .config import DEFAULT_PACK
from .numbers import ticket_words

if TYPE_CHECKING:
    from .voicepack import VoicePack

log = logging.getLogger("motcua.touch_sound")
TICK = "tick"


class TouchSoundSettings(StrictModel):
    enabled: bool = Field(True, description="A tick on every touch (and the kiosk's number spoken); false: silent.")
    speak_number: bool = Field(True, description="The kiosk says the number it has just printed.")
    pack: Path = Field(DEFAULT_PACK, description="The announcer's voice pack folder (holds manifest.toml).")
    dialect: Literal["northern", "southern"] = Field("northern", description="How numbers are read.")
    volume: float = Field(0.6, ge=0.0, le=1.0, description="0 to 1 of the speaker's level.")
    tick_hz: float = Field(1200.0, ge=100, le=8000, description="The tick's pitch.")
    tick_ms: int = Field(60, ge=10, le=500, description="The tick's length.")
    driver: str | None = Field(None, description="SDL audio driver (alsa, pulseaudio, dummy); unset: SDL's choice.")
    device: str | None = Field(None, description="SDL output device name; unset: the default device.")
    retry_s: float = Field(60.0, ge=1, le=3600, description=(
        "After the speaker could not be opened, touches stay silent this long before it is tried again "
        "(opening a missing device costs time and memory on every try)."))


class TouchSounds:
    """``touched()`` on each touch, ``number("A1023")`` when a number is issued; ``close()`` at the end."""

    def __init__(self, settings: TouchSoundSettings, player: audio.Player | None = None):
        self.s = settings
        self.error: str | None = None
        self.heard: collections.deque[list[str]] = collections.deque(maxlen=50)  # what was played: its clip keys
        self.played = 0  # sounds handed to the speaker
        self.dropped = 0  # touches left silent: the speaker was busy, or could not be opened
        self._silent_until = 0.0  # monotonic: the speaker failed to open; not tried again before this
        self._pack: VoicePack | None = None  # loaded on the sound thread: a slow disk never holds up the screen
        self._rate = 22050
        self._player = player
        self._tick: audio.Rendered | None = None
        self._queue: queue.Queue[str | None] = queue.Queue(maxsize=2)
        self._thread: threading.Thread | None = None
        self._done = threading.Event()

    def start(self) -> None:
        if not self.s.enabled or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._play_forever, name="touch-sound", daemon=True)
        self._thread.start()

    def touched(self) -> None:
        self._put(TICK)

    def number(self, ticket: str) -> None:
        if self.s.speak_number:
            self._put(f"number:{ticket}")

    def close(self) -> None:
        if self._thread is None:
            return
        self._done.set()
        try:
            self._queue.put_nowait(None)
        except queue.Full:
            pass
        self._thread.join(timeout=5)
        if self._player is not None:
            self._player.close()

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """For tests: until every queued sound was played."""
        done = threading.Event()

        def wait() -> None:
            self._queue.join()
            done.set()

        threading.Thread(target=wait, daemon=True).start()
        return done.wait(timeout)

    # ------------------------------------------------------------------ the sound thread

    def _put(self, what: str) -> None:
        if self._thread is None:
            return
        try:
            self._queue.put_nowait(what)
        except queue.Full:
            self.dropped += 1  # the speaker is behind: this touch goes unticked rather than the screen waiting

    def _play_forever(self) -> None:
        self._load()
        while True:
            what = self._queue.get()
            try:
                if what is None or self._done.is_set():
                    return
                if time.monotonic() < self._silent_until:
                    self.dropped += 1
                    continue
                rendered = self._render(what)
                if rendered is not None and self._player is not None:
                    self._player.play(rendered, self.s.volume, self._done)
                    self.heard.append(rendered.keys)
                    self.played += 1
                    self.error = None
            except audio.AudioUnavailable as exc:
                self.dropped += 1
                if self._player is None or not self._player.is_open:  # the device, not a busy channel
                    self._silent_until = time.monotonic() + self.s.retry_s
                if self.error != str(exc):
                    log.warning("touch sounds: %s (tried again in %.0f s)", exc, self.s.retry_s)
                self.error = str(exc)
            except Exception as exc:  # noqa: BLE001 - a sound must never take the screen down
                log.exception("touch sounds failed")
                self.error = f"touch sounds failed: {exc}"
            finally:
                self._queue.task_done()

    def _load(self) -> None:
        from .voicepack import PackError, VoicePack

        try:
            self._pack = VoicePack(self.s.pack)
            self._rate = self._pack.rate
        except (PackError, OSError) as exc:
            self.error = f"voice pack {self.s.pack}: {exc}; ticks only"
            log.warning("touch sounds: %s", self.error)
        self._tick = audio.join([(TICK, audio.tone([self.s.tick_hz], self.s.tick_ms, self._rate))], self._rate)
        if self._player is None:
            self._player = audio.Player(self._rate, self.s.driver, self.s.device)

    def _render(self, what: str) -> audio.Rendered | None:
        if what == TICK:
            return self._tick
        ticket = what.partition(":")[2]
        if self._pack is None:
            return None
        from .voicepack import MissingWords

        try:
            clips = self._pack.lookup(ticket_words(ticket, self.s.dialect))
        except (MissingWords, ValueError) as exc:
            self.error = f"cannot say {ticket}: {exc}"
            return None
        return audio.render_announcement(clips, self._pack.rate)


__all__ = ["TouchSoundSettings", "TouchSounds"]
