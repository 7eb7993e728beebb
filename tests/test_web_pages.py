"""The console and the citizen's page in a real headless Chromium, against the real daemons.

One hall for the module: Mosquitto (our dev config, locked down), the real
dispatcher, the real ``motcua-web`` with its own broker login; a console
browser at desktop size and a phone-sized one for the citizen. Screenshots
land in the test's folder (and in docs/images with MOTCUA_SCREENSHOTS=1).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time

import pytest

from motcua.client import HallClient
from motcua.localbroker import REPO

from daemonkit import DispatcherProcess
from webkit import PHONE, Http, WebProcess, add_user, chromium


SITE = f"web{os.getpid()}"
SUPERVISOR, VIEWER = ("ha.supervisor", "mật-khẩu-đủ-dài-1"), ("binh.viewer", "mật-khẩu-đủ-dài-2")
WAIT = 10.0  # generous: the machine may be busy; the latency goal is measured by bench/web.py


@pytest.fixture(scope="module")
def hall(broker, tmp_path_factory):
    work = tmp_path_factory.mktemp("webhall")
    # the web console's login may withdraw any waiting ticket (a supervisor's cancel)
    d = DispatcherProcess(broker, SITE, work, MOTCUA_HALL__SUPERVISORS='["web-1"]').start()
    web = WebProcess(broker, SITE, work, d.database)
    add_user(web.users_file, *SUPERVISOR, "supervisor", "Nguyễn Thu Hà")
    add_user(web.users_file, *VIEWER, "viewer", "Trần Văn Bình")
    web.start()
    client = HallClient(SITE, mqtt=broker.mqtt("web-tester", "operator"), timeout=5).start()
    yield d, web, client
    client.close()
    assert web.stop() == 0
    d.stop()
    assert "Traceback" not in web.log(), web.log()[-3000:]


@pytest.fixture(scope="module")
def console(hall):
    b = chromium()
    yield b
    b.quit()


@pytest.fixture(scope="module")
def phone(hall):
    b = chromium(*PHONE, mobile=True)
    yield b
    b.quit()


def wait_text(browser, css: str, pattern: str, timeout: float = WAIT) -> float:
    """Seconds until the element's text matches; fails after ``timeout``."""
    from selenium.common.exceptions import TimeoutException, WebDriverException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    start = time.monotonic()
    last = ""

    def shows(b) -> bool:
        nonlocal last
        last = b.find_element(By.CSS_SELECTOR, css).text
        return re.search(pattern, last) is not None

    try:  # redrawn between find and text, or not there yet: look again
        WebDriverWait(browser, timeout, poll_frequency=0.02, ignored_exceptions=(WebDriverException,)).until(shows)
    except TimeoutException:
        raise AssertionError(f"{css} never showed {pattern!r} within {timeout} s; last text: {last!r}") from None
    return time.monotonic() - start


