"""Settings of ``motcua-web``: ``/etc/motcua/web.toml`` plus ``MOTCUA_*`` overrides.

The service listens with HTTPS (the site CA's certificates from
``motcua broker gen-certs``); plain HTTP is accepted only on a loopback
address, where nothing crosses the LAN.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

from pydantic import Field, field_validator, model_validator

from motcua.settings import DeviceSettings, StrictModel, TimeZoneName
from province.config import DatabaseSettings

STATE_DIR = Path("/var/lib/motcua")


class TlsSettings(StrictModel):
    cert_file: Path = Field(description="Server certificate, e.g. /etc/motcua/broker/certs/web.crt (motcua broker "
                                        "gen-certs issues the site's).")
    key_file: Path


class LoginLimits(StrictModel):
    attempts: int = Field(5, ge=1, le=100, description="Failed logins allowed per user name (four times as many "
                                                          "per address: an office shares one) ...")
    window_s: float = Field(300.0, ge=10, le=86400, description="... within this many seconds; then refused.")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ProvinceWebSettings(StrictModel):
    """At the province: citizens' pages for every hall from the bridged topics; the console over the
    collector's PostgreSQL database with a hall picker."""

    collector_settings: Path | None = Field(
        None, description="The province collector's settings file (the province's name, the halls' names, the "
                          "[reports] targets): the console's Reports page runs `motcua province report` on it. "
                          "Empty: citizens' pages only, no console.")
    database: DatabaseSettings = Field(
        default_factory=DatabaseSettings,
        description="This service's own login to the collector's database (SELECT is enough); used for the "
                    "console's hall list and given to `motcua province report` instead of the collector's.")

    @field_validator("collector_settings", mode="before")
    @classmethod
    def _empty_is_none(cls, v):
        return None if v == "" else v


class WebSettings(DeviceSettings):
    device_id: str = Field("web-1", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$",
                           description="Its broker login (`motcua broker add-device web web-1`).")
    listen_host: str = Field("127.0.0.1", description="Address to listen on; not loopback needs [tls].")
    listen_port: int = Field(8443, ge=1, le=65535)
    tls: TlsSettings | None = None
    database: Path | None = Field(
        STATE_DIR / "dispatcher.db",
        description="The dispatcher's database, opened read-only: history, queues and the citizens' tokens. "
                    "Empty at the province, where only the bridged topics are known.")
    hall_settings: Path | None = Field(
        Path("/etc/motcua/dispatcher.toml"),
        description="The dispatcher's settings (the hall's names and [reports] targets) for the Reports page, which "
                    "runs `motcua report` on them; empty: no Reports page.")
    reports_dir: Path = Field(STATE_DIR / "web-reports", description="Where the Reports page's files are written.")
    users_file: Path = Field(STATE_DIR / "web-users.json", description="Staff accounts (motcua web add-user).")
    secret_file: Path = Field(STATE_DIR / "web-secret", description="Signs the session cookies; made on first start.")
    audit_file: Path = Field(STATE_DIR / "web-audit.jsonl", description="Every supervisor action, with who did it.")
    timezone: TimeZoneName = Field("Asia/Ho_Chi_Minh", description="Times on the console are shown in it.")
    session_hours: float = Field(10.0, gt=0, le=24 * 7, description="A login lasts this long.")
    login_limits: LoginLimits = LoginLimits()
    default_service_min: float = Field(
        5.0, gt=0, le=240, description="Minutes per citizen for the estimated wait until an area has served some.")
    shared_login_flaps: int = Field(
        4, ge=2, le=100, description="Online/offline changes of one device within a minute that raise the "
                                     "shared-login alert (two boxes with one login knock each other off).")
    max_clients: int = Field(2000, ge=1, le=100000, description="Live pages (SSE streams) served at once.")
    province: ProvinceWebSettings | None = Field(
        None, description="Run at the province: every hall's citizens' pages from the bridged topics (the "
                          "province broker's web role), the console over the collector's database. Then "
                          "`database` and `hall_settings` stay empty.")

    @field_validator("database", "hall_settings", mode="before")
    @classmethod
    def _empty_is_none(cls, v):
        return None if v == "" else v

    @model_validator(mode="after")
    def _province_has_no_hall_database(self) -> WebSettings:
        if self.province is None:
            return self
        for key in ("database", "hall_settings"):
            if key in self.model_fields_set and getattr(self, key) is not None:
                raise ValueError(f"{key}: must be empty with [province] (the province has no dispatcher "
                                 "database or settings; it reads the bridged topics and the collector's database)")
            setattr(self, key, None)
        return self

    @model_validator(mode="after")
    def _plain_http_only_on_loopback(self) -> WebSettings:
        if self.tls is None and not is_loopback(self.listen_host):
            raise ValueError(f"listen_host {self.listen_host!r} is not a loopback address: set [tls] cert_file and "
                             "key_file (plain HTTP is allowed only on 127.0.0.1 / ::1)")
        return self
