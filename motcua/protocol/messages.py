"""Every payload motcua puts on the wire, as pydantic v2 models.

Rules shared by all of them:

* JSON on the wire, UTF-8, one object per message.
* ``schema_version`` is carried by every payload so a receiver can refuse (or
  one day translate) a message written for another version of the contract.
* Unknown fields are refused (``extra="forbid"``): a misspelt field is an
  error the sender hears about, never a silently ignored value.
* Commands and requests carry their own id in the body as well as in the MQTT
  v5 correlation data, because an MQTT 3.1.1 hop (a bridge) drops v5
  properties; replies echo it.
* Who sent a request is the login level of its topic (``request/{login}/…``),
  which the broker lets only that login write. A ``device_id`` in a body is a
  claim: optional, and refused (``not_allowed``) when it names someone else.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import date, datetime, timezone
from typing import Annotated, ClassVar, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator

SCHEMA_VERSION: Literal[1] = 1

# Every time stamp carries its offset (AwareDatetime): "08:15" means nothing
# between a pad, the dispatcher and the province unless the zone is said.

# Identifiers travel in topics, so they must be a single, wildcard-free topic
# level; ids are ASCII so they survive every log, shell and ACL file.
DeviceId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
MessageId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{8,64}$")]
AreaCode = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,32}$")]
CounterNumber = Annotated[int, Field(ge=1, le=999)]
TicketNumber = Annotated[str, StringConstraints(pattern=r"^[A-Z]{0,3}[0-9]{1,6}$")]
DossierCode = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]{2,63}$")]
CategoryCode = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_-]{1,32}$")]
OfficerId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=200)]


def new_id() -> str:
    """A fresh command, event or rating id (32 hex digits)."""
    return uuid.uuid4().hex


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Message(BaseModel):
    """Base of every payload: strict, versioned, JSON."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1] = SCHEMA_VERSION

    def to_json(self) -> bytes:
        return self.model_dump_json(exclude_none=False).encode()


# --------------------------------------------------------------------------- common


#: Why a request was refused, for programs (docs/protocol.md lists them).
ErrorCode = Literal[
    "bad_payload",
    "too_large",
    "unknown_counter",
    "unknown_area",
    "unknown_category",
    "unknown_officer",
    "unknown_ticket",
    "bad_state",
    "id_reused",
    "exhausted",
    "empty",
    "closed_hours",
    "not_allowed",
    "rate_limited",
    "internal",
]


class ErrorInfo(BaseModel):
    """Why a command or request was refused. ``code`` is for programs, ``message`` for people."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: ErrorCode
    message: str


class Reply(Message):
    """The answer to a command or request: ``ok`` or an ``error``.

    Every reply type below extends this one: whatever was asked, the answer
    carries ``command_id``, ``ok`` and, when refused, ``error``. Validate a
    reply with the reply model of the request it answers (see docs/protocol.md).
    """

    command_id: str = Field(description="The command or request id this reply answers.")
    ok: bool
    error: ErrorInfo | None = None
    replied_at: AwareDatetime = Field(default_factory=utcnow)


class Request(Message):
    """Base of every message that expects a reply: the request contract the runtime is written against.

    Its id (:attr:`request_id`) travels in the body and as the MQTT v5 correlation data, and the
    reply echoes it as ``command_id``; its sender is the login level of the topic, and the body's
    optional ``device_id`` (:attr:`claimed_sender`) is only a claim, refused when it names someone
    else; its expiry (:attr:`expiry_s`) is how long the broker may hold it for an offline receiver,
    after which acting on it would surprise the person who asked.
    """

    #: MQTT message expiry for this kind of request, in seconds (None: kept until delivered).
    expiry_s: ClassVar[int | None] = None

    @property
    def request_id(self) -> str:
        raise NotImplementedError

    @property
    def claimed_sender(self) -> str | None:
        raise NotImplementedError


class CommandRequest(Request):
    """A request whose id is ``command_id``: every request but a rating."""

    command_id: MessageId
    device_id: DeviceId | None = Field(
        default=None, description="Optional claim of the sender; refused unless it is the login in the topic.")

    @property
    def request_id(self) -> str:
        return self.command_id

    @property
    def claimed_sender(self) -> str | None:
        return self.device_id


class Health(Message):
    """Retained, periodic: what a technician needs to know about a box."""

    device_id: DeviceId
    role: str
    status: Literal["ok", "degraded", "fault"]
    at: AwareDatetime = Field(default_factory=utcnow)
    uptime_s: float
    version: str
    mqtt_connected: bool
    rss_mb: float | None = None
    checks: dict[str, str] = Field(
        default_factory=dict,
        description="Each hardware or software check and its state, e.g. {'database': 'ok'}.",
    )
    last_error: str | None = None
    instance: str | None = Field(
        default=None, description="Random id of this run of the daemon: two live instances under one login "
        "(a copied env file, a stolen password) show up as two instance ids on one health topic.")
    takeovers: int = Field(default=0, ge=0, description="Times another connection with this login knocked "
                           "this run off the broker (MQTT v5 'session taken over').")


# --------------------------------------------------------------------------- hall configuration


class AreaInfo(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    code: AreaCode
    name: str = Field(description="Vietnamese name shown to citizens, e.g. 'Tư pháp - hộ tịch'.")
    prefix: str
    first_number: int
    last_number: int


class CounterInfo(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    number: CounterNumber
    name: str
    areas: list[AreaCode]


class CategoryInfo(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    code: CategoryCode
    name: str


class ProcedureInfo(BaseModel):
    """One administrative procedure (thủ tục hành chính) as citizens browse it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str
    area: AreaCode
    name: str
    documents: list[str] = Field(default_factory=list)
    fee: str = ""
    processing_time: str = ""
    where: str = ""


