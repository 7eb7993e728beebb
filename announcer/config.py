"""The announcer's settings (``/etc/motcua/announcer.toml``): wording, voice, queue, audio, amplifier.

Every table forbids unknown keys, like every motcua settings file.
"""

from __future__ import annotations

import sys
from datetime import datetime, time
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator, model_validator

from motcua.settings import DeviceSettings, StrictModel, TimeZoneName

from .phrases import DEFAULT_TEMPLATE, check_template

DEFAULT_PACK = Path(sys.prefix) / "share" / "motcua" / "voice" / "vi-default"


class WordingSettings(StrictModel):
    template: str = Field(DEFAULT_TEMPLATE, description="What is said; {ticket} and {counter} are replaced.")
    dialect: Literal["northern", "southern"] = Field(
        "northern", description="northern: linh, nghìn; southern: lẻ, ngàn.")
    digits: bool = Field(False, description="Read the ticket digit by digit (một không hai ba) instead of whole.")
    repeats: int = Field(2, ge=1, le=5, description="How many times the phrase is said per call.")
    chime: bool = Field(True, description="Play the pack's chime before the phrase.")

    @field_validator("template")
    @classmethod
    def _template(cls, v: str) -> str:
        return check_template(v)


class VoiceSettings(StrictModel):
    pack: Path = Field(DEFAULT_PACK, description="Voice pack folder (holds manifest.toml).")
    gap_ms: int = Field(30, ge=0, le=1000, description="Silence between two clips of a phrase.")
    pause_ms: int = Field(800, ge=0, le=10000, description="Silence between two repeats of the phrase.")
    chime_gap_ms: int = Field(250, ge=0, le=5000, description="Silence after the chime.")


class QueueSettings(StrictModel):
    max_len: int = Field(20, ge=1, le=1000, description="Calls that may wait to be spoken.")
    max_age_s: float = Field(90.0, gt=0, le=3600, description="Calls older than this are dropped, not spoken late.")
    when_full: Literal["drop_oldest", "drop_newest"] = Field(
        "drop_oldest", description="Which call gives way when one more arrives at a full queue.")


class AudioSettings(StrictModel):
    driver: str | None = Field(None, description="SDL audio driver (alsa, pulseaudio, dummy, disk); unset: SDL's choice.")
    device: str | None = Field(None, description="SDL output device name; unset: the default device.")
    buffer: int = Field(1024, ge=128, le=16384, description="Mixer buffer in samples.")
    record_dir: Path | None = Field(None, description="Also save every announcement here as a WAV file.")
    record_keep: int = Field(200, ge=1, le=100000, description="Keep at most this many recorded WAV files.")


class QuietPeriod(StrictModel):
    start: time
    end: time = Field(description="May be earlier than start: the period then spans midnight.")
    volume: float = Field(0.0, ge=0, le=1, description="Volume during the period; 0: calls are not spoken at all.")

    def contains(self, t: time) -> bool:
        if self.start <= self.end:
            return self.start <= t < self.end
        return t >= self.start or t < self.end


class AmplifierSettings(StrictModel):
    relay_pin: int | str | None = Field(
        None, description="gpiozero pin of the amplifier's power relay (e.g. 17 or 'GPIO17'); unset: no relay.")
    active_high: bool = True
    warmup_s: float = Field(0.8, ge=0, le=30, description="Relay on this long before the first sound.")
    idle_timeout_s: float = Field(60.0, ge=0, le=3600, description="Relay off after this long without sound.")
    volume: float = Field(1.0, ge=0, le=1, description="Playback volume outside quiet hours.")
    quiet_hours: list[QuietPeriod] = Field(default_factory=list)


class AnnouncerSettings(DeviceSettings):
    device_id: str = Field("announcer", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    timezone: TimeZoneName = Field("Asia/Ho_Chi_Minh", description="For quiet hours.")
    wording: WordingSettings = WordingSettings()
    voice: VoiceSettings = VoiceSettings()
    queue: QueueSettings = QueueSettings()
    audio: AudioSettings = AudioSettings()
    amplifier: AmplifierSettings = AmplifierSettings()


    @model_validator(mode="after")
    def _quiet(self) -> AnnouncerSettings:
        for p in self.amplifier.quiet_hours:
            if p.start == p.end:
                raise ValueError("a quiet period needs different start and end times")
        return self

    def volume_at(self, when: datetime) -> float:
        """The playback volume at ``when`` (aware), quiet hours applied."""
        local = when.astimezone(ZoneInfo(self.timezone)).time()
        for p in self.amplifier.quiet_hours:
            if p.contains(local):
                return p.volume
        return self.amplifier.volume
