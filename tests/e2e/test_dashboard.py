"""End to end: `stix dashboard` over a real local cluster and its job, in a real headless Chromium (selenium with
Debian's chromium and chromium-driver; scripts/setup.sh --test installs them, and without them this fails)."""

from __future__ import annotations

import json
import re
import shutil
import signal
import struct
from pathlib import Path

import pytest

from tests.polling import wait_for

pytestmark = pytest.mark.e2e

CLUSTER = "e2e-dash"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


@pytest.fixture
def cluster(stix, tmp_path, engine):
    task = tmp_path / "cluster.yaml"
    task.write_text(f"name: {CLUSTER}\nresources:\n  infra: local\n")
    up = stix("up", "-y", str(task))
    assert up.returncode == 0, up.stdout + up.stderr
    yield CLUSTER
    assert stix("destroy", "-y", CLUSTER).returncode == 0


@pytest.fixture
def dashboard(stix, cluster):
    server = stix.popen("dashboard", "--port", "0")
    assert server.stdout is not None
    first = server.stdout.readline()
    match = re.match(r"stix dashboard: (http://127\.0\.0\.1:\d+/)$", first.strip())
    assert match, f"the first line names the URL: {first!r}"
    yield match.group(1)
    server.send_signal(signal.SIGINT)
    try:
        assert server.wait(timeout=15) in (0, 130), server.stdout.read()
    finally:
        if server.poll() is None:
            server.kill()


@pytest.fixture
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if shutil.which(path) is None]
    assert not missing, f"{missing} missing: scripts/setup.sh --test installs chromium and chromium-driver"
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,800",
                "--disable-dev-shm-usage", "--disable-extensions"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def severe(driver) -> list[dict]:
    """The console's errors since the last call (reading the log empties it)."""
    return [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert len(data) > 1000 and data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", "not a PNG"
    return struct.unpack(">II", data[16:24])


def text_of(driver, selector: str) -> str:
    """An element's text read in one script call: the page replaces its fragments while it refreshes, so an
    element found in one call may be gone by the next."""
    return driver.execute_script("const e = document.querySelector(arguments[0]); return e ? e.textContent : ''",
                                 selector)


def background(driver) -> str:
    return driver.execute_script("return getComputedStyle(document.documentElement).backgroundColor")


def test_the_dashboard_shows_the_cluster_and_its_job_and_follows_it(stix, tmp_path, dashboard, browser):
    gate = tmp_path / "finish"
    job = stix("exec", "-d", CLUSTER, f"echo dashboard-log-line-one; while [ ! -e {gate} ]; do sleep 0.1; done; "
                                      "echo dashboard-log-line-two")
    assert job.returncode == 0, job.stderr

    browser.get(dashboard)
    body = browser.find_element("tag name", "body")
    assert CLUSTER in body.text and "UP" in body.text
    assert "Managed jobs" in body.text and "Cost per day" in body.text
    browser.find_element("link text", CLUSTER).click()
    wait_for(lambda: "dashboard-log-line-one" in text_of(browser, "#log"), 20, "the job's log")
    status = lambda: text_of(browser, "[data-job-status='1']")  # noqa: E731
    assert status() in ("PENDING", "SETTING_UP", "RUNNING")
    marker = browser.execute_script("window.notReloaded = true; return window.notReloaded")
    assert marker is True

    gate.touch()
    wait_for(lambda: status() == "SUCCEEDED", 30, "the job's status to change to SUCCEEDED in the page")
    wait_for(lambda: "dashboard-log-line-two" in text_of(browser, "#log"), 10, "the log's last line")
    assert browser.execute_script("return window.notReloaded") is True, "the page changed without a reload"
    # Nothing left to run: the page stops reading the head, whose SSH sessions would hold autostop.
    wait_for(lambda: browser.execute_script("return document.querySelector('[data-refresh]') === null"), 10,
             "the page to stop refreshing once no job is left")
    assert "Reload to read it again" in text_of(browser, "main")
    errors = severe(browser)
    assert not errors, errors

    shot = tmp_path / "dashboard.png"
    assert browser.save_screenshot(str(shot))
    width, height = png_size(shot)
    assert (width, height) == tuple(browser.execute_script("return [window.innerWidth, window.innerHeight]")) \
        or width >= 1000, (width, height)
    text = browser.find_element("tag name", "body").text
    assert f"Cluster {CLUSTER}" in text and "SUCCEEDED" in text and "dashboard-log-line-two" in text
    assert background(browser) == "rgb(255, 255, 255)"

    # A phone-width window: nothing wider than the window but the tables, which scroll inside their box.
    browser.set_window_size(390, 844)
    browser.get(dashboard)
    assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth + 1")
    assert browser.find_element("link text", CLUSTER).is_displayed()
    phone = tmp_path / "phone.png"
    browser.save_screenshot(str(phone))
    assert png_size(phone)[0] < 1000

    # Dark: the colours follow prefers-color-scheme.
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia",
                            {"features": [{"name": "prefers-color-scheme", "value": "dark"}]})
    browser.get(dashboard)
    assert background(browser) == "rgb(13, 17, 23)"
    dark = tmp_path / "dark.png"
    browser.save_screenshot(str(dark))
    png_size(dark)
    assert CLUSTER in browser.find_element("tag name", "body").text

    # Without JavaScript the lists are all there (only the refreshing is gone).
    browser.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": True})
    browser.get(dashboard + f"clusters/{CLUSTER}")
    assert "SUCCEEDED" in browser.find_element("id", "jobs").text
    assert "dashboard-log-line-two" in browser.find_element("id", "log").text
    errors = severe(browser)
    assert not errors, errors
    json.dumps(browser.get_log("browser"))  # the log reads back (no driver error)
