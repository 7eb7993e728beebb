"""The announcer daemon: call events in, Vietnamese announcements out, one at a time.

Thin wiring. The paho thread only validates a call event and pushes it into the
queue (queue.py decides: queued, merged, stale, full); one worker thread takes
calls in order, turns them into words (phrases.py), clips (voicepack.py) and one
buffer (audio.py), switches the amplifier on (amplifier.py) and plays the buffer
to its end before taking the next. Nothing ever overlaps: there is one worker
and one mixer channel.

Besides the runtime's retained health (checks: audio, relay, voice_pack, queue),
the announcer keeps a retained ``device/{id}/state``: relay state, queue length,
what is playing, counts, last error.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from motcua.protocol import AnnouncerState, CallEvent
from motcua.runtime import DeviceRuntime, Inbound, SystemdNotifier

from .amplifier import Amplifier
from .audio import AudioUnavailable, Player, Rendered, render_announcement, write_wav
from .config import AnnouncerSettings
from .phrases import Wording
from .queue import AnnouncementQueue, Call, Outcome
from .voicepack import MissingWords, VoicePack, required_words

log = logging.getLogger("announcer")

TICK_S = 0.5  # how often the worker looks at the relay's idle timer when there is nothing to say


@dataclass
class Played:
    """One announcement, for listeners (tests, the demo, the benchmark)."""

    call: Call
    words: list[str]
    rendered: Rendered
    volume: float
    handed_at: float | None = None  # time.monotonic() when the buffer went to the mixer
    received_at: float | None = None  # time.monotonic() when the call event arrived
    wav: Path | None = None
    error: str | None = None


class AnnouncerService:
    def __init__(self, settings: AnnouncerSettings, *, pack: VoicePack | None = None, player: Player | None = None,
                 amplifier: Amplifier | None = None, notifier: SystemdNotifier | None = None,
                 clock: Callable[[], float] = time.time):
        self.settings = settings
        self.clock = clock
        self.runtime = DeviceRuntime(settings, "announcer", checks=self._checks, notifier=notifier)
        self.topics = self.runtime.topics
        self.pack = pack or VoicePack(settings.voice.pack)
        w = settings.wording
        self.wording = Wording(w.template, w.dialect, w.digits)
        self.pack_missing = [k for k in required_words(w.template, [w.dialect], letters="")
                             if k not in self.pack.clips and not (k == "chime" and not w.chime)]
        q = settings.queue
        self.queue = AnnouncementQueue(q.max_len, q.max_age_s, q.when_full, clock=clock)
        self.player = player or Player(self.pack.rate, settings.audio.driver, settings.audio.device,
                                       settings.audio.buffer)
        self.amplifier = amplifier or Amplifier(settings.amplifier)
        self.listeners: list[Callable[[Played], None]] = []  # called on the worker thread after each announcement
        self.on_handed: list[Callable[[Played], None]] = []  # called the moment a buffer goes to the mixer
        self.history: deque[Played] = deque(maxlen=50)
        self.counts = {"played": 0, "skipped_quiet": 0}
        self.last_error: str | None = None
        self._received: dict[str, float] = {}
        self._current: Played | None = None
        self._busy = False  # a call taken from the queue and not yet finished
        self._last_called: str | None = None
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None
        self.player.on_handed.append(self._handed)
        self.runtime.on(self.topics.call_event, CallEvent, self._on_call)
        self.runtime.on_connected.append(self.publish_state)

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        if self.pack_missing:
            self._error(f"voice pack {self.pack.folder} lacks: {', '.join(self.pack_missing[:10])}")
        try:
            self.player.open()
        except AudioUnavailable as exc:
            self._error(str(exc))  # retried at each announcement
        # hardware first: the state published on connect then tells the truth about the audio output
        self.runtime.start()
        self._worker = threading.Thread(target=self._run, name="announcer-worker", daemon=True)
        self._worker.start()
        self.runtime.ready(f"announcer {self.settings.device_id}: audio {self._audio_state()}")

    def stop(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._worker is not None:
            self._worker.join(timeout=5)
        self.amplifier.close()
        self.player.close()
        self.runtime.stop()

    # ------------------------------------------------------------------ inbound (paho thread: never block)

    def _on_call(self, event: CallEvent, inbound: Inbound) -> None:
        call = Call(ticket_id=event.ticket_id, number=event.number, counter=event.counter,
                    at=event.at.timestamp(), event_id=event.event_id, recall=event.recall,
                    call_count=event.call_count)
        with self._cond:
            result = self.queue.push(call)
            if result.outcome is Outcome.QUEUED:
                self._received[call.ticket_id] = time.monotonic()
            if result.evicted is not None:
                self._received.pop(result.evicted.ticket_id, None)
            self._cond.notify()
        if result.outcome is Outcome.QUEUED:
            log.info("call %s to counter %s queued (%d waiting)", call.number, call.counter, len(self.queue))
        else:
            log.info("call %s to counter %s: %s", call.number, call.counter, result.outcome.value)
        if result.evicted is not None:
            log.warning("queue full: dropped the oldest waiting call %s", result.evicted.number)
        if result.outcome in (Outcome.FULL, Outcome.STALE) or result.evicted is not None:
            self.publish_state()

    # ------------------------------------------------------------------ worker

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._cond:
                call, dropped = self.queue.pop()
                if call is None and not dropped:
                    self._cond.wait(TICK_S)
                received = self._received.pop(call.ticket_id, None) if call else None
                self._busy = call is not None
                for d in dropped:
                    self._received.pop(d.ticket_id, None)
            for d in dropped:
                log.warning("call %s to counter %s dropped: older than %.0f s", d.number, d.counter,
                            self.settings.queue.max_age_s)
            try:
                if call is not None:
                    self._announce(call, received)
                if self.amplifier.tick():
                    self.publish_state()
            except Exception as exc:  # noqa: BLE001 - the worker must outlive any one announcement
                log.exception("announcement failed")
                self._error(f"{type(exc).__name__}: {exc}")
            finally:
                if call is not None:
                    with self._cond:
                        self._busy = False
                        self._cond.notify_all()

    def _announce(self, call: Call, received: float | None) -> None:
        volume = self.settings.volume_at(datetime.fromtimestamp(self.clock(), timezone.utc))
        if volume <= 0:
            self.counts["skipped_quiet"] += 1
            log.info("quiet hours: call %s to counter %s not spoken", call.number, call.counter)
            return
        words = self.wording.words(call.number, call.counter)
        try:
            clips = self.pack.lookup(words)
        except MissingWords as exc:
            self._error(f"cannot say {call.number}: {exc}")
            return
        v, w = self.settings.voice, self.settings.wording
        rendered = render_announcement(clips, self.pack.rate, repeats=w.repeats, gap_ms=v.gap_ms,
                                       pause_ms=v.pause_ms, chime=self.pack.chime() if w.chime else None,
                                       chime_gap_ms=v.chime_gap_ms)
        played = Played(call, words, rendered, volume, received_at=received)
        played.wav = self._record(played)
        warmup = self.amplifier.prepare()
        if warmup > 0 and self._stop.wait(warmup):
            return
        self._current = played
        self.publish_state()
        self.amplifier.started()
        try:
            self.player.play(rendered, volume, self._stop)
        except AudioUnavailable as exc:
            played.error = str(exc)
            if played.wav is None:
                self._error(str(exc))
            else:  # recorded: the demo on a box without a sound card
                log.debug("no audio output; %s saved to %s", call.number, played.wav)
        finally:
            self.amplifier.finished()
            self._current = None
        self.counts["played"] += 1
        self.history.append(played)
        log.info("announced %s to counter %s (%.1f s)", call.number, call.counter, rendered.duration_s)
        for cb in self.listeners:
            cb(played)
        self.publish_state(last_called=call.number)

    def _handed(self, t: float) -> None:
        p = self._current
        if p is None:
            return
        p.handed_at = t
        for cb in self.on_handed:
            cb(p)

    def _record(self, played: Played) -> Path | None:
        folder = self.settings.audio.record_dir
        if folder is None:
            return None
        c = played.call
        stamp = datetime.fromtimestamp(self.clock()).strftime("%Y%m%d-%H%M%S-%f")[:-3]
        path = write_wav(Path(folder) / f"{stamp}-{c.number}-counter{c.counter}.wav",
                         played.rendered.samples, played.rendered.rate)
        old = sorted(Path(folder).glob("*.wav"))
        for p in old[: max(0, len(old) - self.settings.audio.record_keep)]:
            p.unlink(missing_ok=True)
        return path

    # ------------------------------------------------------------------ health and state

    def _error(self, message: str) -> None:
        log.error("%s", message)
        self.last_error = message
        self.runtime.last_error = message

    def _audio_state(self) -> str:
        if self.player.last_error:
            return "fault" if self.settings.audio.record_dir is None else "degraded: recording only"
        return "ok" if self.player.is_open else "not open"

    def _checks(self) -> dict[str, str]:
        audio = self._audio_state()
        relay = self.amplifier.state
        checks = {
            "audio": audio if audio in ("ok", "fault") or audio.startswith("degraded") else f"degraded: {audio}",
            "relay": "fault" if relay == "fault" else "ok",
            "voice_pack": "ok" if not self.pack_missing else f"degraded: lacks {len(self.pack_missing)} words",
            "queue": "ok" if len(self.queue) < self.queue.max_len else f"degraded: full ({len(self.queue)})",
        }
        return checks

    def state(self, last_called: str | None = None) -> AnnouncerState:
        c = self.queue.counts
        cur = self._current
        return AnnouncerState(
            device_id=self.settings.device_id, relay=self.amplifier.state, audio=self._audio_state(),
            queue_length=len(self.queue), playing=cur.call.number if cur else None, last_called=last_called,
            played=self.counts["played"], merged=c["merged"], dropped_stale=c["stale"] + c["stale_at_turn"],
            dropped_full=c["full"] + c["evicted"], skipped_quiet=self.counts["skipped_quiet"],
            last_error=self.last_error,
        )

    def publish_state(self, last_called: str | None = None) -> None:
        if last_called is not None:
            self._last_called = last_called
        if self.runtime.connected:
            self.runtime.publish(self.topics.state(self.settings.device_id), self.state(self._last_called),
                                 retain=True)

    def wait_idle(self, timeout: float) -> bool:
        """True once nothing waits and nothing plays (for tests and the demo)."""
        with self._cond:
            return self._cond.wait_for(lambda: not len(self.queue) and not self._busy, timeout)