class HallConfig(Message):
    """Retained by the dispatcher: what every device needs to know about the hall."""

    site: DeviceId
    hall_name: str
    areas: list[AreaInfo]
    counters: list[CounterInfo]
    priority_categories: list[CategoryInfo]
    procedures: list[ProcedureInfo] = Field(default_factory=list)
    day: date = Field(description="The service day the numbers currently belong to.")


# --------------------------------------------------------------------------- tickets


TicketStatus = Literal["waiting", "called", "skipped", "done", "cancelled", "expired"]


class Ticket(BaseModel):
    """A queue ticket as the hall sees it. No personal data, ever."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ticket_id: str = Field(description="Unique across days: 'YYYYMMDD-{issuing area}-{number}', e.g. '20260302-TP-1023'.")
    number: TicketNumber = Field(description="What is printed and called, prefix included, e.g. 'A1023'.")
    area: AreaCode
    day: date
    priority: CategoryCode | None = None
    status: TicketStatus
    issued_at: AwareDatetime
    called_at: AwareDatetime | None = None
    finished_at: AwareDatetime | None = None
    counter: CounterNumber | None = Field(default=None, description="The counter serving it, or that last served it.")
    target_counter: CounterNumber | None = Field(default=None, description="Set when transferred to one counter.")
    dossier_code: DossierCode | None = None


class TicketRequest(CommandRequest):
    """Kiosk → dispatcher: issue a number in an area."""

    expiry_s: ClassVar[int | None] = 10
    area: AreaCode
    priority: CategoryCode | None = None
    dossier_code: DossierCode | None = Field(
        default=None, description="The dossier the citizen comes about, when the kiosk read it from the receipt.")


class TicketReply(Reply):
    ticket: Ticket | None = None
    waiting_ahead: int | None = None
    estimated_wait_min: int | None = None
    tracking_token: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{16,64}$")] | None = Field(
        default=None, description="Random, unguessable: the kiosk prints it in the ticket's QR code (tracking_url), "
                                  "the citizen's queue page finds the ticket by it. Only in the reply to an issue.")


class TicketCancel(CommandRequest):
    """Kiosk → dispatcher: withdraw a waiting ticket (e.g. it could not be printed)."""
    ticket_id: str = Field(max_length=64)
    reason: ShortText


# --------------------------------------------------------------------------- counters


CounterStatus = Literal["closed", "open", "paused"]


class RatingWindow(BaseModel):
    """Set on a counter when it finishes a ticket: the pad may rate that ticket."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ticket_id: str
    number: TicketNumber
    area: AreaCode
    officer: OfficerId | None
    dossier_code: DossierCode | None
    opened_at: AwareDatetime
    closes_at: AwareDatetime


