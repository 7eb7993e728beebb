"""The topic tree of one hall, and the registry that documents it.

Everything lives under ``motcua/v1/{site}/``. Topics a device owns sit under
``device/{device_id}/`` so that the broker can confine each device to its own
subtree with an ACL ``pattern`` on ``%c``/``%u`` (the client id and username
*are* the device id). Topics the dispatcher owns (hall, counters, areas,
events) sit at hall level.

Requests to the dispatcher (contract version ``REQUEST_CONTRACT``) travel on
``request/{login}/{what}``: the second level is the sender's login, and the
broker's ACL lets each login write only under its own name. That level, never
a body field, is who sent the request; the reply goes to
``device/{login}/reply`` and nowhere else. The levels after it name what the
request acts on (``counter/{n}/{action}``), so the ACL can give a keypad its
own counter's commands and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from . import messages as m

ROOT = "motcua/v1"
# Version of the request/reply contract (docs/protocol.md, "Requests"). 2: the sender is the
# topic's login level, replies go only to that login's reply topic.
REQUEST_CONTRACT = 2
AVAILABILITY_ONLINE = b"online"
AVAILABILITY_OFFLINE = b"offline"


def _level(value: str | int, what: str) -> str:
    text = str(value)
    if not text or any(c in text for c in "/+#\0") or len(text) > 64:
        raise ValueError(f"{what} {text!r} cannot be a topic level")
    return text


def is_counter_level(text: str) -> bool:
    """A counter number as a topic level: 1 to 3 ASCII digits (``str.isdigit`` also takes '³')."""
    return 0 < len(text) <= 3 and text.isascii() and text.isdigit() and int(text) >= 1


def is_login_level(text: str) -> bool:
    """A login (device id) as a topic level: what the broker registry accepts."""
    return 0 < len(text) <= 64 and text.isascii() and (text[0].isalnum()) and all(
        c.isalnum() or c in "_.-" for c in text)


class Topics:
    """Topic names for one site. ``Topics('hcm-q1').counter_state(3)`` and so on."""

    def __init__(self, site: str):
        self.site = _level(site, "site")
        self.root = f"{ROOT}/{self.site}"

    # devices
    def device(self, device_id: str) -> str:
        return f"{self.root}/device/{_level(device_id, 'device id')}"

    def availability(self, device_id: str) -> str:
        return f"{self.device(device_id)}/availability"

    def health(self, device_id: str) -> str:
        return f"{self.device(device_id)}/health"

    def state(self, device_id: str) -> str:
        return f"{self.device(device_id)}/state"

    def reply(self, device_id: str) -> str:
        return f"{self.device(device_id)}/reply"

    # dispatcher-owned
    @property
    def hall_config(self) -> str:
        return f"{self.root}/hall/config"

    def counter_state(self, counter: int) -> str:
        return f"{self.root}/counter/{int(counter)}/state"


    @property
    def hall_figures(self) -> str:
        return f"{self.root}/hall/figures"

    def hall_report(self, period: str) -> str:
        return f"{self.root}/hall/report/{_level(period, 'period')}"

    @property
    def hall_notice(self) -> str:
        return f"{self.root}/hall/notice"

    def area_summary(self, area: str) -> str:
        return f"{self.root}/area/{_level(area, 'area')}/summary"

    def area_queue(self, area: str) -> str:
        return f"{self.root}/area/{_level(area, 'area')}/queue"

    def track(self, key: str) -> str:
        return f"{self.root}/track/{_level(key, 'tracking key')}"

    @property
    def call_event(self) -> str:
        return f"{self.root}/event/call"

    @property
    def ticket_event(self) -> str:
        return f"{self.root}/event/ticket"

    @property
    def rating_event(self) -> str:
        return f"{self.root}/event/rating"

    @property
    def outcome_event(self) -> str:
        return f"{self.root}/event/outcome"

    # requests to the dispatcher: request/{sender login}/...
    def request(self, sender: str, *what: str | int) -> str:
        return "/".join([self.root, "request", _level(sender, "login"), *(_level(w, "request level") for w in what)])

    def ticket_issue(self, sender: str) -> str:
        return self.request(sender, "ticket", "issue")

    def ticket_cancel(self, sender: str) -> str:
        return self.request(sender, "ticket", "cancel")

    def dossier_lookup(self, sender: str) -> str:
        return self.request(sender, "dossier", "lookup")

    def counter_command(self, counter: int, action: str, sender: str) -> str:
        return self.request(sender, "counter", int(counter), action)

    def counter_rating(self, counter: int, sender: str) -> str:
        return self.request(sender, "rating", int(counter))

    # from the central system
    @property
    def dossier_status(self) -> str:
        return f"{self.root}/dossier/status"

    @property
    def dossier_progress(self) -> str:
        return f"{self.root}/dossier/progress"

    # subscription filters
    def all_requests(self, *what: str) -> str:
        """Filter for one kind of request from every sender: ``all_requests('counter', '+', '+')``."""
        return "/".join([self.root, "request", "+", *what])

    @property
    def all_reports(self) -> str:
        return f"{self.root}/hall/report/+"

    @property
    def everything(self) -> str:
        return f"{self.root}/#"

    def split(self, topic: str) -> list[str]:
        """The levels of ``topic`` below this site's root, or [] if it is not ours."""
        prefix = self.root + "/"
        return topic[len(prefix):].split("/") if topic.startswith(prefix) else []


