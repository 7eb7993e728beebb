"""Who may publish and read what: the broker's rights per device role, as data.

Every device logs in with its device id as username (and, because the broker
sets ``use_username_as_clientid``, as client id too). Rights come in two kinds:

* ``pattern`` lines, the same for every device, keyed on ``%u``: a device
  writes its own ``device/{id}/availability|health|state`` and reads its own
  ``device/{id}/reply``, and nobody else's;
* ``user`` blocks, one per registered device, from its role: which commands
  and requests it may send, and which hall topics it may read. Requests go on
  ``request/{login}/…`` and each block names its own login there literally, so
  a device can only ever send requests as itself: the dispatcher takes the
  sender from that level.

This module is pure: it turns a list of devices into the text of a Mosquitto
``acl_file``. :mod:`motcua.broker.site` writes that file, and the tests start
a real Mosquitto with it.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..protocol.topics import ROOT

READ, WRITE, READWRITE = "read", "write", "readwrite"


@dataclass(frozen=True)
class Role:
    name: str
    summary: str
    rights: tuple[tuple[str, str], ...]
    """(access, topic below the site root); ``{n}`` is the device's counter, ``{me}`` its login."""
    needs_counter: bool = False
    cert_login: bool = True
    """Logs in by client certificate on the LAN; the dispatcher and the technician do not: a
    certificate for them would be a full-rights login on a file, made only when asked by name."""


# What any device that shows or announces the hall may read: the retained
# configuration and figures, and whether the other devices (the dispatcher
# above all) are online. Availability is public: it says nothing about citizens.
_HALL = ((READ, "hall/#"), (READ, "device/+/availability"))

# What a supervisor's console may do at any counter (the web console; the technician's CLI
# may do more): open, close, pause, resume, and send the current ticket elsewhere.
SUPERVISOR_ACTIONS = ("open", "close", "pause", "resume", "transfer")

ROLES: dict[str, Role] = {r.name: r for r in (
    Role("dispatcher", "the queue authority: everything under the hall's root",
         ((READWRITE, "#"),), cert_login=False),
    Role("counter", "counter box (keypad and number display): its own counter's commands",
         ((WRITE, "request/{me}/counter/{n}/+"), (READ, "counter/{n}/state"), (READ, "area/+/summary"), *_HALL),
         needs_counter=True),
    Role("display", "number display without keypad: reads its own counter",
         ((READ, "counter/{n}/state"), *_HALL), needs_counter=True),
    Role("pad", "satisfaction pad: ratings for its own counter only",
         ((WRITE, "request/{me}/rating/{n}"), (READ, "counter/{n}/state"), *_HALL), needs_counter=True),
    Role("kiosk", "ticket kiosk: ticket requests, cancels of its own failed prints, dossier lookups",
         ((WRITE, "request/{me}/ticket/issue"), (WRITE, "request/{me}/ticket/cancel"),
          (WRITE, "request/{me}/dossier/lookup"), (READ, "area/+/summary"), *_HALL)),
    # Only what the TV shows: calls, counters, areas, dossiers ready for pickup, the hall's figures
    # and notice. Not event/ticket (officer ids, dossier codes, cancel reasons).
    Role("board", "hall calling board (TV): read only, what it shows",
         ((READ, "event/call"), (READ, "counter/+/state"), (READ, "area/+/summary"), (READ, "dossier/status"),
          *_HALL)),
    Role("announcer", "amplifier and speakers: read only",
         ((READ, "event/call"), *_HALL)),
    Role("progress", "dossier-progress screen (TV): the central system's figures and the dossier stream; read only",
         ((READ, "dossier/progress"), (READ, "dossier/status"), *_HALL)),
    Role("signboard", "LED signboard: scrolls the calls and the notice; read only",
         ((READ, "event/call"), *_HALL)),
    # event/ticket: the console counts what each counter served, and a citizen's page learns that its
    # ticket was skipped, transferred, finished or cancelled (what the staff see, never the public page).
    Role("web", "the hall's web console and citizens' queue pages: shows the hall, writes the notice, "
                "supervisor actions at any counter",
         ((READ, "event/call"), (READ, "event/ticket"), (READ, "counter/+/state"), (READ, "area/+/summary"),
          (READ, "device/+/health"),
          (WRITE, "hall/notice"), (WRITE, "request/{me}/ticket/cancel"),
          *((WRITE, f"request/{{me}}/counter/+/{action}") for action in SUPERVISOR_ACTIONS), *_HALL)),
    Role("operator", "a technician's `motcua` command: reads the hall, sends counter commands and ticket requests",
         ((READ, "#"), (WRITE, "request/{me}/counter/+/+"), (WRITE, "request/{me}/ticket/issue"),
          (WRITE, "request/{me}/ticket/cancel"), (WRITE, "request/{me}/dossier/lookup")), cert_login=False),
)}

# Every device, whatever its role: its own subtree, by username. ``reply`` is
# written by the dispatcher (whose role allows it) and read only by its owner.
# ``health`` is read back too: another live instance of the same login shows up there.
OWN_TOPICS = ((WRITE, "device/%u/availability"), (READWRITE, "device/%u/health"), (WRITE, "device/%u/state"),
              (READ, "device/%u/reply"),
              # the result of `motcua commission` on that box, retained
              (WRITE, "device/%u/commissioning"))


@dataclass(frozen=True)
class Device:
    device_id: str
    role: str
    counter: int | None = None

    def __post_init__(self) -> None:
        role = ROLES.get(self.role)
        if role is None:
            raise ValueError(f"unknown role {self.role!r}; roles: {', '.join(ROLES)}")
        if role.needs_counter and self.counter is None:
            raise ValueError(f"role {self.role!r} needs a counter number (--counter N)")
        if not role.needs_counter and self.counter is not None:
            raise ValueError(f"role {self.role!r} is not tied to a counter; drop the counter number")


def site_root(site: str) -> str:
    """``motcua/v1/{site}``; site ``+`` gives one ACL for every site (the development broker)."""
    return f"{ROOT}/{site}"


def device_rights(device: Device, site: str) -> list[tuple[str, str]]:
    root = site_root(site)
    return [(access, f"{root}/{topic.format(n=device.counter, me=device.device_id)}")
            for access, topic in ROLES[device.role].rights]


def render_acl(devices: list[Device], site: str) -> str:
    root = site_root(site)
    lines = [
        "# Mosquitto acl_file for the motcua hall " + (f"'{site}'" if site != "+" else "(every site)") + ".",
        "# Generated by `motcua broker`; edit the device registry (devices.toml), not this file.",
        "",
        "# Every device: its own availability, health and state, and its own replies.",
    ]
    lines += [f"pattern {access} {root}/{topic}" for access, topic in OWN_TOPICS]
    for device in sorted(devices, key=lambda d: d.device_id):
        where = f", counter {device.counter}" if device.counter is not None else ""
        lines += ["", f"# {device.role}{where}", f"user {device.device_id}"]
        lines += [f"topic {access} {topic}" for access, topic in device_rights(device, site)]
    return "\n".join(lines) + "\n"
