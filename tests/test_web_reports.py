"""The console's Reports page in a real headless Chromium: the figures of `motcua report`, and its files."""

from __future__ import annotations

import io
import os

import pytest

from motcua.client import HallClient

from daemonkit import DispatcherProcess
from test_web_pages import SUPERVISOR, VIEWER, log_in, wait_text
from webkit import Http, WebProcess, add_user, chromium


SITE = f"webrep{os.getpid()}"


@pytest.fixture(scope="module")
def hall(broker, tmp_path_factory):
    work = tmp_path_factory.mktemp("webreports")
    d = DispatcherProcess(broker, SITE, work).start()
    web = WebProcess(broker, SITE, work, d.database)
    add_user(web.users_file, *SUPERVISOR, "supervisor", "Nguyễn Thu Hà")
    add_user(web.users_file, *VIEWER, "viewer", "Trần Văn Bình")
    web.start()
    client = HallClient(SITE, mqtt=broker.mqtt("web-reporter", "operator"), timeout=5).start()
    yield d, web, client
    client.close()
    web.stop()
    d.stop()


def test_a_report_in_the_console_is_motcua_reports_own(hall):
    from openpyxl import load_workbook
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    _, web, client = hall
    for _ in range(5):
        assert client.ticket("TP").ok
    client.counter(1, "open", officer="lan.nguyen")
    for _ in range(3):
        assert client.counter(1, "next").ok
    assert client.counter(1, "finish").ok  # 3 served, 2 still waiting

    browser = chromium()
    try:
        log_in(browser, web.url, VIEWER)  # reading reports is a viewer's right too
        wait_text(browser, "nav", "Báo cáo")
        browser.find_element(By.LINK_TEXT, "Báo cáo").click()
        Select(browser.find_element(By.NAME, "kind")).select_by_value("day")
        Select(browser.find_element(By.NAME, "by")).select_by_value("counter")
        browser.find_element(By.CSS_SELECTOR, 'button[name="run"]').click()
        wait_text(browser, "#report-summary", "5", timeout=120)
        table = browser.find_element(By.ID, "report-table").text
        assert "Quầy 1" in table and "Toàn trung tâm" in table
        charts = browser.find_elements(By.CSS_SELECTOR, ".charts img")
        assert charts and all(browser.execute_script("return arguments[0].naturalWidth", img) > 100 for img in charts)
        if os.environ.get("MOTCUA_SCREENSHOTS") == "1":
            from motcua.localbroker import REPO

            browser.set_window_size(1400, 1800)
            browser.save_screenshot(str(REPO / "docs" / "images" / "web-reports.png"))
        link = browser.find_element(By.PARTIAL_LINK_TEXT, "XLSX").get_attribute("href")
        cookie = browser.get_cookie("motcua_session")["value"]
    finally:
        browser.quit()

    h = Http(web.url)
    assert h.request(link.replace(web.url, ""))[0] == 401  # no session, no file
    h.set_cookie("motcua_session", cookie)
    status, headers, _ = h.request(link.replace(web.url, ""))
    assert status == 200 and "attachment" in headers["content-disposition"]
    data = h.opener.open(link, timeout=10).read()
    book = load_workbook(io.BytesIO(data))
    summary = {row[0]: row[1] for row in book["Tổng hợp"].iter_rows(min_row=6, values_only=True) if row[0]}
    assert summary["Số phiếu cấp"] == 5 and summary["Đã phục vụ"] == 3
    by_counter = {row[0]: row for row in book["Theo quầy"].iter_rows(min_row=6, values_only=True) if row[0]}
    assert by_counter["Quầy 1"][3] == 3  # the counter's "Đã phục vụ"
    assert h.request("/console/reports/file/..%2F..%2Fetc/passwd")[0] == 404
