"""The procedures catalogue from an export of the national database of administrative procedures.

The national database (Cơ sở dữ liệu quốc gia về thủ tục hành chính) lets an
official export the procedures a level of government handles as a spreadsheet
(XLSX or CSV) whose header row names the fields of each procedure: "Mã thủ
tục", "Tên thủ tục", "Cấp thực hiện", "Lĩnh vực", "Thành phần hồ sơ", "Thời
hạn giải quyết", "Phí, lệ phí", "Địa chỉ tiếp nhận hồ sơ" and more. This module
reads such a file into :class:`ProcedureInfo` records for the kiosk and writes
them as a TOML catalogue (``[[procedures]]`` tables, the same keys as in the
kiosk's own settings) that the kiosk loads through ``procedures_file``.

Headers are matched without diacritics, case or punctuation and with the
usual variants ("Mã TTHC", "Lệ phí"); the header row is looked for among the
first rows, since exports begin with a title. Each procedure's "Lĩnh vực"
(the national sector) is mapped to one of the hall's service areas: by an
explicit ``--area "Chứng thực=TP"``, else by the words the sector and the
area's name share. What cannot be mapped is skipped and reported, never guessed.
"""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from motcua.protocol import ProcedureInfo
from motcua.wording import to_ascii

# our field -> header variants (compared after normalise())
COLUMNS = {
    "code": ("ma thu tuc", "ma tthc", "ma thu tuc hanh chinh", "ma so thu tuc", "ma"),
    "name": ("ten thu tuc", "ten tthc", "ten thu tuc hanh chinh", "thu tuc"),
    "level": ("cap thuc hien", "cap"),
    "sector": ("linh vuc", "ten linh vuc"),
    "documents": ("thanh phan ho so", "ho so", "thanh phan, so luong ho so"),
    "processing_time": ("thoi han giai quyet", "thoi gian giai quyet"),
    "fee": ("phi, le phi", "phi le phi", "le phi", "phi"),
    "where": ("dia chi tiep nhan ho so", "dia chi tiep nhan hs", "noi tiep nhan ho so", "noi nop ho so",
              "dia diem thuc hien"),
}
REQUIRED = ("code", "name", "sector")
HEADER_SEARCH_ROWS = 15
# words too common in sector and area names to tell them apart
_GENERIC = {"va", "cua", "cac", "dang", "ky", "quan", "ly", "hoat", "dong", "thanh", "lap", "linh", "vuc", "cap",
            "nha", "nuoc", "ve", "trong", "khac"}
_LIMIT = 300  # characters per text field on the kiosk's screen
_MAX_DOCUMENTS = 30


class CatalogueError(ValueError):
    """The file cannot be read as an export: worded for the official running the import."""


def normalise(text: str) -> str:
    """'Phí, lệ phí' -> 'phi, le phi': no diacritics, lower case, single spaces."""
    return " ".join(to_ascii(str(text)).lower().replace(":", " ").split())


def _words(text: str) -> set[str]:
    return {w for w in re.split(r"[^a-z0-9]+", normalise(text)) if w and w not in _GENERIC}


