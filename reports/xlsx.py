"""The report as an Excel workbook: what a clerk forwards. One sheet per grouping, Vietnamese
headings, numbers as numbers, the hall and the period on top, figures below target in red."""

from __future__ import annotations

from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from .core import Figures, Report
from .labels import (
    COLUMNS,
    GROUPING_HEADS,
    GROUPING_TITLES,
    NO_ACTIVITY,
    PREVIOUS_COLUMNS,
    indicator_label,
    marks,
    reason_label,
    target_line,
    title,
)

BOLD = Font(bold=True)
TITLE = Font(bold=True, size=13)
RED = PatternFill("solid", fgColor="FFC7CE")
RED_TEXT = Font(color="9C0006", bold=True)
WRAP = Alignment(wrap_text=True, vertical="top")
HEADER_ROW = 5  # rows 1-4: hall, title, period, targets


def _top(ws, report: Report) -> None:
    ws["A1"] = report.hall.name
    ws["A1"].font = BOLD
    ws["A2"] = title(report)
    ws["A2"].font = TITLE
    ws["A3"] = (f"Kỳ báo cáo: {report.period.label}. So sánh với kỳ trước: {report.previous_period.label}. "
                f"Lập lúc {report.generated_at.astimezone(report.period.tz):%H:%M %d/%m/%Y}.")
    ws["A4"] = target_line(report) + (f". {NO_ACTIVITY}" if report.empty else "")


def _header(ws, row: int, names: list[str]) -> None:
    for col, name in enumerate(names, 1):
        cell = ws.cell(row=row, column=col, value=name)
        cell.font = BOLD
        cell.alignment = WRAP
    ws.freeze_panes = ws.cell(row=row + 1, column=2)


def _widths(ws, first: int, others: int, count: int) -> None:
    ws.column_dimensions["A"].width = first
    for col in range(2, count + 1):
        ws.column_dimensions[get_column_letter(col)].width = others


def _line(ws, row: int, label: str, f: Figures) -> None:
    ws.cell(row=row, column=1, value=label)
    columns = COLUMNS + PREVIOUS_COLUMNS
    for col, (key, _, get) in enumerate(columns, 2):
        cell = ws.cell(row=row, column=col, value=get(f))
        if key in ("wait_median_min", "wait_p90_min", "wait_max_min", "service_median_min", "service_p90_min",
                   "service_max_min", "satisfied_pct", "previous_satisfied_pct", "previous_wait_median_min"):
            cell.number_format = "0.0"
        if (key == "satisfied_pct" and f.below_satisfaction_target) or (key == "wait_p90_min" and f.above_wait_target):
            cell.fill, cell.font = RED, RED_TEXT
    note = ws.cell(row=row, column=len(columns) + 2, value=marks(f) or None)
    if note.value:
        note.font = RED_TEXT


def _grouping_sheet(wb: Workbook, report: Report, grouping: str) -> None:
    ws = wb.create_sheet(GROUPING_TITLES[grouping])
    _top(ws, report)
    names = [GROUPING_HEADS[grouping]] + [h for _, h, _ in COLUMNS + PREVIOUS_COLUMNS] + ["Ghi chú"]
    _header(ws, HEADER_ROW, names)
    row = HEADER_ROW + 1
    for f in report.groups[grouping]:
        _line(ws, row, f.name, f)
        row += 1
    _line(ws, row, "Toàn Trung tâm", report.total)
    for col in range(1, len(names) + 1):
        ws.cell(row=row, column=col).font = BOLD
    _widths(ws, 34, 12, len(names))


def _summary_sheet(wb: Workbook, report: Report) -> None:
    ws = wb.active
    ws.title = "Tổng hợp"
    _top(ws, report)
    _header(ws, HEADER_ROW, ["Chỉ số", "Kỳ này", "Kỳ trước", "Tăng/giảm", "Ghi chú"])
    t, p = report.total, report.total.previous
    row = HEADER_ROW + 1
    for key, heading, get in COLUMNS:
        now, before = get(t), get(p) if p else None
        ws.cell(row=row, column=1, value=heading)
        ws.cell(row=row, column=2, value=now)
        ws.cell(row=row, column=3, value=before)
        if now is not None and before is not None:
            change = ws.cell(row=row, column=4, value=round(now - before, 1) if isinstance(now, float) else now - before)
            if isinstance(now, float):
                change.number_format = "0.0"
        if isinstance(now, float):
            ws.cell(row=row, column=2).number_format = ws.cell(row=row, column=3).number_format = "0.0"
        flagged = ((key == "satisfied_pct" and t.below_satisfaction_target)
                   or (key == "wait_p90_min" and t.above_wait_target))
        if flagged:
            ws.cell(row=row, column=2).fill, ws.cell(row=row, column=2).font = RED, RED_TEXT
            ws.cell(row=row, column=5, value=marks(t)).font = RED_TEXT
        row += 1
    _widths(ws, 36, 14, 5)
    ws.column_dimensions["E"].width = 40


