"""The announcer's subcommands of ``motcua``:

    motcua say A1023 --counter 5 [--dialect northern|southern] [--digits] [--config FILE]
    motcua voicepack check PATH [--config FILE] [--dialect both] [--letters ABC]
    motcua voicepack build PATH [--dialect northern|southern] [--words ...]

``say`` prints the words an announcement speaks, on one line, and nothing else.
``voicepack check`` exits 1 when the pack lacks a word (or a clip is unreadable).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .numbers import Dialect

EXIT_INCOMPLETE = 1


def _wording_from(args: argparse.Namespace):
    """Template, dialect and digits: the settings file's (when given), overridden by the flags."""
    from .config import WordingSettings

    wording = WordingSettings()
    if getattr(args, "config", None):
        from motcua.settings import SettingsError, load_settings

        from .config import AnnouncerSettings

        try:
            wording = load_settings(AnnouncerSettings, "announcer", args.config).wording
        except SettingsError as exc:
            print(f"motcua: {exc}", file=sys.stderr)
            raise SystemExit(78) from None
    return wording


def cmd_say(args: argparse.Namespace) -> int:
    from .phrases import Wording

    w = _wording_from(args)
    wording = Wording(w.template, args.dialect or w.dialect, args.digits or w.digits)
    try:
        print(wording.line(args.ticket, args.counter))
    except ValueError as exc:
        print(f"motcua: {exc}", file=sys.stderr)
        return 2
    return 0


def cmd_voicepack(args: argparse.Namespace) -> int:
    from . import voicepack as vp

    path = Path(args.path)
    if args.action == "build":
        if vp.espeak_binary() is None:
            print("motcua: espeak-ng is not installed (Debian: apt-get install espeak-ng)", file=sys.stderr)
            return 3
        words = args.words or None
        m = vp.build(path, words, dialect=args.dialect or "northern")
        print(f"{path}: {len(m.clips)} clips")
        return 0
    w = _wording_from(args)
    dialects: tuple[Dialect, ...] = vp.DIALECTS if args.dialect in (None, "both") else (args.dialect,)
    try:
        needed = vp.required_words(w.template, dialects, letters=args.letters, chime=w.chime)
        report = vp.check(path, needed)
    except (vp.PackError, ValueError) as exc:
        print(f"motcua: {exc}", file=sys.stderr)
        return EXIT_INCOMPLETE
    for key in report.missing:
        print(f"missing: {key}")
    for key, why in sorted(report.broken.items()):
        print(f"broken: {key}: {why}")
    if report.ok:
        print(f"{path}: complete ({len(needed)} words needed, all present)")
        return 0
    print(f"{path}: incomplete: {len(report.missing)} missing, {len(report.broken)} broken", file=sys.stderr)
    return EXIT_INCOMPLETE


def register(subparsers) -> None:
    """Add ``say`` and ``voicepack`` to the ``motcua`` command."""
    sp = subparsers.add_parser("say", help="print the words an announcement speaks")
    sp.add_argument("ticket", help="ticket number as printed, e.g. A1023")
    sp.add_argument("--counter", type=int, required=True)
    sp.add_argument("--dialect", choices=["northern", "southern"])
    sp.add_argument("--digits", action="store_true", help="read the ticket digit by digit")
    sp.add_argument("--config", help="announcer settings file for the template")
    sp.set_defaults(func=cmd_say)

    sp = subparsers.add_parser("voicepack", help="check or build an announcer voice pack")
    sp.add_argument("action", choices=["check", "build"])
    sp.add_argument("path")
    sp.add_argument("--dialect", choices=["northern", "southern", "both"],
                    help="check: usages to cover (default both); build: espeak-ng voice (default northern)")
    sp.add_argument("--letters", default="ABCDEFGHIJKLMNOPQRSTUVWXYZ", help="check: prefix letters used")
    sp.add_argument("--words", nargs="+", help="build: only these words")
    sp.add_argument("--config", help="check: announcer settings file for the template")
    sp.set_defaults(func=cmd_voicepack)
