"""Settings every motcua daemon shares, loaded from TOML plus ``MOTCUA_`` environment overrides.

Precedence, highest first: keyword arguments (tests), environment
(``MOTCUA_MQTT__HOST=…``, ``__`` descends into tables), the TOML file
(default ``/etc/motcua/<role>.toml``, or ``--config``), then the defaults.

From the environment alone a technician can override any setting of a file:

* a value: ``MOTCUA_MQTT__HOST=10.0.0.2``; a list or table as JSON:
  ``MOTCUA_RETRY_S='[1, 5]'``;
* clear an optional one (back to none): set it empty, ``MOTCUA_MQTT__CA_FILE=``;
* switch a choice: a table with a ``kind`` set from the environment to
  another kind replaces the file's table whole, so the old kind's keys do not
  linger: ``MOTCUA_PRINTER__TRANSPORT__KIND=network
  MOTCUA_PRINTER__TRANSPORT__HOST=10.0.0.9``.

Every model forbids unknown keys, at every level: a technician's typo in
``[mqtt] hots = …`` is an error naming ``mqtt.hots``, never a silently
ignored line that leaves the box talking to the wrong broker.
"""

from __future__ import annotations

import os
import tomllib
from contextvars import ContextVar
from pathlib import Path
from collections.abc import Collection
from typing import Annotated, Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

ENV_PREFIX = "MOTCUA_"
CONFIG_DIR = Path("/etc/motcua")
EX_CONFIG = 78  # sysexits.h; the systemd units do not restart on it: a bad file will not fix itself

_toml_path: ContextVar[Path | None] = ContextVar("motcua_toml_path", default=None)
# With load_settings(..., only=...): the top-level keys this reader takes from a file it shares
_toml_only: ContextVar[frozenset[str] | None] = ContextVar("motcua_toml_only", default=None)


class SettingsError(Exception):
    """A configuration problem, worded for the technician who has to fix the file."""


def _known_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}") from None
    return name


TimeZoneName = Annotated[str, AfterValidator(_known_zone)]
"""An IANA time zone name, e.g. 'Asia/Ho_Chi_Minh', checked when the settings load."""


