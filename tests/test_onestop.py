"""The one-stop adapter's reference HTTP implementation against a fake one-stop server:
paging, the field mapping, errors, timeouts and slow answers, idempotent rating pushes.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from motcua.protocol import RatingEvent
from onestop.config import HttpSystemSettings
from onestop.http import HttpOneStop
from onestop.interface import OneStopRejected, OneStopUnavailable
from onestopkit import FakeOneStop, http_settings

AGENCY = "H40.12"
T0 = datetime(2026, 3, 2, 1, 0, tzinfo=timezone.utc)


@pytest.fixture
def fake():
    f = FakeOneStop().start()
    yield f
    f.stop()


def system(fake, **overrides) -> HttpOneStop:
    return HttpOneStop(HttpSystemSettings(**http_settings(fake.url, **overrides)))


def test_changes_come_page_by_page_mapped_to_our_records(fake):
    for i in range(7):
        fake.put(f"H40.12-260302-{i:04d}", AGENCY, ["DANG_XU_LY", "CHO_TRA_KET_QUA"][i % 2], updated=T0)
    fake.put("H40.99-260302-0001", "H40.99", "DANG_XU_LY", updated=T0)  # another hall's
    fake.put("H40.12-260101-0001", AGENCY, "DA_TRA_KET_QUA", updated=T0 - timedelta(days=60))  # too old
    got = list(system(fake).changed_since(AGENCY, T0 - timedelta(days=1)))
    assert [r.code for r in got] == [f"H40.12-260302-{i:04d}" for i in range(7)]
    assert [r.status for r in got[:2]] == ["processing", "ready"]
    assert [r.ready_for_pickup for r in got[:2]] == [False, True]
    assert got[0].procedure == "Đăng ký khai sinh" and str(got[0].appointment_date) == "2026-03-05"
    assert sum(1 for m, p in fake.requests if "/donvi/" in p) == 3  # 3 + 3 + 1


def test_by_code_unknown_codes_are_left_out(fake):
    fake.put("H40.12-260302-0007", AGENCY, "CHO_BO_SUNG")
    [rec] = system(fake).statuses(["H40.12-260302-0007", "H40.12-000000-0000"])
    assert rec.status == "additional_documents_required"


@pytest.mark.parametrize("fault", ["500", "slow:2", "drop"])
def test_errors_timeouts_and_dropped_connections_are_worth_retrying(fake, fault):
    fake.put("H40.12-260302-0007", AGENCY, "DANG_XU_LY")
    s = system(fake)
    fake.fail("changed", fault)
    with pytest.raises(OneStopUnavailable):
        list(s.changed_since(AGENCY, T0))
    assert [r.code for r in s.changed_since(AGENCY, T0)] == ["H40.12-260302-0007"]  # and then it works


def test_a_slow_answer_within_the_timeout_is_an_answer(fake):
    fake.put("H40.12-260302-0007", AGENCY, "DANG_XU_LY")
    fake.fail("status", "slow:0.4")
    assert [r.code for r in system(fake).statuses(["H40.12-260302-0007"])] == ["H40.12-260302-0007"]


def test_a_wrong_token_waits_for_the_province_and_a_refusal_is_a_refusal(fake):
    with pytest.raises(OneStopUnavailable, match="401"):
        system(fake, token="wrong").statuses(["H40.12-260302-0007"])
    with pytest.raises(OneStopRejected, match="404"):
        system(fake, rating_path="/api/v1/khong-co").push_rating("hall-a", AGENCY, rating())


def rating(dossier: str | None = "H40.12-260302-0007") -> RatingEvent:
    return RatingEvent(rating_id="rating-00000042", ticket_id="20260302-TP-1001", counter=3, area="TP",
                       officer="lan.nguyen", dossier_code=dossier, level="very_satisfied", reasons=[], rated_at=T0,
                       pad="pad-03")


def test_a_push_repeated_after_a_timeout_is_recorded_once_with_the_vendors_fields(fake):
    s = system(fake)
    fake.fail("rating", "hang")  # recorded, but the answer comes too late
    with pytest.raises(OneStopUnavailable):
        s.push_rating("hall-a", AGENCY, rating())
    s.push_rating("hall-a", AGENCY, rating())
    assert fake.rating_posts == ["hall-a:rating-00000042"] * 2
    assert fake.ratings == {"hall-a:rating-00000042": {
        "maDanhGia": "rating-00000042", "diemPhucVu": "hall-a", "maDonVi": AGENCY, "maHoSo": "H40.12-260302-0007",
        "soPhieu": "20260302-TP-1001", "quay": 3, "canBo": "lan.nguyen", "linhVuc": "TP", "mucDo": 3, "lyDo": [],
        "thoiGian": T0.isoformat()}}


# ---------------------------------------------------------------------------- the adapter's outbox


@pytest.fixture
def province_broker(tmp_path):
    from province.stand_in import ProvinceBroker

    p = ProvinceBroker(tmp_path / "province", ["hall-a"], readers=()).start()
    yield p
    p.stop()


def adapter(province_broker, fake, state, **kw):
    from onestop.config import OneStopSettings
    from onestop.service import OneStopService

    a = OneStopService(OneStopSettings(
        device_id="onestop", mqtt=province_broker.mqtt("onestop"), halls={"hall-a": AGENCY},
        http=http_settings(fake.url), state=state, poll_interval_s=3600, push_retry_min_s=0.1,
        push_retry_max_s=0.3, **kw))
    a.start()
    assert a.mqtt.subscribed.wait(20)
    return a


def test_a_rating_waits_in_the_outbox_through_an_outage_and_an_adapter_restart(province_broker, fake, tmp_path):
    from provincekit import Publisher, wait_until

    fake.fail("rating", *["500"] * 1000)  # the one-stop software is down
    a = adapter(province_broker, fake, tmp_path / "onestop.db")
    pub = Publisher(province_broker.port, "site-hall-a", province_broker.site_passwords["hall-a"],
                    province_broker.ca.cert_path)
    first, second = rating(), rating().model_copy(update={"rating_id": "rating-00000043", "dossier_code": None})
    pub.send("motcua/v1/hall-a/event/rating", [first.to_json(), second.to_json(), first.to_json()])
    wait_until(lambda: a.state.counts().get("pending") == 2 and len(fake.requests) >= 3, 20, "failed attempts")
    a.stop()  # the adapter goes away with both ratings unpushed
    fake.script["rating"].clear()  # the one-stop software is back
    b = adapter(province_broker, fake, tmp_path / "onestop.db")
    try:
        wait_until(lambda: b.state.counts() == {"pushed": 2}, 20, "both ratings pushed after the restart")
        assert sorted(fake.ratings) == ["hall-a:rating-00000042", "hall-a:rating-00000043"]
    finally:
        b.stop()
        pub.close()


def test_a_refused_rating_is_kept_with_the_reason_and_pushed_again_on_demand(province_broker, fake, tmp_path):
    from provincekit import Publisher, wait_until

    a = adapter(province_broker, fake, tmp_path / "onestop.db")
    try:
        pub = Publisher(province_broker.port, "site-hall-a", province_broker.site_passwords["hall-a"],
                        province_broker.ca.cert_path)
        fake.fail("rating", "400")
        pub.send("motcua/v1/hall-a/event/rating", [rating().to_json()])
        pub.close()
        wait_until(lambda: a.state.counts() == {"rejected": 1}, 20, "the refusal recorded")
        reason = a.state.db.execute("SELECT last_error FROM pushes").fetchone()[0]
        assert "HTTP 400" in reason
        assert a.state.retry_rejected() == 1  # what `motcua onestop retry` does
        a._wake_pusher.set()
        wait_until(lambda: a.state.counts() == {"pushed": 1}, 20, "pushed after the retry")
    finally:
        a.stop()
