"""The leadership reports, from scripted days played on the real dispatcher (Hall + SQLite),
read back from the files a clerk or a machine gets: XLSX (openpyxl), CSV, and the PDF rendered
to PNG pages with pdftoppm.

The script (test hall of tests/hallfactory.py, Asia/Ho_Chi_Minh):

* Thu 2024-05-30: A1001 A1002 A1003 B2001 at 08:00; counter 1 calls A1001 at 08:10 (finish 08:20,
  very satisfied); counter 2 calls A1002 at 08:12 and transfers it to DD at 08:15; counter 3 calls
  it at 08:16 and finishes at 08:30 (not satisfied: long wait, attitude — the pad was offline, the
  rating arrives on Monday); counter 1 calls A1003 at 08:20 and marks it a no-show at 08:22;
  counter 3 calls B2001 at 08:31, finishes 08:40 (satisfied); A1004 issued at 09:00 and withdrawn
  by the kiosk at 09:01; A1005 issued at 09:05 and never called.
* Fri 2024-05-31: B2001 at 10:00, called 10:05, finished 10:07, the citizen walks away (not rated).
* Sat 2024-06-01: nothing at all.
* Sun 2024-06-02 23:50: a ticket (week 22, June); Mon 00:10: another (week 23, but the same service
  day: numbers reset at 04:00). Neither is called.
* Mon 2024-06-03: the late rating arrives at 08:00; A1001 at 09:00, called 09:04, finished 09:10,
  satisfied with the nine-indicator form.

Week 22 (27 May – 2 June) crosses the month's end.
"""

from __future__ import annotations

import csv
import subprocess
import warnings
from datetime import date
from pathlib import Path

import pytest
from openpyxl import load_workbook

import reports
from motcua.protocol import Rating, new_id

from hallfactory import HallDriver, local, make_settings

TZ = "Asia/Ho_Chi_Minh"
HALL = reports.HallInfo(
    name="Bộ phận một cửa thử nghiệm", site="test", timezone=TZ,
    areas={"TP": "Tư pháp - hộ tịch", "DD": "Đất đai"}, counters={1: "Quầy 1", 2: "Quầy hai", 3: "Quầy 3"},
    officers={"lan": "Nguyễn Thị Lan", "minh": "Trần Văn Minh", "hoa": "Lê Thị Hoa"},
    reasons={"long_wait": "Thời gian chờ đợi lâu", "attitude": "Thái độ phục vụ chưa tốt"},
)


def _finish_and_rate(d: HallDriver, counter: int, level: str, **fields):
    out = d.cmd(counter, "finish")
    assert out.reply.ok, out.reply.error
    return out.reply.counter.rating_window.ticket_id


def _rating(d: HallDriver, counter: int, ticket_id: str, level: str, rated_at, **fields) -> None:
    out = d.hall.rate(counter, Rating(rating_id=new_id(), device_id=f"pad-{counter}", counter=counter,
                                      ticket_id=ticket_id, level=level, rated_at=rated_at, **fields),
                      sender=f"pad-{counter}")
    assert out.reply.ok, out.reply.error


