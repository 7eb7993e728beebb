"""The console's Reports page: the leadership reports, made by ``motcua report`` itself.

The page runs the very command a manager or the report timer runs (``motcua
report``, package ``reports``), in a child process, on the dispatcher's
settings and database: the same code and the same figures, never a second
computation; and the charts' plotting libraries never weigh on the service
(a child process, gone when the report is written). The page then shows what
the command wrote: its summary, the figures of the chosen grouping (from its
CSV), its charts, and the XLSX, PDF and CSV files to download.
"""

from __future__ import annotations

import asyncio
import csv
import logging
import os
import re
import sys
from datetime import date
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from motcua.localbroker import REPO

log = logging.getLogger("web.reports")

KINDS = {"day": "Ngày", "week": "Tuần", "reporting-week": "Tuần báo cáo (đến hạn nộp)", "month": "Tháng",
         "quarter": "Quý", "half": "6 tháng", "year": "Năm"}
WHICH = {"current": "Kỳ hiện tại (đến bây giờ)", "last": "Kỳ trước (đã trọn)"}
GROUPINGS = {"area": "Theo lĩnh vực", "counter": "Theo quầy", "officer": "Theo cán bộ"}
RUN_TIMEOUT_S = 180
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,120}$")
DOWNLOADS = {".xlsx": "Excel (XLSX)", ".pdf": "PDF", ".csv": "CSV"}


def _columns() -> list[tuple[str, str]]:
    """(CSV name, Vietnamese heading) of the report's figures, as the report code names them."""
    from reports.labels import COLUMNS, PREVIOUS_COLUMNS

    return [(k, head) for k, head, _ in COLUMNS + PREVIOUS_COLUMNS]


def routes(settings, renderer):
    if settings.database is None or settings.hall_settings is None or not settings.hall_settings.is_file():
        log.info("no Reports page: it needs the dispatcher's database and settings file (hall_settings)")
        return None  # no hall file: no Reports page
    try:
        import reports  # noqa: F401 - the report code must be installed beside the service
    except ImportError:
        return None

    def command(form: dict) -> list[str]:
        return ["report", *_period_args(form), "--config", str(settings.hall_settings),
                "--database", str(settings.database)]

    return pages(settings.reports_dir, command)


def _period_args(form: dict) -> list[str]:
    if form.get("from") and form.get("to"):
        return ["--from", form["from"], "--to", form["to"]]
    return [form["kind"], *(["--last"] if form["which"] == "last" else [])]


