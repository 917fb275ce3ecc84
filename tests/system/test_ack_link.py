"""The signed acknowledgement link (docs/escalation.md, "Acknowledging"): an alert's
ack_url opened in headless Chromium (screenshots of the English and the Russian page under
tests/system/artifacts/), the form submitted without JavaScript, then the case is
acknowledged; a second use, an expired link and a forged one each get their page."""
import os
import shutil
import time
from pathlib import Path

import pytest
import requests

import hotline_harness as h

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


def need_browser():
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        pytest.fail("headless Chromium is required: apt-get install chromium chromium-driver "
                    "python3-selenium (scripts/setup)")


def browser(wd):
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    need_browser()
    profile = wd.path / "chromium"
    profile.mkdir(exist_ok=True)
    o = Options()
    o.binary_location = CHROMIUM
    for a in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              f"--user-data-dir={profile}", "--window-size=412,915", "--lang=en-US"):
        o.add_argument(a)
    # Chromium writes under $HOME even with a profile dir: keep it in the temp dir.
    os.environ["HOME"] = str(wd.path)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=o)


def start(wd, base_cfg, ttl=None):
    port = h.free_port()
    base_cfg["public_url"] = f"http://127.0.0.1:{port}"
    if ttl:
        base_cfg["ack_links"] = {"ttl": ttl}
    return h.Daemon(wd, base_cfg).start(port=port)


def alert_of(http_sink, path, report_id):
    rec = http_sink.wait_report(path, report_id)[0]["json"]
    assert rec["kind"] == "alert"
    return rec


def shot(drv, name):
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    assert drv.save_screenshot(str(path)), path
    assert path.stat().st_size > 1000
    return path


