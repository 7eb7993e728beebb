"""The web service at the province, every part real:

hall dispatcher + hall Mosquitto --bridge--> province Mosquitto --> motcua-web (province mode, its own login)
                                                               --> collector --> PostgreSQL <-- motcua-web console

A citizen's page is served at the province from the bridged topics alone (the
token never leaves the hall: the page hashes it), follows a call live in a
real headless Chromium, and a guessed token gets nothing. The console there
lists the halls from the collector's database, and its Reports page runs
``motcua province report`` for the hall picked; its download reads back with
the province database's figures.
"""

from __future__ import annotations

import csv
import io
import json
import secrets
import threading
from urllib.parse import quote

import paho.mqtt.client as mqtt
import pytest

from daemonkit import DispatcherProcess
from motcua.client import HallClient
from motcua.protocol import tracking_key
from province.stand_in import BridgedSite, ProvinceBroker
from provincekit import count, spawn_collector, unique_db, wait_until
from test_web_pages import log_in, wait_text
from webkit import PHONE, Http, WebProcess, add_user, chromium

SITE = "hall-p"
WEB_LOGIN = "web-province"
MANAGER = ("lanh.dao", "mật-khẩu-đủ-dài-9")
DOSSIER = "H40.12-260302-0042"


class Received:
    """Everything the province broker hands a reader of every hall's topics."""

    def __init__(self, province: ProvinceBroker, login: str):
        self.messages: list[tuple[str, bytes]] = []
        self.lock = threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=login, protocol=mqtt.MQTTv5)
        m = province.mqtt(login)
        self.client.username_pw_set(login, m.password.get_secret_value())
        self.client.tls_set(ca_certs=str(province.ca.cert_path))
        subscribed = threading.Event()
        self.client.on_connect = lambda c, *a: c.subscribe("motcua/v1/#", qos=1)
        self.client.on_subscribe = lambda *a: subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", province.port)
        self.client.loop_start()
        assert subscribed.wait(20)

    def _on_message(self, client, userdata, msg) -> None:
        with self.lock:
            self.messages.append((msg.topic, msg.payload))

    def all(self) -> list[tuple[str, bytes]]:
        with self.lock:
            return list(self.messages)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture(scope="module")
def province_chain(tmp_path_factory, postgres):
    work = tmp_path_factory.mktemp("provweb")
    province = ProvinceBroker(work / "province", [SITE], readers=("collector-1", "watcher"),
                              webs=(WEB_LOGIN,)).start()
    received = Received(province, "watcher")
    dsn = unique_db(postgres)
    collector = spawn_collector(province, dsn, "collector-1", work / "collector.log")
    wait_until(lambda: "subscribed" in (work / "collector.log").read_text(), 30, "the collector to subscribe")
    hall = BridgedSite(work / "hall", SITE, province).start()
    dispatcher = DispatcherProcess(hall.broker, SITE, work).start()
    collector_file = work / "province-collector.toml"
    collector_file.write_text('device_id = "collector-1"\n'
                              'name = "Trung tâm Phục vụ hành chính công tỉnh Thử nghiệm"\n'
                              f'hall_names = {{ "{SITE}" = "Trung tâm phường Thử nghiệm" }}\n')
    env = {k: v for k, v in province.env(WEB_LOGIN).items()}
    web = WebProcess(hall.broker, SITE, work, None, device_id=WEB_LOGIN, MOTCUA_HALL_SETTINGS="",
                     MOTCUA_PROVINCE__COLLECTOR_SETTINGS=str(collector_file), MOTCUA_PROVINCE__DATABASE__DSN=dsn,
                     **env)
    add_user(web.users_file, *MANAGER, "viewer", "Lãnh đạo tỉnh")
    web.start()
    client = HallClient(SITE, mqtt=hall.broker.mqtt("prov-tester", "operator"), timeout=5).start()
    yield province, hall, dispatcher, web, client, dsn, received
    client.close()
    assert web.stop() == 0
    dispatcher.stop()
    collector.terminate()
    collector.wait(10)
    received.close()
    hall.stop()
    province.stop()
    logs = web.log() + dispatcher.log() + (work / "collector.log").read_text()
    assert "Traceback" not in logs, logs[-3000:]