class CounterState(Message):
    """Retained by the dispatcher, one per counter: what its display and pad show."""

    counter: CounterNumber
    name: str
    status: CounterStatus
    officer: OfficerId | None = None
    officer_name: str | None = None
    current: Ticket | None = None
    rating_window: RatingWindow | None = None
    updated_at: AwareDatetime = Field(default_factory=utcnow)


class CounterCommand(CommandRequest):
    """Keypad → dispatcher, on ``request/{login}/counter/{n}/{action}``. The action is the topic's last level."""

    expiry_s: ClassVar[int | None] = 30
    sent_at: AwareDatetime | None = None


class OpenCounter(CounterCommand):
    """Open the counter with this officer logged in (or switch officer)."""

    officer: OfficerId


class CloseCounter(CounterCommand):
    """Close the counter; a ticket still being served is finished first."""


class PauseCounter(CounterCommand):
    """Stop calling for a while (break); the current ticket stays."""


class ResumeCounter(CounterCommand):
    """End a pause."""


class CallNext(CounterCommand):
    """Call the next citizen by the hall's rules; finishes the current ticket first if the hall says so."""


class Recall(CounterCommand):
    """Call the current ticket again (announced again, shown again)."""


class Skip(CounterCommand):
    """The citizen did not come: mark a no-show. It can be reactivated within the hall's window."""


class Finish(CounterCommand):
    """Done serving the current ticket: opens the rating window at this counter."""


class Reactivate(CounterCommand):
    """Bring back a skipped ticket whose citizen showed up late."""

    number: TicketNumber


class Transfer(CounterCommand):
    """Send the current ticket to another area's queue or to one counter (exactly one of the two)."""

    to_area: AreaCode | None = None
    to_counter: CounterNumber | None = None

    @model_validator(mode="after")
    def _exactly_one_target(self) -> Transfer:
        if (self.to_area is None) == (self.to_counter is None):
            raise ValueError("give exactly one of to_area or to_counter")
        return self


class AttachDossier(CounterCommand):
    """Link the dossier code typed or scanned at the counter to the current ticket."""

    dossier_code: DossierCode


COUNTER_ACTIONS: dict[str, type[CounterCommand]] = {
    "open": OpenCounter,
    "close": CloseCounter,
    "pause": PauseCounter,
    "resume": ResumeCounter,
    "next": CallNext,
    "recall": Recall,
    "skip": Skip,
    "reactivate": Reactivate,
    "transfer": Transfer,
    "finish": Finish,
    "attach_dossier": AttachDossier,
}


class CounterReply(Reply):
    counter: CounterState | None = None


# --------------------------------------------------------------------------- events


class Event(Message):
    event_id: str = Field(default_factory=new_id)
    at: AwareDatetime = Field(default_factory=utcnow)


class CallEvent(Event):
    """Dispatcher → announcer, hall board: a number is called (or called again) to a counter."""

    ticket_id: str
    number: TicketNumber
    area: AreaCode
    counter: CounterNumber
    counter_name: str
    recall: bool = False
    call_count: int = Field(ge=1, description="1 for the first call, 2+ for recalls.")


TicketEventKind = Literal[
    "issued", "called", "recalled", "skipped", "reactivated", "transferred", "finished", "cancelled", "expired",
    "dossier_attached",
]


class TicketEvent(Event):
    """Dispatcher → central system: the life of a ticket, one event per change."""

    kind: TicketEventKind
    ticket: Ticket
    counter: CounterNumber | None = None
    officer: OfficerId | None = None
    detail: str | None = None
    from_area: AreaCode | None = Field(default=None, description="transferred: the area the ticket left.")


TicketOutcomeKind = Literal["done", "cancelled", "expired"]


class TicketOutcome(Event):
    """Dispatcher → province (through the bridge): how a ticket's life ended, once per ticket.

    Written to the dispatcher's outbox in the transaction that ends the ticket, so its ``event_id``
    is the same on every retry: the province stores it once. A ticket served and later given a dossier code by the counter has it in the rating event
    and in a ``dossier_attached`` ticket event; the outcome carries what was known when it ended.
    """

    outcome: TicketOutcomeKind
    ticket: Ticket
    issue_area: AreaCode = Field(description="The area whose number was printed (a transfer can change ``area``).")
    officer: OfficerId | None = Field(default=None, description="Who served it (done), as the counter's login said.")
    skipped_at: AwareDatetime | None = Field(default=None, description="When it was marked a no-show, if it "
                                                                        "ended skipped (then expired).")
    wait_min: float | None = Field(default=None, ge=0, description="Minutes from issue to the (last) call.")
    service_min: float | None = Field(default=None, ge=0, description="Minutes from call to finish (done only).")


