"""The protocol's published artefacts: JSON Schemas, an AsyncAPI 3.0 document and ``protocol.md``.

Generated from :mod:`motcua.protocol.messages` and ``TOPIC_SPECS`` only, so the
documentation cannot drift from the code: change a model or a TopicSpec, run
``motcua schema export docs`` and commit the result. Output is deterministic
(fixed examples, fixed times, sorted keys), which lets a test check that the
committed files are up to date.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from string import Formatter
from typing import Any, get_args

from pydantic.json_schema import models_json_schema

from motcua import __version__

from . import messages as m
from .topics import REQUEST_CONTRACT, ROOT, TOPIC_SPECS, TopicSpec

SITE = "demo"
REPLY_PATTERN = "device/{device_id}/reply"
_ADDRESS = ROOT + "/{site}/"

PARAMETERS: dict[str, tuple[str, list[str]]] = {
    "site": ("The hall's id, the same for every device of one hall (setting `site`).", [SITE]),
    "device_id": ("A device's id, which is also its MQTT client id and username.", ["kiosk-01", "dispatcher"]),
    "login": ("The sender's login (MQTT username = device id). The broker lets each login write only under its own "
              "name: this level is who sent the request.", ["kiosk-01", "counter-03"]),
    "counter": ("A counter number, 1 to 999, without leading zeros.", ["3"]),
    "area": ("A service area code from the hall configuration.", ["TP"]),
    "action": ("What a counter command does; selects the payload model.", list(m.COUNTER_ACTIONS)),
    "period": ("Which report period: day, week, reporting-week, month, quarter, half or year.", ["day", "week"]),
    "key": ("A ticket's tracking key: the first 128 bits of SHA-256 of the token in its QR code, in hex "
            "(the token itself never leaves the hall).", [m.tracking_key("example-token-ordinary")]),
}

ERROR_MEANINGS: dict[str, str] = {
    "bad_payload": "Not JSON, not an object, fails its model (wrong type, unknown field, other `schema_version`), "
                   "an unknown request topic or action, contradictory fields, JSON nested too deep, a lone surrogate in a string, "
                   "NaN, a topic level that is not an ASCII number, a `sent_at` or `rated_at` far from the hall's "
                   "clock. Fix the sender; do not retry as is.",
    "too_large": "The payload exceeds the receiver's size limit (64 KiB by default).",
    "unknown_counter": "The counter in the topic (or a transfer target) is not configured in this hall.",
    "unknown_area": "The area is not configured in this hall.",
    "unknown_category": "The priority category is not configured in this hall.",
    "unknown_officer": "The officer is not on this hall's list of officers.",
    "unknown_ticket": "No such ticket (for `reactivate`: none with that number today).",
    "bad_state": "The command does not fit the current state: counter closed or paused, no ticket being served, "
                 "ticket no longer waiting, skipped too long ago.",
    "id_reused": "This `command_id` was already used for a different command. Use a fresh id.",
    "exhausted": "The area has issued the last number of its range for today.",
    "empty": "`next`: nobody is waiting for this counter's areas (a ticket being served is still finished).",
    "closed_hours": "The hall is not issuing numbers at this hour.",
    "not_allowed": "The sender may not do this: a body `device_id` that is not the sender's login, a cancel of "
                   "another kiosk's ticket, a rating for another counter, for a ticket served elsewhere, on another "
                   "day, outside its rating window or already rated, or without a ticket where the hall does not "
                   "accept them. Do not retry.",
    "rate_limited": "This login sent more requests of this kind than the hall allows (a burst, then a steady rate: "
                    "settings `hall.limits`). Nothing was done or stored; the message says when to try again.",
    "internal": "The receiver failed for a reason of its own. Retrying with the same `command_id` is safe.",
}


# --------------------------------------------------------------------------- which models


def _reply_spec() -> TopicSpec:
    return next(s for s in TOPIC_SPECS if s.pattern == REPLY_PATTERN)


def _channel_models(spec: TopicSpec) -> list[type[m.Message]]:
    """The payload models that travel on one topic (empty for the plain-text availability)."""
    if spec.payload is None:
        return []
    if spec.payload is m.CounterCommand:
        return list(m.COUNTER_ACTIONS.values())
    if spec.pattern == REPLY_PATTERN:
        return _unique([spec.payload, *(s.reply for s in TOPIC_SPECS if s.reply)])
    return [spec.payload]


def _unique(models) -> list:
    return list(dict.fromkeys(models))


def documented_models() -> list[type[m.Message]]:
    """Every model with its own schema file: payloads and replies of TOPIC_SPECS, every counter action, Reply."""
    found = [x for s in TOPIC_SPECS for x in (s.payload, s.reply) if x is not None]
    return _unique([*found, *m.COUNTER_ACTIONS.values(), m.Reply])


def _params(pattern: str) -> list[str]:
    return [field for _, field, _, _ in Formatter().parse(pattern) if field]


def _id_field(model: type[m.Message]) -> str | None:
    return next((f for f in ("command_id", "rating_id") if f in model.model_fields), None)


# --------------------------------------------------------------------------- examples


@dataclass(frozen=True)
class Example:
    caption: str
    topic: str
    payload: m.Message | str
    reply: m.Reply | None = None


_TZ = timezone(timedelta(hours=7))  # Asia/Ho_Chi_Minh
DAY = date(2026, 3, 2)


def _at(hh: int, mm: int, ss: int = 0) -> datetime:
    return datetime(DAY.year, DAY.month, DAY.day, hh, mm, ss, tzinfo=_TZ)


def _id(label: str) -> str:
    """A fixed, distinct 32-hex-digit id per example, like the ones new_id() makes."""
    return "7f3c2a9e5b1d4c8f9a0e6b2d4f8c1a3e" if label == "ticket" else hashlib.sha256(label.encode()).hexdigest()[:32]


def _topic(spec: TopicSpec, **values: object) -> str:
    return f"{ROOT}/{SITE}/" + spec.pattern.format(**values)


def examples() -> dict[str, list[Example]]:
    """Realistic, deterministic examples for every TopicSpec, by spec name."""
    spec = {s.name: s for s in TOPIC_SPECS}
    dossier = "000.12.34.H40-260302-0015"
    ticket = m.Ticket(ticket_id="20260302-TP-1023", number="A1023", area="TP", day=DAY, status="called",
                      issued_at=_at(8, 2, 11), called_at=_at(8, 15), counter=3)
    done = ticket.model_copy(update={"status": "done", "finished_at": _at(8, 24, 40), "dossier_code": dossier})
    officer: dict[str, Any] = {"officer_name": "Nguyễn Thị Lan"}  # officer ids and dossier codes stay off the public TV

    def state(status: m.CounterStatus, at: datetime, **kw: Any) -> m.CounterState:
        people = officer if status != "closed" else {}
        return m.CounterState(counter=3, name="Quầy 3", status=status, updated_at=at, **people, **kw)

    window = m.RatingWindow(ticket_id=done.ticket_id, number=done.number, area="TP", officer=None,
                            dossier_code=None, opened_at=_at(8, 24, 40), closes_at=_at(8, 25, 10))
    refused = m.ErrorInfo(code="bad_state", message="ticket A1019 was skipped more than 30 minutes ago: "
                                                     "take a new number")
    # action: (caption, sent at, fields beyond the common ones, counter state in the reply, error)
    counter_cmds: dict[str, tuple[str, datetime, dict[str, Any], m.CounterState, m.ErrorInfo | None]] = {
        "open": ("officer lan.nguyen opens counter 3", _at(7, 30), {"officer": "lan.nguyen"},
                 state("open", _at(7, 30)), None),
        "close": ("close the counter at the end of the morning", _at(11, 30), {}, state("closed", _at(11, 30)), None),
        "pause": ("pause the counter for a break", _at(9, 45), {}, state("paused", _at(9, 45)), None),
        "resume": ("resume after the break", _at(10, 0), {}, state("open", _at(10, 0)), None),
        "next": ("call the next citizen: A1023", _at(8, 15), {}, state("open", _at(8, 15), current=ticket), None),
        "recall": ("call A1023 again", _at(8, 16, 30), {}, state("open", _at(8, 15), current=ticket), None),
        "skip": ("skip the ticket being served: the citizen did not come", _at(8, 18), {},
                 state("open", _at(8, 18)), None),
        "reactivate": ("bring back skipped ticket A1019; refused, it was skipped too long ago", _at(8, 20),
                       {"number": "A1019"}, state("open", _at(8, 18)), refused),
        "transfer": ("send the ticket being served to the land (DD) queue", _at(8, 21), {"to_area": "DD"},
                     state("open", _at(8, 21)), None),
        "finish": ("finish A1023; the rating window opens for 30 s", _at(8, 24, 40), {},
                   state("open", _at(8, 24, 40), rating_window=window), None),
        "attach_dossier": ("link the dossier code scanned from the receipt to A1023", _at(8, 24, 20),
                           {"dossier_code": dossier},
                           state("open", _at(8, 15), current=ticket),
                           None),
    }
    assert set(counter_cmds) == set(m.COUNTER_ACTIONS), "one example per counter action"
    cmd_spec = spec["counter command"]
    record = m.DossierRecord(code="000.12.34.H40-260216-0007", procedure="Đăng ký biến động quyền sử dụng đất",
                             status="ready", appointment_date=DAY, ready_for_pickup=True, updated_at=_at(7, 40))
    return {
        "availability": [
            Example("The kiosk is connected", _topic(spec["availability"], device_id="kiosk-01"), "online"),
            Example("The kiosk is gone (its last will, or a clean stop)",
                    _topic(spec["availability"], device_id="kiosk-01"), "offline"),
        ],
        "health": [Example("A kiosk whose printer is running low on paper",
                           _topic(spec["health"], device_id="kiosk-01"),
                           m.Health(device_id="kiosk-01", role="kiosk", status="degraded", at=_at(8, 15),
                                    uptime_s=4860.5, version=__version__, mqtt_connected=True, rss_mb=48.2,
                                    checks={"printer": "ok", "paper": "degraded: paper low"},
                                    instance="3f9a1c77e0b2"))],
        "dispatcher state": [Example("The dispatcher mid-morning",
                                     _topic(spec["dispatcher state"], device_id="dispatcher"),
                                     m.DispatcherState(day=DAY, issued_today=57, waiting=9, served_today=44,
                                                       database="/var/lib/motcua/dispatcher.db",
                                                       started_at=_at(6, 58, 40)))],
        "announcer state": [Example("The announcer speaking one call while another waits",
                                    _topic(spec["announcer state"], device_id="announcer"),
                                    m.AnnouncerState(device_id="announcer", relay="on", audio="ok", queue_length=1,
                                                     playing="A1023", last_called="A1023", played=41, merged=2,
                                                     dropped_stale=0, dropped_full=0, skipped_quiet=0,
                                                     updated_at=_at(8, 15, 2)))],
        "reply": [Example("A request refused because of a misspelt field",
                          _topic(spec["reply"], device_id="kiosk-01"),
                          m.Reply(command_id=_id("refused"), ok=False, replied_at=_at(8, 3),
                                  error=m.ErrorInfo(code="bad_payload",
                                                    message="TicketRequest: prio: Extra inputs are not permitted")))],
        "hall config": [Example("A small hall", _topic(spec["hall config"]), m.HallConfig(
            site=SITE, hall_name="Trung tâm Phục vụ hành chính công phường Long Châu", day=DAY,
            areas=[m.AreaInfo(code="TP", name="Tư pháp - hộ tịch", prefix="A", first_number=1001, last_number=1999),
                   m.AreaInfo(code="DD", name="Đất đai, môi trường", prefix="B", first_number=2001,
                              last_number=2999)],
            counters=[m.CounterInfo(number=1, name="Quầy 1", areas=["DD"]),
                      m.CounterInfo(number=2, name="Quầy 2", areas=["TP"]),
                      m.CounterInfo(number=3, name="Quầy 3", areas=["TP", "DD"])],
            priority_categories=[m.CategoryInfo(code="elderly", name="Người cao tuổi"),
                                 m.CategoryInfo(code="disabled", name="Người khuyết tật"),
                                 m.CategoryInfo(code="pregnant", name="Phụ nữ mang thai")],
            procedures=[m.ProcedureInfo(code="HT-01", area="TP", name="Đăng ký khai sinh",
                                        documents=["Tờ khai đăng ký khai sinh", "Giấy chứng sinh"],
                                        fee="Miễn phí", processing_time="Trong ngày", where="Quầy 2, 3")],
        ))],
        "counter state": [Example("Counter 3 serving A1023", _topic(spec["counter state"], counter=3),
                                  state("open", _at(8, 15), current=ticket))],
        "area summary": [Example("The civil status area", _topic(spec["area summary"], area="TP"), m.AreaSummary(
            area="TP", name="Tư pháp - hộ tịch", waiting=4, waiting_priority=1, last_called="A1023",
            issued_today=31, served_today=25, open_counters=2, average_wait_min=11.5, average_service_min=6.2,
            updated_at=_at(8, 15)))],
        "area queue": [Example("Two waiting in the civil status area, a priority ticket first", _topic(
            spec["area queue"], area="TP"), m.AreaQueue(area="TP", day=DAY, waiting=[
                m.QueuePlace(key=m.tracking_key("example-token-priority"), priority=True),
                m.QueuePlace(key=m.tracking_key("example-token-ordinary"))], updated_at=_at(8, 15)))],
        "ticket track": [Example("A1024, called to counter 3", _topic(
            spec["ticket track"], key=m.tracking_key("example-token-ordinary")), m.TicketTrack(
            day=DAY, number="A1024", area="TP", status="called", counter=3, call_count=1, issued_at=_at(7, 58),
            updated_at=_at(8, 16)))],
        "hall figures": [Example("The hall at a quarter past eight", _topic(spec["hall figures"]), m.HallFigures(
            day=DAY, issued_today=112, served_today=87, waiting=19, average_wait_min=12.4, ratings_today=64,
            satisfied_pct=92.2, updated_at=_at(8, 15)))],
        "report summary": [Example("Today so far, against yesterday until the same hour", _topic(
            spec["report summary"], period="day"), m.ReportSummary(
            period="day", period_id="2026-03-02", satisfaction_target_pct=75.0, wait_target_min=25.0,
            current=m.PeriodFigures(
                start=_at(0, 0), end=_at(10, 0), label="Ngày 02/03/2026 — số liệu đến 10:00 ngày 02/03/2026",
                issued=140, called=118, served=109, no_shows=6, cancelled=1, transferred=4, not_served=0,
                wait_median_min=9.5, wait_p90_min=27.0, wait_max_min=41.2, service_median_min=6.1,
                very_satisfied=51, satisfied=24, unsatisfied=9, not_rated=12, satisfied_pct=89.3,
                above_wait_target=True),
            previous=m.PeriodFigures(
                start=_at(0, 0) - timedelta(days=1), end=_at(10, 0) - timedelta(days=1),
                label="Ngày 01/03/2026 — số liệu đến 10:00 ngày 01/03/2026", issued=0, called=0, served=0,
                no_shows=0, cancelled=0, transferred=0, not_served=0, very_satisfied=0, satisfied=0,
                unsatisfied=0, not_rated=0),
            generated_at=_at(10, 0)))],
        "hall notice": [Example("A notice for the hall board", _topic(spec["hall notice"]), m.HallNotice(
            text="Từ ngày 01/03, hồ sơ đất đai nộp tại quầy 4 và quầy 5. Xin cảm ơn!",
            expires_at=_at(17, 0), updated_at=_at(7, 0)))],
        "call event": [Example("A1023 called to counter 3", _topic(spec["call event"]), m.CallEvent(
            event_id=_id("call"), at=_at(8, 15), ticket_id=ticket.ticket_id, number="A1023", area="TP", counter=3,
            counter_name="Quầy 3", call_count=1))],
        "ticket event": [Example("A1023 called", _topic(spec["ticket event"]), m.TicketEvent(
            event_id=_id("event"), at=_at(8, 15), kind="called", ticket=ticket, counter=3, officer="lan.nguyen"))],
        "rating event": [Example("The dispatcher accepted the rating of A1023", _topic(spec["rating event"]),
                                 m.RatingEvent(
            event_id=_id("accepted"), at=_at(8, 24, 55), rating_id=_id("rating"), ticket_id=ticket.ticket_id,
            counter=3, area="TP", officer="lan.nguyen", dossier_code=dossier, level="very_satisfied",
            reasons=["Hướng dẫn tận tình, dễ hiểu"], rated_at=_at(8, 24, 55), pad="pad-03", service_day=DAY))],
        "ticket outcome": [Example("A1023 served at counter 3", _topic(spec["ticket outcome"]), m.TicketOutcome(
            event_id=_id("outcome"), at=_at(8, 24, 40), outcome="done", issue_area="TP", officer="lan.nguyen",
            ticket=ticket.model_copy(update={"status": "done", "finished_at": _at(8, 24, 40)}),
            wait_min=13.0, service_min=9.67))],
        "counter command": [
            Example(f"`{action}`: {caption}", _topic(cmd_spec, login="counter-03", counter=3, action=action),
                    m.COUNTER_ACTIONS[action](command_id=_id(action), sent_at=at, **fields),
                    m.CounterReply(command_id=_id(action), ok=error is None, error=error, replied_at=at, counter=after))
            for action, (caption, at, fields, after, error) in ((a, counter_cmds[a]) for a in m.COUNTER_ACTIONS)
        ],
        "rating": [Example("A citizen rates A1023", _topic(spec["rating"], login="pad-03", counter=3), m.Rating(
            rating_id=_id("rating"), counter=3, ticket_id=ticket.ticket_id, officer="lan.nguyen",
            area="TP", dossier_code=dossier, level="very_satisfied", reasons=["Hướng dẫn tận tình, dễ hiểu"],
            rated_at=_at(8, 24, 55)),
            m.RatingAck(command_id=_id("rating"), ok=True, replied_at=_at(8, 24, 55)))],
        "ticket request": [Example("A number in the civil status area", _topic(spec["ticket request"], login="kiosk-01"),
                                   m.TicketRequest(command_id=_id("ticket"), area="TP"),
                                   m.TicketReply(command_id=_id("ticket"), ok=True, replied_at=_at(8, 2, 11),
                                                 ticket=ticket.model_copy(update={
                                                     "status": "waiting", "called_at": None, "counter": None}),
                                                 waiting_ahead=4, estimated_wait_min=12))],
        "ticket cancel": [Example("The kiosk could not print A1024", _topic(spec["ticket cancel"], login="kiosk-01"),
                                  m.TicketCancel(command_id=_id("cancel"),
                                                 ticket_id="20260302-TP-1024", reason="printer out of paper"),
                                  m.TicketReply(command_id=_id("cancel"), ok=True, replied_at=_at(8, 3, 5),
                                                ticket=m.Ticket(ticket_id="20260302-TP-1024", number="A1024",
                                                                area="TP", day=DAY, status="cancelled",
                                                                issued_at=_at(8, 3, 2), finished_at=_at(8, 3, 5))))],
        "dossier lookup": [Example("A citizen scans the receipt of a land dossier",
                                   _topic(spec["dossier lookup"], login="kiosk-01"),
                                   m.DossierLookup(command_id=_id("lookup"), code=record.code),
                                   m.DossierReply(command_id=_id("lookup"), ok=True, replied_at=_at(8, 10),
                                                  found=True, record=record, received_at=_at(7, 40, 2),
                                                  age_s=1798.0))],
        "dossier status": [Example("Two records from the central system", _topic(spec["dossier status"]),
                                   m.DossierStatusUpdate(records=[record, m.DossierRecord(
                                       code=dossier, procedure="Đăng ký khai sinh", status="received",
                                       appointment_date=DAY, updated_at=_at(8, 24, 30))]))],
        "dossier progress": [Example(
            "Figures per area for a ward's centre: today (flows since midnight, stocks now) and this month",
            _topic(spec["dossier progress"]),
            m.DossierProgress(group_by="area", day=DAY, on_time_target_pct=95, updated_at=_at(10, 0), groups=[
                m.ProgressGroup(key="TP", name="Tư pháp - hộ tịch",
                                today=m.ProgressCounts(received=42, in_progress=17, done_on_time=31, done_late=0,
                                                       overdue=0),
                                month=m.ProgressCounts(received=612, in_progress=17, done_on_time=588, done_late=4,
                                                       overdue=0),
                                agency_codes=["000.00.31.H61"], procedures=["Đăng ký khai sinh", "Đăng ký kết hôn"]),
                m.ProgressGroup(key="DD", name="Đất đai, môi trường",
                                today=m.ProgressCounts(received=9, in_progress=64, done_on_time=5, done_late=1,
                                                       overdue=3),
                                month=m.ProgressCounts(received=151, in_progress=64, done_on_time=97, done_late=9,
                                                       overdue=3),
                                agency_codes=["000.00.31.H61"],
                                procedures=["Đăng ký biến động quyền sử dụng đất"])]))],
    }


def _json(payload: m.Message | str) -> str:
    return payload if isinstance(payload, str) else payload.model_dump_json(indent=2)


# --------------------------------------------------------------------------- JSON Schema


def schemas() -> dict[str, dict]:
    """One self-contained JSON Schema per documented model, by model name."""
    out = {}
    for model in documented_models():
        out[model.__name__] = {"$schema": "https://json-schema.org/draft/2020-12/schema", **model.model_json_schema()}
    return out


def _dump(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


# --------------------------------------------------------------------------- AsyncAPI


def _camel(name: str) -> str:
    first, *rest = name.split()
    return first + "".join(w.capitalize() for w in rest)


def _receives(spec: TopicSpec) -> bool:
    return "dispatcher" in spec.subscribers


def _message(model: type[m.Message], spec: TopicSpec, samples: list) -> dict[str, Any]:
    """An AsyncAPI message object for one model on one channel."""
    msg: dict[str, Any] = {
        "name": model.__name__, "title": model.__name__, "contentType": "application/json",
        "payload": {"$ref": f"#/components/schemas/{model.__name__}"},
        "examples": [{"name": f"{model.__name__}{i + 1}", "payload": json.loads(x.model_dump_json())}
                     for i, x in enumerate(samples)],
    }
    if model.__doc__:
        msg["summary"] = " ".join(model.__doc__.split())
    action = next((a for a, cls in m.COUNTER_ACTIONS.items() if cls is model), None)
    if action is not None:
        msg["description"] = f"The `{action}` command, on `{_ADDRESS}{spec.pattern.replace('{action}', action)}`."
    binding: dict[str, Any] = {"bindingVersion": "0.2.0"}
    if (field := _id_field(model)) is not None:
        msg["correlationId"] = {"location": f"$message.payload#/{field}",
                                "description": f"`{field}`, also sent as the MQTT v5 correlation data."}
        binding["correlationData"] = {"type": "string", "description": f"The `{field}`, UTF-8 encoded."}
    if spec.reply is not None:
        binding["responseTopic"] = {"type": "string", "description": f"`{_ADDRESS}{REPLY_PATTERN}` of the sender."}
    if len(binding) > 1:
        msg["bindings"] = {"mqtt": binding}
    return msg


def asyncapi() -> dict:
    """The AsyncAPI 3.0.0 document, from the dispatcher's point of view."""
    _, defs = models_json_schema([(x, "validation") for x in documented_models()],
                                 ref_template="#/components/schemas/{model}")
    ex = examples()
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    reply_id = _camel(_reply_spec().name)
    for spec in TOPIC_SPECS:
        cid = _camel(spec.name)
        models = _channel_models(spec)
        if not models:
            messages["Availability"] = {
                "name": "Availability", "title": "Availability", "contentType": "text/plain",
                "payload": {"type": "string", "enum": ["online", "offline"]},
                "examples": [{"name": e.payload, "summary": e.caption, "payload": e.payload} for e in ex[spec.name]],
            }
        for model in models:
            samples = [e.payload for e in ex[spec.name] if type(e.payload) is model]
            samples += [e.reply for s in TOPIC_SPECS for e in ex[s.name] if type(e.reply) is model]
            messages[model.__name__] = _message(model, spec, samples)
        names = [x.__name__ for x in models] or ["Availability"]
        channels[cid] = {
            "address": _ADDRESS + spec.pattern, "title": spec.name, "description": spec.summary,
            "parameters": {p: {"$ref": f"#/components/parameters/{p}"} for p in ["site", *_params(spec.pattern)]},
            "messages": {n: {"$ref": f"#/components/messages/{n}"} for n in names},
        }
        action = "receive" if _receives(spec) else "send"
        binding = {"bindingVersion": "0.2.0", "qos": spec.qos, "retain": spec.retained}
        if spec.expiry_s is not None:
            binding["messageExpiryInterval"] = spec.expiry_s
        op: dict[str, Any] = {
            "action": action, "channel": {"$ref": f"#/channels/{cid}"},
            "title": f"{spec.publisher} → {spec.subscribers}",
            "messages": [{"$ref": f"#/channels/{cid}/messages/{n}"} for n in names],
            "bindings": {"mqtt": binding},
        }
        if spec.reply is not None:
            op["reply"] = {"channel": {"$ref": f"#/channels/{reply_id}"},
                           "messages": [{"$ref": f"#/channels/{reply_id}/messages/{spec.reply.__name__}"}]}
        operations[action + cid[0].upper() + cid[1:]] = op
    parameters = {name: {"description": text, ("enum" if name == "action" else "examples"): values}
                  for name, (text, values) in PARAMETERS.items()}
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "motcua hall protocol",
            "version": __version__,
            "description": (
                f"The MQTT contract of one motcua hall (payload `schema_version` {m.SCHEMA_VERSION}). Operations are "
                "described from the **dispatcher's** point of view: `send` is what it publishes (availability and "
                "health are published by every device alike), `receive` what it subscribes to. Requests travel on "
                f"`request/{{login}}/...` (request contract {REQUEST_CONTRACT}): the login level, which only that login "
                "may write, is the sender; replies go only to `device/{login}/reply`. See protocol.md for the "
                "conventions."
            ),
        },
        "defaultContentType": "application/json",
        "servers": {"hall": {
            "host": "{host}:{port}", "protocol": "mqtt", "protocolVersion": "5",
            "description": "The hall's broker. Client id and username are the device id.",
            "variables": {"host": {"default": "127.0.0.1"},
                          "port": {"default": "1883", "enum": ["1883", "8883"], "description": "8883 with TLS."}},
            "security": [{"$ref": "#/components/securitySchemes/deviceLogin"}],
        }},
        "channels": channels,
        "operations": operations,
        "components": {
            "schemas": defs["$defs"],
            "messages": messages,
            "parameters": parameters,
            "securitySchemes": {"deviceLogin": {
                "type": "userPassword", "description": "Username = client id = device id; one password per device."}},
        },
    }


