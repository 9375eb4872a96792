"""How long the dashboard takes to be idle again after a control moves, in a real browser.

    python benchmarks/dashboard_rerun.py [--scenarios a.yaml,b.yaml] [--repeats 3]
    python benchmarks/dashboard_rerun.py --all --repeats 3   # every scenario in scenarios/*.yaml

Starts `streamlit run app.py`, opens each library scenario in headless Chromium, moves the load
multiplier one step right (a new run: new text) and back (the cached run), and prints the time
from the key press until the page's script is idle again, and until its charts are drawn too (no
change in any chart for 0.4 s; the time of the last change), per scenario and as medians. It also
prints where the time of a fresh rerun goes: until the browser hears the script started (the key
press reaching the server), the simulation alone and the chart data (both timed in this process);
the rest of "idle" is Streamlit sending the page and the browser drawing it. The simulation runs in the
mode the page's `auto` picks (`simbp.dashboard.page_mode`), which it prints. With `--all` it opens
every scenario of the library and prints the medians over all of them and over the eight default
ones. Needs Chromium and the playwright package (see tests/app/test_browser.py); run it alone, and
note the machine's load (printed at the start and the end).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "app"))
from browser_support import CHROMIUM, CHROMIUM_ARGS, rerun_phases, streamlit_server, watch_script_state  # noqa: E402

DEFAULT_SCENARIOS = ("quickstart.yaml", "node_pipe.yaml", "kafka_8_consumers_6_partitions.yaml",
                     "downstream_with_semaphore.yaml", "bounded_block.yaml", "batch_size_100.yaml",
                     "rxjs_throttle.yaml", "token_bucket.yaml")

IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
def simulation_seconds(file: str) -> tuple[float, float, str]:
    """The simulation alone (in the mode the page's `auto` runs it), and the chart data, for the
    scenario with the load multiplier one step up; and that mode."""
    from simbp import dashboard
    from simbp.dashboard import charts

    text = (ROOT / "scenarios" / file).read_text()
    scenario = dashboard.load_text(text, base_dir=ROOT / "scenarios")
    knobs = dashboard.derive_knobs(scenario)
    load = next(k for k in knobs if k.key == "load_multiplier")
    moved = dashboard.apply_knobs(text, knobs, {"load_multiplier": load.value + load.step})
    page_mode = getattr(dashboard, "page_mode", None)  # absent before the page chose its own mode
    mode = page_mode(dashboard.load_text(moved, base_dir=ROOT / "scenarios"))[0] if page_mode else "auto"
    start = time.perf_counter()
    results = dashboard.run_text(moved, base_dir=ROOT / "scenarios", mode=mode)
    middle = time.perf_counter()
    charts.timeline_chart(charts.timeline_panels(results))
    return middle - start, time.perf_counter() - middle, str(results.summary.get("mode", mode))


def _medians(timings: list[tuple[float, ...]]) -> tuple[float, ...]:
    return tuple(statistics.median(t[i] for t in timings) for i in range(len(timings[0])))


def _moves(page: Any, url: str, file: str, repeats: int) -> tuple[list[tuple[float, ...]], list[tuple[float, ...]]]:
    """Open `file`'s page, move the load multiplier one step up `repeats` times (each a new run), then
    back as many times (each a run made before): the phases of each rerun (`rerun_phases`)."""
    page.goto(f"{url}/?scenario={file}")
    page.wait_for_selector('[data-testid="stMetricValue"]', timeout=120_000)
    page.wait_for_selector(IDLE, timeout=120_000)
    watch_script_state(page)
    page.get_by_role("slider", name="load multiplier").focus()
    ups = [rerun_phases(page, "ArrowRight", timeout_ms=60_000) for _ in range(repeats)]
    backs = [rerun_phases(page, "ArrowLeft", timeout_ms=60_000) for _ in range(repeats)]
    return ups, backs


def _load() -> str:
    return " ".join(f"{value:.1f}" for value in os.getloadavg())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", default=",".join(DEFAULT_SCENARIOS))
    parser.add_argument("--all", action="store_true", help="every scenario in scenarios/*.yaml")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    files = sorted(p.name for p in (ROOT / "scenarios").glob("*.yaml")) if args.all else args.scenarios.split(",")
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    started_load = _load()
    fresh: dict[str, tuple[float, ...]] = {}
    cached: dict[str, tuple[float, ...]] = {}
    print(f"{'scenario':40s} {'new run: idle / drawn (s)':>26s} {'back: idle / drawn (s)':>23s} "
          f"{'simulation (s), mode':>21s} {'chart data (s)':>15s} {'started (s)':>12s}")
    with streamlit_server() as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 1000})
        for file in files:
            for attempt in (1, 2):  # a key press the page missed (focus lost under load): open it afresh once
                try:
                    ups, backs = _moves(page, url, file, args.repeats)
                    break
                except PlaywrightTimeout:
                    print(f"{file}: no rerun seen after a key press (attempt {attempt})", flush=True)
            else:
                continue
            simulation, chart, mode = simulation_seconds(file)
            fresh[file], cached[file] = _medians(ups), _medians(backs)
            print(f"{file:40s} {fresh[file][1]:16.2f} / {fresh[file][2]:5.2f} {cached[file][1]:13.2f} / "
                  f"{cached[file][2]:5.2f} {simulation:9.2f} {mode:>5s} {chart:15.3f} {fresh[file][0]:12.2f}", flush=True)
        browser.close()
    if not fresh:
        return 1
    groups = {f"the {len(fresh)} scenarios": list(fresh)}
    default = [file for file in DEFAULT_SCENARIOS if file in fresh]
    if len(default) < len(fresh) and default:
        groups[f"the {len(default)} default scenarios"] = default
    for name, chosen in groups.items():
        new, back = _medians([fresh[f] for f in chosen]), _medians([cached[f] for f in chosen])
        print(f"median over {name}: new run {new[1]:.2f} s idle, {new[2]:.2f} s drawn; "
              f"back to a cached run {back[1]:.2f} s idle, {back[2]:.2f} s drawn")
    print(f"load average (1, 5, 15 min) at the start {started_load}, at the end {_load()} on {os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
