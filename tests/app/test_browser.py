"""The dashboard in a real headless Chromium: `streamlit run app.py`, load, move a control, look.

Skipped (with the reason) when Chromium or the playwright package is missing; `.ci/run` installs
both so this runs in CI. The screenshot lands in reports/screenshots/dashboard.png.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT = ROOT / "reports" / "screenshots" / "dashboard.png"
CHROMIUM = os.environ.get("SIMBP_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser") or "/usr/bin/chromium"

try:
    from playwright.sync_api import Page, expect, sync_playwright
except ImportError:  # pragma: no cover - depends on the machine
    pytest.skip("the playwright Python package is not installed (pip install playwright)", allow_module_level=True)
if not Path(CHROMIUM).exists():  # pragma: no cover - depends on the machine
    pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium, or set SIMBP_CHROMIUM)", allow_module_level=True)

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def healthy(url: str) -> bool:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url + "/_stcore/health", timeout=2) as response:
            return response.read().decode().strip() == "ok"
    except OSError:
        return False


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true", "--server.port", str(port),
               "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
               "--server.fileWatcherType", "none"]
    env = {k: v for k, v in os.environ.items() if k != "SIMBP_SCENARIOS"}  # the real scenario library
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while not healthy(url):
            if process.poll() is not None:
                pytest.fail(f"streamlit exited early:\n{process.stdout.read() if process.stdout else ''}")
            if time.monotonic() > deadline:
                pytest.fail("streamlit did not answer its health check within 60 s")
            time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def page(server: str) -> Iterator[Page]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1100})
            page.goto(server, wait_until="domcontentloaded")
            yield page
        finally:
            browser.close()


def wait_for_rerun(page: Page) -> None:
    page.wait_for_timeout(300)  # let the rerun start before waiting for it to end
    expect(page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]')).to_have_count(1, timeout=60_000)


def verdict(page: Page) -> str:
    metric = page.locator('[data-testid="stMetric"]').filter(has_text="verdict").first
    return metric.locator('[data-testid="stMetricValue"]').inner_text().strip()


def test_page_loads_a_control_reruns_and_the_charts_and_verdict_appear(page: Page) -> None:
    expect(page.locator('[data-testid="stMetricValue"]').first).to_be_visible(timeout=60_000)
    wait_for_rerun(page)
    assert page.locator('[data-testid="stException"]').count() == 0
    expect(page.get_by_text("quickstart", exact=True).first).to_be_visible()
    assert verdict(page) == "healthy"
    images = page.locator('[data-testid="stImage"] img')
    expect(images).to_have_count(5, timeout=30_000)
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=\"stImage\"] img')].every(i => i.complete && i.naturalWidth > 0)",
        timeout=30_000)

    workers = page.get_by_role("slider", name="workers")
    workers.focus()
    workers.press("ArrowLeft")  # four workers → three: 750 messages a second against 900
    wait_for_rerun(page)
    expect(page.get_by_role("slider", name="workers")).to_have_value("3")
    expect(page.locator('[data-testid="stMetric"]').filter(has_text="verdict").locator('[data-testid="stMetricValue"]')
           ).to_have_text("dropping", timeout=60_000)
    expect(page.get_by_role("heading", name="Verdict: dropping")).to_be_visible()
    expect(images).to_have_count(5, timeout=30_000)
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=\"stImage\"] img')].every(i => i.complete && i.naturalWidth > 0)",
        timeout=30_000)
    assert page.locator('[data-testid="stException"]').count() == 0

    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 1500, "height": 2900})  # Streamlit scrolls inside the page: show it all
    page.wait_for_timeout(500)
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    assert SCREENSHOT.stat().st_size > 50_000