def log_in(browser, base: str, user: tuple[str, str]) -> None:
    """Fill in the login form and send it; returns once the browser shows the page that answered it (the
    console, or the login page again with its error), not while the form is still on screen."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(base + "/login")
    browser.find_element(By.NAME, "username").send_keys(user[0])
    browser.find_element(By.NAME, "password").send_keys(user[1])
    button = browser.find_element(By.CSS_SELECTOR, "form button")
    button.click()
    WebDriverWait(browser, WAIT).until(expected_conditions.staleness_of(button))


def http_login(base: str, user: tuple[str, str]) -> tuple[Http, str]:
    """A session made without a browser; returns it and its CSRF token."""
    h = Http(base)
    status, _, body = h.request("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', body).group(1)
    status, headers, _ = h.request("/login", {"csrf": csrf, "username": user[0], "password": user[1]})
    assert status == 303 and headers["location"] == "/console", status
    _, _, body = h.request("/console")
    return h, re.search(r'<meta name="csrf" content="([^"]+)"', body).group(1)


# --------------------------------------------------------------------------- refusals


def test_the_console_is_refused_without_a_session(hall, console):
    _, web, _ = hall
    console.delete_all_cookies()
    console.get(web.url + "/console")
    assert console.current_url.endswith("/login")
    assert "Đăng nhập" in console.page_source
    anonymous = Http(web.url)
    assert anonymous.request("/console/events")[0] == 401
    assert anonymous.request("/console/notice", {"text": "x", "do": "set"})[0] == 401
    forged = Http(web.url)
    forged.set_cookie("motcua_session", "eyJzaWQiOiAiZ3Vlc3MifQ==.forged.signature")
    assert forged.request("/console")[0] == 303  # an unsigned or guessed cookie is no session


def test_a_wrong_password_is_refused_and_repeated_failures_are_limited(hall, console):
    _, web, _ = hall
    console.delete_all_cookies()
    log_in(console, web.url, (SUPERVISOR[0], "not the password"))
    wait_text(console, "#login-error", "Sai tên đăng nhập hoặc mật khẩu")
    assert console.current_url.endswith("/login")
    # a guesser gets five tries at one name, then even the right password is refused for a while
    h = Http(web.url)
    csrf = re.search(r'name="csrf" value="([^"]+)"', h.request("/login")[2]).group(1)
    codes = [h.request("/login", {"csrf": csrf, "username": "ghost", "password": f"guess-{i}"})[0] for i in range(5)]
    assert codes == [401] * 5
    status, _, body = h.request("/login", {"csrf": csrf, "username": "ghost", "password": "guess-5"})
    assert status == 429 and "quá nhiều lần" in body
    # a login form posted without its token is refused before any password is checked
    assert Http(web.url).request("/login", {"username": SUPERVISOR[0], "password": SUPERVISOR[1]})[0] == 403


def test_an_action_without_the_csrf_token_is_refused(hall, broker, watcher_factory):
    _, web, _ = hall
    h, csrf = http_login(web.url, SUPERVISOR)
    notice = watcher_factory(f"motcua/v1/{SITE}/hall/notice")
    for form in ({"text": "Giả mạo", "do": "set"}, {"text": "Giả mạo", "do": "set", "csrf": "x" * 43}):
        status, _, body = h.request("/console/notice", form)
        assert status == 403 and "CSRF" in body
    assert h.request("/console/counter/1/pause", {})[0] == 403
    # the same session with its token is accepted: the refusals above were the token's
    assert h.request("/console/notice", {"text": "Thử nghiệm", "do": "set", "csrf": csrf})[0] == 303
    notice.wait_for(lambda m: b"Th" in m.payload)
    assert not any(b"Gi\xe1\xba\xa3 m\xe1\xba\xa1o" in m.payload for m in notice.messages)
    assert h.request("/console/notice", {"do": "clear", "csrf": csrf})[0] == 303


def test_a_console_that_reconnects_is_sent_every_section_again(hall):
    from webkit import sse_events

    _, web, _ = hall
    h, _ = http_login(web.url, VIEWER)
    cookie = "; ".join(f"{c.name}={c.value}" for c in h.jar)
    status, events = sse_events(web.url + "/console/events", count=6, cookie=cookie, headers={"Last-Event-ID": "1"})
    assert status == 200
    assert {json.loads(data)["s"] for _, data in events} == {"header", "notice", "counters", "areas", "calls",
                                                            "devices"}
    assert all("Đăng thông báo" not in data for _, data in events)  # a viewer's sections: no actions


def test_a_viewer_sees_the_console_but_may_not_act(hall):
    _, web, _ = hall
    h, csrf = http_login(web.url, VIEWER)
    status, _, body = h.request("/console")
    assert status == 200 and "Đăng thông báo" not in body and "Mở quầy" not in body
    status, _, body = h.request("/console/counter/1/pause", {"csrf": csrf})
    assert status == 403 and "chỉ được xem" in body


# --------------------------------------------------------------------------- live


def test_a_call_reaches_the_console_and_the_citizens_phone(hall, console, phone, tmp_path):
    from selenium.webdriver.common.by import By

    _, web, client = hall
    console.delete_all_cookies()
    log_in(console, web.url, SUPERVISOR)
    wait_text(console, "nav .who", "Nguyễn Thu Hà")
    wait_text(console, "#live", "●")

    first = client.ticket("TP")
    mine = client.ticket("TP")
    assert mine.ok and mine.tracking_token
    phone.get(f"{web.url}/ve/{mine.tracking_token}")
    wait_text(phone, "#number", mine.ticket.number)
    wait_text(phone, "#line", "Còn 1 người trước Ông/Bà")
    wait_text(phone, "#area", "Tư pháp - hộ tịch")

    # the supervisor opens counter 1 from the console
    row = console.find_element(By.ID, "counter-1")
    row.find_element(By.NAME, "officer").send_keys("lan.nguyen")
    row.find_element(By.CSS_SELECTOR, "form.act button").click()
    wait_text(console, "#flash", "Đã thực hiện")
    wait_text(console, "#counter-1 .status", "Đang mở")
    wait_text(console, "#counter-1", "Nguyễn Thị Lan")

    # an officer calls at the counter (over MQTT, as the keypad does): both pages follow, no reload
    console_url = console.current_url
    assert client.counter(1, "next").ok
    took = wait_text(console, "#counter-1 .serving", first.ticket.number)
    took_phone = wait_text(phone, "#line", "Sắp đến lượt Ông/Bà")
    assert client.counter(1, "next").ok
    took_call = wait_text(phone, "#line", "Mời Ông/Bà đến quầy số 1")
    wait_text(phone, "#title", "Đến lượt Ông/Bà")
    assert "st-called" in phone.find_element(By.TAG_NAME, "body").get_attribute("class")
    wait_text(console, "#counter-1 .serving", mine.ticket.number)
    wait_text(console, "#s-calls", mine.ticket.number)
    assert console.current_url == console_url  # updated in place
    print(f"\nlive update seen by the browser after: console {took:.3f} s, phone {took_phone:.3f} s, "
          f"call {took_call:.3f} s")

    # the officer marks a no-show: the phone says what to do
    assert client.counter(1, "skip").ok
    wait_text(phone, "#title", "Số đã bị bỏ qua")
    wait_text(phone, "#detail", "quầy số 1")

    phone.save_screenshot(str(tmp_path / "citizen-skipped.png"))
    _screenshots(console, phone, client, web, tmp_path)


def _screenshots(console, phone, client, web, tmp_path) -> None:
    """The console mid-morning and a waiting citizen's phone: for the README."""
    for area in ("DD", "DD", "XD", "KD", "TP"):
        client.ticket(area)
    waiting = client.ticket("DD")
    client.counter(3, "open", officer="minh.tran")
    client.counter(3, "next")
    phone.get(f"{web.url}/ve/{waiting.tracking_token}")
    wait_text(phone, "#line", "người trước")
    wait_text(console, "#counter-3 .serving", r"B\d+")
    console.set_window_size(1400, 1500)
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(console, WAIT).until(  # the console laid out again at its new size, a frame drawn
        lambda b: b.execute_async_script("const done = arguments[0]; requestAnimationFrame(() => "
                                         "requestAnimationFrame(() => done(window.innerWidth)))") >= 1300)
    shots = {"web-console.png": console, "web-citizen.png": phone}
    for name, browser in shots.items():
        assert browser.save_screenshot(str(tmp_path / name))
        assert (tmp_path / name).stat().st_size > 10_000
    if os.environ.get("MOTCUA_SCREENSHOTS") == "1":
        for name in shots:
            shutil.copy(tmp_path / name, REPO / "docs" / "images" / name)