# --------------------------------------------------------------------------- registry for docs

@dataclass(frozen=True)
class TopicSpec:
    """One row of docs/protocol.md and one channel of the AsyncAPI document."""

    name: str
    pattern: str  # below the site root, with {placeholders}
    publisher: str
    subscribers: str
    retained: bool
    qos: int
    payload: type[m.Message] | None  # None: the plain strings 'online' / 'offline'
    summary: str
    reply: type[m.Reply] | None = None
    expiry_s: int | None = None


TOPIC_SPECS: list[TopicSpec] = [
    TopicSpec(
        "availability", "device/{device_id}/availability", "every device", "motcua status, monitoring",
        True, 1, None,
        "`online` when the device connects, `offline` as its last will (the broker publishes it if the device "
        "vanishes) and on a clean stop. Plain text, not JSON.",
    ),
    TopicSpec(
        "health", "device/{device_id}/health", "every device", "motcua status, monitoring", True, 1, m.Health,
        "Periodic health: MQTT link, hardware checks, last error, memory.",
    ),
    TopicSpec(
        "dispatcher state", "device/{device_id}/state", "dispatcher", "motcua status", True, 1, m.DispatcherState,
        "The dispatcher's own figures. Other devices publish their own state model here.",
    ),
    TopicSpec(
        "announcer state", "device/{device_id}/state", "announcer", "motcua status, monitoring", True, 1,
        m.AnnouncerState, "What the announcer is doing: relay, audio output, queue, counts of calls played, "
        "merged and dropped.",
    ),
    TopicSpec(
        "reply", "device/{device_id}/reply", "dispatcher", "the requesting device", False, 1, m.Reply,
        "Replies to the requests this login sent, and only to them: the dispatcher answers on the sender's own "
        "reply topic whatever response topic or body field the request names. The v5 correlation data is echoed; "
        "the body's `command_id` matches the request when a 3.1.1 hop dropped it.",
    ),
    TopicSpec(
        "hall config", "hall/config", "dispatcher", "kiosk, counter boxes, board, pads", True, 1, m.HallConfig,
        "Areas, counters, priority categories, procedures and the current service day.",
    ),
    TopicSpec(
        "counter state", "counter/{counter}/state", "dispatcher", "counter box, board, pad", True, 1, m.CounterState,
        "Status, officer, current ticket and the open rating window of one counter.",
    ),
    TopicSpec(
        "area summary", "area/{area}/summary", "dispatcher", "kiosk, board", True, 1, m.AreaSummary,
        "Waiting count, last called number, averages for one service area. Republished at most once a "
        "second, within a second of a change.",
    ),
    TopicSpec(
        "area queue", "area/{area}/queue", "dispatcher", "citizens' pages (web, at the province)", True, 0,
        m.AreaQueue,
        "The area's waiting tickets in queue order, each by its tracking key (a hash of the token in the QR "
        "code) with its priority and target counter: how many are ahead of each, by the dispatcher's rules. "
        "Bridged up; republished whenever the queue may have moved (at most once a second).",
    ),
    TopicSpec(
        "ticket track", "track/{key}", "dispatcher", "citizens' pages (web, at the province)", True, 0,
        m.TicketTrack,
        "One ticket of the day as its citizen's page shows it, under its tracking key: number, area, status, "
        "the counter it was called to. Never the token, the ticket id, the officer or a dossier code. Bridged "
        "up; republished on every change; expires (MQTT v5 message expiry) the day after.",
    ),
    TopicSpec(
        "hall figures", "hall/figures", "dispatcher", "hall board, central system", True, 1, m.HallFigures,
        "Today's figures for the whole hall: tickets issued and served, waiting, average wait, ratings and the "
        "share of satisfied citizens. Republished whenever they change.",
    ),
    TopicSpec(
        "report summary", "hall/report/{period}", "dispatcher", "hall board, central system, web console", True, 1,
        m.ReportSummary,
        "The leadership reports' summary for each period (`day`, `week`, `reporting-week`, `month`, `quarter`, "
        "`half`, `year`): the period running now, counted to date, against the same stretch of the one before, "
        "and the hall's targets. Refreshed every few minutes (day and week) or every hour (longer periods).",
    ),
    TopicSpec(
        "hall notice", "hall/notice", "central system (through the bridge)", "hall board", True, 1, m.HallNotice,
        "The notice line the hall board scrolls; an empty retained message clears it.",
    ),
    TopicSpec(
        "call event", "event/call", "dispatcher", "announcer, board", False, 1, m.CallEvent,
        "A number is called (or recalled) to a counter.",
    ),
    TopicSpec(
        "ticket event", "event/ticket", "dispatcher", "central system (through the bridge)", False, 1, m.TicketEvent,
        "Every change in a ticket's life: issued, called, recalled, skipped, reactivated, transferred, finished, "
        "cancelled, expired, dossier attached.",
    ),
    TopicSpec(
        "rating event", "event/rating", "dispatcher", "province collector, one-stop adapter (through the bridge)",
        False, 1, m.RatingEvent,
        "A rating the dispatcher accepted, once, with the ticket, counter, area, officer and dossier code of its "
        "own record. Pads' raw ratings stay in the hall.",
    ),
    TopicSpec(
        "ticket outcome", "event/outcome", "dispatcher", "province collector (through the bridge)", False, 1,
        m.TicketOutcome,
        "How a ticket ended (done, cancelled, expired), once per ticket, with its wait and service minutes.",
    ),
    TopicSpec(
        "counter command", "request/{login}/counter/{counter}/{action}", "that counter's keypad, the web console, motcua CLI",
        "dispatcher",
        False, 1, m.CounterCommand,
        "Actions: " + ", ".join(f"`{a}` ({c.__name__})" for a, c in m.COUNTER_ACTIONS.items())
        + ". Replied with CounterReply. Retrying with the same `command_id` is safe: the dispatcher applies it once "
        "and replies the same.",
        reply=m.CounterReply, expiry_s=m.CounterCommand.expiry_s,
    ),
    TopicSpec(
        "rating", "request/{login}/rating/{counter}", "that counter's satisfaction pad", "dispatcher", False, 1,
        m.Rating,
        "A citizen's rating. Acknowledged by RatingAck (command_id = rating_id); a duplicate is acknowledged "
        "again with `duplicate: true` and counted once.",
        reply=m.RatingAck,
    ),
    TopicSpec(
        "ticket request", "request/{login}/ticket/issue", "kiosk, motcua CLI", "dispatcher", False, 1, m.TicketRequest,
        "Issue a number in an area, optionally with a priority category.", reply=m.TicketReply,
        expiry_s=m.TicketRequest.expiry_s,
    ),
    TopicSpec(
        "ticket cancel", "request/{login}/ticket/cancel", "kiosk, the web console", "dispatcher", False, 1, m.TicketCancel,
        "Withdraw a waiting ticket that could not be printed, so it is never called.", reply=m.TicketReply,
    ),
    TopicSpec(
        "dossier lookup", "request/{login}/dossier/lookup", "kiosk", "dispatcher", False, 1, m.DossierLookup,
        "Status of a dossier from the dispatcher's cache, with its age.", reply=m.DossierReply,
        expiry_s=m.DossierLookup.expiry_s,
    ),
    TopicSpec(
        "dossier status", "dossier/status", "central system (through the bridge)", "dispatcher", False, 1,
        m.DossierStatusUpdate, "Dossier status records to cache; the newest `updated_at` wins.",
    ),
    TopicSpec(
        "dossier progress", "dossier/progress", "central system (through the bridge)", "dossier-progress screen",
        True, 1, m.DossierProgress,
        "How the hall's dossiers are progressing, per service area or per agency, today and this month: received, "
        "in progress, done on time, done late, overdue. Retained; each message replaces the previous one whole. "
        "Publish it whenever the figures change, at least every 15 minutes in opening hours; the screen marks "
        "figures older than its `stale_after_min` as such. An empty retained message clears it.",
    ),
]
