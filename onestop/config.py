"""Settings of the one-stop adapter: ``/etc/motcua/onestop.toml`` plus ``MOTCUA_`` overrides.

See examples/onestop.toml for a complete file and docs/onestop.md for what
each endpoint must answer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator

from motcua.protocol.messages import DeviceId, RatingLevel
from motcua.settings import DeviceSettings, SettingsError, StrictModel

DossierStatus = Literal["received", "processing", "additional_documents_required", "ready", "returned", "rejected",
                        "withdrawn"]


class DossierFields(StrictModel):
    """Where each field of a dossier record is in the system's JSON (dotted paths for nested objects)."""

    code: str = "code"
    procedure: str = "procedure"
    status: str = "status"
    appointment_date: str | None = "appointment_date"
    ready_for_pickup: str | None = Field(
        "ready_for_pickup", description="Absent from the answer: derived from the status being 'ready'.")
    updated_at: str = "updated_at"


class RatingFields(StrictModel):
    """The name each field of a rating push gets in the system's JSON body; None leaves it out."""

    rating_id: str = "rating_id"
    site: str | None = "site"
    agency: str | None = "agency"
    dossier_code: str | None = "dossier_code"
    ticket_id: str | None = "ticket_id"
    counter: str | None = "counter"
    officer: str | None = "officer"
    area: str | None = "area"
    level: str = "level"
    reasons: str | None = "reasons"
    rated_at: str = "rated_at"


class HttpSystemSettings(StrictModel):
    """The reference implementation: the one-stop software's HTTP/JSON API, described by settings."""

    name: str = Field("onestop-http", description="How this system is named in logs and the progress summary.")
    base_url: str = Field("https://127.0.0.1", pattern=r"^https?://[^\s]+$")
    timeout_s: float = Field(10.0, gt=0, le=300, description="A call that takes longer counts as unavailable.")
    auth: Literal["none", "token", "client_cert"] = "token"
    token: SecretStr | None = None
    token_file: Path | None = None
    token_header: str = "Authorization"
    token_prefix: str = Field("Bearer ", description="Put before the token in the header ('' for none).")
    ca_file: Path | None = Field(None, description="Trust this CA for https (default: the system's).")
    cert_file: Path | None = Field(None, description="Client certificate when auth = 'client_cert'.")
    key_file: Path | None = None
    status_path: str = Field("/dossiers/{code}", description="GET one dossier by code; 404 = unknown.")
    changed_path: str = Field("/agencies/{agency}/dossiers", description="GET a hall's dossiers changed since.")
    since_param: str = "updated_since"
    page_param: str = Field("page", description="Query parameter carrying the next page (number or cursor).")
    page_size_param: str | None = "page_size"
    page_size: int = Field(100, ge=1, le=10000)
    items_field: str = Field("items", description="Where the list of dossiers is in a page ('' = the page is one).")
    next_field: str | None = Field("next_page", description="Where the next page's number or cursor is; "
                                                            "null or missing ends the listing.")
    max_pages: int = Field(1000, ge=1, le=100000, description="A listing longer than this is an error.")
    rating_path: str = Field("/ratings", description="POST one accepted rating.")
    idempotency_header: str = Field("Idempotency-Key", description="Carries '{site}:{rating_id}' on every push.")
    fields: DossierFields = DossierFields()
    status_values: dict[str, DossierStatus] = Field(
        default_factory=dict, description="The system's status values -> ours; ours are accepted as they are.")
    rating_fields: RatingFields = RatingFields()
    level_values: dict[RatingLevel, str | int] = Field(
        default_factory=dict, description="Our rating levels -> the system's values (default: ours).")

    @model_validator(mode="after")
    def _auth_complete(self) -> HttpSystemSettings:
        if self.auth == "token" and self.token is None and self.token_file is None:
            raise ValueError("auth = 'token' needs token or token_file")
        if self.auth == "client_cert" and (self.cert_file is None or self.key_file is None):
            raise ValueError("auth = 'client_cert' needs cert_file and key_file")
        return self

    def resolved_token(self) -> str | None:
        if self.token is not None:
            return self.token.get_secret_value()
        if self.token_file is not None:
            try:
                return self.token_file.read_text().strip()
            except OSError as exc:
                raise SettingsError(f"http.token_file: cannot read {self.token_file}: {exc.strerror}") from None
        return None


class OneStopSettings(DeviceSettings):
    """``site`` is unused: the adapter serves the halls listed in ``halls``."""

    halls: dict[DeviceId, str] = Field(
        ..., min_length=1, description="Each hall's site id -> its agency code in the one-stop software.")
    system: str = Field("http", description="'http' (the reference implementation, [http] table) or "
                                            "'package.module:Class' implementing onestop.interface.OneStopSystem.")
    http: HttpSystemSettings = HttpSystemSettings(auth="none")
    progress_name: str = Field("Tất cả hồ sơ của trung tâm", min_length=1, max_length=200,
                               description="The row's name on the hall's dossier-progress screen.")
    state: Path = Field(Path("/var/lib/motcua/onestop.db"), description="Rating outbox and dossier cache (SQLite).")
    share_group: str = Field("onestop", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    poll_interval_s: float = Field(60.0, ge=0.2, le=86400, description="How often each hall's changes are pulled.")
    overlap_s: float = Field(120.0, ge=0, le=86400,
                             description="Each pull starts this long before the last one did (clock skew).")
    first_pull_days: int = Field(30, ge=0, le=3650, description="How far back the very first pull of a hall goes.")
    push_retry_min_s: float = Field(1.0, gt=0, le=3600)
    push_retry_max_s: float = Field(300.0, gt=0, le=86400)
    receive_maximum: int = Field(100, ge=1, le=65535)
    session_expiry_s: int = Field(7 * 86400, ge=60, le=30 * 86400)
