"""Every request the web service sends to the hall goes through this module.

The web service logs in to the broker as its own device (role ``web``): a
supervisor's action is sent under that login, and recorded in the audit log
with the staff member who asked for it. Only this module knows how a request
travels (today: :class:`motcua.client.HallClient`), so a change of the
request contract changes this file and nothing else.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from pydantic import ValidationError

from motcua.client import HallClient
from motcua.protocol import HallNotice
from motcua.runtime import NotAuthorized, Offline, RequestTimeout

from .audit import AuditLog

log = logging.getLogger("web.outbound")

COUNTER_ACTIONS = {"open": "Mở quầy", "pause": "Tạm nghỉ", "resume": "Tiếp tục", "close": "Đóng quầy",
                   "transfer": "Chuyển phiếu"}
"""What a supervisor may do to a counter from the console (a subset of the keypad's actions)."""

REFUSALS = {
    "unknown_counter": "không có quầy này", "unknown_area": "không có lĩnh vực này",
    "unknown_officer": "không có cán bộ này trong danh sách", "unknown_ticket": "không có phiếu này",
    "bad_state": "không làm được ở trạng thái hiện tại", "not_allowed": "không được phép",
    "bad_payload": "yêu cầu không hợp lệ", "empty": "không có ai đang chờ",
}


@dataclass(frozen=True)
class Result:
    ok: bool
    message: str  # Vietnamese, for the console


def _refused(reply) -> str:
    err = reply.error
    if err is None:
        return "Bị từ chối"
    return f"Bị từ chối: {REFUSALS.get(err.code, err.code)} ({err.message})"


class Outbound:
    def __init__(self, client: HallClient, audit: AuditLog, notice_seen=None):
        self.client = client
        self.audit = audit
        # notice_seen(text or None, timeout) -> bool: the retained notice came back from the broker
        self.notice_seen = notice_seen

    def _send(self, staff: str, action: str, target: str, fn) -> Result:
        try:
            reply = fn()
        except ValidationError as exc:
            e = exc.errors()[0]
            result = Result(False, f"Dữ liệu không hợp lệ: {'.'.join(map(str, e['loc']))}: {e['msg']}")
        except NotAuthorized:
            result = Result(False, "Máy chủ MQTT từ chối: tài khoản của dịch vụ web không có quyền này")
        except Offline:
            result = Result(False, "Mất kết nối với máy chủ MQTT: chưa gửi được, xin thử lại")
        except RequestTimeout:
            result = Result(False, "Bộ điều phối không trả lời: xin thử lại")
        else:
            result = Result(True, "Đã thực hiện") if reply.ok else Result(False, _refused(reply))
        self.audit.record(staff, action, target, result.ok, "" if result.ok else result.message)
        return result

    # ------------------------------------------------------------------ counters and tickets

    def counter(self, staff: str, counter: int, action: str, **fields) -> Result:
        if action not in COUNTER_ACTIONS:
            return Result(False, "Thao tác không được phép từ trang quản lý")
        detail = " ".join(f"{k}={v}" for k, v in fields.items() if v is not None)
        return self._send(staff, f"counter.{action}", f"quầy {counter} {detail}".strip(),
                          lambda: self.client.counter(counter, action, **fields))

    def cancel(self, staff: str, ticket_id: str, number: str) -> Result:
        return self._send(staff, "ticket.cancel", number, lambda: self.client.cancel(
            ticket_id, f"cancelled from the web console by {staff}"))

    # ------------------------------------------------------------------ the hall notice

    def notice(self, staff: str, text: str | None, hours: float | None = None) -> Result:
        """Set (text) or clear (None) the retained notice the hall board scrolls."""
        rt, topic = self.client.runtime, self.client.topics.hall_notice
        try:
            if text:
                expires = datetime.now(timezone.utc) + timedelta(hours=hours) if hours else None
                payload = HallNotice(text=text, expires_at=expires).to_json()
            else:
                payload = b""
        except ValidationError:
            result = Result(False, "Thông báo: từ 1 đến 500 ký tự")
        else:
            if not rt.connected:
                result = Result(False, "Mất kết nối với máy chủ MQTT: chưa gửi được, xin thử lại")
            else:
                rt.publish(topic, payload, retain=True)
                # the broker sends our own retained publish back: that is the proof it took it
                seen = self.notice_seen is None or self.notice_seen(text or None, 5.0)
                result = Result(True, "Đã cập nhật thông báo") if seen else Result(
                    False, "Máy chủ MQTT chưa xác nhận thông báo (quyền của tài khoản web?)")
        self.audit.record(staff, "notice.set" if text else "notice.clear", (text or "")[:80], result.ok,
                          "" if result.ok else result.message)
        return result
