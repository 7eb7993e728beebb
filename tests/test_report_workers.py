"""The report's second core: the PDF drawn by a forked child while the parent writes the rest,
and the writers imported on a thread while the database is read."""

from __future__ import annotations

import errno
import re
import subprocess
from datetime import date, datetime, timezone

import pytest

import reports
from reports import workers

TZ = "Asia/Ho_Chi_Minh"


def test_a_child_returns_what_the_work_returned_and_raises_what_it_raised():
    assert workers.Child(lambda: {"pages": 2}).result() == {"pages": 2}

    def fails():
        raise OSError(errno.EACCES, "Permission denied", "/srv/reports/x.pdf")

    with pytest.raises(OSError) as caught:
        workers.Child(fails).result()
    assert (caught.value.errno, caught.value.filename) == (errno.EACCES, "/srv/reports/x.pdf")


def test_no_fork_beside_another_thread():
    import threading

    stop = threading.Event()
    t = threading.Thread(target=stop.wait)
    t.start()
    try:
        assert not workers.can_fork()
    finally:
        stop.set()
        t.join()


def _report() -> reports.Report:
    period = reports.period_of("week", date(2024, 5, 29), TZ)
    at = period.start.timestamp() + 3600 * 3
    records = reports.Records(tickets=[reports.TicketRecord(
        "T1", datetime.fromtimestamp(at, timezone.utc), "TP", "TP", "done", 1, "lan",
        datetime.fromtimestamp(at + 600, timezone.utc), datetime.fromtimestamp(at + 900, timezone.utc))])
    hall = reports.HallInfo(name="Bộ phận một cửa thử nghiệm", timezone=TZ, areas={"TP": "Tư pháp - hộ tịch"},
                            counters={1: "Quầy 1"}, officers={"lan": "Nguyễn Thị Lan"})
    return reports.build(records, period, hall, generated_at=datetime(2024, 6, 3, tzinfo=timezone.utc))


def test_the_forked_pdf_is_written_beside_the_other_files(tmp_path, monkeypatch):
    report = _report()
    children = []

    class Counted(workers.Child):
        def __init__(self, work):
            children.append(work)
            super().__init__(work)

    monkeypatch.setattr(workers, "Child", Counted)
    reports.preload()
    forked = reports.write_all(report, tmp_path / "forked")
    assert len(children) == (1 if workers.can_fork() else 0), children
    monkeypatch.setattr(workers, "can_fork", lambda: False)
    serial = reports.write_all(report, tmp_path / "serial")
    assert [p.name for p in forked] == [p.name for p in serial]
    assert forked[1].suffix == ".pdf" and not list(forked[1].parent.glob(".*.tmp"))
    info = subprocess.run(["pdfinfo", str(forked[1])], capture_output=True, text=True, check=True).stdout
    assert re.search(r"^Pages:\s+2$", info, re.M), info


def test_a_pdf_that_cannot_be_written_is_the_callers_oserror(tmp_path):
    report = _report()
    folder = tmp_path / "out"
    (folder / report.period.ident).mkdir(parents=True)
    stem = reports.write_all(report, tmp_path / "probe", ("csv",))[0].name.removesuffix("-figures.csv")
    (folder / report.period.ident / f".{stem}.pdf.tmp").mkdir()  # the PDF's temporary name is taken
    with pytest.raises(OSError):
        reports.write_all(report, folder)