def test_the_supervisor_sets_the_notice_the_board_shows(hall, console, watcher_factory):
    from selenium.webdriver.common.by import By

    _, web, _ = hall
    board_view = watcher_factory(f"motcua/v1/{SITE}/hall/notice")
    console.delete_all_cookies()
    log_in(console, web.url, SUPERVISOR)
    text = "Từ 14 giờ, quầy 5 tạm nghỉ để bảo trì máy"
    section = console.find_element(By.ID, "s-notice")
    section.find_element(By.NAME, "text").send_keys(text)
    section.find_element(By.CSS_SELECTOR, 'button[value="set"]').click()
    wait_text(console, "#flash", "Đã cập nhật thông báo")
    msg = board_view.wait_for(lambda m: m.retain is False and text.encode() in m.payload or
                              text.encode() in m.payload)
    assert json.loads(msg.payload)["text"] == text
    wait_text(console, "#notice-text", "quầy 5 tạm nghỉ")
    audit = [json.loads(line) for line in (web.workdir / "audit.jsonl").read_text().splitlines()]
    assert audit[-1]["staff"] == SUPERVISOR[0] and audit[-1]["action"] == "notice.set" and audit[-1]["ok"]

    console.find_element(By.CSS_SELECTOR, '#s-notice button[value="clear"]').click()
    wait_text(console, "#flash", "Đã cập nhật thông báo")
    board_view.wait_for(lambda m: m.payload == b"")
    wait_text(console, "#notice-text", "Không có thông báo")


# --------------------------------------------------------------------------- what the public page gives away