def pages(out_dir: Path, command, env_extra: dict[str, str] | None = None, halls=None):
    """The Reports page and its downloads, running ``motcua {command(form)} --out ...``.

    ``halls()``, at the province, lists (site, name) for the hall picker; the form's ``site`` is then
    one of them or empty (the whole province), and each gets a folder of its own (``halls/{site}``,
    ``province``) so one hall's report never replaces another's of the same period."""
    running = asyncio.Lock()

    def folder(form: dict) -> Path:
        if halls is None:
            return out_dir
        return out_dir / "halls" / form["site"] if form["site"] else out_dir / "province"

    async def run_report(form: dict) -> tuple[int, str]:
        cmd = [sys.executable, "-m", "motcua.cli", *command(form), "--out", str(folder(form))]
        # the child reads the settings file as its daemon would, not this service's environment
        env = {k: v for k, v in os.environ.items() if not k.startswith("MOTCUA_")}
        env.update(env_extra or {})
        env["MPLCONFIGDIR"] = str(out_dir / ".matplotlib")  # the service's user has no home to keep it in
        async with running:  # one report at a time: a Pi 4 has four cores, the hall comes first
            proc = await asyncio.create_subprocess_exec(*cmd, cwd=REPO, env=env, stdout=asyncio.subprocess.PIPE,
                                                        stderr=asyncio.subprocess.STDOUT)
            try:
                out, _ = await asyncio.wait_for(proc.communicate(), RUN_TIMEOUT_S)
            except asyncio.TimeoutError:
                proc.kill()
                await proc.wait()
                return -1, f"motcua report did not finish within {RUN_TIMEOUT_S} s"
        return proc.returncode or 0, out.decode(errors="replace")

    def make(staff, page):
        async def reports_page(request: Request) -> Response:
            who = staff(request)
            if who is None:
                return RedirectResponse("/login", 303)
            account, session = who
            q = request.query_params
            form = {"kind": q.get("kind") if q.get("kind") in KINDS else "week",
                    "which": q.get("which") if q.get("which") in WHICH else "current",
                    "by": q.get("by") if q.get("by") in GROUPINGS else "area",
                    "from": q.get("from", ""), "to": q.get("to", ""), "site": ""}
            ctx = {"account": account, "role_name": "Giám sát" if account.may_act else "Xem", "csrf": session.csrf,
                   "page": "reports", "hall_name": "", "flash": None, "form": form, "kinds": KINDS, "which": WHICH,
                   "groupings": GROUPINGS, "result": None, "halls": None}
            if halls is not None:
                ctx["halls"] = await asyncio.to_thread(halls)
                if q.get("site") in dict(ctx["halls"]):
                    form["site"] = q["site"]
            if q.get("run"):
                error = _check_dates(form)
                if error:
                    ctx["flash"] = {"ok": False, "message": error}
                else:
                    code, text = await run_report(form)
                    ctx["result"] = await asyncio.to_thread(_result, code, text, form["by"], folder(form), out_dir)
                    log.info("staff %s ran a report (%s%s): exit %s", account.username,
                             form["from"] and f"{form['from']}..{form['to']}" or f"{form['kind']} {form['which']}",
                             f", hall {form['site']}" if form["site"] else "", code)
            return page("reports.html", **ctx)

        async def download(request: Request) -> Response:
            if staff(request) is None:
                return PlainTextResponse("login required", 401)
            ident, name = request.path_params["ident"], request.path_params["name"]
            parts = ident.split("/")
            if not (len(parts) <= 3 and all(SAFE_NAME.match(p) for p in parts) and SAFE_NAME.match(name)):
                return PlainTextResponse("no such file", 404)
            path = out_dir.joinpath(*parts, name)
            if not path.is_file():
                return PlainTextResponse("no such file", 404)
            inline = path.suffix == ".png"
            return FileResponse(path, filename=None if inline else name,
                                content_disposition_type="inline" if inline else "attachment")

        return [Route("/console/reports", reports_page),
                Route("/console/reports/file/{ident:path}/{name}", download)]

    return make


def _check_dates(form: dict) -> str | None:
    if bool(form["from"]) != bool(form["to"]):
        return "Xin nhập cả ngày bắt đầu và ngày kết thúc"
    for key in ("from", "to"):
        if form[key]:
            try:
                date.fromisoformat(form[key])
            except ValueError:
                return "Ngày không hợp lệ (YYYY-MM-DD)"
    return None


def _vi_number(text: str) -> str:
    """The CSV's machine decimals ('12.5') as a Vietnamese reader writes them ('12,5')."""
    try:
        float(text)
    except ValueError:
        return text
    return text.replace(".", ",")


def _result(code: int, text: str, by: str, out_dir: Path, root: Path) -> dict:
    """What the command wrote, for the page: summary, the grouping's figures, charts and downloads."""
    written = re.search(r"^Đã ghi \d+ tệp vào (.+):$", text, flags=re.M)
    if code != 0 or written is None:
        return {"ok": False, "message": text.strip()[-2000:] or f"motcua report exited with {code}"}
    folder = Path(written.group(1).strip())
    if folder.parent.resolve() != out_dir.resolve():
        return {"ok": False, "message": f"the report went to {folder}, not {out_dir}"}
    summary = text[:written.start()].strip()
    files = sorted(p.name for p in folder.iterdir() if p.is_file())
    figures = next((folder / f for f in files if f.endswith("-figures.csv")), None)
    columns = _columns()
    rows = []
    if figures is not None:
        with open(figures, newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                if row["grouping"] in ("hall", by):
                    rows.append({"name": row["name"] if row["grouping"] == by else "Toàn trung tâm",
                                 "hall": row["grouping"] == "hall",
                                 "values": [_vi_number(row.get(k, "")) for k, _ in columns],
                                 "below": row.get("below_satisfaction_target") == "1",
                                 "slow": row.get("above_wait_target") == "1"})
    return {"ok": True, "summary": summary, "ident": folder.resolve().relative_to(root.resolve()).as_posix(), "columns": [h for _, h in columns], "rows": rows,
            "charts": [f for f in files if f.endswith(".png")],
            "downloads": [(f, DOWNLOADS[Path(f).suffix]) for f in files if Path(f).suffix in DOWNLOADS]}