@pytest.fixture(scope="module")
def hall_db(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("reports") / "dispatcher.db"
    d = HallDriver(path, make_settings())
    c = d.clock
    # ---- Thursday 30 May
    c.set(local(2024, 5, 30, 7, 55))
    for n in (1, 2, 3):
        d.open(n)
    c.set(local(2024, 5, 30, 8, 0))
    for area in ("TP", "TP", "TP", "DD"):
        d.ticket(area)
    c.set(local(2024, 5, 30, 8, 10))
    assert d.called(1) == "A1001"
    c.set(local(2024, 5, 30, 8, 12))
    assert d.called(2) == "A1002"
    c.set(local(2024, 5, 30, 8, 15))
    assert d.cmd(2, "transfer", to_area="DD").reply.ok
    c.set(local(2024, 5, 30, 8, 16))
    assert d.called(3) == "A1002"
    c.set(local(2024, 5, 30, 8, 20))
    a1001 = _finish_and_rate(d, 1, "very_satisfied")
    _rating(d, 1, a1001, "very_satisfied", c())
    assert d.called(1) == "A1003"
    c.set(local(2024, 5, 30, 8, 22))
    assert d.cmd(1, "skip").reply.ok
    c.set(local(2024, 5, 30, 8, 30))
    a1002 = _finish_and_rate(d, 3, "unsatisfied")  # rated now, delivered on Monday
    late = (a1002, local(2024, 5, 30, 8, 30, 20))
    c.set(local(2024, 5, 30, 8, 31))
    assert d.called(3) == "B2001"  # next finishes nothing: the window of A1002 is closed by the call
    c.set(local(2024, 5, 30, 8, 40))
    _rating(d, 3, _finish_and_rate(d, 3, "satisfied"), "satisfied", c())
    c.set(local(2024, 5, 30, 9, 0))
    a1004 = d.ticket("TP")
    c.set(local(2024, 5, 30, 9, 1))
    assert d.cancel(a1004.ticket_id).reply.ok
    c.set(local(2024, 5, 30, 9, 5))
    d.ticket("TP")  # A1005: nobody calls it
    # ---- Friday 31 May
    c.set(local(2024, 5, 31, 10, 0))
    d.ticket("DD")
    c.set(local(2024, 5, 31, 10, 5))
    assert d.called(3) == "B2001"
    c.set(local(2024, 5, 31, 10, 7))
    _rating(d, 3, _finish_and_rate(d, 3, "not_rated"), "not_rated", c())
    # ---- Saturday: nothing. Sunday night, then after midnight (same service day)
    c.set(local(2024, 6, 2, 23, 50))
    d.ticket("TP")
    c.set(local(2024, 6, 3, 0, 10))
    d.ticket("TP")
    # ---- Monday 3 June: the late rating, then a normal morning
    c.set(local(2024, 6, 3, 8, 0))
    _rating(d, 3, late[0], "unsatisfied", late[1], reasons=["long_wait", "attitude"])
    c.set(local(2024, 6, 3, 9, 0))
    d.ticket("TP")
    c.set(local(2024, 6, 3, 9, 4))
    assert d.called(1) == "A1001"
    c.set(local(2024, 6, 3, 9, 10))
    ticket = _finish_and_rate(d, 1, "satisfied")
    _rating(d, 1, ticket, "satisfied", c(), indicators={"processing_time": 2, "officer_attitude": 1})
    d.close()
    return path


def _written(hall_db: Path, folder: Path, period: reports.Period, formats=reports.FORMATS) -> dict[str, Path]:
    report = reports.build(reports.load_sqlite(hall_db, period, "test"), period, HALL, reports.Targets(75.0, 25.0))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns "Glyph … missing from font": a tofu box
        paths = reports.write_all(report, folder, formats)
    return {p.name.split(period.ident)[-1] or p.suffix: p for p in paths}


def _csv(path: Path) -> dict[tuple[str, str], dict[str, str]]:
    with open(path, encoding="utf-8") as fh:
        return {(r["grouping"], r["key"]): r for r in csv.DictReader(fh)}


@pytest.fixture(scope="module")
def week22(hall_db, tmp_path_factory):
    return _written(hall_db, tmp_path_factory.mktemp("out"), reports.period_of("week", date(2024, 5, 29), TZ))


def test_week_figures_read_back_from_the_csv(week22):
    rows = _csv(week22["-figures.csv"])
    hall = rows[("hall", "hall")]
    expected = dict(issued="8", called="6", served="4", no_shows="1", cancelled="1", transferred="1",
                    not_served="2", wait_median_min="12.0", wait_p90_min="31.0", wait_max_min="31.0",
                    service_median_min="9.5", service_p90_min="14.0", service_max_min="14.0", very_satisfied="1",
                    satisfied="1", unsatisfied="1", not_rated="1", satisfied_pct="66.7",
                    below_satisfaction_target="1", above_wait_target="1")
    assert {k: hall[k] for k in expected} == expected
    # by area: issued where issued, served where served (A1002 ended in DD), waits in the issuing queue
    tp, dd = rows[("area", "TP")], rows[("area", "DD")]
    assert (tp["issued"], tp["served"], tp["no_shows"], tp["cancelled"], tp["transferred"], tp["not_served"],
            tp["wait_median_min"]) == ("6", "1", "1", "1", "1", "2", "12.0")
    assert (dd["issued"], dd["served"], dd["wait_median_min"], dd["satisfied_pct"]) == ("2", "3", "18.0", "50.0")
    # by counter: the transfer is counter 2's, the first call of A1002 (and its wait) too
    c1, c2, c3 = rows[("counter", "1")], rows[("counter", "2")], rows[("counter", "3")]
    assert (c1["called"], c1["served"], c1["no_shows"], c1["wait_median_min"], c1["satisfied_pct"],
            c1["below_satisfaction_target"]) == ("2", "1", "1", "15.0", "100.0", "0")
    assert (c2["called"], c2["served"], c2["transferred"], c2["wait_median_min"]) == ("1", "0", "1", "12.0")
    assert (c3["called"], c3["served"], c3["service_median_min"], c3["satisfied_pct"],
            c3["below_satisfaction_target"]) == ("3", "3", "9.0", "50.0", "1")
    # by officer, with the full name from the hall file
    hoa = rows[("officer", "hoa")]
    assert (hoa["name"], hoa["served"], hoa["unsatisfied"], hoa["not_rated"]) == ("Lê Thị Hoa", "3", "1", "1")
    assert rows[("officer", "minh")]["transferred"] == "1"


def test_the_late_rating_counts_in_the_week_it_was_given(hall_db, week22, tmp_path):
    with open(week22["-reasons.csv"], encoding="utf-8") as fh:
        reasons = {(r["grouping"], r["key"], r["reason"]): r["count"] for r in csv.DictReader(fh)}
    assert reasons[("hall", "hall", "long_wait")] == "1" and reasons[("hall", "hall", "attitude")] == "1"
    assert reasons[("counter", "3", "attitude")] == "1"
    week23 = _written(hall_db, tmp_path, reports.period_of("week", date(2024, 6, 3), TZ), ("csv",))
    hall = _csv(week23["-figures.csv"])[("hall", "hall")]
    # Monday 00:10 is week 23 (though the service day, and UTC, are still Sunday)
    assert (hall["issued"], hall["served"], hall["not_served"], hall["unsatisfied"], hall["satisfied"],
            hall["satisfied_pct"], hall["below_satisfaction_target"]) == ("2", "1", "1", "0", "1", "100.0", "0")
    assert (hall["previous_served"], hall["previous_satisfied_pct"]) == ("4", "66.7")


def test_days_and_hours_in_the_hall_time_zone(week22):
    with open(week22["-days.csv"], encoding="utf-8") as fh:
        days = {r["day"]: r for r in csv.DictReader(fh)}
    assert list(days) == [f"2024-05-{d}" for d in range(27, 32)] + ["2024-06-01", "2024-06-02"]
    thu, sat, sun = days["2024-05-30"], days["2024-06-01"], days["2024-06-02"]
    assert (thu["issued"], thu["served"], thu["no_shows"], thu["rated"], thu["satisfied_pct"]) == \
        ("6", "3", "1", "3", "66.7")
    assert (sat["issued"], sat["served"], sat["rated"], sat["satisfied_pct"], sat["wait_median_min"]) == \
        ("0", "0", "0", "", "")
    assert sun["issued"] == "1"
    with open(week22["-hours.csv"], encoding="utf-8") as fh:
        hours = {int(r["hour"]): r for r in csv.DictReader(fh)}
    assert {h: int(r["issued"]) for h, r in hours.items() if int(r["issued"])} == {8: 4, 9: 2, 10: 1, 23: 1}
    assert hours[8]["wait_median_min"] == "16.0"  # 10, 12, 20, 31 minutes


def test_the_month_ends_inside_the_week(hall_db, tmp_path):
    may = _csv(_written(hall_db, tmp_path, reports.period_of("month", date(2024, 5, 1), TZ), ("csv",))["-figures.csv"])
    june = _csv(_written(hall_db, tmp_path, reports.period_of("month", date(2024, 6, 1), TZ), ("csv",))["-figures.csv"])
    assert (may[("hall", "hall")]["issued"], may[("hall", "hall")]["not_served"]) == ("7", "1")
    assert may[("hall", "hall")]["unsatisfied"] == "1"  # given in May, though received in June
    assert (june[("hall", "hall")]["issued"], june[("hall", "hall")]["unsatisfied"]) == ("3", "0")


def test_xlsx_holds_numbers_under_vietnamese_headings(week22):
    wb = load_workbook(week22[".xlsx"])
    assert wb.sheetnames[:4] == ["Tổng hợp", "Theo lĩnh vực", "Theo quầy", "Theo cán bộ"]
    assert {"Theo giờ", "Theo ngày", "Lý do chưa hài lòng"} <= set(wb.sheetnames)
    summary = wb["Tổng hợp"]
    assert summary["A1"].value == HALL.name
    assert "Tuần 22/2024 (từ 27/05/2024 đến 02/06/2024)" in summary["A3"].value
    figures = {row[0].value: row for row in summary.iter_rows(min_row=6) if row[0].value}
    assert figures["Số phiếu cấp"][1].value == 8 and figures["Đã phục vụ"][1].value == 4
    rate = figures["Tỷ lệ hài lòng (%)"]
    assert rate[1].value == 66.7 and isinstance(rate[1].value, float)
    assert rate[1].fill.fgColor.rgb.endswith("FFC7CE")  # below target: marked
    assert "Dưới chỉ tiêu" in rate[4].value
    counters = wb["Theo quầy"]
    head = [c.value for c in counters[5]]
    lines = {row[0].value: [c.value for c in row] for row in counters.iter_rows(min_row=6)}
    assert lines["Quầy 3"][head.index("Đã phục vụ")] == 3
    assert lines["Quầy 3"][head.index("Tỷ lệ hài lòng (%)")] == 50.0
    assert lines["Toàn Trung tâm"][head.index("Đã phục vụ")] == 4
    officers = {row[0].value: [c.value for c in row] for row in wb["Theo cán bộ"].iter_rows(min_row=6)}
    assert officers["Nguyễn Thị Lan"][head.index("Vắng mặt khi gọi")] == 1
    reasons = {row[0].value: row[1].value for row in wb["Lý do chưa hài lòng"].iter_rows(min_row=6)}
    assert reasons == {"Thời gian chờ đợi lâu": 1, "Thái độ phục vụ chưa tốt": 1}


def test_a_day_with_nothing_says_so(hall_db, tmp_path):
    period = reports.period_of("day", date(2024, 6, 1), TZ)
    report = reports.build(reports.load_sqlite(hall_db, period), period, HALL)
    assert report.empty
    assert "Không có hoạt động nào" in reports.summary_text(report)
    files = _written(hall_db, tmp_path, period, ("xlsx", "csv"))
    hall = _csv(files["-figures.csv"])[("hall", "hall")]
    assert (hall["issued"], hall["satisfied_pct"], hall["wait_median_min"]) == ("0", "", "")
    assert "Không có hoạt động" in load_workbook(files[".xlsx"])["Tổng hợp"]["A4"].value


def test_pdf_has_two_pages_and_vietnamese_text(week22, tmp_path):
    pdf = week22[".pdf"]
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(pdf), str(tmp_path / "page")], check=True, timeout=60)
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) == 2
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout
    names = [line.split()[0] for line in fonts.splitlines()[2:]]
    assert names and all("DejaVuSans" in n for n in names), fonts  # one font that has every Vietnamese letter
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    for words in ("BÁO CÁO TÌNH HÌNH TIẾP NHẬN, PHỤC VỤ VÀ MỨC ĐỘ HÀI LÒNG", "Tỷ lệ hài lòng theo quầy",
                  "Thời gian chờ theo giờ lấy số", "Lý do chưa hài lòng", "Tư pháp - hộ tịch", "Quầy 3", "Thời gian chờ đợi lâu"):
        assert words in text
    from PIL import Image

    for page in pages:  # something is drawn on both pages
        lo, hi = Image.open(page).convert("L").getextrema()
        assert lo < 100 and hi > 200


