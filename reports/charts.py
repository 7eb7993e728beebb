"""Charts and the leadership's PDF, drawn with matplotlib's object API (no pyplot, no global
state: safe inside a web server) in DejaVu Sans, which covers Vietnamese.

The text is drawn in "DejaVu Sans VN" (``fonts/``, made by ``scripts/report_fonts.py``): DejaVu
Sans cut to the characters of Vietnamese text, so that embedding it in the PDF (matplotlib
subsets the font file for every PDF) takes a fraction of the time; the same glyphs, so the same
pictures. Any other character falls back to the whole DejaVu Sans.

The PDF is two A4 pages: the figures against the previous period and the targets with the
satisfaction chart, then the waiting times, the busy hours, the days and the reasons.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from matplotlib import font_manager, rc_context
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure

from .core import Report
from .labels import NO_ACTIVITY, fmt, reason_label, target_line, title

A4 = (8.27, 11.69)
GOOD, BAD, GREY, BLUE = "#2e7d32", "#c62828", "#9e9e9e", "#1565c0"
FONTS = Path(__file__).resolve().parent / "fonts"
for _font in ("DejaVuSansVN.ttf", "DejaVuSansVN-Bold.ttf"):
    font_manager.fontManager.addfont(FONTS / _font)
# Type 42: the PDF's text stays text (searchable, copied with its diacritics)
STYLE: dict[Any, Any] = {"font.family": ["DejaVu Sans VN", "DejaVu Sans"], "pdf.fonttype": 42, "font.size": 9, "axes.titlesize": 11,
         "axes.titleweight": "bold", "axes.spines.top": False, "axes.spines.right": False}


@contextmanager
def _style() -> Iterator[None]:
    with rc_context(STYLE):
        yield


def _empty(ax, text: str = "Không có số liệu") -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color=GREY, fontsize=11)
    ax.set_xticks([])
    ax.set_yticks([])


def draw_satisfaction(ax, report: Report) -> None:
    lines = [f for f in report.groups["counter"] if f.rated]
    target = report.targets.satisfaction_pct
    ax.set_title("Tỷ lệ hài lòng theo quầy so với chỉ tiêu")
    if not lines:
        _empty(ax, "Chưa có lượt đánh giá nào trong kỳ")
        return
    names = [f.name for f in lines]
    values = [f.satisfied_pct for f in lines]
    bars = ax.bar(names, values, color=[BAD if f.below_satisfaction_target else GOOD for f in lines])
    ax.axhline(target, color=BAD, linestyle="--", linewidth=1.2)
    ax.text(-0.5, target + 1.5, f"Chỉ tiêu {target:g}%", color=BAD, ha="left", fontsize=8,
            bbox={"facecolor": "white", "edgecolor": "none", "pad": 1})
    for bar, f in zip(bars, lines):
        ax.text(bar.get_x() + bar.get_width() / 2, bar.get_height() + 1, f"{fmt(f.satisfied_pct)}%\n({f.rated} lượt)",
                ha="center", va="bottom", fontsize=7)
    ax.set_ylim(0, 118)
    ax.set_ylabel("% hài lòng (rất hài lòng + hài lòng)")
    ax.tick_params(axis="x", labelrotation=30 if len(lines) > 6 else 0, labelsize=8)


def draw_wait_by_hour(ax, report: Report) -> None:
    hours = [h for h in report.hours if h.wait.count]
    ax.set_title("Thời gian chờ theo giờ lấy số")
    if not hours:
        _empty(ax)
        return
    x = [h.hour for h in hours]
    ax.bar(x, [h.wait.median for h in hours], color=BLUE, label="Trung vị")
    ax.plot(x, [h.wait.p90 for h in hours], "o-", color="#ef6c00", label="90% công dân chờ không quá")
    if report.targets.wait_p90_min is not None:
        ax.axhline(report.targets.wait_p90_min, color=BAD, linestyle="--", linewidth=1.2,
                   label=f"Chỉ tiêu {report.targets.wait_p90_min:g} phút")
    ax.set_xticks(x, [f"{h}h" for h in x])
    ax.set_ylabel("phút")
    ax.legend(fontsize=7, frameon=False)


def draw_busy_hours(ax, report: Report) -> None:
    hours = [h for h in report.hours if h.issued or h.served]
    ax.set_title("Số phiếu theo giờ trong ngày (giờ cao điểm)")
    if not hours:
        _empty(ax)
        return
    x = [h.hour for h in hours]
    ax.bar([i - 0.2 for i in x], [h.issued for h in hours], width=0.4, color=BLUE, label="Phiếu cấp")
    ax.bar([i + 0.2 for i in x], [h.served for h in hours], width=0.4, color=GOOD, label="Đã phục vụ")
    ax.set_xticks(x, [f"{h}h" for h in x])
    ax.legend(fontsize=7, frameon=False)


def draw_days(ax, report: Report) -> None:
    days = report.days
    if not any(d.issued or d.served for d in days):
        ax.set_title("Số phiếu theo ngày")
        _empty(ax)
        return
    if len(days) > 62:  # a quarter or more: one bar a month reads better than a hundred
        months: dict[tuple[int, int], list[int]] = {}
        for d in days:
            m = months.setdefault((d.day.year, d.day.month), [0, 0])
            m[0] += d.issued
            m[1] += d.served
        ax.set_title("Số phiếu theo tháng")
        labels = [f"{mo:02d}/{y}" for y, mo in months]
        issued, served = [v[0] for v in months.values()], [v[1] for v in months.values()]
    else:
        ax.set_title("Số phiếu theo ngày")
        labels = [f"{d.day:%d/%m}" for d in days]
        issued, served = [d.issued for d in days], [d.served for d in days]
    x = list(range(len(labels)))
    ax.bar([i - 0.2 for i in x], issued, width=0.4, color=BLUE, label="Phiếu cấp")
    ax.bar([i + 0.2 for i in x], served, width=0.4, color=GOOD, label="Đã phục vụ")
    step = max(1, len(labels) // 12)
    ax.set_xticks(x[::step], labels[::step], fontsize=7)
    ax.legend(fontsize=7, frameon=False)


def draw_reasons(ax, report: Report) -> None:
    reasons = report.total.reasons
    ax.set_title("Lý do chưa hài lòng")
    if not reasons:
        _empty(ax, "Không có ý kiến chưa hài lòng")
        return
    codes = list(reasons)[::-1]
    ax.barh([reason_label(report, c) for c in codes], [reasons[c] for c in codes], color=BAD)
    ax.tick_params(axis="y", labelsize=8)
    ax.set_xlabel("lượt chọn")


CHARTS = {
    "hai-long-theo-quay": (draw_satisfaction, (8, 4.5)),
    "thoi-gian-cho-theo-gio": (draw_wait_by_hour, (8, 4.5)),
    "so-phieu-theo-ngay": (draw_days, (8, 4.5)),
    "so-phieu-theo-gio": (draw_busy_hours, (8, 4.5)),
}


def write_charts(report: Report, folder: Path, stem: str) -> list[Path]:
    paths = []
    with _style():
        for name, (draw, size) in CHARTS.items():
            fig = Figure(figsize=size, dpi=100)
            FigureCanvasAgg(fig)
            draw(fig.add_axes((0.09, 0.16, 0.89, 0.76)), report)  # fixed margins: tight_layout draws twice
            path = folder / f"{stem}-{name}.png"
            fig.savefig(path)
            paths.append(path)
    return paths


def _key_table(ax, report: Report) -> None:
    t, p = report.total, report.previous_total
    rows = [
        ("Số phiếu đã cấp", t.issued, p.issued), ("Đã phục vụ", t.served, p.served),
        ("Vắng mặt khi gọi", t.no_shows, p.no_shows), ("Phiếu hủy", t.cancelled, p.cancelled),
        ("Chuyển quầy/lĩnh vực", t.transferred, p.transferred),
        ("Chưa được phục vụ trong ngày", t.not_served, p.not_served),
        ("Thời gian chờ - trung vị (phút)", t.wait.median, p.wait.median),
        ("Thời gian chờ - 90% trong vòng (phút)", t.wait.p90, p.wait.p90),
        ("Thời gian chờ - lâu nhất (phút)", t.wait.max, p.wait.max),
        ("Thời gian phục vụ - trung vị (phút)", t.service.median, p.service.median),
        ("Rất hài lòng / Hài lòng / Không hài lòng",
         f"{t.very_satisfied} / {t.satisfied} / {t.unsatisfied}", f"{p.very_satisfied} / {p.satisfied} / {p.unsatisfied}"),
        ("Không đánh giá", t.not_rated, p.not_rated),
        ("Tỷ lệ hài lòng (%)", t.satisfied_pct, p.satisfied_pct),
    ]
    cells = [[label, fmt(now) if not isinstance(now, str) else now, fmt(before) if not isinstance(before, str) else before]
             for label, now, before in rows]
    table = ax.table(cellText=cells, colLabels=["Chỉ số", "Kỳ này", "Kỳ trước"], colWidths=[0.56, 0.22, 0.22],
                     loc="upper center", cellLoc="left")
    table.auto_set_font_size(False)
    table.set_fontsize(8.5)
    table.scale(1, 1.35)
    for (r, c), cell in table.get_celld().items():
        if r == 0:
            cell.set_text_props(weight="bold")
            cell.set_facecolor("#e3f2fd")
        label = rows[r - 1][0] if r else ""
        if c == 1 and ((label.startswith("Tỷ lệ hài lòng") and t.below_satisfaction_target)
                       or (label.startswith("Thời gian chờ - 90%") and t.above_wait_target)):
            cell.set_facecolor("#ffcdd2")
            cell.set_text_props(color=BAD, weight="bold")
    ax.axis("off")


def _area_table(ax, report: Report) -> None:
    lines = [f for f in report.groups["area"] if f.active]
    ax.axis("off")
    ax.set_title("Theo lĩnh vực", loc="left")
    if not lines:
        return
    cells = [[f.name[:60], fmt(f.issued), fmt(f.served), fmt(f.no_shows), fmt(f.wait.median), fmt(f.wait.p90),
              fmt(f.satisfied_pct)] for f in lines]
    table = ax.table(cellText=cells, colLabels=["Lĩnh vực", "Phiếu cấp", "Đã phục vụ", "Vắng mặt", "Chờ TV (ph)",
                                                "Chờ 90% (ph)", "Hài lòng (%)"],
                     colWidths=[0.4, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1], loc="upper center", cellLoc="left")
    table.auto_set_font_size(False)
    table.set_fontsize(7.5)
    for (r, c), cell in table.get_celld().items():
        if r == 0:
            cell.set_text_props(weight="bold")
            cell.set_facecolor("#e3f2fd")
        elif (c == 6 and lines[r - 1].below_satisfaction_target) or (c == 5 and lines[r - 1].above_wait_target):
            cell.set_text_props(color=BAD, weight="bold")


def write_pdf(report: Report, path: Path) -> Path:
    with _style(), PdfPages(path, metadata={"Title": title(report), "Author": report.hall.name}) as pdf:
        # page 1: the figures, the targets, satisfaction
        fig = Figure(figsize=A4)
        fig.text(0.5, 0.965, report.hall.name.upper(), ha="center", fontsize=10, weight="bold")
        fig.text(0.5, 0.94, "BÁO CÁO TÌNH HÌNH TIẾP NHẬN, PHỤC VỤ VÀ MỨC ĐỘ HÀI LÒNG", ha="center", fontsize=12,
                 weight="bold")
        fig.text(0.5, 0.918, report.period.label, ha="center", fontsize=9.5)
        fig.text(0.5, 0.899, f"So sánh với kỳ trước: {report.previous_period.label}", ha="center", fontsize=8,
                 color="#555555")
        fig.text(0.5, 0.882, target_line(report), ha="center", fontsize=8, color=BAD)
        if report.empty:
            fig.text(0.5, 0.85, NO_ACTIVITY, ha="center", fontsize=11, weight="bold", color=BAD)
        _key_table(fig.add_axes((0.08, 0.52, 0.84, 0.34)), report)
        draw_satisfaction(fig.add_axes((0.1, 0.08, 0.84, 0.34)), report)
        fig.text(0.5, 0.02, f"Lập tự động lúc {report.generated_at.astimezone(report.period.tz):%H:%M %d/%m/%Y} — "
                            "trang 1/2", ha="center", fontsize=7, color=GREY)
        pdf.savefig(fig)
        # page 2: waiting, busy hours, days, areas, reasons
        fig = Figure(figsize=A4)
        draw_wait_by_hour(fig.add_axes((0.1, 0.80, 0.84, 0.15)), report)
        draw_busy_hours(fig.add_axes((0.1, 0.60, 0.84, 0.14)), report)
        draw_days(fig.add_axes((0.1, 0.40, 0.84, 0.14)), report)
        _area_table(fig.add_axes((0.05, 0.16, 0.9, 0.19)), report)
        draw_reasons(fig.add_axes((0.38, 0.045, 0.56, 0.1)), report)
        fig.text(0.5, 0.02, "trang 2/2", ha="center", fontsize=7, color=GREY)
        pdf.savefig(fig)
    return path