class AreaSummary(Message):
    """Retained by the dispatcher, one per area: for the kiosk and the hall board."""

    area: AreaCode
    name: str
    waiting: int
    waiting_priority: int
    last_called: TicketNumber | None = None
    issued_today: int
    served_today: int
    open_counters: int
    average_wait_min: float | None = None
    average_service_min: float | None = None
    updated_at: AwareDatetime = Field(default_factory=utcnow)


def tracking_key(token: str) -> str:
    """What a ticket's tracking token is known by outside the hall: SHA-256 of it, 128 bits in hex.

    The token (128 random bits, printed in the ticket's QR code) never leaves the hall's
    database and the kiosk's reply; the key names the ticket's ``track/{key}`` topic, so
    the province's citizen page finds a ticket from the token in its URL, and nobody who
    reads the bridged topics can turn a key back into a working link.
    """
    return hashlib.sha256(token.encode()).hexdigest()[:32]


TrackingKey = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{32}$")]


class TicketTrack(Message):
    """Retained by the dispatcher, one per ticket of the day, under its tracking key: what the citizen's
    page shows wherever it is served (the hall, or the province from the bridged topics). No officer,
    no dossier code, no ticket id, no token."""

    day: date
    number: TicketNumber
    area: AreaCode = Field(description="The queue it is in now (changes on transfer).")
    status: TicketStatus
    priority: bool = False
    target_counter: CounterNumber | None = None
    counter: CounterNumber | None = Field(default=None, description="Where it was called, or skipped.")
    call_count: int = Field(default=0, ge=0)
    transferred: bool = False
    issued_at: AwareDatetime
    updated_at: AwareDatetime = Field(default_factory=utcnow)


class QueuePlace(Message):
    """One waiting ticket in its area's queue: its tracking key and what decides who goes first."""

    key: TrackingKey
    priority: bool = False
    target_counter: CounterNumber | None = None


class AreaQueue(Message):
    """Retained by the dispatcher, one per area: the waiting tickets in queue order, by tracking key only,
    so a citizen's page anywhere can say how many are ahead by the dispatcher's rules."""

    area: AreaCode
    day: date
    waiting: list[QueuePlace] = Field(default_factory=list, max_length=10000)
    updated_at: AwareDatetime = Field(default_factory=utcnow)


class HallFigures(Message):
    """Retained by the dispatcher: today's figures for the whole hall, for the hall board and reports."""

    day: date = Field(description="The service day these figures belong to.")
    issued_today: int = Field(ge=0)
    served_today: int = Field(ge=0, description="Tickets finished today.")
    waiting: int = Field(ge=0)
    average_wait_min: float | None = Field(
        default=None, description="Mean minutes from issue to first call over today's called tickets.")
    ratings_today: int = Field(ge=0, description="Ratings given today on today's tickets, 'not rated' excluded.")
    satisfied_pct: float | None = Field(
        default=None, description="Share of those ratings that are 'very satisfied' or 'satisfied', in percent.")
    updated_at: AwareDatetime = Field(default_factory=utcnow)


