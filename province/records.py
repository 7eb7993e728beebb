"""What the collector makes of one bridged message: a record to store, or a refusal saying why.

Pure: no sockets, no database. The hall is the topic's site level, which the
province broker's ACL binds to that hall's bridge login; nothing in a body can
make a message count for another hall. Every event payload is validated with
the protocol's own model before anything is stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from motcua.protocol import (
    CallEvent,
    Health,
    Message,
    PayloadError,
    RatingEvent,
    TicketEvent,
    TicketOutcome,
    decode,
)
from motcua.protocol.topics import ROOT

# event/{kind} -> the model its payload must satisfy
EVENT_MODELS: dict[str, type[Message]] = {
    "call": CallEvent,
    "ticket": TicketEvent,
    "rating": RatingEvent,
    "outcome": TicketOutcome,
}


@dataclass(frozen=True)
class EventRecord:
    site: str
    kind: str
    event: Message  # one of EVENT_MODELS' values, validated
    raw: bytes = b""  # the payload as it came, kept verbatim in the archive

    @property
    def event_id(self) -> str:
        return self.event.event_id  # type: ignore[attr-defined]

    @property
    def at(self) -> datetime:
        return self.event.at  # type: ignore[attr-defined]


@dataclass(frozen=True)
class DeviceRecord:
    """The last word on one box (or on the hall's bridge, device ``bridge``)."""

    site: str
    device_id: str
    availability: str | None = None
    health: Health | None = None


@dataclass(frozen=True)
class Refusal:
    site: str | None
    topic: str
    reason: str
    payload: bytes


Record = EventRecord | DeviceRecord | Refusal


def site_of(topic: str) -> tuple[str | None, list[str]]:
    """``motcua/v1/{site}/rest…`` -> (site, rest levels); (None, []) for a topic outside the tree."""
    prefix = ROOT + "/"
    if not topic.startswith(prefix):
        return None, []
    site, *rest = topic[len(prefix):].split("/")
    return (site or None), rest


def parse(topic: str, payload: bytes, max_payload: int = 256 * 1024) -> Record:
    site, rest = site_of(topic)
    if site is None or not rest:
        return Refusal(site, topic, "not a hall topic", payload)
    try:
        if rest[0] == "event" and len(rest) == 2:
            model = EVENT_MODELS.get(rest[1])
            if model is None:
                return Refusal(site, topic, f"unknown event kind {rest[1]!r}", payload)
            event = decode(model, payload, max_payload)
            if not 8 <= len(event.event_id) <= 64:  # type: ignore[attr-defined]
                return Refusal(site, topic, "event_id must be 8 to 64 characters", payload)
            return EventRecord(site, rest[1], event, payload)
        if rest == ["bridge", "province"]:
            state = payload.decode("ascii", "replace").strip()
            if state not in ("0", "1"):
                return Refusal(site, topic, f"bridge state {state!r} is neither 0 nor 1", payload)
            return DeviceRecord(site, "bridge", availability="online" if state == "1" else "offline")
        if rest[0] == "device" and len(rest) == 3 and rest[2] in ("availability", "health"):
            if rest[2] == "availability":
                state = payload.decode("ascii", "replace").strip()
                if state not in ("online", "offline"):
                    return Refusal(site, topic, f"availability {state!r} is neither online nor offline", payload)
                return DeviceRecord(site, rest[1], availability=state)
            health = decode(Health, payload, max_payload)
            if health.device_id != rest[1]:
                return Refusal(site, topic, f"health of {health.device_id!r} on {rest[1]!r}'s topic", payload)
            return DeviceRecord(site, rest[1], health=health)
    except PayloadError as exc:
        return Refusal(site, topic, str(exc), payload)
    return Refusal(site, topic, "not a topic the collector stores", payload)
