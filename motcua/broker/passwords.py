"""Mosquitto password-file entries, written without calling ``mosquitto_passwd``.

Mosquitto 2.0 stores ``username:$7$<iterations>$<salt b64>$<hash b64>``, the
hash being PBKDF2-HMAC-SHA512 over a 12-byte salt. Writing it here keeps the
plain password off every command line (``mosquitto_passwd -b`` would show it
in ``ps``), and the tests check the broker accepts it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

ITERATIONS = 101  # mosquitto_passwd's own default in 2.0
SALT_BYTES = 12


def new_password() -> str:
    """A random password: 128 bits, URL-safe, easy to paste into a settings file."""
    return secrets.token_urlsafe(16)


def hash_entry(username: str, password: str, *, salt: bytes | None = None, iterations: int = ITERATIONS) -> str:
    if ":" in username or "\n" in username:
        raise ValueError(f"username {username!r} cannot go into a password file")
    salt = salt if salt is not None else secrets.token_bytes(SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    return f"{username}:$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def verify(entry: str, password: str) -> bool:
    _username, _, stored = entry.partition(":")
    try:
        _, kind, iterations, salt, digest = stored.split("$")
        if kind != "7":
            return False
        expected = base64.b64decode(digest)
        got = hashlib.pbkdf2_hmac("sha512", password.encode(), base64.b64decode(salt), int(iterations))
    except ValueError:
        return False
    return hmac.compare_digest(expected, got)