def test_periods_in_the_hall_time_zone():
    week = reports.period_of("week", date(2024, 6, 2), TZ)
    assert (week.start.isoformat(), week.end.isoformat()) == ("2024-05-26T17:00:00+00:00", "2024-06-02T17:00:00+00:00")
    assert week.ident == "2024-W22"
    q = reports.period_of("quarter", date(2024, 11, 5), TZ)
    assert (q.ident, q.label, q.previous().ident) == ("2024-Q4", "Quý IV/2024", "2024-Q3")
    h = reports.period_of("half", date(2024, 3, 1), TZ)
    assert (h.ident, h.previous().ident, h.label) == ("2024-H1", "2023-H2", "6 tháng đầu năm 2024")
    # the reporting week ends at the cut-off: Thursday 14:00 by default
    rw = reports.reporting_week_at(local(2024, 5, 30, 14, 30), TZ)
    assert (rw.local_start.isoformat(), rw.local_end.isoformat()) == \
        ("2024-05-30T14:00:00+07:00", "2024-06-06T14:00:00+07:00")
    # a period cut short is compared with the same stretch of the one before
    so_far = reports.current("month", local(2024, 6, 3, 12), TZ)
    prev = so_far.previous()
    assert so_far.to_date and (prev.local_start.isoformat(), prev.local_end.isoformat()) == \
        ("2024-05-01T00:00:00+07:00", "2024-05-03T12:00:00+07:00")


