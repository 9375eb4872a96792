"""The dashboard as a shared server, without Streamlit: input caps, files kept in their folder, run
budgets and cancellation, the shared run pool, shareable links, and sweeps in their own process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import zlib
from pathlib import Path

import pytest
from repo import ROOT

import simbp
from simbp import dashboard
from simbp.budget import BudgetExceeded
from simbp.dashboard import guard, runpool, sweeps, urlstate

LIBRARY = ROOT / "scenarios"

OVERLOAD = """\
name: overload
duration: 20s
seed: 3
memory: {limit: 1MiB}
producers:
  - name: web
    to: queue
    arrivals: {process: poisson, rate: 300/s}
    size: 2KiB
buffers:
  - name: queue
    capacity: 100
    policy: drop_newest
consumers:
  - name: workers
    from: queue
    workers: 1
    service: {dist: exponential, mean: 5ms}
"""


# --------------------------------------------------------------------------- files and input caps
@pytest.mark.parametrize("name", ["/etc/passwd", "../../secret.csv", "~/secret.csv", "traces/../../secret.csv",
                                  "escape/secret.csv"])
def test_a_scenario_cannot_read_files_outside_its_folder(tmp_path: Path, name: str) -> None:
    folder = tmp_path / "library"
    (folder / "traces").mkdir(parents=True)
    (folder / "traces" / "ok.csv").write_text("count\n5\n5\n")
    (tmp_path / "secret.csv").write_text("SECRET-CONTENT\n1\n")
    (folder / "escape").symlink_to(tmp_path)  # a link inside the folder pointing out of it
    text = (LIBRARY / "trace_replay.yaml").read_text().replace("traces/api_requests_per_second.csv", "traces/ok.csv")
    assert dashboard.load_text(text, base_dir=folder).producers[0].arrivals.file == "traces/ok.csv"
    with pytest.raises(simbp.ScenarioError) as caught:
        dashboard.load_text(text.replace("traces/ok.csv", name), base_dir=folder)
    (line,) = dashboard.problem_lines(caught.value)
    assert line.startswith("line 14, producers[0].arrivals.file: file ")
    assert "outside the scenario's folder" in line or "not an absolute path" in line
    assert "SECRET" not in line and "root:" not in line  # the file is never read, its contents never shown


def test_oversized_deep_or_alias_bomb_yaml_is_refused_quickly() -> None:
    started = time.perf_counter()
    bomb = "a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(9))
    for text, message in ((bomb, "yaml_nodes"), ("[" * 100 + "]" * 100, "nests deeper than 40"),
                          ("name: x\n" + "# padding\n" * 30_000, "document_size")):
        with pytest.raises(simbp.ScenarioError, match=message):
            dashboard.load_text(text)
    assert time.perf_counter() - started < 2.0


def test_an_upload_bundle_is_one_scenario_and_plain_named_files_within_budget() -> None:
    assert guard.check_bundle([("s.yaml", 100), ("t.csv", 1000)]) is None
    assert "exactly one scenario" in guard.check_bundle([("t.csv", 10)])
    assert "plain file name" in guard.check_bundle([("s.yaml", 10), ("../t.csv", 10)])
    assert "accepts up to" in guard.check_bundle([("s.yaml", guard.BUDGET.max_bundle_bytes + 1)])
    assert "at most" in guard.check_bundle([("s.yaml", 1)] + [(f"{i}.csv", 1) for i in range(20)])


# --------------------------------------------------------------------------- run budgets
def test_runs_are_priced_before_they_start_warned_and_refused() -> None:
    small = dashboard.load_text(OVERLOAD)
    estimate = guard.estimate_run(small)
    assert estimate.mode == "exact" and estimate.messages == pytest.approx(6000) and not estimate.warn
    assert estimate.refused is None
    large = dashboard.load_text(OVERLOAD.replace("duration: 20s", "duration: 2h"))  # 2.16 M messages
    assert guard.estimate_run(large, "exact").warn and guard.estimate_run(large, "exact").refused is None
    huge = dashboard.load_text(OVERLOAD.replace("duration: 20s", "duration: 20h"))  # 21.6 M messages
    refused = guard.estimate_run(huge, "exact").refused
    assert refused is not None and "fast mode" in refused
    with pytest.raises(simbp.ScenarioError, match="fast mode"):
        dashboard.run_guarded(OVERLOAD.replace("duration: 20s", "duration: 20h"), mode="exact")
    with pytest.raises(simbp.ScenarioError, match="confirm it first"):
        dashboard.run_guarded(OVERLOAD.replace("duration: 20s", "duration: 2h"), mode="exact", allow_slow=False)
    many_samples = dashboard.load_text(OVERLOAD.replace("duration: 20s", "duration: 20s\nsample_interval: 500us"))
    assert "sample_interval" in (guard.estimate_run(many_samples).refused or "")  # simbp.budget's samples budget


def test_the_pages_auto_runs_fast_mode_where_it_is_quicker_and_measured_within_its_bounds() -> None:
    """Kafka, a piped Node.js stream: fast mode (benchmarks/dashboard_modes.py measured it quicker and
    within its stated bounds); a dropping buffer (stepped finely, slower) and autoscaling consumers
    (measured outside a bound) stay exact; a mode chosen in the control is kept."""
    def chosen(file: str, mode: str = "auto") -> str:
        return dashboard.page_mode(dashboard.load_text((LIBRARY / file).read_text(), base_dir=LIBRARY), mode)[0]

    assert chosen("kafka_8_consumers_6_partitions.yaml") == "fast" and chosen("node_pipe.yaml") == "fast"
    assert chosen("kafka_8_consumers_6_partitions.yaml", "exact") == "exact"
    assert chosen("quickstart.yaml") == "exact" and chosen("node_naive_write.yaml") == "exact"
    assert chosen("quickstart.yaml", "fast") == "fast"
    assert chosen("kafka_autoscale.yaml") == "exact"
    assert guard.estimate_run(dashboard.load_text((LIBRARY / "node_pipe.yaml").read_text(), base_dir=LIBRARY)).mode \
        == "fast"
    text = (LIBRARY / "kafka_retention_loss.yaml").read_text()
    summary = dashboard.run_guarded(text, base_dir=LIBRARY).summary
    assert summary["mode"] == "fast" and summary["mode_reason"].startswith("auto on this page: fast mode")
    assert summary["fast_error"]["retention_lost_rel"] > 0  # its stated bounds travel with it
    asked = dashboard.run_guarded(text, base_dir=LIBRARY, mode="exact").summary
    assert asked["mode"] == "exact" and asked["mode_reason"] == "exact mode, as asked: every message simulated"
    plain = dashboard.run_guarded(OVERLOAD).summary
    assert plain["mode"] == "exact" and plain["mode_reason"].startswith("auto: about")


def test_a_cancelled_run_stops_within_a_small_share_of_its_time() -> None:
    text = OVERLOAD.replace("duration: 20s", "duration: 2000s")  # 600,000 messages: several seconds of computing
    deadline = guard.Deadline()
    threading.Timer(0.3, deadline.cancel).start()
    started = time.perf_counter()
    with pytest.raises(guard.RunCancelled):
        dashboard.run_guarded(text, deadline=deadline)
    assert time.perf_counter() - started < 1.5
    assert 0.0 < deadline.fraction < 0.6
    expired = guard.Deadline(seconds=0.2)
    with pytest.raises(BudgetExceeded, match="wall-clock time"):
        dashboard.run_guarded(text, deadline=expired)


# --------------------------------------------------------------------------- the shared run pool
def test_the_pool_runs_a_key_once_for_every_page_and_caches_it() -> None:
    pool = runpool.RunPool(max_entries=2)
    calls: list[int] = []

    def work(deadline: guard.Deadline) -> int:
        calls.append(1)
        time.sleep(0.2)
        return 42

    first, second = pool.submit("a", work), pool.submit("a", work)
    assert first.wait(5) and second.wait(5)
    assert first.result() == second.result() == 42 and len(calls) == 1
    first.release()
    second.release()
    assert pool.get("a") == 42
    assert pool.derived("a", "double", lambda: 84) == 84 and pool.derived("a", "double", lambda: 0) == 84
    for key in ("b", "c"):
        ticket = pool.submit(key, lambda deadline, key=key: key)
        ticket.wait(5)
        ticket.release()
    assert pool.get("a") is None and pool.get("c") == "c"  # the least recently used went first


def test_a_run_nobody_waits_for_is_cancelled_and_not_cached() -> None:
    pool = runpool.RunPool()
    seen: list[str] = []

    def work(deadline: guard.Deadline) -> str:
        for step in range(200):
            time.sleep(0.01)
            deadline(step / 200)
            if deadline.is_cancelled():  # as simbp.run asks at each progress report
                raise guard.RunCancelled()
        seen.append("finished")
        return "done"

    one, two = pool.submit("k", work), pool.submit("k", work)
    one.release()  # another page still waits: the run goes on
    time.sleep(0.1)
    assert pool.running() == 1
    two.release()  # the last page left: cancel
    time.sleep(0.3)
    assert pool.running() == 0 and pool.get("k") is None and seen == []
    again = pool.submit("k", lambda deadline: "fresh")
    assert again.wait(5) and again.result() == "fresh"


# --------------------------------------------------------------------------- shareable links
def test_a_link_carries_only_moved_controls_and_reproduces_the_run() -> None:
    text = (LIBRARY / "quickstart.yaml").read_text()
    knobs = dashboard.derive_knobs(dashboard.load_text(text, base_dir=LIBRARY))
    values = {k.key: k.value for k in knobs}
    values.update({"consumers.workers.workers": 3, "load_multiplier": 1.25, "seed": 8})
    state = urlstate.ShareState(scenario="quickstart.yaml", view="policies", mode="exact")
    params = urlstate.encode_state(state, knobs, values)
    assert params == {"scenario": "quickstart.yaml", "view": "policies", "mode": "exact",
                      "consumers.workers.workers": "3", "load_multiplier": "1.25", "seed": "8"}
    opened = urlstate.decode_state(params)
    by_key = {k.key: k for k in knobs}
    restored = {k.key: k.value for k in knobs}
    restored.update({key: urlstate.parse_value(by_key[key], value) for key, value in opened.values.items()})
    assert dashboard.apply_knobs(text, knobs, restored) == dashboard.apply_knobs(text, knobs, values)
    assert (opened.scenario, opened.view, opened.mode) == ("quickstart.yaml", "policies", "exact")


def test_link_values_are_clamped_to_the_control_and_bad_ones_ignored() -> None:
    knobs = {k.key: k for k in dashboard.derive_knobs(dashboard.load_text(OVERLOAD))}
    workers = knobs["consumers.workers.workers"]
    assert urlstate.parse_value(workers, "1000") == workers.maximum
    assert urlstate.parse_value(workers, "2.6") == 3
    assert urlstate.parse_value(workers, "lots") is None and urlstate.parse_value(workers, "nan") is None
    assert urlstate.parse_value(knobs["buffers.queue.policy"], "block") == "block"
    assert urlstate.parse_value(knobs["buffers.queue.policy"], "explode") is None
    state = urlstate.decode_state({"view": "nowhere", "mode": "turbo", "b.seed": "4"})
    assert (state.view, state.mode, state.b_values) == ("whatif", "auto", {"seed": "4"})


def test_an_edited_scenario_travels_packed_and_a_packed_bomb_is_refused() -> None:
    edited = OVERLOAD.replace("workers: 1", "workers: 2")
    packed = urlstate.pack_text(edited)
    assert packed is not None and len(packed) < len(edited)
    assert urlstate.unpack_text(packed) == edited
    bomb = __import__("base64").urlsafe_b64encode(zlib.compress(b"a" * 5_000_000, 9)).decode().rstrip("=")
    assert len(bomb) < urlstate.MAX_PACKED_CHARS
    assert urlstate.unpack_text(bomb) is None
    assert urlstate.unpack_text("not*base64!") is None
    # A/B's own B travels the same way, beside A's edit, and the same bomb is refused for it too
    params = urlstate.encode_state(urlstate.ShareState(view="ab", yaml=edited, b_yaml=OVERLOAD))
    assert params["b_yaml"] != params["yaml"]
    state = urlstate.decode_state(params)
    assert (state.yaml, state.b_yaml, state.b_values) == (edited, OVERLOAD, {})
    assert urlstate.decode_state({"view": "ab", "b_yaml": bomb}).b_yaml is None


# --------------------------------------------------------------------------- sweeps in their own process
def test_sweeps_are_priced_and_large_ones_refused() -> None:
    question = dashboard.CapacityQuestion("consumers.workers.workers", (1, 2, 3), (1.0, 1.5), replications=2,
                                          duration_s=10.0)
    estimate = sweeps.estimate_sweep(OVERLOAD, question)
    assert estimate.runs == 12 and estimate.messages == pytest.approx(3 * 2 * (3000 + 4500)) and not estimate.refused
    big = dashboard.CapacityQuestion("consumers.workers.workers", tuple(range(1, 21)), (1.0, 2.0, 3.0),
                                     replications=10, duration_s=10.0)
    assert "600 runs" in (sweeps.estimate_sweep(OVERLOAD, big).refused or "")
    long = dashboard.CapacityQuestion("consumers.workers.workers", (1, 2), (1.0,), replications=2, duration_s=100_000.0)
    assert "min of computing" in (sweeps.estimate_sweep(OVERLOAD, long).refused or "")


def test_the_sweep_process_loads_no_streamlit() -> None:
    code = "import sys, simbp.dashboard.sweeps; print('streamlit' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                          check=True).stdout.strip() == "False"


def _group_alive(pgid: int, wait: float = 10.0) -> bool:
    """Whether any process of the group is left after `wait` s (killed ones linger as zombies until reaped)."""
    deadline = time.monotonic() + wait
    while True:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        if time.monotonic() > deadline:
            return True
        time.sleep(0.2)


@pytest.mark.slow
def test_a_cancelled_or_abandoned_sweep_leaves_no_process_behind() -> None:
    question = dashboard.CapacityQuestion("consumers.workers.workers", (1, 2, 3, 4), (1.0, 2.0), replications=5,
                                          duration_s=600.0)
    job = sweeps.SweepJob.start(OVERLOAD, question, base_dir=ROOT, jobs=2)
    time.sleep(1.0)
    assert job.status() == "running"
    job.cancel()
    assert job.status() == "cancelled" and not _group_alive(job.process.pid)
    assert not job.folder.exists()

    abandoned = sweeps.SweepJob.start(OVERLOAD, question, base_dir=ROOT, jobs=2, heartbeat_timeout=2.0)
    deadline = time.monotonic() + 30
    while abandoned.alive() and time.monotonic() < deadline:  # nobody beats its heart: it stops itself
        time.sleep(0.5)
    assert not abandoned.alive()
    alive = _group_alive(abandoned.process.pid)
    if alive:  # pragma: no cover - a failure: clean up before reporting it
        os.killpg(abandoned.process.pid, signal.SIGKILL)
    assert not alive
    abandoned.cancel()