@pytest.fixture(scope="module")
def phone(province_chain):
    b = chromium(*PHONE, mobile=True)
    yield b
    b.quit()


def _page_when_bridged(web: WebProcess, token: str, timeout: float = 20.0) -> str:
    """The province learns of a ticket once its state has crossed the bridge: poll the page until then."""
    answer: list = []

    def served() -> bool:
        answer[:] = Http(web.url).request(f"/ve/{token}")
        return answer[0] == 200

    wait_until(served, timeout, "the ticket's page at the province")
    return answer[2]


def test_a_citizen_follows_a_call_at_the_province(province_chain, phone, tmp_path):
    province, hall, dispatcher, web, client, dsn, received = province_chain
    first = client.ticket("TP")
    mine = client.ticket("TP", dossier_code=DOSSIER)
    assert mine.ok and mine.tracking_token
    body = _page_when_bridged(web, mine.tracking_token)
    assert mine.ticket.number in body and "Tư pháp - hộ tịch" in body

    phone.get(f"{web.url}/ve/{mine.tracking_token}")
    wait_text(phone, "#number", mine.ticket.number)
    wait_text(phone, "#line", "Còn 1 người trước Ông/Bà")

    client.counter(2, "open", officer="lan.nguyen")
    assert client.counter(2, "next").counter.current.number == first.ticket.number
    wait_text(phone, "#line", "Sắp đến lượt Ông/Bà")
    assert client.counter(2, "next").ok
    took = wait_text(phone, "#line", "Mời Ông/Bà đến quầy số 2")
    wait_text(phone, "#title", "Đến lượt Ông/Bà")
    print(f"\nthe call reached the phone at the province after {took:.3f} s")
    phone.save_screenshot(str(tmp_path / "province-citizen-called.png"))

    assert client.counter(2, "skip").ok
    wait_text(phone, "#title", "Số đã bị bỏ qua")
    wait_text(phone, "#detail", "quầy số 2")


def test_a_guessed_token_gets_nothing_at_the_province(province_chain):
    _, _, _, web, client, _, _ = province_chain
    real = client.ticket("DD")
    _page_when_bridged(web, real.tracking_token)
    h = Http(web.url)
    for guess in (secrets.token_urlsafe(16), real.tracking_token[:-1] + ("A" if real.tracking_token[-1] != "A" else "B"),
                  tracking_key(real.tracking_token), real.ticket.ticket_id, real.ticket.number):
        status, _, page = h.request(f"/ve/{quote(guess)}")
        assert status == 404 and "Không tìm thấy phiếu" in page, guess
        status, _, _ = h.request(f"/ve/{quote(guess)}/events")
        assert status == 404, guess


def test_nothing_private_crosses_the_bridge_for_the_citizens_pages(province_chain):
    province, hall, dispatcher, web, client, dsn, received = province_chain
    t = client.ticket("TP", dossier_code="H40.12-260302-0077")
    client.counter(1, "open", officer="minh.tran")
    while client.counter(1, "next").counter.current.number != t.ticket.number:
        pass  # served in queue order: call until ours
    key = tracking_key(t.tracking_token)
    wait_until(lambda: any(topic.endswith(f"/track/{key}") and b'"called"' in p for topic, p in received.all()),
               20, "the called ticket's state at the province")
    seen = received.all()
    tokens = [r.tracking_token for r in (t,)]
    for topic, payload in seen:
        for token in tokens:  # the token, the only key to a citizen's page, stays at the hall
            assert token not in topic and token.encode() not in payload, topic
    public = [(topic, payload) for topic, payload in seen if "/track/" in topic or topic.endswith("/queue")]
    assert any(topic.endswith(f"/track/{key}") for topic, _ in public)
    assert any(topic.endswith("/area/TP/queue") for topic, _ in public)
    for topic, payload in public:
        text = payload.decode()
        for private in ("minh.tran", "lan.nguyen", "officer", "H40.12-", "dossier", t.ticket.ticket_id, "kiosk"):
            assert private not in text, (topic, private)
        body = json.loads(payload)
        assert set(body) <= {"schema_version", "day", "number", "area", "status", "priority", "target_counter",
                             "counter", "call_count", "transferred", "issued_at", "updated_at", "waiting"}