def test_a_pad_clock_cannot_move_a_rating_out_of_its_service():
    served = local(2024, 5, 30, 8, 30)
    received = local(2024, 6, 3, 8, 0)
    ahead = reports.RatingRecord(rated_at=local(2025, 1, 1), received_at=received, level="satisfied", counter=1,
                                 served_at=served)
    behind = reports.RatingRecord(rated_at=local(2020, 1, 1), received_at=received, level="satisfied", counter=1,
                                  served_at=served)
    assert ahead.given_at == received and behind.given_at == served


def test_motcua_report_prints_vietnamese_and_writes_files(hall_db, tmp_path, capsys):
    from motcua.cli import main

    toml = tmp_path / "dispatcher.toml"
    toml.write_text(f'''site = "test"
database = "{hall_db}"
[hall]
name = "Bộ phận một cửa thử nghiệm"
reset_time = "04:00:00"
[[hall.areas]]
code = "TP"
name = "Tư pháp - hộ tịch"
prefix = "A"
first_number = 1001
last_number = 1999
[[hall.areas]]
code = "DD"
name = "Đất đai"
prefix = "B"
first_number = 2001
last_number = 2999
[[hall.counters]]
number = 1
areas = ["TP"]
[[hall.counters]]
number = 2
areas = ["TP", "DD"]
[[hall.counters]]
number = 3
areas = ["DD"]
[[hall.officers]]
id = "hoa"
name = "Lê Thị Hoa"
[reports]
folder = "{tmp_path / 'reports'}"
wait_target_min = 25
''', encoding="utf-8")
    assert main(["report", "week", "--last", "--config", str(toml), "--at", "2024-06-03T05:00:00+00:00"]) == 0
    out = capsys.readouterr().out
    assert "Tuần 22/2024" in out and "Tỷ lệ hài lòng:         66,7%" in out and "Dưới chỉ tiêu hài lòng" in out
    assert "Thời gian chờ đợi lâu (1)" in out
    assert (tmp_path / "reports" / "2024-W22" / "bao-cao-tuan-2024-W22.xlsx").is_file()
    # the timer's job: every scheduled report whose period has ended, once
    assert main(["report", "due", "--config", str(toml), "--at", "2024-07-01T01:00:00+00:00", "--formats", "xlsx"]) == 0
    first = capsys.readouterr().out
    assert "Tháng 06/2024" in first and "Quý II/2024" in first and "6 tháng đầu năm 2024" in first
    assert (tmp_path / "reports" / "2024-06" / "bao-cao-thang-2024-06.xlsx").is_file()
    assert main(["report", "due", "--config", str(toml), "--at", "2024-07-01T02:00:00+00:00"]) == 0
    assert "Không có báo cáo nào đến hạn" in capsys.readouterr().out
    # bad settings: exit 78, naming the key
    bad = tmp_path / "bad.toml"
    bad.write_text(toml.read_text(encoding="utf-8").replace("wait_target_min", "wait_targt_min"), encoding="utf-8")
    assert main(["report", "week", "--config", str(bad)]) == 78
    assert "reports.wait_targt_min" in capsys.readouterr().err


