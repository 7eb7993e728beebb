"""What the reports call things, in Vietnamese (people) and in English snake case (machines, CSV)."""

from __future__ import annotations

from collections.abc import Callable

from .core import Figures, Report

GROUPING_TITLES = {"area": "Theo lĩnh vực", "counter": "Theo quầy", "officer": "Theo cán bộ"}
GROUPING_HEADS = {"area": "Lĩnh vực", "counter": "Quầy", "officer": "Cán bộ"}
KIND_WORDS = {"day": "ngay", "week": "tuan", "reporting-week": "tuan", "month": "thang", "quarter": "quy",
              "half": "6-thang", "year": "nam", "custom": "ky"}

# (csv name, Vietnamese heading, how to read it from a Figures line)
Column = tuple[str, str, Callable[[Figures], "int | float | None"]]
COLUMNS: list[Column] = [
    ("issued", "Số phiếu cấp", lambda f: f.issued),
    ("called", "Lượt gọi", lambda f: f.called),
    ("served", "Đã phục vụ", lambda f: f.served),
    ("no_shows", "Vắng mặt khi gọi", lambda f: f.no_shows),
    ("cancelled", "Phiếu hủy", lambda f: f.cancelled),
    ("transferred", "Chuyển quầy/lĩnh vực", lambda f: f.transferred),
    ("not_served", "Chưa được phục vụ trong ngày", lambda f: f.not_served),
    ("wait_median_min", "Chờ - trung vị (phút)", lambda f: f.wait.median),
    ("wait_p90_min", "Chờ - 90% trong vòng (phút)", lambda f: f.wait.p90),
    ("wait_max_min", "Chờ - lâu nhất (phút)", lambda f: f.wait.max),
    ("service_median_min", "Phục vụ - trung vị (phút)", lambda f: f.service.median),
    ("service_p90_min", "Phục vụ - 90% trong vòng (phút)", lambda f: f.service.p90),
    ("service_max_min", "Phục vụ - lâu nhất (phút)", lambda f: f.service.max),
    ("very_satisfied", "Rất hài lòng", lambda f: f.very_satisfied),
    ("satisfied", "Hài lòng", lambda f: f.satisfied),
    ("unsatisfied", "Không hài lòng", lambda f: f.unsatisfied),
    ("not_rated", "Không đánh giá", lambda f: f.not_rated),
    ("satisfied_pct", "Tỷ lệ hài lòng (%)", lambda f: f.satisfied_pct),
]
PREVIOUS_COLUMNS: list[Column] = [
    ("previous_served", "Đã phục vụ - kỳ trước", lambda f: f.previous.served if f.previous else None),
    ("previous_wait_median_min", "Chờ - trung vị kỳ trước (phút)",
     lambda f: f.previous.wait.median if f.previous else None),
    ("previous_satisfied_pct", "Tỷ lệ hài lòng kỳ trước (%)",
     lambda f: f.previous.satisfied_pct if f.previous else None),
]
BELOW_SATISFACTION = "Dưới chỉ tiêu hài lòng"
ABOVE_WAIT = "Thời gian chờ vượt chỉ tiêu"
NO_ACTIVITY = "Không có hoạt động nào trong kỳ báo cáo."


def marks(f: Figures) -> str:
    """What is below target on this line, in words (empty when nothing is)."""
    return "; ".join(w for w, on in ((BELOW_SATISFACTION, f.below_satisfaction_target),
                                     (ABOVE_WAIT, f.above_wait_target)) if on)


def title(report: Report) -> str:
    return f"BÁO CÁO TÌNH HÌNH TIẾP NHẬN, PHỤC VỤ VÀ MỨC ĐỘ HÀI LÒNG — {report.period.label}"


def target_line(report: Report) -> str:
    t = report.targets
    text = f"Chỉ tiêu: tỷ lệ hài lòng từ {t.satisfaction_pct:g}% trở lên"
    if t.wait_p90_min is not None:
        text += f"; 90% công dân được gọi trong vòng {t.wait_p90_min:g} phút"
    return text


def period_stem(period) -> str:
    """The files' name: bao-cao-tuan-2026-W48, bao-cao-thang-2026-11, ..."""
    return f"bao-cao-{KIND_WORDS.get(period.kind, 'ky')}-{period.ident}"


def file_stem(report: Report) -> str:
    return period_stem(report.period)


def reason_label(report: Report, code: str) -> str:
    return report.hall.reasons.get(code, code)


def indicator_label(report: Report, code: str) -> str:
    return report.hall.indicators.get(code, code)


def fmt(value, unit: str = "") -> str:
    """A figure as a Vietnamese reader expects it: decimal comma, '—' for nothing."""
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.1f}".replace(".", ",") + unit
    return f"{value:,}".replace(",", ".") + unit
