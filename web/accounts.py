"""Staff accounts, their passwords, and the login rate limit.

Accounts live in one JSON file (``users_file``) written by
``motcua web add-user``: name, role, and an Argon2id hash (argon2-cffi's
defaults, memory-hard). The service only reads it, again whenever it changes.
"""

from __future__ import annotations

import grp
import json
import os
import re
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

ROLES = {"viewer": "Xem", "supervisor": "Giám sát"}
"""viewer: reads the console and reports. supervisor: also acts (notice, counters, tickets)."""

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,31}$")
MIN_PASSWORD = 10

_hasher = PasswordHasher()
# Verifying an unknown name costs the same as a known one: no timing tells which names exist.
_DUMMY_HASH = _hasher.hash("not a password of anyone")


@dataclass(frozen=True)
class Account:
    username: str
    role: str
    full_name: str

    @property
    def may_act(self) -> bool:
        return self.role == "supervisor"


class AccountError(ValueError):
    pass


def _read(path: Path) -> dict[str, dict]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise AccountError(f"cannot read staff accounts {path}: {exc}") from None
    return data.get("users", {}) if isinstance(data, dict) else {}


def add_user(path: Path, username: str, password: str, role: str, full_name: str = "", *,
             replace: bool = False) -> Account:
    if not USERNAME.match(username):
        raise AccountError("user name: 2–32 lower-case letters, digits, '.', '_' or '-'")
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"password: at least {MIN_PASSWORD} characters")
    users = _read(path)
    if username in users and not replace:
        raise AccountError(f"{username} already exists (--replace to set a new password or role)")
    users[username] = {"role": role, "full_name": full_name or username, "hash": _hasher.hash(password)}
    _write(path, users)
    return Account(username, role, users[username]["full_name"])


def remove_user(path: Path, username: str) -> None:
    users = _read(path)
    if username not in users:
        raise AccountError(f"no account {username!r}")
    del users[username]
    _write(path, users)


def list_users(path: Path) -> list[Account]:
    return [Account(u, e.get("role", "?"), e.get("full_name", u)) for u, e in sorted(_read(path).items())]


def _write(path: Path, users: dict[str, dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".web-users.")
    try:
        # mkstemp makes it 0600; the service's group reads it (the install guide sets the group)
        os.fchmod(fd, 0o640)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({"users": users}, f, ensure_ascii=False, indent=1)
        try:
            if path.exists():  # keep the owner and group the technician gave it
                st = path.stat()
                os.chown(tmp, st.st_uid, st.st_gid)
            elif os.geteuid() == 0:  # made by root with sudo: the service's group must read it
                os.chown(tmp, 0, grp.getgrnam("motcua").gr_gid)
        except (PermissionError, KeyError):
            pass
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class Accounts:
    """Read side, for the service: verify a login."""

    def __init__(self, path: Path):
        self.path = path
        self._cache: tuple[float, dict[str, dict]] | None = None
        self._lock = threading.Lock()

    def _users(self) -> dict[str, dict]:
        with self._lock:
            try:
                mtime = self.path.stat().st_mtime
            except OSError:
                return {}
            if self._cache is None or self._cache[0] != mtime:
                self._cache = (mtime, _read(self.path))
            return self._cache[1]

    def get(self, username: str) -> Account | None:
        entry = self._users().get(username)
        if not entry or entry.get("role") not in ROLES:
            return None
        return Account(username, entry["role"], entry.get("full_name") or username)

    def verify(self, username: str, password: str) -> Account | None:
        entry = self._users().get(username)
        try:
            _hasher.verify(entry["hash"] if entry else _DUMMY_HASH, password)
        except (VerificationError, InvalidHashError):
            return None
        return self.get(username) if entry else None

    def count(self) -> int:
        return len(self._users())


class LoginLimiter:
    """At most ``attempts`` failures per key (address, user name) in ``window_s``; success does not reset
    the address (a guesser who finds one password should not get a fresh budget for the next)."""

    def __init__(self, attempts: int, window_s: float, clock=time.monotonic):
        self.attempts, self.window_s, self.clock = attempts, window_s, clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        q = self._failures.setdefault(key, deque())
        while q and now - q[0] > self.window_s:
            q.popleft()
        return q

    def blocked(self, *keys: str) -> float:
        """Seconds until another attempt is allowed (0: allowed now)."""
        now = self.clock()
        with self._lock:
            waits = [self.window_s - (now - q[0]) for q in (self._recent(k, now) for k in keys)
                     if len(q) >= self.attempts]
            if len(self._failures) > 10000:  # bounded memory under a spray of addresses
                for k in [k for k, q in self._failures.items() if not self._recent(k, now)]:
                    del self._failures[k]
        return max(waits, default=0.0)

    def failed(self, *keys: str) -> None:
        now = self.clock()
        with self._lock:
            for k in keys:
                self._recent(k, now).append(now)