# --------------------------------------------------------------------------- protocol.md


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _link(model: type[m.Message]) -> str:
    return f"[{model.__name__}](schemas/{model.__name__}.json)"


def _payload_cell(spec: TopicSpec) -> str:
    if spec.payload is None:
        return "`online` / `offline` (text)"
    if spec.payload is m.CounterCommand:
        return f"{_link(spec.payload)}, one model per `{{action}}`"
    return _link(spec.payload)


def _anchor(name: str) -> str:
    return "#" + name.replace(" ", "-")


_INTRO = """\
# motcua hall protocol

The MQTT contract between the devices of a one-stop public service hall (Trung tâm Phục vụ hành chính công): the dispatcher, ticket
kiosks, counter keypads and displays, the hall board, the announcer, satisfaction pads, and the bridge to the
central one-stop system. motcua {version}, payload `schema_version` {schema_version}.

Generated from `motcua/protocol/messages.py` and `TOPIC_SPECS` in `motcua/protocol/topics.py` by
`motcua schema export docs`: do not edit by hand. Machine-readable forms: one [JSON Schema](schemas/) per payload
model and an [AsyncAPI 3.0 document](asyncapi.json).

## Conventions

### Topics and identities

Every topic of a hall lives under **`motcua/v1/{{site}}/`**; `v1` is the version of the topic tree. Placeholders:

| Placeholder | Meaning | Example |
|---|---|---|
{parameters}

A device's **id is its MQTT client id and its username**: its *login*. The broker's ACL confines each device to
its own subtree (`device/%u/…`), and each login to the request topics its role names, *under its own name*.
Topics a device owns sit under `device/{{device_id}}/`; topics the dispatcher owns (hall, counters, areas, events)
sit at hall level; requests sit under `request/{{login}}/`, followed by levels naming what they act on.

### Payloads

* JSON, UTF-8, one object per message (except `availability`, which is the plain text `online` or `offline`).
* Every payload carries **`schema_version`** ({schema_version}). A receiver refuses a version it does not speak.
* **Unknown fields are refused**, at every level: a misspelt field is an error the sender hears about, never a
  value silently ignored. Omitted optional fields take their defaults; `null` means "none".
* Times are ISO 8601 with a UTC offset (`2026-03-02T08:15:00+07:00`), dates are `YYYY-MM-DD`.
* No personal data: tickets, ratings and dossier records identify no citizen.

### QoS and retained messages

* Everything is published with **QoS 1** (at least once), except the citizens' pages (`track/{{key}}`,
  `area/{{area}}/queue`): retained, superseded within a second and all published again after the dispatcher
  reconnects, they go at **QoS 0**, so a keypad's counter state never waits behind hundreds of them. A bridge
  that was down gets the retained ones it missed from the hall's broker when it connects again.
* **Retained** topics carry the current state (hall configuration, counter states, area summaries, device
  availability, health and state): a new subscriber receives it at once, and each message replaces the previous
  one. An empty retained message clears a topic.
* **Events, commands, requests and replies are never retained.** Events are delivered at least once: deduplicate
  them by `event_id`.

### Requests and replies (request contract {contract})

Who sent a request is **the login the broker bound to it, never a field of its body**. This is the whole contract
a new client (a web console, a province collector) needs; `motcua.client.HallClient` implements it.

* A client publishes every request on **`motcua/v1/{{site}}/request/{{login}}/{{what}}`**, `{{login}}` being its
  own MQTT username. The broker's ACL lets each login write only under its own name and only the `{{what}}` its
  role allows (`motcua broker roles`); anything else gets PUBACK 0x87 (*not authorized*) from the broker and never
  reaches the dispatcher. What exists: `ticket/issue`, `ticket/cancel`, `dossier/lookup`,
  `counter/{{counter}}/{{action}}`, `rating/{{counter}}` (sections below).
* It subscribes to **`motcua/v1/{{site}}/device/{{login}}/reply`**, the only topic the dispatcher answers on.
  Whatever MQTT v5 *response topic* or body field a request names, the reply goes to the sender's own reply
  topic, so no one can steer replies to another device.
* A request carries a **`command_id`** (8 to 64 characters from `A-Z a-z 0-9 _ -`; 32 hex digits by default),
  also sent as v5 *correlation data* (echoed in the reply's correlation data; the body's `command_id` matches it
  when a 3.1.1 hop dropped the properties). A rating uses `rating_id` instead.
* `device_id` in a body is an optional **claim**: when present it must be the sender's login, or the request is
  refused with `not_allowed` (and logged). Omit it.
* The sender sets an MQTT v5 **message expiry** where the topic asks for one (below), so that a request that
  waited at the broker while the dispatcher was away is dropped rather than applied late.
* A reply is `ok: true`, or `ok: false` with an `error`. Every reply has `command_id`, `ok`, `error` and
  `replied_at`; request-specific replies add fields (the reply model is listed per topic): validate a reply
  against the reply model of its request. **Every bad request is answered** with the reason (a bare `Reply` when
  its body could not be read, with an empty `command_id` when no id could be read at all), never silence: a
  sender that gets no reply has a broker or network problem.
* A command's effects (retained states, events) are announced whether or not its reply could be delivered.
* **Limits per login**: ticket issues, cancels, lookups, ratings and counter commands each have a burst and a
  steady rate (settings `hall.limits`); beyond them the reply is `rate_limited` and nothing is stored.
* Versions: this is request contract {contract}. Contract 1 (until motcua 0.x) put requests on
  `request/ticket/issue`, `counter/{{n}}/cmd/{{action}}`, `counter/{{n}}/rating` and trusted the body's
  `device_id`; it is gone, and a broker with today's ACL refuses it.

### Retries are safe

Retry a command or request that got no reply with the **same `command_id`** and the same body (only `sent_at`
may change): the dispatcher applies it once and replies the same again. Reusing an id for a different command is
refused with `id_reused`. A rating is retried with the same `rating_id` until acknowledged; a duplicate is
acknowledged with `duplicate: true` and counted once.

### Error codes

`error.code` is for programs, `error.message` for people (logs, a technician's screen).

| Code | Meaning |
|---|---|
{errors}

## Topics

| Topic (below `motcua/v1/{{site}}/`) | Publisher | Subscribers | Retained | QoS | Payload |
|---|---|---|---|---|---|
{rows}
"""