def _clip(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= _LIMIT else text[:_LIMIT - 1].rstrip() + "…"


_BULLET = re.compile(r"^\s*(?:[-+•*–]|\(?\d{1,2}[.)]|[a-zđ][.)])\s*", re.IGNORECASE)


def split_documents(cell: str) -> list[str]:
    """The "Thành phần hồ sơ" cell, one document per line or per ';', without bullets or numbering."""
    parts = []
    for line in re.split(r"[\n;]+", str(cell or "")):
        line = _BULLET.sub("", line).strip().rstrip(".;,")
        if line:
            parts.append(_clip(line))
    return parts[:_MAX_DOCUMENTS]


@dataclass
class ImportReport:
    procedures: list[ProcedureInfo] = field(default_factory=list)
    by_area: Counter = field(default_factory=Counter)
    unmatched: Counter = field(default_factory=Counter)  # sector -> procedures skipped
    ambiguous: dict[str, list[str]] = field(default_factory=dict)  # sector -> the areas it could be
    other_level: int = 0
    duplicates: list[str] = field(default_factory=list)
    incomplete_rows: list[int] = field(default_factory=list)  # rows without a code, a name or a sector


# --------------------------------------------------------------------------- reading


def read_rows(path: Path) -> list[list[str]]:
    """Every row of the first sheet (XLSX) or of the file (CSV, UTF-8 with or without BOM, ',' or ';')."""
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        try:
            from openpyxl import load_workbook
        except ImportError as exc:  # pragma: no cover - a dependency of motcua
            raise CatalogueError(f"cannot read XLSX: {exc}") from None
        try:
            book = load_workbook(path, read_only=True, data_only=True)
        except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds for a bad file
            raise CatalogueError(f"{path}: not a readable XLSX file ({exc})") from None
        try:
            sheet = book.worksheets[0]
            return [["" if v is None else str(v) for v in row] for row in sheet.iter_rows(values_only=True)]
        finally:
            book.close()
    if suffix in (".csv", ".txt"):
        try:
            text = path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError:
            raise CatalogueError(f"{path}: not UTF-8 text; save the export as CSV UTF-8 or XLSX") from None
        sample = text[:4096]
        delimiter = ";" if sample.count(";") > sample.count(",") and "\t" not in sample else \
            "\t" if "\t" in sample else ","
        return [row for row in csv.reader(text.splitlines(keepends=True), delimiter=delimiter)]
    raise CatalogueError(f"{path}: expected an .xlsx or .csv export")


def find_header(rows: list[list[str]]) -> tuple[int, dict[str, int]]:
    """(row index, our field -> column) of the first row that names the required columns."""
    for i, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        cells = [normalise(c) for c in row]
        found: dict[str, int] = {}
        for key, variants in COLUMNS.items():
            for variant in variants:  # the most specific variant first
                if variant in cells:
                    col = cells.index(variant)
                    if col not in found.values():
                        found[key] = col
                        break
        if all(k in found for k in REQUIRED):
            return i, found
    names = ", ".join(f"'{COLUMNS[k][0]}'" for k in REQUIRED)
    raise CatalogueError(f"no header row with the columns {names} (without diacritics) in the first "
                         f"{HEADER_SEARCH_ROWS} rows: is this an export of the national procedures database?")


# --------------------------------------------------------------------------- mapping


def area_for(sector: str, areas: dict[str, str], explicit: dict[str, str]) -> str | list[str] | None:
    """The area code for a national sector: the explicit map, else the one area whose name shares the most
    telling words with it (at least two, or the sector's only one). A list: several areas tie."""
    key = normalise(sector)
    for name, code in explicit.items():
        if normalise(name) == key:
            return code
    words = _words(sector)
    if not words:
        return None
    scores = {code: len(words & _words(name)) for code, name in areas.items()}
    best = max(scores.values(), default=0)
    if best < min(2, len(words)):
        return None
    winners = [code for code, score in scores.items() if score == best]
    return winners[0] if len(winners) == 1 else winners


def build(rows: list[list[str]], areas: dict[str, str], explicit: dict[str, str] | None = None,
          level: str | None = None, where_default: str = "") -> ImportReport:
    """The catalogue from an export's rows, and what was left out and why."""
    explicit = explicit or {}
    for name, code in explicit.items():
        if code not in areas:
            raise CatalogueError(f"--area {name}={code}: the hall has no area {code!r} "
                                 f"(its areas: {', '.join(areas)})")
    start, cols = find_header(rows)
    report = ImportReport()
    seen: set[str] = set()
    want_level = normalise(level) if level else None
    for n, row in enumerate(rows[start + 1:], start=start + 2):

        def cell(key: str, row=row) -> str:  # this row's cells, bound now
            col = cols.get(key)
            return row[col].strip() if col is not None and col < len(row) and row[col] else ""

        if not any(str(c).strip() for c in row):
            continue
        code, name, sector = cell("code"), cell("name"), cell("sector")
        if not (code and name and sector):
            report.incomplete_rows.append(n)
            continue
        if want_level and want_level not in normalise(cell("level")):
            report.other_level += 1
            continue
        if code in seen:
            report.duplicates.append(code)
            continue
        area = area_for(sector, areas, explicit)
        if area is None:
            report.unmatched[sector] += 1
            continue
        if isinstance(area, list):
            report.ambiguous[sector] = area
            report.unmatched[sector] += 1
            continue
        seen.add(code)
        report.procedures.append(ProcedureInfo(
            code=_clip(code), area=area, name=_clip(name), documents=split_documents(cell("documents")),
            fee=_clip(cell("fee")), processing_time=_clip(cell("processing_time")),
            where=_clip(cell("where")) or where_default))
        report.by_area[area] += 1
    return report


# --------------------------------------------------------------------------- writing


def _toml_string(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a valid TOML basic string


def render_toml(procedures: Iterable[ProcedureInfo], source: str) -> str:
    lines = [f"# The kiosk's procedures catalogue, imported by `motcua procedures import` from {source}.",
             "# Regenerate it rather than editing by hand; the kiosk reads it through its procedures_file setting.",
             ""]
    for p in procedures:
        lines += ["[[procedures]]",
                  f"code = {_toml_string(p.code)}",
                  f"area = {_toml_string(p.area)}",
                  f"name = {_toml_string(p.name)}",
                  "documents = [" + ", ".join(_toml_string(d) for d in p.documents) + "]",
                  f"fee = {_toml_string(p.fee)}",
                  f"processing_time = {_toml_string(p.processing_time)}",
                  f"where = {_toml_string(p.where)}",
                  ""]
    return "\n".join(lines)


def load_catalogue(path: Path) -> list[ProcedureInfo]:
    """The catalogue a previous import wrote (or one written by hand in the same shape)."""
    import tomllib

    with path.open("rb") as f:
        data = tomllib.load(f)
    extra = set(data) - {"procedures"}
    if extra:
        raise ValueError(f"unknown key(s) {', '.join(sorted(extra))}: a catalogue holds [[procedures]] only")
    return [ProcedureInfo(**p) for p in data.get("procedures", [])]


def hall_areas(path: Path) -> dict[str, str]:
    """Area code -> name from the dispatcher's settings file ([[hall.areas]])."""
    import tomllib

    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except OSError as exc:
        raise CatalogueError(f"cannot read the hall's settings {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise CatalogueError(f"{path} is not valid TOML: {exc}") from None
    areas = {a.get("code"): a.get("name", "") for a in data.get("hall", {}).get("areas", []) if a.get("code")}
    if not areas:
        raise CatalogueError(f"{path} lists no [[hall.areas]]: name the dispatcher's settings file with --hall")
    return areas


def summary_lines(report: ImportReport) -> Iterator[str]:
    for sector, count in sorted(report.unmatched.items()):
        why = (f"could be any of {', '.join(report.ambiguous[sector])}" if sector in report.ambiguous
               else "no area of the hall matches")
        yield (f"skipped {count} procedure(s) of sector «{sector}»: {why}; "
               f"add --area \"{sector}=AREA\" to import them")
    if report.other_level:
        yield f"left out {report.other_level} procedure(s) of another level of government"
    if report.duplicates:
        yield f"left out {len(report.duplicates)} repeated code(s): {', '.join(report.duplicates[:5])}"
    if report.incomplete_rows:
        rows = ", ".join(str(n) for n in report.incomplete_rows[:10])
        yield f"left out {len(report.incomplete_rows)} row(s) without a code, a name or a sector (rows {rows})"


# --------------------------------------------------------------------------- search


def search(procedures: Iterable[ProcedureInfo], query: str, limit: int = 50) -> list[ProcedureInfo]:
    """Procedures whose name holds every word typed, without regard to diacritics or case ("khai sinh",
    "khai sính" and "KHAI SINH" all find "Đăng ký khai sinh"); names that start with the query first,
    then in catalogue order. For the kiosk's on-screen search, where typing marks is slow."""
    words = normalise(query).split()
    if not words:
        return []
    found = []
    for i, p in enumerate(procedures):
        name = normalise(p.name)
        if all(w in name for w in words):
            found.append((not name.startswith(" ".join(words)), i, p))
    return [p for _, _, p in sorted(found, key=lambda t: t[:2])][:limit]
