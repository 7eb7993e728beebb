"""The dispatcher's settings: which hall it runs, and the queue rules.

Everything site-specific lives here (names, areas, counters, officers,
priority categories, hours, rules), loaded from ``/etc/motcua/dispatcher.toml``;
``examples/hall.toml`` is a complete sample hall.
"""

from __future__ import annotations

from datetime import time
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator, model_validator

from motcua.protocol.messages import AreaCode, CategoryCode, CounterNumber, DeviceId, OfficerId
from motcua.settings import DeviceSettings, MqttSettings, StrictModel, TimeZoneName
from reports.settings import ReportSettings

from .limits import RateLimits


class AreaConfig(StrictModel):
    code: AreaCode
    name: str = Field(min_length=1, max_length=120)
    prefix: str = Field("", pattern=r"^[A-Z]{0,3}$", description="Letters printed before the number, e.g. 'A'.")
    first_number: int = Field(1, ge=0, le=999999)
    last_number: int = Field(9999, ge=0, le=999999)

    @model_validator(mode="after")
    def _range(self) -> AreaConfig:
        if self.last_number < self.first_number:
            raise ValueError(f"last_number {self.last_number} is below first_number {self.first_number}")
        return self


class CounterConfig(StrictModel):
    number: CounterNumber
    name: str = Field("", max_length=60, description="Defaults to 'Quầy {number}'.")
    areas: list[AreaCode] = Field(min_length=1, description="Areas served, in the order they are preferred.")

    @property
    def display_name(self) -> str:
        return self.name or f"Quầy {self.number}"


class OfficerConfig(StrictModel):
    id: OfficerId
    name: str = Field(min_length=1, max_length=120)


class CategoryConfig(StrictModel):
    code: CategoryCode
    name: str = Field(min_length=1, max_length=120)


class ProcedureConfig(StrictModel):
    code: str = Field(min_length=1, max_length=64)
    area: AreaCode
    name: str = Field(min_length=1, max_length=300)
    documents: list[str] = Field(default_factory=list)
    fee: str = ""
    processing_time: str = ""
    where: str = ""


class OpeningPeriod(StrictModel):
    days: list[int] = Field(description="ISO weekdays: 1 = Monday … 7 = Sunday.")
    open: time
    close: time

    @field_validator("days")
    @classmethod
    def _weekdays(cls, v: list[int]) -> list[int]:
        if not v or any(d < 1 or d > 7 for d in v):
            raise ValueError("days must list ISO weekdays 1..7")
        return v


class QueueRules(StrictModel):
    priority_rule: Literal["strict", "interleave"] = Field(
        "interleave", description="strict: priority tickets always first; interleave: one after every N normal.",
    )
    priority_every: int = Field(3, ge=1, le=100, description="N for the interleave rule.")
    area_order: Literal["counter_order", "oldest_first"] = Field(
        "counter_order",
        description="counter_order: a counter serves its first area until empty, then the next; "
        "oldest_first: the longest-waiting ticket across its areas.",
    )
    transfer_position: Literal["front", "back", "original"] = Field(
        "front", description="Where a transferred ticket lands in its new queue.",
    )
    reactivate_window_min: int = Field(30, ge=0, le=24 * 60, description="How long a skipped ticket can be brought back.")
    next_finishes_current: bool = Field(True, description="Pressing next finishes the ticket being served.")
    rating_window_s: int = Field(30, ge=5, le=600)
    default_service_min: float = Field(5.0, gt=0, le=240, description="Estimate used before any ticket was served.")
    service_time_samples: int = Field(20, ge=1, le=1000)


class Retention(StrictModel):
    """How long the database keeps what. Tickets and ratings: long enough for the yearly report."""

    tickets_days: int = Field(400, ge=31, le=3650, description="Whole service days of tickets kept.")
    ratings_days: int = Field(400, ge=31, le=3650)
    commands_days: int = Field(2, ge=1, le=365, description="Applied commands, kept for safe retries.")
    refused_commands_s: int = Field(600, ge=30, le=86400, description="Refused commands: only a retry's time.")
    dossiers_days: int = Field(90, ge=1, le=3650, description="Cached dossier statuses not refreshed since.")
    events_days: int = Field(30, ge=1, le=365, description="Events the broker never took (a long outage).")
    prune_every_s: int = Field(3600, ge=10, le=86400)


class PublicView(StrictModel):
    """What may appear in the retained counter states, which the hall's public TV reads."""

    dossier_codes: bool = Field(False, description="Show the dossier code of the ticket being served.")
    officer_ids: bool = Field(False, description="Show officer ids (names are shown either way).")