class PeriodFigures(BaseModel):
    """The hall's figures over one period (see reports/core.py for how each is counted)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: AwareDatetime
    end: AwareDatetime = Field(description="Excluded. Before the period's natural end when it is counted to date.")
    label: str = Field(max_length=300, description="The period as a Vietnamese heading says it.")
    issued: int = Field(ge=0)
    called: int = Field(ge=0)
    served: int = Field(ge=0)
    no_shows: int = Field(ge=0)
    cancelled: int = Field(ge=0)
    transferred: int = Field(ge=0)
    not_served: int = Field(ge=0, description="Issued, still waiting when the day was reset.")
    wait_median_min: float | None = None
    wait_p90_min: float | None = Field(default=None, description="90% of citizens were called within this.")
    wait_max_min: float | None = None
    service_median_min: float | None = None
    very_satisfied: int = Field(ge=0)
    satisfied: int = Field(ge=0)
    unsatisfied: int = Field(ge=0)
    not_rated: int = Field(ge=0)
    satisfied_pct: float | None = Field(default=None, description="Of those who rated ('not rated' excluded).")
    below_satisfaction_target: bool = False
    above_wait_target: bool = False


class ReportSummary(Message):
    """Retained by the dispatcher on ``hall/report/{period}``: the period running now, counted to date,
    and the same stretch of the period before, with the hall's targets. The reports' own numbers."""

    period: Literal["day", "week", "reporting-week", "month", "quarter", "half", "year"]
    period_id: str = Field(max_length=40, description="e.g. 2026-12-01, 2026-W48, 2026-W48-bc, 2026-11, 2026-Q4.")
    satisfaction_target_pct: float = Field(ge=0, le=100)
    wait_target_min: float | None = Field(default=None, description="Target for the 90th percentile of waiting.")
    current: PeriodFigures
    previous: PeriodFigures
    generated_at: AwareDatetime = Field(default_factory=utcnow)


class HallNotice(Message):
    """Retained, from the central system: the notice line the hall board scrolls. An empty retained
    message clears it."""

    text: Annotated[str, StringConstraints(min_length=1, max_length=500)]
    expires_at: AwareDatetime | None = Field(default=None, description="Stop showing it after this time.")
    updated_at: AwareDatetime = Field(default_factory=utcnow)


# --------------------------------------------------------------------------- ratings


RatingLevel = Literal["very_satisfied", "satisfied", "unsatisfied", "not_rated"]


class Rating(Request):
    """Satisfaction pad → dispatcher, on ``counter/{n}/rating``. Retried until acknowledged."""

    rating_id: MessageId
    device_id: DeviceId | None = Field(
        default=None, description="Optional claim of the sender; refused unless it is the login in the topic.")
    counter: CounterNumber
    ticket_id: str | None = Field(default=None, max_length=64, description="None only for a 'general' rating.")
    officer: OfficerId | None = None
    area: AreaCode | None = None
    dossier_code: DossierCode | None = None
    level: RatingLevel
    reasons: list[Annotated[str, StringConstraints(max_length=64)]] = Field(
        default_factory=list, max_length=20,
        description="Codes of the reasons chosen after 'unsatisfied' (the hall's settings list them).")
    indicators: dict[Annotated[str, StringConstraints(max_length=64)], Annotated[int, Field(ge=0, le=2)]] | None = Field(
        None, description="The optional national nine-indicator form: indicator code -> score 0, 1 or 2.")
    rated_at: AwareDatetime

    @property
    def request_id(self) -> str:
        return self.rating_id  # a rating's id has been ``rating_id`` on the wire since the first pads

    @property
    def claimed_sender(self) -> str | None:
        return self.device_id


class RatingEvent(Event):
    """Dispatcher → province and one-stop software (through the bridge): a rating the dispatcher accepted.

    Written to the outbox in the transaction that accepts the rating: refused ratings and pad retries
    never produce one, and every retry of the publish carries the same ``event_id``. Ticket, counter, area and officer are the dispatcher's own record of
    who served what, not the pad's claims.
    """

    rating_id: MessageId
    ticket_id: str | None = Field(default=None, max_length=64)
    counter: CounterNumber
    area: AreaCode | None = None
    officer: OfficerId | None = None
    dossier_code: DossierCode | None = None
    level: RatingLevel
    reasons: list[Annotated[str, StringConstraints(max_length=64)]] = Field(default_factory=list, max_length=20)
    indicators: dict[Annotated[str, StringConstraints(max_length=64)], Annotated[int, Field(ge=0, le=2)]] | None = None
    rated_at: AwareDatetime
    pad: DeviceId = Field(description="The pad the rating came from (its login).")
    service_day: date | None = Field(default=None, description="The service day of the rated ticket.")


class RatingAck(Reply):
    """``command_id`` is the rating id. ``duplicate`` says it had already been counted."""

    duplicate: bool = False


# --------------------------------------------------------------------------- dossiers


class DossierRecord(BaseModel):
    """A dossier's status as the central one-stop system reports it. Holds no personal data."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: DossierCode
    procedure: str = Field(max_length=300)
    status: Literal["received", "processing", "additional_documents_required", "ready", "returned", "rejected", "withdrawn"]
    appointment_date: date | None = None
    ready_for_pickup: bool = False
    updated_at: AwareDatetime = Field(description="When the central system last changed this record.")


