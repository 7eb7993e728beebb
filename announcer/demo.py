"""The announcer inside ``motcua demo``: in-process, each announcement also saved as a WAV.

    handle = start_for_demo(broker_port, site, output_dir)
    ...
    handle.stop()

Uses the installed default voice pack when there is one; otherwise builds one
into ``output_dir/voice`` with espeak-ng, or, without espeak-ng, a pack of tones
(so the demo still shows the timing). Audio goes to SDL's dummy driver unless
``play=True`` (then the box's default output, falling back to recording only).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .audio import Player, Rendered
from .config import DEFAULT_PACK, AnnouncerSettings
from .service import AnnouncerService, Played
from .voicepack import MANIFEST, VoicePack, build, espeak_binary, required_words, synthetic

log = logging.getLogger("announcer.demo")


@dataclass
class DemoAnnouncer:
    service: AnnouncerService
    output_dir: Path

    @property
    def played(self) -> list[Played]:
        return list(self.service.history)

    def wait_idle(self, timeout: float = 30.0) -> bool:
        return self.service.wait_idle(timeout)

    def stop(self) -> None:
        self.service.stop()


class RecordOnlyPlayer(Player):
    """No speakers on this box: each announcement goes through the mixer (dummy driver) and on at once.

    The saved WAV is the announcement; a demo that runs faster than real life
    then keeps every call instead of dropping those a real voice could not fit in.
    """

    def play(self, rendered: Rendered, volume: float = 1.0, stop: threading.Event | None = None) -> None:
        done = threading.Event()
        done.set()
        super().play(rendered, volume, done)


if TYPE_CHECKING:
    from motcua.localbroker import LocalBroker


def has_audio_output() -> bool:
    """A sound card to play on (ALSA playback device)."""
    snd = Path("/dev/snd")
    return snd.is_dir() and any(p.name.startswith("pcmC") and p.name.endswith("p") for p in snd.iterdir())


def demo_pack(output_dir: Path) -> Path:
    if (DEFAULT_PACK / MANIFEST).is_file():
        return DEFAULT_PACK
    folder = Path(output_dir) / "voice"
    if not (folder / MANIFEST).is_file():
        if espeak_binary():
            build(folder)
        else:
            log.warning("espeak-ng not installed: the demo announcer speaks in tones")
            synthetic(folder, required_words(), rate=16000, word_ms=180)
    return folder


def start_for_demo(broker: LocalBroker, site: str, output_dir: Path, *, play: bool = False, pack: Path | None = None,
                   **overrides) -> DemoAnnouncer:
    """Run the announcer in this process against the demo's broker; WAVs go to ``output_dir/announcements``.

    The demo says each phrase once (``wording.repeats = 1``) so a fast demo does
    not outrun its voice; ``overrides`` are further AnnouncerSettings tables.
    """
    output_dir = Path(output_dir)
    tables: dict[str, Any] = {  # raw settings tables: AnnouncerSettings validates them
        "voice": {"pack": pack or demo_pack(output_dir)},
        "audio": {"driver": None if play else "dummy", "record_dir": output_dir / "announcements"},
        "wording": {"repeats": 1},
    }
    for key, value in overrides.items():
        tables[key] = {**tables.get(key, {}), **value} if isinstance(value, dict) else value
    settings = AnnouncerSettings(site=site, device_id="announcer", mqtt=broker.mqtt("announcer", "announcer"),
                                 **tables)
    player = None if play else RecordOnlyPlayer(VoicePack(settings.voice.pack).rate, "dummy")
    service = AnnouncerService(settings, player=player)
    service.start()
    return DemoAnnouncer(service, output_dir)
