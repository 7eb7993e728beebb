"""``motcua``: drive and inspect a hall from a shell.

    motcua status                          every device, counter and area, from retained topics
    motcua ticket TP [--priority elderly]  take a number, as the kiosk would
    motcua counter 3 open --officer lan.nguyen
    motcua counter 3 next | recall | skip | finish | pause | resume | close
    motcua counter 3 transfer --to-area DD | --to-counter 5
    motcua counter 3 reactivate A1023
    motcua counter 3 dossier H12.22-240115-0001
    motcua demo                            the whole hall on this box (package hall_demo)
    motcua schema export docs              regenerate JSON Schemas, AsyncAPI and docs/protocol.md
    motcua broker add-device kiosk kiosk-1 the site broker: devices, rights, certificates, bridge

Connection: ``--config FILE`` reads ``site`` and ``[mqtt]`` from any motcua
settings file (default /etc/motcua/dispatcher.toml when present), then
``MOTCUA_SITE`` / ``MOTCUA_MQTT__*`` from the environment, then ``--host``,
``--port``, ``--site``.

Exit status: 0 done, 1 refused by the dispatcher or the broker's ACL, 2 bad usage, 3 broker or
dispatcher unreachable, 78 bad settings.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .protocol import CounterReply, Reply, TicketReply
from .runtime import BrokerRefused, Offline, RequestTimeout
from .settings import CONNECTION_KEYS, EX_CONFIG, ConnectionSettings, MqttSettings, SettingsError, load_settings

EXIT_REFUSED, EXIT_USAGE, EXIT_UNREACHABLE = 1, 2, 3


def connection(args: argparse.Namespace) -> tuple[str, MqttSettings]:
    """``site`` and ``[mqtt]`` of a settings file (default the dispatcher's, when present) under
    ``MOTCUA_*`` variables, read by the daemons' own strict loader; then ``--site/--host/--port``."""
    conn = load_settings(ConnectionSettings, "dispatcher", args.config, only=CONNECTION_KEYS)
    mqtt = conn.mqtt.model_copy(update={k: v for k, v in (("host", args.host), ("port", args.port)) if v})
    return args.site or conn.site, mqtt


def _client(args: argparse.Namespace):
    from .client import HallClient

    site, mqtt = connection(args)
    return HallClient(site, mqtt=mqtt, timeout=args.timeout)


def _refused(reply: Reply) -> int:
    err = reply.error
    print(f"refused ({err.code}): {err.message}" if err else "refused", file=sys.stderr)
    return EXIT_REFUSED


# ------------------------------------------------------------------ commands


def cmd_ticket(args: argparse.Namespace) -> int:
    with _client(args) as c:
        r: TicketReply = c.ticket(args.area, args.priority)
    if not r.ok:
        return _refused(r)
    t = r.ticket
    assert t is not None  # an accepted ticket request carries its ticket
    prio = f", priority: {t.priority}" if t.priority else ""
    print(f"{t.number}  area {t.area}{prio}  ·  {r.waiting_ahead} ahead, about {r.estimated_wait_min} min  "
          f"·  ticket id {t.ticket_id}")
    return 0


def cmd_counter(args: argparse.Namespace) -> int:
    fields: dict[str, Any] = {}
    action = args.action
    if action == "open":
        if not args.officer:
            print("motcua: open needs --officer ID", file=sys.stderr)
            return EXIT_USAGE
        fields["officer"] = args.officer
    elif action == "transfer":
        if (args.to_area is None) == (args.to_counter is None):
            print("motcua: transfer needs exactly one of --to-area CODE or --to-counter N", file=sys.stderr)
            return EXIT_USAGE
        fields = {"to_area": args.to_area, "to_counter": args.to_counter}
    elif action == "reactivate":
        if not args.value:
            print("motcua: reactivate needs the ticket number, e.g. A1023", file=sys.stderr)
            return EXIT_USAGE
        fields["number"] = args.value
    elif action == "dossier":
        if not args.value:
            print("motcua: dossier needs the dossier code", file=sys.stderr)
            return EXIT_USAGE
        action, fields["dossier_code"] = "attach_dossier", args.value
    try:
        with _client(args) as c:
            r: CounterReply = c.counter(args.number, action, **fields)
    except ValidationError as exc:
        print(f"motcua: {exc.errors()[0]['loc'][-1]}: {exc.errors()[0]['msg']}", file=sys.stderr)
        return EXIT_USAGE
    if r.counter:
        print(describe_counter(r.counter))
    return 0 if r.ok else _refused(r)


def describe_counter(s) -> str:
    who = s.officer_name or s.officer  # ids only where the hall publishes them (hall.public)
    who = f" {who}" if who else ""
    line = f"counter {s.counter} ({s.name}): {s.status}{who}"
    if s.current:
        line += f", serving {s.current.number} ({s.current.area})"
    if s.rating_window:
        line += f", rating open for {s.rating_window.number}"
    return line


def cmd_status(args: argparse.Namespace) -> int:
    from .client import HallClient

    site, mqtt = connection(args)
    client = HallClient(site, mqtt=mqtt)
    seen: dict[str, bytes] = {}
    last = [time.monotonic()]
    lock = threading.Lock()

    def keep(msg) -> None:
        if msg.retain:
            with lock:
                seen[msg.topic] = msg.payload
                last[0] = time.monotonic()

    client.runtime.on_raw(client.topics.everything, keep)
    try:
        client.start(wait=args.timeout)
    except ConnectionError as exc:
        print(f"motcua: {exc}", file=sys.stderr)
        return EXIT_UNREACHABLE
    # Retained messages arrive in one burst after subscribing: wait for its first message (up to
    # --timeout: a slow box may take seconds), then for the burst to go quiet. Timing the quiet from
    # before the connection, a box slower than 0.4 s to connect printed an empty hall.
    with lock:
        last[0] = time.monotonic()
    deadline = time.monotonic() + max(args.timeout, 3.0)
    while time.monotonic() < deadline:
        with lock:
            got_any, quiet_s = bool(seen), time.monotonic() - last[0]
        if got_any and quiet_s >= 0.4:
            break
        time.sleep(0.05)
    client.close()
    print(render_status(site, seen))
    return 0


def _json(payload: bytes) -> Any:
    try:
        return json.loads(payload)
    except ValueError:
        return None


def _uptime_now(health: dict) -> str:
    """Health is retained and periodic: add the time since it was published."""
    from datetime import datetime, timezone

    seconds = float(health.get("uptime_s") or 0)
    try:
        seconds += (datetime.now(timezone.utc) - datetime.fromisoformat(health["at"])).total_seconds()
    except (KeyError, ValueError, TypeError):
        pass
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s" if minutes else f"{secs} s"


def render_status(site: str, retained: dict[str, bytes]) -> str:
    root = f"motcua/v1/{site}/"
    devices: dict[str, dict[str, Any]] = {}
    counters, areas, config = {}, {}, None
    for topic, payload in retained.items():
        levels = topic[len(root):].split("/") if topic.startswith(root) else []
        if len(levels) == 3 and levels[0] == "device":
            dev = devices.setdefault(levels[1], {})
            dev[levels[2]] = payload.decode(errors="replace") if levels[2] == "availability" else _json(payload)
        elif levels[:1] == ["counter"] and levels[-1] == "state":
            counters[int(levels[1])] = _json(payload)
        elif levels[:1] == ["area"] and levels[-1] == "summary":
            areas[levels[1]] = _json(payload)
        elif levels == ["hall", "config"]:
            config = _json(payload)
    out = []
    if config:
        out.append(f"{config['hall_name']}  (site {site}, service day {config['day']})")
    else:
        out.append(f"site {site}: no hall configuration retained (is the dispatcher running?)")
    out.append("\nDevices")
    for dev_id in sorted(devices):
        d = devices[dev_id]
        h = d.get("health") or {}
        checks = ", ".join(f"{k} {v}" for k, v in (h.get("checks") or {}).items())
        line = f"  {dev_id:<22} {d.get('availability', '?'):<8} {h.get('status', '-'):<9}"
        if h:
            line += f" {h.get('role', '')} {h.get('version', '?')}, up {_uptime_now(h)}, {h.get('rss_mb') or 0:.0f} MB"
        if checks:
            line += f"  [{checks}]"
        if h.get("takeovers"):  # two processes share this login: say it where a technician looks first
            line += (f"\n  {'':<22} LOGIN USED TWICE: another connection took this login over "
                     f"{h['takeovers']} times (instance {h.get('instance') or '?'} reports it)")
        com = d.get("commissioning")
        if isinstance(com, dict):  # `motcua commission` on that box
            line += (f"\n  {'':<22} commissioned {str(com.get('at', ''))[:16]}"
                     if com.get("passed") else f"\n  {'':<22} commissioning FAILED {str(com.get('at', ''))[:16]}: "
                     + ", ".join(k for k, v in (com.get("checks") or {}).items() if not v.get("ok")))
        else:
            line += f"\n  {'':<22} not commissioned"
        if h.get("last_error"):
            line += f"\n  {'':<22} last error: {h['last_error']}"
        out.append(line)
    out.append("\nCounters")
    for n in sorted(counters):
        c = counters[n] or {}
        who = c.get("officer_name") or c.get("officer") or ""
        cur = (c.get("current") or {}).get("number", "")
        out.append(f"  {n:>3}  {c.get('name', ''):<10} {c.get('status', '?'):<7} {who:<22} "
                   f"{'serving ' + cur if cur else ''}")
    out.append("\nAreas")
    for code in sorted(areas):
        a = areas[code] or {}
        avg = a.get("average_wait_min")
        out.append(f"  {code:<4} {a.get('name', '')[:38]:<38} waiting {a.get('waiting', 0):>3} "
                   f"({a.get('waiting_priority', 0)} priority)  last {a.get('last_called') or '-':<6} "
                   f"served {a.get('served_today', 0):>3}  avg wait {'-' if avg is None else f'{avg:.1f} min'}")
    return "\n".join(out)


def cmd_schema(args: argparse.Namespace) -> int:
    from .protocol.docs import export

    for path in export(Path(args.dir)):
        print(path)
    return 0


# ------------------------------------------------------------------ parser


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="motcua", description="Drive and inspect a motcua hall.",
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    def conn(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--config", help="settings file to read site and [mqtt] from")
        sp.add_argument("--host")
        sp.add_argument("--port", type=int)
        sp.add_argument("--site")
        sp.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for the dispatcher")

    sp = sub.add_parser("status", help="every device, counter and area, from retained topics")
    conn(sp)
    sp.set_defaults(func=cmd_status)

    sp = sub.add_parser("ticket", help="take a number in an area")
    sp.add_argument("area")
    sp.add_argument("--priority", help="priority category, e.g. elderly")
    conn(sp)
    sp.set_defaults(func=cmd_ticket)

    sp = sub.add_parser("counter", help="act as a counter's keypad")
    sp.add_argument("number", type=int)
    sp.add_argument("action", choices=["open", "close", "pause", "resume", "next", "recall", "skip", "finish",
                                       "transfer", "reactivate", "dossier"])
    sp.add_argument("value", nargs="?", help="ticket number for reactivate, code for dossier")
    sp.add_argument("--officer")
    sp.add_argument("--to-area")
    sp.add_argument("--to-counter", type=int)
    conn(sp)
    sp.set_defaults(func=cmd_counter)

    sp = sub.add_parser("schema", help="contract artefacts")
    sp.add_argument("what", choices=["export"])
    sp.add_argument("dir", nargs="?", default="docs")
    sp.set_defaults(func=cmd_schema)
    from .broker.cli import register as register_broker
    register_broker(sub)
    register_contributed(sub)
    return p


COMMANDS_GROUP = "motcua.commands"
"""Entry-point group through which packages above this one add subcommands: each entry
names a ``register(subparsers)`` function. The shared package never names them."""


def register_contributed(sub: argparse._SubParsersAction) -> None:
    from importlib.metadata import entry_points

    for entry in sorted(entry_points(group=COMMANDS_GROUP), key=lambda e: e.name):
        try:
            register = entry.load()
        except ImportError as exc:
            # a box installs only its role's extra: a command of another role (e.g. `report` on a
            # kiosk) cannot load there; say so when it is asked for, and keep every other command
            _unavailable(sub, entry.name, exc)
            continue
        register(sub)


def _unavailable(sub: argparse._SubParsersAction, name: str, exc: ImportError) -> None:
    missing = getattr(exc, "name", None) or str(exc)

    def refuse(_args: argparse.Namespace) -> int:
        print(f"motcua {name}: not installed on this box (it needs {missing}; the central box has it: "
              "motcua[hub])", file=sys.stderr)
        return EXIT_USAGE

    sp = sub.add_parser(name, help=f"(not on this box: needs {missing})", add_help=False)
    sp.add_argument("rest", nargs=argparse.REMAINDER)
    sp.set_defaults(func=refuse)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (Offline, ConnectionError) as exc:
        print(f"motcua: broker unreachable: {exc}", file=sys.stderr)
        return EXIT_UNREACHABLE
    except SettingsError as exc:
        print(f"motcua: invalid settings: {exc}", file=sys.stderr)
        return EX_CONFIG
    except ModuleNotFoundError as exc:
        # a command whose libraries load only when it runs (the province's database driver, the
        # reports' numpy) on a box that installed another role's extra
        print(f"motcua {args.command}: not installed on this box (it needs {exc.name or exc}; "
              "the central box has it: motcua[hub])", file=sys.stderr)
        return EXIT_USAGE
    except BrokerRefused as exc:
        print(f"motcua: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    except RequestTimeout as exc:
        print(f"motcua: the dispatcher did not answer: {exc}", file=sys.stderr)
        return EXIT_UNREACHABLE


if __name__ == "__main__":
    sys.exit(main())
