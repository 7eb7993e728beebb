"""The kiosk's subcommand of ``motcua``:

    motcua procedures import FILE [--hall /etc/motcua/dispatcher.toml] [--area "Chứng thực=TP" ...]
                                  [--level "Cấp Xã"] [--output /etc/motcua/procedures.toml]

reads an XLSX or CSV export of the national procedures database and writes the
catalogue the kiosk shows (its ``procedures_file`` setting). It prints what it
imported per area and, on stderr, what it left out and how to bring it in.
Exit status 0 when procedures were written, 1 when nothing could be.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

EXIT_NOTHING = 1


def _area_pair(text: str) -> tuple[str, str]:
    name, sep, code = text.rpartition("=")
    if not sep or not name.strip() or not code.strip():
        raise argparse.ArgumentTypeError(f"{text!r}: expected SECTOR=AREA, e.g. \"Chứng thực=TP\"")
    return name.strip(), code.strip()


def cmd_import(args: argparse.Namespace) -> int:
    from .catalogue import CatalogueError, build, hall_areas, read_rows, render_toml, summary_lines

    source, output = Path(args.file), Path(args.output)
    try:
        areas = hall_areas(Path(args.hall))
        report = build(read_rows(source), areas, dict(args.area or []), level=args.level)
    except (CatalogueError, OSError) as exc:
        print(f"motcua: {exc}", file=sys.stderr)
        return EXIT_NOTHING
    for line in summary_lines(report):
        print(f"motcua: {line}", file=sys.stderr)
    if not report.procedures:
        print(f"motcua: no procedure imported from {source}; {output} left as it was", file=sys.stderr)
        return EXIT_NOTHING
    output.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".procedures-", dir=output.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as f:  # a kiosk starting meanwhile reads the old or the new, whole
        f.write(render_toml(report.procedures, source.name))
    os.chmod(tmp, 0o644)
    os.replace(tmp, output)
    per_area = ", ".join(f"{code} {report.by_area[code]}" for code in areas if report.by_area[code])
    print(f"imported {len(report.procedures)} procedures into {output} ({per_area})")
    print("restart the kiosk to show them: systemctl restart motcua-kiosk")
    return 0


def register(subparsers) -> None:
    """Add ``procedures import`` to the ``motcua`` command."""
    sp = subparsers.add_parser("procedures", help="the kiosk's procedures catalogue")
    sub = sp.add_subparsers(dest="action", required=True)
    imp = sub.add_parser("import", help="import an XLSX/CSV export of the national procedures database")
    imp.add_argument("file", help="the export (.xlsx or .csv)")
    imp.add_argument("--hall", default="/etc/motcua/dispatcher.toml",
                     help="the dispatcher's settings, for the hall's service areas (default %(default)s)")
    imp.add_argument("--area", action="append", type=_area_pair, metavar="SECTOR=AREA",
                     help="put the national sector SECTOR in the hall's area AREA (repeatable)")
    imp.add_argument("--level", help="keep only procedures whose 'Cấp thực hiện' names this level, e.g. 'Cấp Xã'")
    imp.add_argument("--output", default="/etc/motcua/procedures.toml",
                     help="the catalogue to write (default %(default)s): the kiosk's procedures_file")
    imp.set_defaults(func=cmd_import)