def test_the_web_login_at_the_province_reads_only_what_the_pages_show(province_chain):
    """The very ACL the province broker of this module runs with, under which the pages above worked."""
    province = province_chain[0]
    from motcua.broker.configs import render_province_web_acl

    acl = render_province_web_acl(WEB_LOGIN)
    assert acl in (province.dir / "acl").read_text()
    assert "write" not in acl.replace("writes nothing", "")
    for topic in ("event/", "counter/", "device/", "dossier/", "request/"):
        assert f"/+/{topic}" not in acl
    assert "topic read motcua/v1/+/track/+" in acl


def test_the_province_console_picks_a_hall_and_its_report_reads_back(province_chain, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    province, hall, dispatcher, web, client, dsn, received = province_chain
    client.counter(6, "open", officer="quang.ngo")
    for _ in range(3):
        client.ticket("KD")
    for _ in range(4):  # the last 'next' finishes the third
        client.counter(6, "next")
    done_sql = f"SELECT count(*) FROM ticket_outcomes WHERE site = '{SITE}' AND outcome = 'done'"
    wait_until(lambda: count(dsn, done_sql) >= 3, 30, "the finished tickets at the province")

    browser = chromium()
    try:
        log_in(browser, web.url, MANAGER)
        wait_text(browser, "#halls", "phường Long Châu")  # the name in the hall's own bridged configuration
        wait_text(browser, f"#halls tr[data-site='{SITE}']", "Đang kết nối")
        browser.find_element(By.CSS_SELECTOR, f"#halls tr[data-site='{SITE}'] a").click()
        picker = Select(browser.find_element(By.ID, "hall-picker"))
        assert picker.first_selected_option.get_attribute("value") == SITE
        Select(browser.find_element(By.NAME, "kind")).select_by_value("day")
        browser.find_element(By.CSS_SELECTOR, "form.report-form button").click()
        wait_text(browser, "main", "Tải về|Không lập được", timeout=120)
        assert not browser.find_elements(By.ID, "report-error"), browser.find_element(By.TAG_NAME, "main").text
        # read once the report is made: an earlier test's finished ticket may still have been on its way
        # up when the three above arrived
        served = count(dsn, done_sql)
        wait_text(browser, "#report-summary", f"Đã phục vụ: +{served} ")
        total = browser.find_element(By.CSS_SELECTOR, "#report-table tr.total")
        headings = [th.text for th in browser.find_elements(By.CSS_SELECTOR, "#report-table thead th")]
        cells = [td.text for td in total.find_elements(By.TAG_NAME, "td")]
        assert cells[headings.index("Đã phục vụ")] == str(served)
        link = next(a for a in browser.find_elements(By.CSS_SELECTOR, ".downloads a")
                    if a.get_attribute("href").endswith("-figures.csv"))
        href = link.get_attribute("href")
        assert f"/halls/{SITE}/" in href
        h = Http(web.url)
        h.set_cookie("motcua_session", browser.get_cookie("motcua_session")["value"])
        status, headers, text = h.request(href[len(web.url):])
        assert status == 200 and "attachment" in headers.get("content-disposition", "")
        rows = {r["grouping"]: r for r in csv.DictReader(io.StringIO(text))}
        assert int(float(rows["hall"]["served"])) == served
        for bad in ("halls/../../etc/passwd", "halls/..%2F..%2Fetc/passwd", "a/b/c/d/x.csv"):
            assert h.request(f"/console/reports/file/{bad}")[0] == 404, bad

        # the whole province: the same command without a hall
        Select(browser.find_element(By.ID, "hall-picker")).select_by_value("")
        browser.find_element(By.CSS_SELECTOR, "form.report-form button").click()
        wait_text(browser, "main", "Tải về|Không lập được", timeout=120)
        wait_text(browser, "#report-summary", "tỉnh Thử nghiệm")
        assert "/province/" in browser.find_element(By.CSS_SELECTOR, ".downloads a").get_attribute("href")
        browser.save_screenshot(str(tmp_path / "province-reports.png"))
    finally:
        browser.quit()
    assert Http(web.url).request(href[len(web.url):])[0] == 401  # no session, no file