def test_the_citizens_page_shows_nobody_and_nothing_else(hall):
    """A called ticket with a dossier attached, at a counter with a named officer: the public page and its
    live stream carry the number, the area and the counter, and no officer, dossier, ticket id or other ticket."""
    from webkit import sse_events

    _, web, client = hall
    before = client.ticket("VH")
    mine = client.ticket("VH")
    client.counter(10, "open", officer="quang.ngo")
    client.counter(10, "next")
    client.counter(10, "attach_dossier", dossier_code="H12.22-240115-0001")
    client.counter(10, "next")
    client.counter(10, "attach_dossier", dossier_code="H12.22-240115-0002")
    status, _, page = Http(web.url).request(f"/ve/{mine.tracking_token}")
    assert status == 200 and mine.ticket.number in page and "Mời Ông/Bà đến quầy số 10" in page
    status, events = sse_events(f"{web.url}/ve/{mine.tracking_token}/events")
    assert status == 200 and json.loads(events[0][1])["line"] == "Mời Ông/Bà đến quầy số 10"
    for text in (page, events[0][1]):
        for secret in ("quang.ngo", "Ngô Đức Quang", "H12.22-240115", mine.ticket.ticket_id, before.ticket.number,
                       before.tracking_token, "kiosk", "web-tester"):
            assert secret not in text, f"the public page shows {secret!r}"
    assert set(json.loads(events[0][1])) <= {"number", "area", "status", "counter", "call_count", "title", "line",
                                             "detail", "note", "ahead", "wait_min"}


def test_a_guessed_token_gets_nothing(hall):
    import secrets

    from webkit import sse_events

    _, web, client = hall
    real = client.ticket("NV")
    token = real.tracking_token
    flipped = token[:-1] + ("A" if token[-1] != "A" else "B")
    guesses = [secrets.token_urlsafe(16), flipped, real.ticket.ticket_id, real.ticket.number, token.lower()
               if token.lower() != token else token.upper(), "' OR 1=1 --", "../console", token + "x" * 60, "%00"]
    bodies = set()
    for guess in guesses:
        status, _, body = Http(web.url).request(f"/ve/{urllib_quote(guess)}")
        assert status == 404, guess
        bodies.add(body)
        assert sse_events(f"{web.url}/ve/{urllib_quote(guess)}/events")[0] == 404
    assert len(bodies) == 1  # the same answer for every wrong token: nothing to learn from it
    assert real.ticket.number not in bodies.pop()


def urllib_quote(text: str) -> str:
    import urllib.parse

    return urllib.parse.quote(text, safe="")


def test_the_supervisor_transfers_and_cancels_from_the_console(hall, console, phone):
    """Each action goes out under the service's login and comes back as the dispatcher's answer, logged."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    _, web, client = hall
    served = client.ticket("XD")
    client.counter(5, "open", officer="huong.vo")
    for _ in range(5):  # earlier tests may have left XD tickets waiting: serve up to ours
        if client.counter(5, "next").counter.current.number == served.ticket.number:
            break
    phone.get(f"{web.url}/ve/{served.tracking_token}")
    wait_text(phone, "#line", "Mời Ông/Bà đến quầy số 5")
    console.delete_all_cookies()
    log_in(console, web.url, SUPERVISOR)
    wait_text(console, "#counter-5 .serving", served.ticket.number)
    row = console.find_element(By.ID, "counter-5")
    Select(row.find_element(By.NAME, "to_area")).select_by_value("DD")
    row.find_element(By.XPATH, ".//button[text()='Chuyển']").click()
    wait_text(console, "#flash", "Đã thực hiện")
    wait_text(phone, "#note", "chuyển sang: Đất đai")
    wait_text(phone, "#title", "Đang chờ")

    waiting = client.ticket("YT")
    box = console.find_element(By.ID, "s-cancel")
    box.find_element(By.NAME, "number").send_keys(waiting.ticket.number)
    box.find_element(By.TAG_NAME, "button").click()
    wait_text(console, "#flash", "Đã thực hiện")  # the dispatcher lists web-1 among its supervisors
    assert client.counter(8, "open", officer="son.bui").ok
    assert not client.counter(8, "next").ok  # the cancelled ticket is never called
    audit = (web.workdir / "audit.jsonl").read_text()
    assert '"action": "counter.transfer"' in audit and '"action": "ticket.cancel"' in audit
    assert SUPERVISOR[0] in audit
