"""Settings of the province collector: ``/etc/motcua/province-collector.toml`` plus ``MOTCUA_`` overrides.

Example (examples/province-collector.toml)::

    device_id = "collector-1"          # one id per collector process: its persistent session
    [mqtt]
    host = "mqtt.province.example"
    port = 8883
    username = "collector"
    password_file = "/etc/motcua/collector.secret"
    ca_file = "/etc/motcua/province-ca.crt"
    [database]
    dsn = "host=db.province.example dbname=motcua user=collector"
    password_file = "/etc/motcua/collector-db.secret"
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr

from motcua.protocol.messages import DeviceId
from motcua.settings import DeviceSettings, SettingsError, StrictModel, TimeZoneName
from reports.settings import ReportSettings


class DatabaseSettings(StrictModel):
    dsn: str = Field("host=127.0.0.1 dbname=motcua_province user=motcua",
                     description="libpq connection string, without the password.")
    password: SecretStr | None = None
    password_file: Path | None = Field(None, description="Read the database password from this file.")
    connect_timeout_s: int = Field(5, ge=1, le=120)
    retry_max_s: float = Field(5.0, gt=0, le=300, description="Longest wait between reconnection attempts.")

    def conninfo(self) -> dict[str, Any]:
        """Keyword arguments for psycopg.connect: the DSN, its password, a timeout."""
        kw: dict[str, Any] = {"conninfo": self.dsn, "connect_timeout": self.connect_timeout_s}
        if self.password is not None:
            kw["password"] = self.password.get_secret_value()
        elif self.password_file is not None:
            try:
                kw["password"] = self.password_file.read_text().strip()
            except OSError as exc:
                raise SettingsError(f"database.password_file: cannot read {self.password_file}: {exc.strerror}") from None
        return kw


class CollectorSettings(DeviceSettings):
    """``site`` is unused: a collector reads every hall the province broker carries."""

    database: DatabaseSettings = DatabaseSettings()
    share_group: str = Field("collectors", pattern=r"^[A-Za-z0-9_-]{1,64}$",
                             description="Collectors in one group share the halls' events ($share/{group}/...).")
    sites: str = Field("+", pattern=r"^(\+|[A-Za-z0-9][A-Za-z0-9_.-]{0,63})$",
                       description="Which halls: '+' for all, or one site id.")
    devices: bool = Field(True, description="Also keep every box's availability and health.")
    writers: int = Field(2, ge=1, le=16, description="Batches written at once, each on its own connection.")
    batch_max: int = Field(500, ge=1, le=10000, description="Most messages written in one transaction.")
    batch_wait_ms: int = Field(20, ge=0, le=5000, description="How long a batch waits to fill up.")
    receive_maximum: int = Field(
        1000, ge=1, le=65535,
        description="Unacknowledged messages the broker may have in flight to this collector (MQTT v5).")
    session_expiry_s: int = Field(
        7 * 86400, ge=60, le=30 * 86400,
        description="How long the broker keeps this collector's queue while it is away.")
    stats_interval_s: float = Field(60.0, ge=1, le=86400, description="How often the log says what was stored.")
    # the province's reports (motcua province report), from the same database
    name: str = Field("Trung tâm Phục vụ hành chính công tỉnh", description="The province's name on its reports.")
    timezone: TimeZoneName = "Asia/Ho_Chi_Minh"
    hall_names: dict[DeviceId, str] = Field(default_factory=dict, description="Site id -> the hall's name.")
    reports: ReportSettings = ReportSettings(folder=Path("/var/lib/motcua/province-reports"))