class StrictModel(BaseModel):
    """Base for every nested settings table: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")


class MqttSettings(StrictModel):
    host: str = "127.0.0.1"
    port: int = Field(1883, ge=1, le=65535)
    username: str | None = Field(None, description="Defaults to the device id, which the broker ACL keys on.")
    password: SecretStr | None = None
    password_file: Path | None = Field(None, description="Read the password from this file (systemd credentials).")
    ca_file: Path | None = Field(None, description="Enables TLS, trusting this CA.")
    cert_file: Path | None = None
    key_file: Path | None = None
    keepalive_s: int = Field(15, ge=5, le=600)
    session_expiry_s: int = Field(
        3600, ge=0, le=7 * 86400,
        description="How long the broker keeps this device's subscriptions and queued QoS 1 messages while it is away.",
    )
    reconnect_min_s: float = Field(0.25, gt=0, le=10)
    reconnect_max_s: float = Field(2.0, gt=0, le=60)
    max_inflight: int = Field(20, ge=1, le=1000)
    max_queued: int = Field(
        1000, ge=0, le=100000,
        description="QoS 1 messages waiting for the broker's acknowledgement, connected or not; a message beyond "
                    "them is not sent (and logged). 0 = unbounded.")
    max_payload_bytes: int = Field(64 * 1024, ge=1024, le=16 * 1024 * 1024)

    def resolved_password(self) -> str | None:
        if self.password is not None:
            return self.password.get_secret_value()
        if self.password_file is not None:
            try:
                return self.password_file.read_text().strip()
            except OSError as exc:
                raise SettingsError(f"mqtt.password_file: cannot read {self.password_file}: {exc.strerror}") from None
        return None

    def file_problem(self) -> str | None:
        """The first file this login needs that is missing or unreadable, worded for the technician."""
        files = [("ca_file", self.ca_file), ("cert_file", self.cert_file), ("key_file", self.key_file)]
        if self.password is None:  # a password given directly wins over the file
            files.insert(0, ("password_file", self.password_file))
        for key, path in files:
            if path is None:
                continue
            try:
                with open(path, "rb"):
                    pass
            except OSError as exc:
                hint = " (from `motcua broker add-device`)" if key == "password_file" else ""
                return f"mqtt.{key}: cannot read {path}: {exc.strerror}{hint}"
        return None


class DeviceSettings(BaseSettings):
    """What every daemon needs: who it is, which hall, which broker."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid", validate_default=True,
        env_parse_none_str="",  # MOTCUA_X= clears an optional setting
    )

    site: str = Field("demo", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$", description="The hall's id in topics.")
    device_id: str = Field(..., pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    mqtt: MqttSettings = MqttSettings()
    health_interval_s: float = Field(30.0, ge=1, le=3600)
    log_level: str = "INFO"

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, v: str) -> str:
        v = v.upper()
        if v not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
        return v

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = _toml_path.get()
        if path is not None:
            sources.append(_TomlUnderEnv(settings_cls, path, env_settings))
        return tuple(sources)


class _TomlUnderEnv(TomlConfigSettingsSource):
    """The TOML file, less the tables the environment switches to another ``kind`` (see the module's docstring)."""

    def __init__(self, settings_cls: type[BaseSettings], path: Path, env: PydanticBaseSettingsSource):
        super().__init__(settings_cls, toml_file=path)
        self._env = env

    def __call__(self) -> dict[str, Any]:
        data = super().__call__()
        only = _toml_only.get()
        if only is not None:
            data = {k: v for k, v in data.items() if k in only}
        _drop_switched_choices(data, self._env())
        return data


def _drop_switched_choices(file: dict[str, Any], env: dict[str, Any]) -> None:
    for key, value in env.items():
        table = file.get(key)
        if isinstance(value, dict) and isinstance(table, dict):
            if "kind" in value and value["kind"] != table.get("kind"):
                del file[key]
            else:
                _drop_switched_choices(table, value)


S = TypeVar("S", bound=DeviceSettings)


def _check_env_keys(cls: type[DeviceSettings], only: frozenset[str] | None = None) -> None:
    """pydantic-settings ignores MOTCUA_ variables that match no field; we do not
    (a reader of ``only`` some keys leaves the others to the daemon they belong to)."""
    known = {name.upper() for name in cls.model_fields}
    for var in os.environ:
        if var.startswith(ENV_PREFIX):
            head = var[len(ENV_PREFIX):].split("__", 1)[0]
            if only is not None and head.lower() not in only:
                continue
            if head not in known:
                raise SettingsError(
                    f"environment variable {var}: {head.lower()!r} is not a setting of this daemon "
                    f"(known: {', '.join(sorted(k.lower() for k in known))})"
                )


def _format(err: ValidationError, origin: str) -> str:
    lines = [f"invalid settings ({origin}):"]
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"]) or "(root)"
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            msg = "unknown key (misspelt, or not a setting of this daemon)"
        lines.append(f"  {key}: {msg}")
    return "\n".join(lines)


def load_settings(cls: type[S], role: str, config: Path | str | None = None, *,
                  only: Collection[str] | None = None, **overrides: Any) -> S:
    """Load ``cls`` for ``role`` from ``config`` (or ``/etc/motcua/<role>.toml``) and the environment.

    An explicitly named file must exist; the default one may be absent (then
    only the environment and the defaults apply). Raises SettingsError.

    ``only`` names the top-level keys to read from a file (and ``MOTCUA_`` variables) that
    belong to another program, e.g. ``site`` and ``mqtt`` of the dispatcher's file for the
    ``motcua`` command; inside those keys the rules are as strict as for the daemon itself.
    """
    if config is not None:
        path = Path(config)
        if not path.is_file():
            raise SettingsError(f"settings file {path} does not exist")
    else:
        path = CONFIG_DIR / f"{role}.toml"
        if not path.is_file():
            path = None
    origin = str(path) if path else "environment and defaults"
    if path is not None:
        try:
            tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise SettingsError(f"settings file {path} is not valid TOML: {exc}") from None
    keys = frozenset(only) if only is not None else None
    _check_env_keys(cls, keys)
    token, only_token = _toml_path.set(path), _toml_only.set(keys)
    try:
        return cls(**overrides)
    except ValidationError as exc:
        raise SettingsError(_format(exc, origin)) from None
    finally:
        _toml_path.reset(token)
        _toml_only.reset(only_token)


class ConnectionSettings(DeviceSettings):
    """What a client of the hall needs (the ``motcua`` command): the site and the broker."""

    device_id: str = Field("motcua-cli", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


#: The keys a client reads from any daemon's settings file.
CONNECTION_KEYS = ("site", "mqtt")
