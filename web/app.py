"""The web service's pages: the manager's console (staff login) and the citizen's queue page (public).

Starlette, because it is the small, well-kept ASGI core (FastAPI is built on
it) and gives exactly what these pages need — routing, signed-cookie
sessions, static files, streaming responses for Server-Sent Events — with no
build step and little memory; uvicorn serves it (plain asyncio + h11, TLS
from the standard library); Jinja2 renders the pages on the server.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
import secrets
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from .accounts import ROLES, Account, Accounts, LoginLimiter
from .audit import AuditLog
from .live import Live
from .outbound import COUNTER_ACTIONS, Outbound
from .present import SECTIONS, Renderer
from .settings import WebSettings

log = logging.getLogger("web")

STATIC = Path(__file__).with_name("static")
TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
NUMBER = re.compile(r"^[A-Z]{0,3}[0-9]{1,6}$")
KEEPALIVE_S = 15.0

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")


def _static_versions() -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()[:10] for p in STATIC.iterdir() if p.is_file()}


class SecurityHeaders:
    """Headers every response carries; pages are never cached, assets are (their URL names their content)."""

    def __init__(self, app, hsts: bool):
        self.app, self.hsts = app, hsts

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        static = scope["path"].startswith("/static/")

        async def with_headers(message):
            if message["type"] == "http.response.start":
                h = list(message.get("headers", []))
                h += [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
                      (b"x-frame-options", b"DENY"), (b"content-security-policy", CSP.encode())]
                h.append((b"cache-control", b"public, max-age=604800, immutable" if static else b"no-store"))
                if self.hsts:
                    h.append((b"strict-transport-security", b"max-age=31536000"))
                message["headers"] = h
            await send(message)

        await self.app(scope, receive, with_headers)


@dataclass
class StaffSession:
    username: str
    csrf: str
    expires: float


class Sessions:
    """Server-side sessions: the cookie holds only a random id, so logging out (or a restart) ends it."""

    def __init__(self, hours: float):
        self.ttl = hours * 3600
        self._s: dict[str, StaffSession] = {}

    def new(self, username: str) -> tuple[str, StaffSession]:
        now = time.monotonic()
        for sid in [k for k, v in self._s.items() if v.expires < now]:
            del self._s[sid]
        sid = secrets.token_urlsafe(32)
        s = self._s[sid] = StaffSession(username, secrets.token_urlsafe(32), now + self.ttl)
        return sid, s

    def get(self, sid: str | None) -> StaffSession | None:
        s = self._s.get(sid) if isinstance(sid, str) else None
        if s is None or s.expires < time.monotonic():
            return None
        return s

    def drop(self, sid: str | None) -> None:
        if isinstance(sid, str):
            self._s.pop(sid, None)


def _same(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(str(a), str(b))


def build_app(settings: WebSettings, live: Live, outbound: Outbound | None, accounts: Accounts, audit: AuditLog,
              renderer: Renderer, secret: str, extra_routes=None) -> Starlette:
    """``extra_routes(staff, page)`` adds staff pages (the reports) that share the login. Without
    ``outbound`` (at the province) there is no hall console or action: ``extra_routes`` brings the
    province's console."""
    sessions = Sessions(settings.session_hours)
    # per user name, and per address with room for an office behind one NAT address
    by_user = LoginLimiter(settings.login_limits.attempts, settings.login_limits.window_s)
    by_addr = LoginLimiter(settings.login_limits.attempts * 4, settings.login_limits.window_s)
    hub = live.hub

    def page(name: str, status: int = 200, **ctx) -> HTMLResponse:
        return HTMLResponse(renderer.page(name, reports=extra_routes is not None, **ctx), status_code=status)

    def message(title: str, text: str, status: int) -> HTMLResponse:
        return page("message.html", status, title=title, message=text)

    def staff(request: Request) -> tuple[Account, StaffSession] | None:
        s = sessions.get(request.session.get("sid"))
        account = accounts.get(s.username) if s else None  # a removed account ends its sessions
        return (account, s) if account else None

    # ------------------------------------------------------------------ login

    async def login_form(request: Request, error: str | None = None, status: int = 200) -> Response:
        if staff(request) and error is None:
            return RedirectResponse("/console", 303)
        csrf = request.session.get("csrf") or secrets.token_urlsafe(32)
        request.session["csrf"] = csrf
        return page("login.html", status, csrf=csrf, error=error)

    async def login(request: Request) -> Response:
        form = await request.form()
        if not _same(form.get("csrf"), request.session.get("csrf")):
            return message("Yêu cầu không hợp lệ", "Phiên đăng nhập đã hết hạn. Xin tải lại trang và thử lại.", 403)
        username = str(form.get("username", ""))[:32].strip().lower()
        password = str(form.get("password", ""))[:256]
        addr = request.client.host if request.client else "-"
        wait = max(by_user.blocked(username), by_addr.blocked(addr))
        if wait:
            log.warning("login refused for %r from %s: too many failures", username, addr)
            return await login_form(request, f"Đăng nhập sai quá nhiều lần. Xin thử lại sau {int(wait // 60) + 1} phút.",
                                    429)
        account = await run_in_threadpool(accounts.verify, username, password)
        if account is None:
            by_user.failed(username)
            by_addr.failed(addr)
            log.warning("failed login for %r from %s", username, addr)
            return await login_form(request, "Sai tên đăng nhập hoặc mật khẩu.", 401)
        request.session.clear()  # a fresh session id at login: none planted before it survives
        sid, _ = sessions.new(account.username)
        request.session["sid"] = sid
        log.info("staff %s (%s) logged in from %s", account.username, account.role, addr)
        return RedirectResponse("/console", 303)

    async def logout(request: Request) -> Response:
        who = staff(request)
        form = await request.form()
        if who and _same(form.get("csrf"), who[1].csrf):
            sessions.drop(request.session.get("sid"))
            request.session.clear()
        return RedirectResponse("/login", 303)

    # ------------------------------------------------------------------ the console

    async def console(request: Request) -> Response:
        who = staff(request)
        if who is None:
            return RedirectResponse("/login", 303)
        account, s = who
        role = "supervisor" if account.may_act else "viewer"
        sections = await run_in_threadpool(live.sections, role, SECTIONS, s.csrf)
        flash = request.session.pop("flash", None)
        hall = live.view.config.hall_name if live.view.config else "motcua"
        return page("console.html", account=account, role_name=ROLES[account.role], csrf=s.csrf, page="now",
                    sections=sections, flash=flash, audit=list(audit.recent), hall_name=hall)

    async def console_events(request: Request) -> Response:
        who = staff(request)
        if who is None:
            return PlainTextResponse("login required", 401)
        role = "supervisor" if who[0].may_act else "viewer"
        first = []
        # A page that reconnects (a network blip, or dropped as too slow) says so with Last-Event-ID: it gets
        # every section again and is whole. A page just loaded is already current: nothing to redraw under
        # the supervisor's mouse.
        if request.headers.get("last-event-id"):
            sections = await run_in_threadpool(live.sections, role, SECTIONS, None)
            first = [("section", json.dumps({"s": k, "html": v}, ensure_ascii=False)) for k, v in sections.items()]
        return _stream(f"console:{role}", first)

    def _stream(channel: str, first: list[tuple[str, str]], on_end=None) -> Response:
        q = hub.subscribe(channel)
        if q is None:
            if on_end:
                on_end()
            return PlainTextResponse("too many live pages", 503, headers={"retry-after": "30"})

        async def events():
            why = "ended"
            try:
                yield b"retry: 2000\nid: 1\n\n"  # the id makes a reconnecting browser send Last-Event-ID
                for event, data in first:
                    yield f"event: {event}\ndata: {data}\n\n".encode()
                while True:
                    try:  # asyncio.timeout, not wait_for: no extra task per wait, 300 pages wake cheaply
                        async with asyncio.timeout(KEEPALIVE_S):
                            item = await q.get()
                    except TimeoutError:
                        yield b": keepalive\n\n"
                        continue
                    if item is None:  # dropped as too slow, or the service is stopping
                        why = "dropped"
                        break
                    yield f"event: {item[0]}\ndata: {item[1]}\n\n".encode()
            except BaseException as exc:
                why = type(exc).__name__
                raise
            finally:
                log.debug("live page on %s closed (%s)", channel, why)
                hub.unsubscribe(channel, q)
                if on_end:
                    on_end()

        return StreamingResponse(events(), media_type="text/event-stream",
                                 headers={"x-accel-buffering": "no"})

    async def act(request: Request, what) -> Response:
        """Every supervisor action: a session, the supervisor role, this session's CSRF token."""
        who = staff(request)
        if who is None:
            return PlainTextResponse("login required", 401)
        account, s = who
        form = await request.form()
        if not _same(form.get("csrf"), s.csrf):
            log.warning("action refused for %s: missing or wrong CSRF token", account.username)
            return message("Yêu cầu không hợp lệ", "Thiếu mã xác thực của phiên (CSRF). Xin tải lại trang.", 403)
        if not account.may_act:
            return message("Không được phép", "Tài khoản của Ông/Bà chỉ được xem.", 403)
        result = await run_in_threadpool(what, account.username, form)
        request.session["flash"] = {"ok": result.ok, "message": result.message}
        return RedirectResponse("/console", 303)

    async def notice(request: Request) -> Response:
        def do(who, form):
            if form.get("do") == "clear":
                return outbound.notice(who, None)
            hours = form.get("hours") or ""
            return outbound.notice(who, str(form.get("text", "")).strip(),
                                   float(hours) if hours in ("1", "4", "10") else None)
        return await act(request, do)

    async def counter_action(request: Request) -> Response:
        n, action = request.path_params["n"], request.path_params["action"]
        if action not in COUNTER_ACTIONS:
            return PlainTextResponse("unknown action", 404)

        def do(who, form):
            fields = {}
            if action == "open":
                fields["officer"] = str(form.get("officer", "")).strip()
            elif action == "transfer":
                fields["to_area"] = str(form.get("to_area", "")).strip()
            return outbound.counter(who, n, action, **fields)
        return await act(request, do)

    async def cancel(request: Request) -> Response:
        def do(who, form):
            from .outbound import Result

            number = str(form.get("number", "")).strip().upper()
            day = live.view.day
            row = live.history.by_number(day, number) if NUMBER.match(number) and day else None
            if row is None:
                return Result(False, f"Không có phiếu {number[:10]} trong ngày hôm nay")
            return outbound.cancel(who, row.ticket_id, number)
        return await act(request, do)

    # ------------------------------------------------------------------ the citizen's page

    not_found = ("Không tìm thấy phiếu", "Mã trên phiếu không đúng hoặc phiếu đã quá cũ. "
                 "Xin kiểm tra lại, hoặc hỏi cán bộ tại quầy hướng dẫn.")

    async def citizen(request: Request) -> Response:
        token = request.path_params["token"]
        state = await run_in_threadpool(live.peek, token) if TOKEN.match(token) else None
        if state is None:
            return message(*not_found, 404)
        return page("citizen.html", s=state, events_url=f"/ve/{token}/events")

    async def citizen_events(request: Request) -> Response:
        token = request.path_params["token"]
        t = await run_in_threadpool(live.track, token) if TOKEN.match(token) else None
        if t is None:
            return PlainTextResponse("unknown ticket", 404)
        first = [("state", live.citizen_json(t.ticket_id))]
        return _stream(f"ticket:{t.ticket_id}", first, on_end=lambda: live.untrack(t.ticket_id))

    async def root(request: Request) -> Response:
        return RedirectResponse("/console", 303)

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok" if live.client.runtime.connected else "broker unreachable",
                                 200 if live.client.runtime.connected else 503)

    @asynccontextmanager
    async def lifespan(app):
        hub.loop = asyncio.get_running_loop()
        live.start()
        yield
        hub.post([(ch, "end", "") for ch in list(hub._subs)])
        for subs in list(hub._subs.values()):
            for q in list(subs):
                q.put_nowait(None)
        await asyncio.sleep(0)
        live.stop()

    hall_console = [
        Route("/console", console), Route("/console/events", console_events),
        Route("/console/notice", notice, methods=["POST"]),
        Route("/console/counter/{n:int}/{action}", counter_action, methods=["POST"]),
        Route("/console/ticket/cancel", cancel, methods=["POST"]),
    ] if outbound is not None else []
    routes = [
        Route("/", root), Route("/healthz", healthz),
        Route("/login", login_form, methods=["GET"]), Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        *hall_console,
        Route("/ve/{token}", citizen), Route("/ve/{token}/events", citizen_events),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    if extra_routes is not None:
        routes[-1:-1] = extra_routes(staff, page)
    middleware = [
        Middleware(SecurityHeaders, hsts=settings.tls is not None),
        Middleware(GZipMiddleware, minimum_size=600),
        Middleware(SessionMiddleware, secret_key=secret, session_cookie="motcua_session",
                   max_age=int(settings.session_hours * 3600), same_site="strict",
                   https_only=settings.tls is not None),
    ]
    async def no_such_page(request: Request, exc) -> Response:
        if request.url.path.startswith("/ve/"):  # a mangled token: the same answer as a wrong one
            return message(*not_found, 404)
        return message("Không tìm thấy trang", "Địa chỉ này không có trên hệ thống.", 404)

    return Starlette(routes=routes, middleware=middleware, lifespan=lifespan, exception_handlers={404: no_such_page})