class DossierStatusUpdate(Message):
    """Central system → dispatcher: one or more dossier records to cache."""

    records: list[DossierRecord] = Field(min_length=1, max_length=500)


class ProgressCounts(BaseModel):
    """How dossiers fared over one period (a day or a month), as the central one-stop system counts them.

    ``received``, ``done_on_time`` and ``done_late`` are flows: dossiers received, and dossiers whose result
    was ready, in the period. ``in_progress`` and ``overdue`` are stocks at ``updated_at``: dossiers being
    handled and not yet due, and dossiers past their appointment date without a result.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    received: int = Field(ge=0, le=10_000_000, description="Dossiers received in the period.")
    in_progress: int = Field(ge=0, le=10_000_000, description="Being handled now, not past their appointment date.")
    done_on_time: int = Field(ge=0, le=10_000_000,
                              description="Result ready in the period on or before the appointment date.")
    done_late: int = Field(ge=0, le=10_000_000, description="Result ready in the period after the appointment date.")
    overdue: int = Field(ge=0, le=10_000_000, description="Past the appointment date now, with no result yet.")


class ProgressGroup(BaseModel):
    """One row of the dossier-progress screen: a service area of the hall, or an agency."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: AreaCode = Field(description="The area code (group_by 'area', as in hall/config) or the agency's "
                                      "identifier (group_by 'agency'), e.g. 'TP' or 'H40-12'.")
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)] = Field(
        description="What the screen shows, in Vietnamese, e.g. 'Tư pháp - hộ tịch'.")
    today: ProgressCounts
    month: ProgressCounts
    agency_codes: list[Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._]{1,40}$")]] = Field(
        default_factory=list, max_length=50,
        description="Agency identifiers that begin this group's dossier codes (the part before the first '-'), "
                    "so the screen can add the hall's own dossier/status records that arrive after `updated_at`.")
    procedures: list[Annotated[str, StringConstraints(max_length=300)]] = Field(
        default_factory=list, max_length=500,
        description="Procedure names of this group, matched against dossier/status records' `procedure` when "
                    "the agency identifier does not tell the groups apart (one commune agency, many areas).")


class DossierProgress(Message):
    """Retained, from the central one-stop system: how the hall's dossiers are progressing, per area or agency,
    today and this month. The dossier-progress screen shows it; a new one replaces the old entirely."""

    group_by: Literal["area", "agency"]
    day: date = Field(description="The hall's local day that `today` counts; `month` is that day's month so far.")
    groups: list[ProgressGroup] = Field(max_length=60)
    on_time_target_pct: float | None = Field(
        default=None, ge=0, le=100,
        description="The province's target for the on-time rate, if it sets one; else the screen's own setting.")
    updated_at: AwareDatetime = Field(description="When the central system computed these figures.")

    @model_validator(mode="after")
    def _unique_keys(self) -> DossierProgress:
        keys = [g.key for g in self.groups]
        if len(set(keys)) != len(keys):
            raise ValueError("group keys must be unique")
        return self


class DossierLookup(CommandRequest):
    """Kiosk → dispatcher: what is the status of this dossier?"""

    expiry_s: ClassVar[int | None] = 10
    code: DossierCode


class DossierReply(Reply):
    found: bool = False
    record: DossierRecord | None = None
    received_at: AwareDatetime | None = Field(default=None, description="When the dispatcher last heard of it from the central system.")
    age_s: float | None = Field(default=None, description="How old this answer is, in seconds.")


class DispatcherState(Message):
    """Retained: the dispatcher's own state, for ``motcua status``."""

    day: date
    issued_today: int
    waiting: int
    served_today: int
    database: str
    started_at: AwareDatetime


class AnnouncerState(Message):
    """Retained on ``device/{device_id}/state``: what the announcer is doing."""

    device_id: str
    relay: str = Field(description="on, off, absent (no relay configured) or fault")
    audio: str
    queue_length: int
    playing: str | None = None
    last_called: str | None = None
    played: int = 0
    merged: int = 0
    dropped_stale: int = 0
    dropped_full: int = 0
    skipped_quiet: int = 0
    last_error: str | None = None
    updated_at: AwareDatetime = Field(default_factory=utcnow)