def test_the_timer_and_its_service_verify(tmp_path):
    import re
    import shutil

    from motcua.localbroker import REPO

    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze missing: make install provides it"
    for name in ("motcua-report.service", "motcua-report.timer"):
        text = (REPO / "systemd" / name).read_text()
        (tmp_path / name).write_text(re.sub(r"^ExecStart=\S+", "ExecStart=/bin/true", text, flags=re.M))
    r = subprocess.run([analyze, "verify", str(tmp_path / "motcua-report.timer"), str(tmp_path / "motcua-report.service")],
                       capture_output=True, text=True, timeout=60)
    # systemd-analyze verify exits 0 even on parse errors: any output is a failure
    assert r.stdout.strip() == "" and r.stderr.strip() == "", r.stdout + r.stderr
    timer = (REPO / "systemd" / "motcua-report.timer").read_text()
    assert "Persistent=true" in timer and re.search(r"^OnCalendar=", timer, flags=re.M)


def _lines(report: reports.Report) -> list:
    from reports.labels import COLUMNS

    return [(g, f.key, [get(f) for _, _, get in COLUMNS], f.reasons, f.indicators)
            for g, fs in [("hall", [report.total])] + list(report.groups.items()) for f in fs]


def test_plain_records_give_the_same_report_as_the_database_columns(hall_db):
    """What the province collector and the web console feed in (records) counts like the SQLite loader."""
    from reports.sqlite import load_records

    period = reports.period_of("month", date(2024, 5, 1), TZ)
    from_db = reports.build(reports.load_sqlite(hall_db, period), period, HALL)
    records = load_records(hall_db, period.previous().start, period.end)
    assert _lines(reports.build(records, period, HALL)) == _lines(from_db)
    # the nine indicators, where the hall uses them
    june = reports.period_of("week", date(2024, 6, 3), TZ)
    report = reports.build(reports.load_sqlite(hall_db, june), june, HALL)
    assert report.total.indicators == {"officer_attitude": 1.0, "processing_time": 2.0}
    assert report.total.indicator_forms == 1


def test_several_halls_sum_up(hall_db):
    """A report over two halls' records counts what each hall's own report counts, added."""
    from dataclasses import replace

    from reports.sqlite import load_records

    period = reports.period_of("week", date(2024, 5, 29), TZ)
    one = load_records(hall_db, period.previous().start, period.end)
    both = reports.Records()
    for site in ("xa-a", "xa-b"):
        both.extend(reports.Records([replace(t, site=site) for t in one.tickets],
                                    [replace(r, site=site) for r in one.ratings],
                                    [replace(x, site=site) for x in one.transfers]))
    single = reports.build(one, period, HALL).total
    double = reports.build(both, period, reports.HallInfo(name="Tỉnh")).total
    for name in ("issued", "called", "served", "no_shows", "cancelled", "transferred", "not_served",
                 "very_satisfied", "satisfied", "unsatisfied", "not_rated"):
        assert getattr(double, name) == 2 * getattr(single, name), name
    assert double.satisfied_pct == single.satisfied_pct and double.wait.median == single.wait.median
    counters = reports.build(both, period, reports.HallInfo(name="Tỉnh")).groups["counter"]
    assert {f.key for f in counters} >= {"xa-a/3", "xa-b/3"}  # counters stay per hall
