"""The web dashboard (issue 19) in headless Chromium against a real `mismartera serve` process running
a paced backtest: the page with the token from the URL fragment shows the run and its state, the
clock moves, the buttons steer the session (seen by one-shot commands of other processes), the
report view shows `system report --json`'s numbers, and without a valid token it shows no data."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from dashboard_browser import (
    PHONE,
    Served,
    chromium,
    distinct_colours,
    missing_browser,
    open_dashboard,
    screenshot,
    text_of,
    wait_until,
)

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(missing_browser() is not None, reason=missing_browser() or "")]

SPEED = 300   # five bars a second: the clock visibly moves, the session outlives the test


def shown(driver, element_id: str) -> bool:
    from selenium.webdriver.common.by import By

    return bool(driver.find_element(By.ID, element_id).is_displayed())


def click(driver, element_id: str) -> None:
    from selenium.webdriver.common.by import By

    button = driver.find_element(By.ID, element_id)
    wait_until(button.is_enabled, f"the {element_id} button to be enabled")
    button.click()


def status_json(served: Served) -> dict:
    result = served.cli("system", "status", "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_gh19_the_dashboard_shows_and_steers_a_served_backtest(example_bars: Path, tmp_path: Path) -> None:
    served = Served(example_bars, SPEED)
    try:
        api_url = served.api_url
        assert served.dashboard_url.startswith(api_url + "/#token=")
        run_id = wait_until(lambda: status_json(served).get("run_id"), "the run to start")
        with chromium() as driver:
            # Without the token, or with a wrong one: the sign-in box and no session data.
            driver.get(api_url + "/")
            wait_until(lambda: shown(driver, "signin"), "the sign-in box")
            assert not shown(driver, "live-view") and "example" not in driver.find_element("tag name", "body").text
            driver.get(api_url + "/#token=not-the-token")
            wait_until(lambda: shown(driver, "signin") and "refused" in text_of(driver, "signin-why"),
                       "the wrong token refused")
            assert not shown(driver, "live-view") and f"run {run_id}" not in driver.page_source
            assert driver.execute_script("return sessionStorage.getItem('mismartera.token')") is None
            # The sign-in box takes the token.
            from selenium.webdriver.common.by import By

            driver.find_element(By.ID, "signin-token").send_keys(served.dashboard_url.split("#token=")[1])
            driver.find_element(By.CSS_SELECTOR, "#signin-form button").click()
            wait_until(lambda: text_of(driver, "run") == f"run {run_id}", "the run after signing in")
            assert not shown(driver, "signin")

            # With the token: the run, its state and a moving clock; the token leaves the address bar.
            open_dashboard(driver, served.dashboard_url)
            assert "token" not in driver.current_url
            assert text_of(driver, "run") == f"run {run_id}"
            assert text_of(driver, "session") == "example" and text_of(driver, "mode") == "backtest"
            wait_until(lambda: text_of(driver, "state") == "RUNNING", "state running")
            first = text_of(driver, "clock")
            assert first.endswith(" ET"), first
            wait_until(lambda: text_of(driver, "clock") != first, "the clock to advance", timeout=2.0, step=0.05)
            # Leaving the page closes its stream: loads beyond the browser's six connections a host still work.
            for _ in range(8):
                driver.get("about:blank")
                open_dashboard(driver, served.dashboard_url)
            path = screenshot(driver, tmp_path / "dashboard.png")
            colours = distinct_colours(path)
            assert colours > 50, f"the screenshot looks blank ({colours} colours)"

            # Readable at phone width: nothing wider than the screen but the tables' own scrollers.
            driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
                "width": PHONE[0], "height": PHONE[1], "deviceScaleFactor": 1, "mobile": True})
            time.sleep(0.3)
            assert driver.execute_script("return document.documentElement.scrollWidth") <= PHONE[0] + 1
            assert shown(driver, "equity-chart") and shown(driver, "pause")

            # The buttons call the API the CLI uses: another process sees the pause.
            click(driver, "pause")
            wait_until(lambda: status_json(served)["state"] == "paused", "system status to say paused", timeout=15)
            wait_until(lambda: text_of(driver, "state") == "PAUSED", "the page to show paused")
            click(driver, "resume")
            wait_until(lambda: status_json(served)["state"] == "running", "system status to say running", timeout=15)
            click(driver, "stop")
            driver.switch_to.alert.accept()     # stop asks first
            wait_until(lambda: status_json(served)["state"] == "stopped", "the session to stop", timeout=30)

            # The report view shows `system report --json`'s numbers.
            report = served.cli("system", "report", "--json")
            assert report.returncode == 0, report.stderr
            expected = json.loads(report.stdout)
            driver.get(api_url + "/#runs")
            cell = wait_until(lambda: driver.find_elements(By.ID, "metric-final_equity"), "the report's final equity")
            assert float(cell[0].get_attribute("data-value")) == expected["summary"]["final_equity"]
            assert f"Report of run {expected['run']['id']}" in text_of(driver, "report-title")

            # The host goes away: the page says so (and keeps trying).
            driver.get(api_url + "/#live")
            wait_until(lambda: text_of(driver, "state") == "STOPPED", "the stopped session on the page")
            code, _out, err = served.end()
            assert code == 0, err
            wait_until(lambda: shown(driver, "connection") and "disconnected" in text_of(driver, "connection"),
                       "the page to say it is disconnected")
    finally:
        code, _out, err = served.end()
    assert code == 0, err
    assert served.dashboard_url.split("#token=")[1] not in (example_bars / "state" / "mismartera.log").read_text()
