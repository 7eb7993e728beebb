"""The dossier-progress screen: figures from scripted central data, the hall's own dossier stream keeping
them current, the pixels under SDL's dummy driver, and the daemon fed through a real broker."""

from __future__ import annotations

import os
from datetime import date, datetime, timedelta, timezone

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

import pygame  # noqa: E402
import pygame.freetype  # noqa: E402
import pytest  # noqa: E402

from motcua.broker.configs import DOWN  # noqa: E402
from motcua.broker.roles import Device, device_rights  # noqa: E402
from motcua.protocol import (  # noqa: E402
    DossierProgress,
    DossierRecord,
    DossierStatusUpdate,
    ProgressCounts,
    ProgressGroup,
)
from progress_board.app import ProgressScreen  # noqa: E402
from progress_board.config import ProgressSettings, ProgressTexts  # noqa: E402
from progress_board.model import ProgressModel  # noqa: E402
from progress_board.screens import percent, thousands  # noqa: E402
from progress_board.screenshots import FIGURES, HALL, sample_progress  # noqa: E402
from progress_board.service import ProgressService  # noqa: E402

TZ = timezone(timedelta(hours=7))
AT = datetime(2026, 3, 18, 10, 0, tzinfo=TZ)  # the central system computed its figures at 10:00
COMMUNE = "000.00.31.H61"  # one agency for every area of a commune's centre


def counts(received=0, in_progress=0, on_time=0, late=0, overdue=0) -> ProgressCounts:
    return ProgressCounts(received=received, in_progress=in_progress, done_on_time=on_time, done_late=late,
                          overdue=overdue)


def summary(updated_at: datetime = AT, **kw) -> DossierProgress:
    return DossierProgress(group_by="area", day=date(2026, 3, 18), updated_at=updated_at, groups=[
        ProgressGroup(key="TP", name="Tư pháp - hộ tịch", today=counts(12, 5, 9, 1, 0),
                      month=counts(300, 5, 280, 6, 0), agency_codes=[COMMUNE],
                      procedures=["Đăng ký khai sinh", "Đăng ký kết hôn"]),
        ProgressGroup(key="DD", name="Đất đai, môi trường", today=counts(3, 40, 1, 1, 2),
                      month=counts(70, 40, 50, 5, 2), agency_codes=[COMMUNE],
                      procedures=["Đăng ký biến động quyền sử dụng đất"]),
    ], **kw)


def record(n: int, procedure: str, status: str, at: datetime, appointment: date | None = None,
           agency: str = COMMUNE) -> DossierRecord:
    return DossierRecord(code=f"{agency}-260318-{n:04}", procedure=procedure, status=status,
                         appointment_date=appointment, updated_at=at)


def rows(view) -> dict[str, tuple]:
    return {r.name: r.counts for r in view.rows}


# --------------------------------------------------------------------------- figures from the central system


def test_the_central_figures_per_area_today_and_this_month_with_the_on_time_rate():
    m = ProgressModel(ProgressSettings(page_s=10))
    before = m.view(0, AT)
    assert before.period is None and not before.rows  # "waiting for figures" until the summary comes
    m.progress(summary())
    today = m.view(1, AT + timedelta(minutes=3))
    assert today.period == "today" and today.period_title == "Hôm nay 18/03/2026"
    assert rows(today) == {"Tư pháp - hộ tịch": (12, 5, 9, 1, 0), "Đất đai, môi trường": (3, 40, 1, 1, 2)}
    assert today.total.counts == (15, 45, 10, 2, 2)
    assert today.rows[0].rate == pytest.approx(90.0) and today.total.rate == pytest.approx(100 * 10 / 12)
    assert today.target_pct == 95.0 and not today.stale
    assert today.updated == "Số liệu cập nhật lúc 10:00 18/03/2026"
    month = m.view(12, AT + timedelta(minutes=3))  # the page turns after page_s
    assert month.period == "month" and month.period_title == "Tháng 03/2026 (đến hôm nay)"
    assert month.total.counts == (370, 45, 330, 11, 2)
    assert m.view(23, AT).period == "today"
    # the province's own target wins over the setting; old figures say since when they are old
    m.progress(summary(updated_at=AT + timedelta(minutes=1), on_time_target_pct=90))
    late = m.view(24, AT + timedelta(hours=2))
    assert late.target_pct == 90 and late.stale and late.updated == "Số liệu chưa được cập nhật từ 10:01 18/03/2026"
    assert not m.progress(summary())  # an older summary redelivered changes nothing


def test_the_hall_stream_adds_what_happened_since_the_summary_and_a_new_summary_takes_over():
    m = ProgressModel(ProgressSettings())
    m.progress(summary())
    m.dossiers(DossierStatusUpdate(records=[
        record(1, "Đăng ký khai sinh", "received", AT - timedelta(minutes=5)),  # counted by the summary already
        record(2, "Đăng ký khai sinh", "received", AT + timedelta(minutes=2)),
        record(3, "Đăng ký kết hôn", "ready", AT + timedelta(minutes=3), appointment=date(2026, 3, 18)),
        record(4, "Đăng ký biến động quyền sử dụng đất", "returned", AT + timedelta(minutes=4),
               appointment=date(2026, 3, 16)),  # two days late
        record(5, "Chứng thực bản sao", "received", AT + timedelta(minutes=5)),  # no group: the total only
    ]))
    v = m.view(0, AT + timedelta(minutes=6))
    assert rows(v) == {"Tư pháp - hộ tịch": (13, 5, 10, 1, 0), "Đất đai, môi trường": (3, 40, 1, 2, 2)}
    assert v.total.counts == (17, 45, 11, 3, 2)
    # the same record again, or the dossier moving on (received -> processing), counts once
    assert not m.dossiers(DossierStatusUpdate(records=[
        record(2, "Đăng ký khai sinh", "received", AT + timedelta(minutes=2)),
        record(2, "Đăng ký khai sinh", "processing", AT + timedelta(minutes=7))]))
    assert m.view(0, AT + timedelta(minutes=8)).total.counts == (17, 45, 11, 3, 2)
    # the next summary covers the first three: only the later ones are still added
    m.progress(summary(updated_at=AT + timedelta(minutes=3, seconds=30)))
    assert m.view(0, AT + timedelta(minutes=9)).total.counts == (15 + 1, 45, 10, 2 + 1, 2)