def protocol_md() -> str:
    ex = examples()
    params = "\n".join(f"| `{{{n}}}` | {d} | `{v[0]}` |" for n, (d, v) in PARAMETERS.items() if n != "action")
    params += f"\n| `{{action}}` | {PARAMETERS['action'][0]} | {', '.join(f'`{a}`' for a in m.COUNTER_ACTIONS)} |"
    codes = get_args(m.ErrorInfo.model_fields["code"].annotation)
    rows = "\n".join(
        f"| [`{s.pattern}`]({_anchor(s.name)}) | {s.publisher} | {s.subscribers} | {_yes(s.retained)} | {s.qos} "
        f"| {_payload_cell(s)} |" for s in TOPIC_SPECS
    )
    parts = [_INTRO.format(
        version=__version__, schema_version=m.SCHEMA_VERSION, parameters=params, rows=rows, contract=REQUEST_CONTRACT,
        errors="\n".join(f"| `{c}` | {ERROR_MEANINGS[c]} |" for c in codes),
    )]
    for spec in TOPIC_SPECS:
        parts.append(_section(spec, ex[spec.name]))
    return "\n".join(parts).rstrip("\n") + "\n"


def _section(spec: TopicSpec, samples: list[Example]) -> str:
    lines = [f"### {spec.name}", "", f"`{_ADDRESS}{spec.pattern}`", "", spec.summary, "",
             f"* **Publisher:** {spec.publisher}",
             f"* **Subscribers:** {spec.subscribers}",
             f"* **Retained:** {_yes(spec.retained)}",
             f"* **QoS:** {spec.qos}",
             "* **Message expiry:** " + (f"{spec.expiry_s} s, set by the sender" if spec.expiry_s else "none"),
             f"* **Payload:** {_payload_cell(spec)}"]
    if spec.pattern == REPLY_PATTERN:
        lines.append("* **Models:** " + ", ".join(_link(x) for x in _channel_models(spec)))
    if spec.reply is not None:
        lines.append(f"* **Reply:** {_link(spec.reply)} on `{_ADDRESS}{REPLY_PATTERN}`")
    if spec.payload is m.CounterCommand:
        common = set(m.CounterCommand.model_fields)
        lines += ["", "| `{action}` | Payload | Fields beyond the common ones | What it does |", "|---|---|---|---|"]
        for action, model in m.COUNTER_ACTIONS.items():
            extra = ", ".join(f"`{f}`" for f in model.model_fields if f not in common) or "—"
            doc = " ".join((model.__doc__ or "—").split())
            lines.append(f"| `{action}` | {_link(model)} | {extra} | {doc} |")
    for sample in samples:
        lang = "text" if isinstance(sample.payload, str) else "json"
        lines += ["", f"**Example: {sample.caption}** — `{sample.topic}`", "",
                  f"```{lang}", _json(sample.payload), "```"]
        if sample.reply is not None:
            lines += ["", f"Reply ({type(sample.reply).__name__}):", "", "```json", _json(sample.reply), "```"]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- export / check


def render() -> dict[str, str]:
    """Every generated file's content, by path relative to the docs directory."""
    files = {f"schemas/{name}.json": _dump(schema) for name, schema in schemas().items()}
    files["asyncapi.json"] = _dump(asyncapi())
    files["protocol.md"] = protocol_md()
    return files


def _stale(target_dir: Path, files: dict[str, str]) -> list[Path]:
    folder = target_dir / "schemas"
    return sorted(p for p in folder.glob("*.json") if f"schemas/{p.name}" not in files) if folder.is_dir() else []


def export(target_dir: Path) -> list[Path]:
    """Write every artefact under ``target_dir`` (schema files of models that no longer exist are removed)."""
    target_dir = Path(target_dir)
    files = render()
    for stale in _stale(target_dir, files):
        stale.unlink()
    written = []
    for rel, text in files.items():
        path = target_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def check(target_dir: Path) -> list[str]:
    """Relative names of files that are missing, differ from what export() would write, or are stale."""
    target_dir = Path(target_dir)
    files = render()
    bad = [rel for rel, text in files.items()
           if not (target_dir / rel).is_file() or (target_dir / rel).read_text(encoding="utf-8") != text]
    return bad + [f"schemas/{p.name}" for p in _stale(target_dir, files)]
