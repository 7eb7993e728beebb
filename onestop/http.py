"""The reference :class:`~onestop.interface.OneStopSystem`: an HTTP/JSON API described by settings.

Endpoints, authentication (a token header or a client certificate), paging
and the field mapping all come from :class:`~onestop.config.HttpSystemSettings`,
so most vendors' APIs need a settings file, not code. Uses only the standard
library's HTTP client: one request at a time, a timeout on each.
"""

from __future__ import annotations

import json
import logging
import socket
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from motcua.protocol import RatingEvent
from motcua.protocol.messages import DossierRecord

from .config import HttpSystemSettings
from .interface import OneStopRejected, OneStopUnavailable

log = logging.getLogger("onestop.http")

# Answers worth retrying: the system is busy or not itself. 401/403 too: a token being
# rotated or a certificate renewed is fixed at the province, and the ratings must wait for it.
_RETRY = {401, 403, 408, 425, 429}


def _get(obj: Any, path: str) -> Any:
    for part in path.split(".") if path else ():
        if not isinstance(obj, dict):
            return None
        obj = obj.get(part)
    return obj


class HttpOneStop:
    def __init__(self, cfg: HttpSystemSettings):
        self.cfg = cfg
        self.name = cfg.name
        self._headers = {"Accept": "application/json", "User-Agent": "motcua-onestop"}
        if cfg.auth == "token":
            self._headers[cfg.token_header] = f"{cfg.token_prefix}{cfg.resolved_token()}"
        self._ssl: ssl.SSLContext | None = None
        if cfg.base_url.startswith("https://"):
            self._ssl = ssl.create_default_context(cafile=str(cfg.ca_file) if cfg.ca_file else None)
            if cfg.auth == "client_cert":
                self._ssl.load_cert_chain(str(cfg.cert_file), str(cfg.key_file))

    # ------------------------------------------------------------------ the interface

    def statuses(self, codes: Sequence[str]) -> list[DossierRecord]:
        found = []
        for code in codes:
            path = self.cfg.status_path.format(code=urllib.parse.quote(code, safe=""))
            body = self._call("GET", path, missing_ok=True)
            if body is None:
                continue
            record = self._record(body)
            if record is not None:
                found.append(record)
        return found

    def changed_since(self, agency: str, since: datetime) -> Iterator[DossierRecord]:
        c = self.cfg
        params: dict[str, str] = {c.since_param: since.isoformat()}
        if c.page_size_param:
            params[c.page_size_param] = str(c.page_size)
        path = c.changed_path.format(agency=urllib.parse.quote(agency, safe=""))
        for _ in range(c.max_pages):
            page = self._call("GET", f"{path}?{urllib.parse.urlencode(params)}")
            items = _get(page, c.items_field) if c.items_field else page
            if not isinstance(items, list):
                raise OneStopRejected(f"{path}: no list at '{c.items_field}' in the answer")
            for item in items:
                record = self._record(item)
                if record is not None:
                    yield record
            nxt = _get(page, c.next_field) if c.next_field else None
            if nxt in (None, "", False) or not items:
                return
            params[c.page_param] = str(nxt)
        raise OneStopRejected(f"{path}: more than {c.max_pages} pages; raise http.max_pages if that is right")

    def push_rating(self, site: str, agency: str, rating: RatingEvent) -> None:
        f, c = self.cfg.rating_fields, self.cfg
        values = {"rating_id": rating.rating_id, "site": site, "agency": agency, "dossier_code": rating.dossier_code,
                  "ticket_id": rating.ticket_id, "counter": rating.counter, "officer": rating.officer,
                  "area": rating.area, "level": c.level_values.get(rating.level, rating.level),
                  "reasons": rating.reasons, "rated_at": rating.rated_at.isoformat()}
        body = {name: values[key] for key, name in f.model_dump().items() if name is not None}
        self._call("POST", c.rating_path, body=body,
                   headers={c.idempotency_header: f"{site}:{rating.rating_id}"}, conflict_ok=True)

    # ------------------------------------------------------------------ HTTP

    def _call(self, method: str, path: str, *, body: Any = None, headers: dict[str, str] | None = None,
              missing_ok: bool = False, conflict_ok: bool = False) -> Any:
        url = self.cfg.base_url.rstrip("/") + path
        data = json.dumps(body, ensure_ascii=False).encode() if body is not None else None
        req = urllib.request.Request(url, data=data, method=method, headers={
            **self._headers, **(headers or {}), **({"Content-Type": "application/json"} if data else {})})
        try:
            with urllib.request.urlopen(req, timeout=self.cfg.timeout_s, context=self._ssl) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as exc:
            if exc.code == 404 and missing_ok:
                return None
            if exc.code == 409 and conflict_ok:  # already recorded under this idempotency key
                return None
            reason = f"{method} {path}: HTTP {exc.code} {exc.reason}"
            if exc.code >= 500 or exc.code in _RETRY:
                raise OneStopUnavailable(reason) from None
            raise OneStopRejected(reason) from None
        except (urllib.error.URLError, socket.timeout, TimeoutError, ConnectionError, ssl.SSLError) as exc:
            why = getattr(exc, "reason", exc)
            raise OneStopUnavailable(f"{method} {path}: {why}") from None
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            raise OneStopUnavailable(f"{method} {path}: the answer is not JSON") from None

    def _record(self, item: Any) -> DossierRecord | None:
        f, c = self.cfg.fields, self.cfg
        status = _get(item, f.status)
        status = c.status_values.get(str(status), status)
        ready = _get(item, f.ready_for_pickup) if f.ready_for_pickup else None
        if ready is None:  # the system does not say: a result waiting at the hall is ready for pickup
            ready = status == "ready"
        try:
            return DossierRecord(code=_get(item, f.code), procedure=_get(item, f.procedure) or "", status=status,
                                 appointment_date=_get(item, f.appointment_date) if f.appointment_date else None,
                                 ready_for_pickup=bool(ready), updated_at=_get(item, f.updated_at))
        except ValidationError as exc:
            code = _get(item, f.code) if isinstance(item, dict) else None
            log.warning("dossier %r skipped: %s (check the [http.fields] and status_values settings)", code,
                        "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:3]))
            return None
