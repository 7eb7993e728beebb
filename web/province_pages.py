"""The console at the province: every hall at a glance and the leadership reports, with a hall picker.

Over the collector's PostgreSQL database, with this service's own login
(``[province.database]``). The Reports page runs ``motcua province report``
itself (the hall reports' code over the collector's tables, the command the
province's timer runs) for the whole province or the chosen hall, and offers
its files; the hall list is ``motcua province status``'s query. No second
computation of any figure.
"""

from __future__ import annotations

import logging
from datetime import datetime
from zoneinfo import ZoneInfo

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from .reports_page import _period_args, pages
from .settings import WebSettings

log = logging.getLogger("web.province")


def _db_env(settings: WebSettings) -> dict[str, str]:
    """This service's database login, for the report command instead of the collector's own."""
    db = settings.province.database if settings.province else None
    if db is None:
        return {}
    env = {"MOTCUA_DATABASE__DSN": db.dsn, "MOTCUA_DATABASE__CONNECT_TIMEOUT_S": str(db.connect_timeout_s)}
    if db.password is not None:
        env["MOTCUA_DATABASE__PASSWORD"] = db.password.get_secret_value()
    elif db.password_file is not None:
        env["MOTCUA_DATABASE__PASSWORD_FILE"] = str(db.password_file)
    return env


class HallList:
    """The halls the province knows: sites with events in the database or a bridged hall/config; their
    names from the hall's own configuration when it is bridged."""

    def __init__(self, settings: WebSettings, live):
        assert settings.province is not None
        self.settings = settings
        self.db = settings.province.database
        self.live = live

    def status(self) -> tuple[list[dict], str | None]:
        """``motcua province status``'s rows for today, and an error for the page when the database is away."""
        import psycopg

        from province.cli import STATUS_SQL

        day = datetime.now(ZoneInfo(self.settings.timezone)).date()
        try:
            with psycopg.connect(**self.db.conninfo()) as conn:
                rows = conn.execute(STATUS_SQL, {"day": day}).fetchall()
        except psycopg.Error as exc:
            log.warning("province database unreachable: %s", str(exc).strip().splitlines()[0] if str(exc) else exc)
            return [], "Không kết nối được cơ sở dữ liệu của tỉnh"
        out = []
        for site, link, up, boxes, last, tickets, served, rated, good in rows:
            out.append({"site": site, "name": self.name(site), "link": link, "boxes": f"{up}/{boxes}", "last": last,
                        "tickets": tickets, "served": served, "rated": rated,
                        "satisfied": f"{100 * good / rated:.1f}".replace(".", ",") + " %" if rated else "–"})
        return out, None

    def name(self, site: str) -> str:
        view = self.live.halls.get(site)
        return view.config.hall_name if view is not None and view.config is not None else site

    def choices(self) -> list[tuple[str, str]]:
        rows, _ = self.status()
        sites = {r["site"] for r in rows} | set(self.live.halls)
        return sorted(((s, self.name(s)) for s in sites), key=lambda x: x[1])


def routes(settings: WebSettings, live):
    """The province console's routes (``extra_routes`` of :func:`web.app.build_app`), or None without
    the collector's settings file."""
    province = settings.province
    if province is None or province.collector_settings is None:
        log.info("citizens' pages only: no [province] collector_settings, so no console")
        return None
    collector_file = province.collector_settings
    halls = HallList(settings, live)

    def command(form: dict) -> list[str]:
        site = ["--site", form["site"]] if form["site"] else []
        return ["province", "report", *_period_args(form), "--config", str(collector_file), *site]

    report_pages = pages(settings.reports_dir, command, _db_env(settings), halls.choices)

    def make(staff, page):
        async def console(request: Request) -> Response:
            who = staff(request)
            if who is None:
                return RedirectResponse("/login", 303)
            account, session = who
            rows, error = await run_in_threadpool(halls.status)
            return page("province.html", account=account, role_name="Giám sát" if account.may_act else "Xem",
                        csrf=session.csrf, page="now", flash={"ok": False, "message": error} if error else None,
                        hall_name="Toàn tỉnh", halls=rows)

        return [Route("/console", console), *report_pages(staff, page)]

    return make