class HallSettings(StrictModel):
    name: str = Field(min_length=1, max_length=200)
    timezone: TimeZoneName = "Asia/Ho_Chi_Minh"
    reset_time: time = Field(time(0, 0), description="Local time at which numbers restart for the new day.")
    opening_hours: list[OpeningPeriod] = Field(
        default_factory=list, description="When tickets can be issued; empty = always.",
    )
    areas: list[AreaConfig] = Field(min_length=1)
    counters: list[CounterConfig] = Field(min_length=1)
    officers: list[OfficerConfig] = Field(default_factory=list, description="Empty: any officer id may log in.")
    priority_categories: list[CategoryConfig] = Field(
        default_factory=lambda: [
            CategoryConfig(code="elderly", name="Người cao tuổi"),
            CategoryConfig(code="disabled", name="Người khuyết tật"),
            CategoryConfig(code="pregnant", name="Phụ nữ mang thai"),
            CategoryConfig(code="small_children", name="Người đi cùng trẻ em dưới 6 tuổi"),
        ]
    )
    procedures: list[ProcedureConfig] = Field(default_factory=list)
    rules: QueueRules = QueueRules()
    allow_general_ratings: bool = Field(False, description="Accept ratings not tied to a ticket.")
    limits: RateLimits = RateLimits()
    retention: Retention = Retention()
    public: PublicView = PublicView()
    supervisors: list[DeviceId] = Field(
        default_factory=list, description="Logins that may cancel any waiting ticket (the web console).")
    clock_skew_max_s: int = Field(
        86400, ge=60, le=30 * 86400,
        description="A command's sent_at further than this from the hall's clock is refused (1970, 2099).")
    rating_delivery_max_s: int = Field(
        7 * 86400, ge=60, le=30 * 86400,
        description="A rating arriving later than this after its ticket's rating window closed is refused "
                    "(a pad offline over a long weekend still delivers).")
    rating_clock_tolerance_s: int = Field(
        120, ge=0, le=3600, description="Clock difference allowed between a pad and the hall for rated_at.")


    @model_validator(mode="after")
    def _consistent(self) -> HallSettings:
        codes = [a.code for a in self.areas]
        _unique(codes, "area code")
        _unique([c.number for c in self.counters], "counter number")
        _unique([o.id for o in self.officers], "officer id")
        _unique([c.code for c in self.priority_categories], "priority category")
        by_prefix: dict[str, list[AreaConfig]] = {}
        for a in self.areas:
            by_prefix.setdefault(a.prefix, []).append(a)
        for prefix, group in by_prefix.items():
            spans = sorted((a.first_number, a.last_number, a.code) for a in group)
            for (_, hi, c1), (lo, _, c2) in zip(spans, spans[1:]):
                if lo <= hi:
                    raise ValueError(
                        f"areas {c1} and {c2} share prefix {prefix!r} and overlapping number ranges: "
                        "the same number would be printed twice"
                    )
        for c in self.counters:
            for code in c.areas:
                if code not in codes:
                    raise ValueError(f"counter {c.number} serves unknown area {code!r}")
        for p in self.procedures:
            if p.area not in codes:
                raise ValueError(f"procedure {p.code} belongs to unknown area {p.area!r}")
        return self

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def _unique(values: list, what: str) -> None:
    seen = set()
    for v in values:
        if v in seen:
            raise ValueError(f"duplicate {what} {v!r}")
        seen.add(v)


#: The dispatcher's default for ``mqtt.max_queued``. It answers every device of the hall: under a flood,
#: replies, states and events queue up faster than the broker acknowledges them, and a message beyond
#: paho's queue is never sent (a reply lost until the device retries). Everything it sends can be rebuilt
#: from its database, so the bound is only for memory: 20,000 messages are a few tens of MB.
DISPATCHER_MAX_QUEUED = 20000


class DispatcherSettings(DeviceSettings):
    device_id: str = Field("dispatcher", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    mqtt: MqttSettings = MqttSettings(max_queued=DISPATCHER_MAX_QUEUED)
    database: Path = Path("/var/lib/motcua/dispatcher.db")
    hall: HallSettings
    reports: ReportSettings = ReportSettings()
    tracking_expiry_h: float = Field(
        20.0, gt=0, le=24 * 7,
        description="How long a ticket's retained citizen-page state (track/{key}) outlives its last change "
                    "(MQTT v5 message expiry): the brokers forget yesterday's tickets by themselves.")

    @model_validator(mode="before")
    @classmethod
    def _dispatcher_queue(cls, data: object) -> object:
        # an [mqtt] table (or MOTCUA_MQTT__* variables) that does not set max_queued gets the dispatcher's
        # default, not every device's
        if isinstance(data, dict) and isinstance(data.get("mqtt"), dict):
            return {**data, "mqtt": {"max_queued": DISPATCHER_MAX_QUEUED, **data["mqtt"]}}
        return data
