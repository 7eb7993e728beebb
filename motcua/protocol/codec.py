"""Turning MQTT payloads into validated messages, with a reason when we cannot."""

from __future__ import annotations

import json
from typing import TypeVar

from pydantic import ValidationError

from .messages import Message

M = TypeVar("M", bound=Message)

DEFAULT_MAX_PAYLOAD = 64 * 1024


class PayloadError(ValueError):
    """A payload we refuse. ``code`` matches ErrorInfo.code; str() is the reason for logs and replies."""

    def __init__(self, code: str, message: str, command_id: str | None = None, device_id: str | None = None):
        super().__init__(message)
        self.code = code
        self.command_id = command_id
        self.device_id = device_id


def _describe(err: ValidationError) -> str:
    parts = []
    for e in err.errors()[:5]:
        where = ".".join(str(p) for p in e["loc"]) or "(payload)"
        parts.append(f"{where}: {e['msg']}")
    more = len(err.errors()) - 5
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


def decode(model: type[M], payload: bytes, max_bytes: int = DEFAULT_MAX_PAYLOAD) -> M:
    """Validate ``payload`` as ``model`` or raise PayloadError saying why.

    The error carries whatever ``command_id``/``rating_id`` and ``device_id``
    could be read, so a refused command can still be answered.
    """
    if len(payload) > max_bytes:
        raise PayloadError("too_large", f"payload of {len(payload)} bytes exceeds the {max_bytes}-byte limit")
    try:
        raw = json.loads(payload)
    except (UnicodeDecodeError, ValueError) as exc:
        raise PayloadError("bad_payload", f"not JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise PayloadError("bad_payload", f"expected a JSON object, got {type(raw).__name__}")
    cid = raw.get("command_id", raw.get("rating_id"))
    dev = raw.get("device_id")
    cid = cid if isinstance(cid, str) and 0 < len(cid) <= 64 else None
    dev = dev if isinstance(dev, str) and 0 < len(dev) <= 64 else None
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise PayloadError("bad_payload", f"{model.__name__}: {_describe(exc)}", cid, dev) from None
