"""Running the dashboard for a real browser: a `streamlit run app.py` server and Chromium's settings.

Shared by tests/app/test_browser.py and benchmarks/dashboard_rerun.py. Chromium is Debian's
(`apt-get install chromium`), driven through the playwright package (never `playwright install`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

from repo import ROOT

CHROMIUM = os.environ.get("SIMBP_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser") \
    or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def healthy(url: str) -> bool:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url + "/_stcore/health", timeout=2) as response:
            return bool(response.read().decode().strip() == "ok")
    except OSError:
        return False


@contextlib.contextmanager
def streamlit_server(env: dict[str, str] | None = None, timeout: float = 60.0) -> Iterator[str]:
    """`streamlit run app.py` on a free local port, answering its health check; stopped on exit."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true", "--server.port",
               str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
               "--server.fileWatcherType", "none"]
    environment = {k: v for k, v in os.environ.items() if k != "SIMBP_SCENARIOS"}  # the real library
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    environment.update(env or {})
    log = open(os.devnull, "w")  # noqa: SIM115 - closed below, after the process
    process = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + timeout
        while not healthy(url):
            if process.poll() is not None:
                raise RuntimeError(f"streamlit exited early with status {process.returncode}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"streamlit did not answer its health check within {timeout:.0f} s")
            time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


WATCH = """() => { window.__states = []; window.__drawn = 0; const app = document.querySelector('[data-testid="stApp"]');
  new MutationObserver(() => window.__states.push([performance.now(), app.getAttribute('data-test-script-state')]))
    .observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
  new MutationObserver((records) => { for (const r of records) { const e = r.target.nodeType === 1 ? r.target
      : r.target.parentElement; if (e && e.closest('[data-testid="stVegaLiteChart"]')) {
      window.__drawn = performance.now(); break; } } })
    .observe(document.body, {subtree: true, childList: true, attributes: true}); }"""
RERUN_DONE = """(t) => { const s = window.__states.filter(e => e[0] > t);
  const r = s.findIndex(e => e[1] === 'running'); return r >= 0 && s.slice(r).some(e => e[1] === 'notRunning'); }"""
IDLE_AT = "(t) => window.__states.filter(e => e[0] > t && e[1] === 'notRunning')[0][0]"
QUIET = "(ms) => performance.now() - window.__drawn > ms"


def watch_script_state(page: Any) -> None:
    """Record every change of the page's script state with its time (a quick rerun is easily missed),
    and the time of the last change inside any chart."""
    page.evaluate(WATCH)


def rerun_seconds(page: Any, key: str) -> float:
    """Press `key` on the focused control; seconds until the rerun it starts has ended in the browser."""
    return rerun_timings(page, key)[0]


def rerun_timings(page: Any, key: str, quiet_ms: float = 400.0) -> tuple[float, float]:
    """Press `key` on the focused control: seconds until the page's script is idle again, and until its
    charts are drawn as well (their last change, once none has come for `quiet_ms`)."""
    return rerun_phases(page, key, quiet_ms)[1:]


RUNNING_AT = "(t) => window.__states.filter(e => e[0] > t && e[1] === 'running')[0][0]"


def rerun_phases(page: Any, key: str, quiet_ms: float = 400.0, timeout_ms: float = 120_000) -> tuple[float, float, float]:
    """As `rerun_timings`, with first the seconds until the browser heard that the script started
    (the key press reaching the server and its answer): the rest is the script and the drawing."""
    pressed = page.evaluate("() => performance.now()")
    page.keyboard.press(key)
    page.wait_for_function(RERUN_DONE, arg=pressed, timeout=timeout_ms)
    running = float(page.evaluate(RUNNING_AT, pressed))
    idle = float(page.evaluate(IDLE_AT, pressed))
    page.wait_for_function(QUIET, arg=quiet_ms, timeout=120_000, polling=50)
    drawn = max(idle, float(page.evaluate("() => window.__drawn")))
    return (running - pressed) / 1000, (idle - pressed) / 1000, (drawn - pressed) / 1000
