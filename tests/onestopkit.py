"""A fake one-stop software for the tests: a real HTTP server with a vendor's own JSON shape.

Its API is deliberately not ours, so the adapter's field mapping is exercised:
Vietnamese field names, its own status values, paging by page number under
``trangTiep``, an ``X-Api-Key`` header. Each endpoint can be scripted to fail:
``"500"`` answers an error, ``"400"`` refuses the request, ``"slow:S"`` answers after S seconds, ``"hang"``
does the work and then answers too late for the client (a push that *was*
recorded although the adapter timed out), ``"drop"`` closes the connection.
"""

from __future__ import annotations

import json
import select
import threading
import urllib.parse
from collections import defaultdict
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

API_KEY = "khoa-bi-mat-0123456789"

VENDOR_STATUS = {  # the vendor's values -> ours (what the adapter's settings map)
    "DA_TIEP_NHAN": "received", "DANG_XU_LY": "processing", "CHO_BO_SUNG": "additional_documents_required",
    "CHO_TRA_KET_QUA": "ready", "DA_TRA_KET_QUA": "returned", "TU_CHOI": "rejected", "RUT_HO_SO": "withdrawn",
}


def http_settings(base_url: str, **overrides) -> dict:
    """The adapter's [http] table for this fake system: what a province would write for its vendor."""
    cfg = dict(
        name="fake-onestop", base_url=base_url, timeout_s=1.0, auth="token", token=API_KEY, token_header="X-Api-Key",
        token_prefix="", status_path="/api/v1/hoso/{code}", changed_path="/api/v1/donvi/{agency}/hoso",
        since_param="tuNgay", page_param="trang", page_size_param="soLuong", page_size=3, items_field="data.items",
        next_field="trangTiep", rating_path="/api/v1/danhgia",
        fields=dict(code="maHoSo", procedure="tenThuTuc", status="trangThai", appointment_date="ngayHenTra",
                    updated_at="capNhatLuc"),
        status_values=VENDOR_STATUS,
        rating_fields=dict(rating_id="maDanhGia", site="diemPhucVu", agency="maDonVi", dossier_code="maHoSo",
                           ticket_id="soPhieu", counter="quay", officer="canBo", area="linhVuc", level="mucDo",
                           reasons="lyDo", rated_at="thoiGian"),
        level_values={"very_satisfied": 3, "satisfied": 2, "unsatisfied": 1, "not_rated": 0},
    )
    cfg.update(overrides)
    return cfg


class FakeOneStop:
    def __init__(self):
        self.dossiers: dict[str, dict] = {}
        self.ratings: dict[str, dict] = {}  # idempotency key -> body, first one kept
        self.rating_posts: list[str] = []  # every POST's key, retries included
        self.requests: list[tuple[str, str]] = []
        self.script: dict[str, list[str]] = defaultdict(list)  # endpoint -> actions, first consumed first
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                fake._serve(self, "GET")

            def do_POST(self) -> None:
                fake._serve(self, "POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        # stop() returns when the serving loop next looks at its flag: every 50 ms, not the default 0.5 s
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    def start(self) -> FakeOneStop:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def put(self, code: str, agency: str, status: str, procedure: str = "Đăng ký khai sinh",
            appointment: str | None = "2026-03-05", updated: datetime | None = None) -> None:
        with self.lock:
            self.dossiers[code] = {"maHoSo": code, "donVi": agency, "tenThuTuc": procedure, "trangThai": status,
                                   "ngayHenTra": appointment,
                                   "capNhatLuc": (updated or datetime.now(timezone.utc)).isoformat()}

    def fail(self, endpoint: str, *actions: str) -> None:
        """Script the next answers of ``endpoint`` ('status', 'changed' or 'rating')."""
        with self.lock:
            self.script[endpoint] += actions

    # ------------------------------------------------------------------ serving

    def _serve(self, h: BaseHTTPRequestHandler, method: str) -> None:
        url = urllib.parse.urlsplit(h.path)
        parts = url.path.strip("/").split("/")
        endpoint = ("rating" if method == "POST" and parts[-1] == "danhgia" else
                    "status" if len(parts) == 4 and parts[2] == "hoso" else
                    "changed" if len(parts) == 5 and parts[2] == "donvi" else None)
        with self.lock:
            self.requests.append((method, h.path))
            action = self.script[endpoint].pop(0) if endpoint and self.script[endpoint] else "ok"
        if h.headers.get("X-Api-Key") != API_KEY:
            return self._answer(h, 401, {"loi": "sai khóa"})
        if endpoint is None:
            return self._answer(h, 404, {"loi": "không có"})
        if action in ("500", "400"):
            return self._answer(h, int(action), {"loi": "lỗi máy chủ" if action == "500" else "dữ liệu không hợp lệ"})
        if action == "drop":
            h.close_connection = True
            return None
        body = json.loads(h.rfile.read(int(h.headers.get("Content-Length") or 0)) or b"null")
        if action.startswith("slow:"):
            # A slow server: how long it takes against the adapter's timeout is what is under test, so this one
            # is wall time (keep S short beside the 1 s timeout); a client that gives up first ends the wait.
            self._until_client_leaves(h, float(action[5:]))
        status, answer = getattr(self, f"_{endpoint}")(parts, urllib.parse.parse_qs(url.query), body, h.headers)
        if action == "hang":
            self._until_client_leaves(h, 30)  # done, but answered only once the client has given up
        return self._answer(h, status, answer)

    @staticmethod
    def _until_client_leaves(h: BaseHTTPRequestHandler, at_most: float) -> None:
        """Hold the answer until the client hangs up (its socket turns readable at the end of the stream) or
        for ``at_most`` seconds."""
        select.select([h.connection], [], [], at_most)

    @staticmethod
    def _answer(h: BaseHTTPRequestHandler, status: int, body) -> None:
        data = json.dumps(body, ensure_ascii=False).encode()
        try:
            h.send_response(status)
            h.send_header("Content-Type", "application/json; charset=utf-8")
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _status(self, parts, query, body, headers):
        with self.lock:
            rec = self.dossiers.get(urllib.parse.unquote(parts[3]))
        return (200, rec) if rec else (404, {"loi": "không tìm thấy hồ sơ"})

    def _changed(self, parts, query, body, headers):
        agency = urllib.parse.unquote(parts[3])
        since = datetime.fromisoformat(query["tuNgay"][0])
        page, size = int(query.get("trang", ["1"])[0]), int(query.get("soLuong", ["20"])[0])
        with self.lock:
            rows = sorted((r for r in self.dossiers.values()
                           if r["donVi"] == agency and datetime.fromisoformat(r["capNhatLuc"]) >= since),
                          key=lambda r: r["maHoSo"])
        chunk = rows[(page - 1) * size:page * size]
        return 200, {"data": {"items": chunk}, "trangTiep": page + 1 if page * size < len(rows) else None}

    def _rating(self, parts, query, body, headers):
        key = headers.get("Idempotency-Key")
        if not key:
            return 400, {"loi": "thiếu Idempotency-Key"}
        with self.lock:
            self.rating_posts.append(key)
            first = key not in self.ratings
            self.ratings.setdefault(key, body)
        return (201 if first else 200), {"ketQua": "đã ghi nhận"}