def test_agency_groups_take_the_agency_from_the_dossier_code():
    m = ProgressModel(ProgressSettings())
    m.progress(DossierProgress(group_by="agency", day=date(2026, 3, 18), updated_at=AT, groups=[
        ProgressGroup(key="UBND", name="UBND phường Long Châu", today=counts(), month=counts(),
                      agency_codes=[COMMUNE]),
        ProgressGroup(key="CA", name="Công an phường Long Châu", today=counts(), month=counts(),
                      agency_codes=["000.00.31.H61.CA"]),
    ]))
    m.dossiers(DossierStatusUpdate(records=[
        record(1, "Đăng ký thường trú", "received", AT + timedelta(minutes=1), agency="000.00.31.H61.CA")]))
    v = m.view(0, AT + timedelta(minutes=2))
    assert v.group_by == "agency" and rows(v)["Công an phường Long Châu"] == (1, 0, 0, 0, 0)


def test_contract_refuses_bad_summaries():
    with pytest.raises(ValueError, match="unique"):
        DossierProgress(group_by="area", day=date(2026, 3, 18), updated_at=AT, groups=[
            ProgressGroup(key="TP", name="A", today=counts(), month=counts()),
            ProgressGroup(key="TP", name="B", today=counts(), month=counts())])
    with pytest.raises(ValueError):
        counts(received=-1)


# --------------------------------------------------------------------------- what a person sees


def test_numbers_are_written_the_vietnamese_way():
    assert percent(96.44) == "96,4%" and percent(None) == "–" and thousands(1109) == "1.109"


def test_the_screen_font_covers_every_vietnamese_text_it_shows():
    s = ProgressSettings()
    texts = [v for v in ProgressTexts().model_dump().values() if isinstance(v, str)] + s.texts.weekdays
    texts += [HALL] + [name for _, name, _, _ in FIGURES] + ["96,4%", "–", "1.109"]
    pygame.freetype.init()
    for path in (s.screen.font, s.screen.bold_font):
        font = pygame.freetype.Font(str(path), 24)
        for text in texts:
            missing = [c for c, mt in zip(text, font.get_metrics(text)) if mt is None]
            assert not missing, f"{path.name} has no glyph for {missing} in {text!r}"


def test_the_screen_draws_below_target_rates_in_the_warning_colour(tmp_path):
    settings = ProgressSettings(screen={"fullscreen": False, "width": 960, "height": 540})
    service = ProgressService(settings)
    screen = ProgressScreen(service)
    service.model.progress(sample_progress())
    service.view = lambda now=None, wall=None: ProgressService.view(service, 0.0, AT)
    png = pygame.image.load(str(screen.screenshot(tmp_path / "progress.png")))
    assert png.get_size() == (960, 540)
    colours = settings.screen.colours
    rate_column = [png.get_at((x, y))[:3] for x in range(860, 950) for y in range(120, 500)]
    assert colours.bad in rate_column and colours.good in rate_column  # Đất đai 83,3 % < 95 %; the others above


# --------------------------------------------------------------------------- contract, rights, end to end


def test_the_summary_comes_down_the_bridge_and_the_screen_may_only_read():
    assert "dossier/progress" in DOWN
    rights = device_rights(Device("progress-1", "progress"), "hcm-q1")
    assert {a for a, _ in rights} == {"read"}
    assert ("read", "motcua/v1/hcm-q1/dossier/progress") in rights and \
        ("read", "motcua/v1/hcm-q1/dossier/status") in rights


def test_the_daemon_follows_the_central_summary_and_the_dossier_stream(broker, site, publisher):
    settings = ProgressSettings(site=site, device_id="progress-1", mqtt=broker.mqtt("progress-1", "progress"),
                                screen={"fullscreen": False, "width": 640, "height": 360})
    service = ProgressService(settings).start()
    topic = f"motcua/v1/{site}/dossier"
    try:
        now = datetime.now(timezone.utc)
        central = summary(updated_at=now - timedelta(minutes=1)).model_copy(
            update={"day": now.astimezone(TZ).date()})
        publisher.publish(f"{topic}/progress", central.to_json(), qos=1, retain=True).wait_for_publish(5)
        assert service.wait_for(lambda v: v.total is not None and v.total.counts == (15, 45, 10, 2, 2), 10)
        for payload in (b"{", b'{"group_by": "area"}', b"\xff" * 10):  # hostile: refused, logged, still running
            publisher.publish(f"{topic}/progress", payload, qos=1).wait_for_publish(5)
        update = DossierStatusUpdate(records=[record(9, "Đăng ký khai sinh", "received", now)])
        publisher.publish(f"{topic}/status", update.to_json(), qos=1).wait_for_publish(5)
        assert service.wait_for(lambda v: v.total.counts[0] == 16 and rows(v)["Tư pháp - hộ tịch"][0] == 13, 10)
        assert "refused" in (service.runtime.last_error or "")
        publisher.publish(f"{topic}/progress", b"", qos=1, retain=True).wait_for_publish(5)  # cleared
        assert service.wait_for(lambda v: v.period is None, 10)
    finally:
        service.stop()
