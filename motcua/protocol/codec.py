"""Turning MQTT payloads into validated messages, with a reason when we cannot."""

from __future__ import annotations

import json
from typing import TypeVar

from pydantic import ValidationError

from .messages import ErrorCode, Message

M = TypeVar("M", bound=Message)

DEFAULT_MAX_PAYLOAD = 64 * 1024
# No message of ours nests deeper than 5; the limit keeps hostile JSON far from Python's recursion limit.
MAX_DEPTH = 16


class PayloadError(ValueError):
    """A payload we refuse. ``code`` matches ErrorInfo.code; str() is the reason for logs and replies."""

    def __init__(self, code: ErrorCode, message: str, command_id: str | None = None, device_id: str | None = None):
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


def _no_constants(name: str) -> None:
    raise ValueError(f"{name} is not a number JSON allows")


def _check_tree(raw: object) -> None:
    """Depth, and strings (keys too) that UTF-8 can carry: a lone surrogate such as "\\ud83d" would
    break every reply, log line and database row it reached."""
    stack: list[tuple[object, int]] = [(raw, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise PayloadError("bad_payload", f"JSON nested deeper than {MAX_DEPTH} levels")
        if isinstance(node, str):
            _encodable(node)
        elif isinstance(node, dict):
            for key, value in node.items():
                _encodable(key)
                stack.append((value, depth + 1))
        elif isinstance(node, list):
            stack.extend((value, depth + 1) for value in node)


def _encodable(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise PayloadError("bad_payload", "a string holds a lone UTF-16 surrogate, which is not text") from None


def loads(payload: bytes) -> object:
    """JSON as we accept it: UTF-8, no NaN/Infinity, nesting bounded, every string encodable."""
    try:
        raw = json.loads(payload, parse_constant=_no_constants)
    except RecursionError:
        raise PayloadError("bad_payload", f"JSON nested deeper than {MAX_DEPTH} levels") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise PayloadError("bad_payload", f"not JSON: {str(exc)[:200]}") from None
    _check_tree(raw)
    return raw


def decode(model: type[M], payload: bytes, max_bytes: int = DEFAULT_MAX_PAYLOAD) -> M:
    """Validate ``payload`` as ``model`` or raise PayloadError saying why.

    The error carries whatever ``command_id``/``rating_id`` and ``device_id``
    could be read, so a refused command can still be answered.
    """
    if len(payload) > max_bytes:
        raise PayloadError("too_large", f"payload of {len(payload)} bytes exceeds the {max_bytes}-byte limit")
    raw = loads(payload)
    if not isinstance(raw, dict):
        raise PayloadError("bad_payload", f"expected a JSON object, got {type(raw).__name__}")
    cid = raw.get("command_id", raw.get("rating_id"))
    dev = raw.get("device_id")
    cid = cid if isinstance(cid, str) and 0 < len(cid) <= 64 else None
    dev = dev if isinstance(dev, str) and 0 < len(dev) <= 64 else None
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise PayloadError("bad_payload", f"{model.__name__}: {_describe(exc)}"[:600], cid, dev) from None