def _hours_sheet(wb: Workbook, report: Report) -> None:
    ws = wb.create_sheet("Theo giờ")
    _top(ws, report)
    _header(ws, HEADER_ROW, ["Giờ", "Số phiếu cấp", "Đã phục vụ", "Chờ - trung vị (phút)", "Chờ - 90% trong vòng (phút)"])
    for i, h in enumerate(report.hours):
        r = HEADER_ROW + 1 + i
        ws.cell(row=r, column=1, value=f"{h.hour:02d}:00–{h.hour + 1:02d}:00")
        for col, value in enumerate((h.issued, h.served, h.wait.median, h.wait.p90), 2):
            ws.cell(row=r, column=col, value=value)
    _widths(ws, 16, 16, 5)


def _days_sheet(wb: Workbook, report: Report) -> None:
    ws = wb.create_sheet("Theo ngày")
    _top(ws, report)
    _header(ws, HEADER_ROW, ["Ngày", "Số phiếu cấp", "Đã phục vụ", "Vắng mặt khi gọi", "Lượt đánh giá",
                             "Tỷ lệ hài lòng (%)", "Chờ - trung vị (phút)"])
    for i, d in enumerate(report.days):
        r = HEADER_ROW + 1 + i
        ws.cell(row=r, column=1, value=d.day).number_format = "DD/MM/YYYY"
        for col, value in enumerate((d.issued, d.served, d.no_shows, d.rated, d.satisfied_pct, d.wait.median), 2):
            ws.cell(row=r, column=col, value=value)
    _widths(ws, 14, 14, 7)


def _reasons_sheet(wb: Workbook, report: Report) -> None:
    ws = wb.create_sheet("Lý do chưa hài lòng")
    _top(ws, report)
    codes = list(report.total.reasons)
    _header(ws, HEADER_ROW, ["Lý do", "Toàn Trung tâm"] + [f.name for f in report.groups["counter"]])
    for i, code in enumerate(codes):
        r = HEADER_ROW + 1 + i
        ws.cell(row=r, column=1, value=reason_label(report, code))
        ws.cell(row=r, column=2, value=report.total.reasons[code])
        for col, f in enumerate(report.groups["counter"], 3):
            ws.cell(row=r, column=col, value=f.reasons.get(code, 0))
    if not codes:
        ws.cell(row=HEADER_ROW + 1, column=1, value="Không có ý kiến chưa hài lòng nào trong kỳ.")
    _widths(ws, 40, 12, 2 + len(report.groups["counter"]))


def _indicators_sheet(wb: Workbook, report: Report) -> None:
    if not report.total.indicator_forms:
        return  # the hall does not use the nine indicators
    ws = wb.create_sheet("Chín tiêu chí")
    _top(ws, report)
    _header(ws, HEADER_ROW, ["Tiêu chí (điểm 0–2)", "Toàn Trung tâm"] + [f.name for f in report.groups["counter"]])
    for i, code in enumerate(report.total.indicators):
        r = HEADER_ROW + 1 + i
        ws.cell(row=r, column=1, value=indicator_label(report, code))
        ws.cell(row=r, column=2, value=report.total.indicators[code]).number_format = "0.00"
        for col, f in enumerate(report.groups["counter"], 3):
            ws.cell(row=r, column=col, value=f.indicators.get(code)).number_format = "0.00"
    r = HEADER_ROW + 2 + len(report.total.indicators)
    ws.cell(row=r, column=1, value="Số phiếu chấm điểm")
    ws.cell(row=r, column=2, value=report.total.indicator_forms)
    _widths(ws, 44, 12, 2 + len(report.groups["counter"]))


def write_xlsx(report: Report, path: Path) -> Path:
    wb = Workbook()
    _summary_sheet(wb, report)
    for grouping in ("area", "counter", "officer"):
        _grouping_sheet(wb, report, grouping)
    _hours_sheet(wb, report)
    _days_sheet(wb, report)
    _reasons_sheet(wb, report)
    _indicators_sheet(wb, report)
    for ws in wb.worksheets:
        ws.page_setup.orientation = "landscape"
        ws.page_setup.paperSize = ws.PAPERSIZE_A4
    wb.save(path)
    return path