def test_link_in_the_alert_acknowledges_in_english_and_resolves_in_russian(wd, base_cfg,
                                                                          http_sink):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    d = start(wd, base_cfg)
    public = d.cfg["public_url"]

    # English: the default route pages responder:en.
    ids = d.submit(h.report("Someone followed me home from the office."))
    alert = alert_of(http_sink, "/ok/en", ids["report_id"])
    url = alert["ack_url"]
    assert url.startswith(public + "/v1/ack/"), url
    assert len(url) - len(public) < 110
    assert url in alert["message"]["body"]
    assert "To acknowledge or resolve, open " + url in alert["message"]["body"]
    token = url.rsplit("/", 1)[1]
    assert token not in d.log_text()

    drv = browser(wd)
    try:
        drv.get(url)
        assert drv.title == f"Case #{ids['case_id']}"
        body = drv.find_element(By.TAG_NAME, "body").text
        assert "Someone followed me home from the office." in body
        assert "open, nobody has acknowledged it" in body
        assert "+79001234567" not in drv.page_source
        shot(drv, "ack_page_en.png")
        # Opening it (twice) changed nothing.
        drv.get(url)
        assert "open, nobody has acknowledged it" in drv.find_element(By.ID, "state").text
        drv.find_element(By.ID, "ack").click()
        WebDriverWait(drv, 10).until(lambda x: x.find_elements(By.ID, "result"))
        assert drv.find_element(By.ID, "result").text == "Acknowledged — thank you"
        shot(drv, "ack_done_en.png")
        # The case is acknowledged (the page reads the store's case).
        drv.get(url)
        assert drv.find_element(By.ID, "state").text.startswith("acknowledged")
        assert "responder:en" in drv.find_element(By.ID, "state").text
        assert not drv.find_elements(By.ID, "ack")
    finally:
        drv.quit()
    assert f"ack link case={ids['case_id']} target=responder:en action=ack changed=true" \
        in d.log_text()

    # Used: a second POST (any action) gets the "already used" page and changes nothing.
    second = requests.post(url, data={"action": "resolve"}, timeout=5)
    assert second.status_code == 410
    assert "This link was already used" in second.text
    assert second.headers["Content-Security-Policy"].startswith(
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'")
    assert second.headers["Referrer-Policy"] == "no-referrer"
    assert second.headers["X-Frame-Options"] == "DENY"
    assert second.headers["Cache-Control"] == "no-store"
    page = requests.get(url, timeout=5)
    assert page.status_code == 200 and "acknowledged" in page.text and "resolved" not in page.text

    # Russian: a detention report pages responder:ru, whose page is in Russian.
    ru_ids = d.submit(h.report("Задержали активиста у метро, нужен адвокат."))
    ru_alert = alert_of(http_sink, "/ok/ru", ru_ids["report_id"])
    ru_url = ru_alert["ack_url"]
    assert "Чтобы подтвердить или закрыть дело, откройте " + ru_url in ru_alert["message"]["body"]
    # The partner's alert has its own link, bound to the partner.
    ngo_alert = alert_of(http_sink, "/ok/ngo", ru_ids["report_id"])
    assert ngo_alert["ack_url"] != ru_url
    ngo_page = requests.get(ngo_alert["ack_url"], timeout=5)
    assert ngo_page.status_code == 200
    assert "Задержали активиста" not in ngo_page.text  # sees: [labels] only
    assert "Текст сообщения вам не показывается." in ngo_page.text
    drv = browser(wd)
    try:
        drv.get(ru_url)
        assert drv.title == f"Дело #{ru_ids['case_id']}"
        assert "Задержали активиста у метро" in drv.find_element(By.TAG_NAME, "body").text
        assert drv.find_element(By.ID, "ack").text == "Принять: я занимаюсь"
        shot(drv, "ack_page_ru.png")
        drv.find_element(By.ID, "resolve").click()
        WebDriverWait(drv, 10).until(lambda x: x.find_elements(By.ID, "result"))
        assert drv.find_element(By.ID, "result").text == "Закрыто — спасибо"
        shot(drv, "ack_done_ru.png")
        drv.get(ru_url)
        assert drv.find_element(By.ID, "state").text.startswith("закрыто")
        assert not drv.find_elements(By.TAG_NAME, "form")
    finally:
        drv.quit()
    used = requests.post(ru_url, data={"action": "ack"}, timeout=5)
    assert used.status_code == 410 and "Ссылка уже использована" in used.text

    # Forged: a changed character, another key's token, junk: 404 in both languages.
    t = list(token)
    t[10] = "A" if t[10] != "A" else "B"
    for bad in (public + "/v1/ack/" + "".join(t), public + "/v1/ack/" + "A" * 86,
                public + "/v1/ack/x"):
        for resp in (requests.get(bad, timeout=5),
                     requests.post(bad, data={"action": "ack"}, timeout=5)):
            assert resp.status_code == 404, bad
            assert "This link is not valid" in resp.text
            assert "Ссылка недействительна" in resp.text
    assert d.stop() == 0


def test_an_expired_link_shows_the_expired_page(wd, base_cfg, http_sink):
    from selenium.webdriver.common.by import By
    d = start(wd, base_cfg, ttl="1s")
    ids = d.submit(h.report("Expiring link report."))
    url = alert_of(http_sink, "/ok/en", ids["report_id"])["ack_url"]
    h.wait_until(lambda: requests.get(url, timeout=5).status_code == 410, timeout=5,
                 what="the link to expire")
    drv = browser(wd)
    try:
        drv.get(url)
        assert "This link has expired" in drv.find_element(By.TAG_NAME, "h1").text
        shot(drv, "ack_expired_en.png")
    finally:
        drv.quit()
    post = requests.post(url, data={"action": "ack"}, timeout=5)
    assert post.status_code == 410 and "This link has expired" in post.text
    assert d.stop() == 0


def test_no_public_url_no_link(wd, base_cfg, http_sink):
    base_cfg["public_url"] = ""
    d = h.Daemon(wd, base_cfg).start()
    r = d.submit(h.report("No public URL."))
    alert = alert_of(http_sink, "/ok/en", r["report_id"])
    assert "ack_url" not in alert
    assert "To acknowledge, reply ACK " in alert["message"]["body"]
    assert "/v1/ack/" not in alert["message"]["body"]
    assert d.stop() == 0
