"""Put the web service together from its settings: history, live view, requests, accounts, pages."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from starlette.applications import Starlette

from motcua.settings import SettingsError

from .accounts import Accounts
from .app import build_app, _static_versions
from .audit import AuditLog
from .history import History
from .live import Live
from .outbound import Outbound
from .present import Renderer
from .settings import WebSettings


def session_secret(path: Path) -> str:
    """The key that signs session cookies: made once, kept private, survives restarts."""
    try:
        text = path.read_text().strip()
        if len(text) >= 32:
            return text
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise SettingsError(f"secret_file: cannot read {path}: {exc.strerror}") from None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        secret = secrets.token_urlsafe(48)
        with os.fdopen(fd, "w") as f:
            f.write(secret + "\n")
    except OSError as exc:
        raise SettingsError(f"secret_file: cannot create {path}: {exc.strerror}") from None
    return secret


def build(settings: WebSettings) -> tuple[Starlette, Live]:
    versions = _static_versions()
    renderer = Renderer(settings.timezone, lambda name: f"/static/{name}?v={versions.get(name, '0')}")
    if settings.province is not None:
        return build_province(settings, renderer)
    live = Live(settings, History(settings.database), renderer.section)
    audit = AuditLog(settings.audit_file)
    outbound = Outbound(live.client, audit, live.notice_seen)
    from .reports_page import routes as report_routes

    app = build_app(settings, live, outbound, Accounts(settings.users_file), audit, renderer,
                    session_secret(settings.secret_file), extra_routes=report_routes(settings, renderer))
    return app, live


def build_province(settings: WebSettings, renderer: Renderer):
    """At the province: every hall's citizens' pages from the bridged topics; the console (hall list and
    reports) over the collector's database when its settings file is given. No supervisor action."""
    from .province_live import ProvinceLive
    from .province_pages import routes as province_routes

    live = ProvinceLive(settings)
    audit = AuditLog(settings.audit_file)
    app = build_app(settings, live, None, Accounts(settings.users_file), audit, renderer,
                    session_secret(settings.secret_file), extra_routes=province_routes(settings, live))
    return app, live
