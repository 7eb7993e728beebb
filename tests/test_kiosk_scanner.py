"""The barcode scanner over a real pty: codes in pieces, QR URLs, hostile input refused, unplug and reopen."""

from __future__ import annotations

import logging
import queue

import pytest

from kiosk_ticket.config import ScannerSettings
from kiosk_ticket.scanner import BarcodeScanner, LineAssembler, ScanError, parse_scan
from daemonkit import wait_until
from kioskkit import PtyScanner

KEYS = ScannerSettings(device="x").url_query_keys


@pytest.mark.parametrize("raw, code", [
    (b"000.00.17.H57-260225-0042", "000.00.17.H57-260225-0042"),
    (b"  H57.22-240515-0001 ", "H57.22-240515-0001"),
    (b"https://dichvucong.vinhlong.gov.vn/tra-cuu?ma_ho_so=H57.22-240515-0001&x=1", "H57.22-240515-0001"),
    (b"http://motcua.example.gov.vn/hoso/000.00.17.H57-260225-0042", "000.00.17.H57-260225-0042"),
    (b"https://x.gov.vn/tra-cuu?MaHoSo=ABC-123", "ABC-123"),
])
def test_codes_and_urls(raw, code):
    assert parse_scan(raw, KEYS) == code


@pytest.mark.parametrize("raw, why", [
    (b"\xff\xfe\x00garbage", "not UTF-8"),
    (b"ab\x07cd", "control characters"),
    (b"<script>", "not a dossier code"),
    (b"javascript://alert(1)", "not http"),
    (b"https://x.gov.vn/tra-cuu", "no dossier code"),
    (b"   ", "empty"),
])
def test_refusals(raw, why):
    with pytest.raises(ScanError, match=why):
        parse_scan(raw, KEYS)


def test_line_assembler_pieces_crlf_and_overlong():
    a = LineAssembler(16)
    assert a.feed(b"H57-") == []
    assert a.feed(b"0001\r") == [b"H57-0001"]
    assert a.feed(b"\nABC-9\n") == [b"ABC-9"]  # CRLF is one end of line, not an empty reading
    out = a.feed(b"x" * 40)
    assert len(out) == 1 and isinstance(out[0], ScanError)
    assert a.feed(b"yyyy\nOK-123\n") == [b"OK-123"]  # the rest of the long line is dropped whole


@pytest.fixture
def scanner(tmp_path):
    pty = PtyScanner(tmp_path / "scanner")
    codes: queue.Queue = queue.Queue()
    bad: queue.Queue = queue.Queue()
    s = BarcodeScanner(ScannerSettings(device=str(pty.link), max_line_bytes=64, reopen_s=0.1), codes.put, bad.put)
    s.start()
    assert s.wait_open(5)
    yield pty, s, codes, bad
    s.stop()
    pty.close()


def test_scanner_over_a_pty(scanner, caplog):
    pty, s, codes, bad = scanner
    caplog.set_level(logging.WARNING, "kiosk_ticket.scanner")
    pty.send(b"000.00.17.H57-")
    pty.send(b"260225-0042\r\n")
    assert codes.get(timeout=5) == "000.00.17.H57-260225-0042"
    pty.send(b"\xc3\x28\xa0\xa1\r" + b"A" * 5000 + b"\r" + b"\x00\x01\x02\r" + b"<nope>\r")
    reasons = [bad.get(timeout=5) for _ in range(4)]
    assert reasons[0].startswith("not UTF-8") and "longer than 64" in reasons[1]
    assert "control" in reasons[2] and "not a dossier code" in reasons[3]
    assert codes.empty()
    assert sum("refused" in r.message for r in caplog.records) == 4  # each refusal is logged
    pty.send(b"https://x.gov.vn/q?ma=H57-1\n")
    assert codes.get(timeout=5) == "H57-1"
    assert s.status.startswith("ok")


def test_unplugged_scanner_is_reported_and_reopened(scanner):
    pty, s, codes, _ = scanner
    pty.unplug()
    wait_until(lambda: s.status.startswith("degraded"), 5, "the unplug to be noticed")
    assert "scanner" in s.status
    pty.plug()
    wait_until(lambda: s.status.startswith("ok"), 5, "the scanner to be reopened")
    pty.send(b"H57-0002\n")
    assert codes.get(timeout=5) == "H57-0002"


def test_a_missing_scanner_is_logged_once_and_shown_in_its_status(tmp_path, caplog, monkeypatch):
    import serial

    opens: list[str] = []  # every attempt to open the device, counted on its way into pyserial
    real_serial = serial.Serial
    monkeypatch.setattr(serial, "Serial", lambda device, *a, **kw: opens.append(device) or real_serial(device, *a, **kw))
    caplog.set_level(logging.WARNING, "kiosk_ticket.scanner")
    s = BarcodeScanner(ScannerSettings(device=str(tmp_path / "ttyACM9"), reopen_s=0.1), lambda c: None,
                       lambda r: None).start()
    try:
        wait_until(lambda: s.status.startswith("degraded"), 5, "the missing scanner to be noticed")
        wait_until(lambda: bool(caplog.records), 5, "a log line")
        wait_until(lambda: len(opens) >= 5, 10, "several retries")
    finally:
        s.stop()
    assert "ttyACM9" in s.status and "unavailable" in s.status
    assert [r.message for r in caplog.records if "cannot be opened" in r.message] and \
        sum("cannot be opened" in r.message for r in caplog.records) == 1
