"""The report as a few lines of Vietnamese for a terminal: what ``motcua report`` prints."""

from __future__ import annotations

from .core import Figures, Report
from .labels import NO_ACTIVITY, fmt, marks, reason_label, target_line


def _change(now, before) -> str:
    if now is None or before is None:
        return ""
    diff = now - before
    if isinstance(diff, float):
        diff = round(diff, 1)
    return f" (kỳ trước {fmt(before)}, {'+' if diff > 0 else ''}{fmt(diff)})"


def _line(f: Figures) -> str:
    mark = f"  ◄ {marks(f)}" if marks(f) else ""
    return (f"  {f.name[:34]:<34} phục vụ {f.served:>5}  chờ TV {fmt(f.wait.median):>6} ph  "
            f"hài lòng {fmt(f.satisfied_pct, '%'):>7} ({f.rated} lượt){mark}")


def summary_text(report: Report) -> str:
    t, p = report.total, report.previous_total
    out = [report.hall.name, f"Báo cáo: {report.period.label}", target_line(report), ""]
    if report.empty:
        out.append(NO_ACTIVITY)
        return "\n".join(out)
    out += [
        f"Số phiếu đã cấp:        {fmt(t.issued)}{_change(t.issued, p.issued)}",
        f"Đã phục vụ:             {fmt(t.served)}{_change(t.served, p.served)}",
        f"Vắng mặt khi gọi:       {fmt(t.no_shows)}    Phiếu hủy: {fmt(t.cancelled)}    "
        f"Chuyển: {fmt(t.transferred)}    Chưa phục vụ trong ngày: {fmt(t.not_served)}",
        f"Thời gian chờ (phút):   trung vị {fmt(t.wait.median)}, 90% trong vòng {fmt(t.wait.p90)}, "
        f"lâu nhất {fmt(t.wait.max)}{_change(t.wait.median, p.wait.median)}",
        f"Thời gian phục vụ:      trung vị {fmt(t.service.median)} phút",
        f"Đánh giá:               rất hài lòng {t.very_satisfied}, hài lòng {t.satisfied}, "
        f"không hài lòng {t.unsatisfied}, không đánh giá {t.not_rated}",
        f"Tỷ lệ hài lòng:         {fmt(t.satisfied_pct, '%')}{_change(t.satisfied_pct, p.satisfied_pct)}"
        + (f"  ◄ {marks(t)}" if marks(t) else ""),
    ]
    if t.reasons:
        out.append("Lý do chưa hài lòng:    " + "; ".join(f"{reason_label(report, c)} ({n})" for c, n in t.reasons.items()))
    busy = sorted((h for h in report.hours if h.issued), key=lambda h: -h.issued)[:3]
    if busy:
        out.append("Giờ cao điểm:           " + ", ".join(f"{h.hour}h–{h.hour + 1}h ({h.issued} phiếu)"
                                                        for h in sorted(busy, key=lambda h: h.hour)))
    for grouping, heading in (("area", "Theo lĩnh vực"), ("counter", "Theo quầy")):
        lines = [f for f in report.groups[grouping] if f.active]
        if lines:
            out += ["", heading] + [_line(f) for f in lines]
    return "\n".join(out)
