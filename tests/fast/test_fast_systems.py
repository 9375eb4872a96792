"""The systems keys in fast mode (docs/systems.md): each mechanism against replications of exact mode.

As in tests/test_fast_accuracy.py, each comparison runs `SEEDS` seeds of both modes on the same
scenario and asks that fast mode's mean lie within exact mode's 99.9% confidence interval widened by
the stated bound (`simbp.fast.accuracy`):

    |fast mean − exact mean| ≤ Z · √(se_fast² + se_exact²) + bound.tolerance(exact mean),   Z = 3.29

Fast mode runs at set quanta, chosen to put each mechanism in each of its regimes (a token bucket
met token by token, one that keeps its state over cells, one that forgets it within a quantum).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from repo import ROOT

import simbp
from simbp.exact.model import simulate
from simbp.fast.accuracy import (
    ABANDONED,
    BATCH_LATENCY,
    BATCH_SIZE,
    CALL_LATENCY,
    CALLS,
    LATENCY_MEAN,
    LATENCY_P99,
    LOSS_RATIO,
    OPERATOR_ADDED_LATENCY,
    OPERATOR_DISCARDED,
    RATE_LIMIT_WAITS,
    RATE_LIMITED,
    RETRIES,
    SHED,
    Bound,
)
from simbp.fast.model import simulate_fast, unsupported
from simbp.fast.systems.ratelimit import md1k_blocking
from simbp.limits import choose_mode
from simbp.results import build_results

Z = 3.29  # two-sided 99.9%
SEEDS = range(1, 7)
Figure = Callable[[dict[str, Any]], float]


def _summaries(scenario: simbp.Scenario, quantum: float, seeds: range = SEEDS) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    exact = [build_results(simulate(scenario, seed=seed)).summary for seed in seeds]
    fast = [build_results(simulate_fast(scenario, seed=seed, quantum=quantum)).summary for seed in seeds]
    return exact, fast


def _agrees(exact: list[dict[str, Any]], fast: list[dict[str, Any]], figure: Figure, bound: Bound) -> tuple[bool, str]:
    runs = {"exact": [figure(s) for s in exact], "fast": [figure(s) for s in fast]}
    means = {mode: statistics.mean(values) for mode, values in runs.items()}
    errors = {mode: statistics.stdev(values) / len(values) ** 0.5 for mode, values in runs.items()}
    allowed = Z * (errors["exact"] ** 2 + errors["fast"] ** 2) ** 0.5 + bound.tolerance(means["exact"])
    return abs(means["fast"] - means["exact"]) <= allowed, f"{means} ± {errors}, allowed {allowed:.4g}"


@dataclass
class Case:
    """One comparison: a mechanism's scenario, fast mode's quantum, and the figures held to bounds."""

    mechanism: str
    name: str
    scenario: simbp.Scenario
    quantum: float
    checks: list[tuple[str, Figure, Bound]]
    seeds: range = SEEDS


def check(case: Case) -> list[tuple[str, bool, str]]:
    """Run the case in both modes: (figure, within its bound, detail) per figure; fast runs conserve."""
    assert not unsupported(case.scenario)
    exact, fast = _summaries(case.scenario, case.quantum, case.seeds)
    assert all(_conserved(summary) for summary in fast)
    return [(label, *_agrees(exact, fast, figure, bound)) for label, figure, bound in case.checks]


def _holds(case: Case) -> None:
    for label, ok, detail in check(case):
        assert ok, (label, detail)


def _conserved(summary: dict[str, Any]) -> bool:
    return summary["produced"] == (summary["consumed"] + summary["dropped"] + summary["timed_out"] + summary["lost_in_crash"]
                                   + summary["discarded"] + summary["failed"] + summary["in_flight_at_end"])


def _discarded_share(producer: str, by: str) -> Figure:
    def share(summary: dict[str, Any]) -> float:
        entry = summary["components"][producer]
        return entry["discarded_by"][by] / max(entry["produced"], 1)
    return share


def _loss(summary: dict[str, Any]) -> float:
    return float(summary["loss_ratio"])


# --------------------------------------------------------------------------- token bucket
LIMITED = """
name: limited
duration: {duration}
sample_interval: 1
producers: [{{name: api, to: queue, arrivals: {arrivals}, rate_limit: {{rate: 900/s, burst: {burst}}}}}]
buffers: [{{name: queue, policy: unbounded}}]
consumers: [{{name: workers, from: queue, workers: 4, service: {{dist: exponential, mean: 4ms}}}}]
"""
POISSON = "{process: poisson, rate: %d}"
BURSTS = "{process: bursty, on: {rate: 3000, duration: 5s}, off: {rate: 300, duration: 10s}}"

BUCKETS = {  # name: (arrivals, burst, duration, quantum): the regime the quantum puts the bucket in
    "over its rate, one token, forgets its state": (POISSON % 2000, 1, 20, 0.5),
    "under its rate, five tokens, token by token": (POISSON % 700, 5, 20, 0.02),
    "at its rate, twenty tokens, token by token": (POISSON % 900, 20, 30, 0.1),
    "bursts, 300 tokens, cells that keep its state": (BURSTS, 300, 45, 0.5),
    "bursts, 300 tokens, cells at finer quanta": (BURSTS, 300, 45, 0.05),
    "bursts, 40 tokens, token by token": (BURSTS, 40, 45, 0.05),
    "evenly spaced over its rate": ("{process: constant, rate: 1500}", 10, 20, 0.1),
}


def bucket_case(name: str) -> Case:
    arrivals, burst, duration, quantum = BUCKETS[name]
    scenario = simbp.load_scenario(LIMITED.format(duration=duration, arrivals=arrivals, burst=burst))
    return Case("rate limit (token bucket)", name, scenario, quantum,
                [("share rate limited", _discarded_share("api", "rate_limit"), RATE_LIMITED)])


@pytest.mark.parametrize("name", list(BUCKETS))
def test_token_bucket_discards_within_the_stated_bound(name: str) -> None:
    _holds(bucket_case(name))


WAITING = {  # name: (arrivals, burst, quantum)
    "over its rate, one token, forgets its state": (POISSON % 2000, 1, 0.5),
    "over its rate, one token, token by token": (POISSON % 2000, 1, 0.05),
    "at its rate, twenty tokens, token by token": (POISSON % 900, 20, 0.1),
    "bursts, 300 tokens, cells that keep its state": (BURSTS, 300, 0.5),
}


def waiting_case(name: str) -> Case:
    arrivals, burst, quantum = WAITING[name]
    body = LIMITED.format(duration=30, arrivals=arrivals, burst=burst).replace(f"burst: {burst}}}", f"burst: {burst}, on_limit: wait}}")
    return Case("rate limit that waits (on_limit: wait)", name, simbp.load_scenario(body), quantum,
                [("produced", lambda s: float(s["produced"]), RATE_LIMITED),
                 ("producer blocked fraction", lambda s: float(s["producer_blocked_fraction"]), RATE_LIMIT_WAITS)])


@pytest.mark.parametrize("name", list(WAITING))
def test_waiting_token_bucket_within_the_stated_bounds(name: str) -> None:
    _holds(waiting_case(name))


def test_one_token_bucket_over_its_rate_passes_what_md1k_says() -> None:
    """Over its rate with one token, a message passes only if it comes after the bucket refilled:
    M/D/1/1, whose blocking is ρ / (1 + ρ); fast mode's share against that formula."""
    scenario = simbp.load_scenario(LIMITED.format(duration=20, arrivals=POISSON % 2000, burst=1))
    rho = 2000 / 900
    assert md1k_blocking(rho, 1) == pytest.approx(rho / (1 + rho))
    shares = [_discarded_share("api", "rate_limit")(build_results(simulate_fast(scenario, seed=seed, quantum=q)).summary)
              for seed in SEEDS for q in (0.02, 0.5)]
    mean, error = statistics.mean(shares), statistics.stdev(shares) / len(shares) ** 0.5
    assert abs(mean - rho / (1 + rho)) <= Z * error + RATE_LIMITED.tolerance(rho / (1 + rho))


# --------------------------------------------------------------------------- shedding
SHEDDING = (0.02, 0.1)


def shedding_case(quantum: float) -> Case:
    scenario = simbp.load_scenario(ROOT / "scenarios" / "priority_shedding.yaml").with_changes({"duration": 30})
    return Case("priority shedding", f"priority_shedding, {quantum * 1000:g} ms quanta", scenario, quantum,
                [("share shed", _discarded_share("analytics", "shed"), SHED), ("loss ratio", _loss, LOSS_RATIO)])


@pytest.mark.parametrize("quantum", SHEDDING)
def test_priority_shedding_within_the_stated_bound(quantum: float) -> None:
    _holds(shedding_case(quantum))


# --------------------------------------------------------------------------- batch consumers
BATCHED = """
name: batched
duration: {duration}
sample_interval: 1
producers: [{{name: rows, to: queue, arrivals: {{process: poisson, rate: {rate}}}}}]
buffers: [{{name: queue, capacity: {capacity}, policy: {policy}}}]
consumers: [{{name: writer, from: queue, workers: {workers}, batch: {batch}}}]
"""
BATCHES = {  # name: (rate, capacity, policy, workers, batch, duration, quantum)
    "closed by the timeout, light load": (1000, 5000, "drop_newest", 1,
                                          "{size: 100, timeout: 50ms, fixed: 2ms, per_item: 0.1ms}", 30, 0.1),
    "full batches, overloaded, three workers": (9000, 400, "drop_newest", 3,
                                                "{size: 20, timeout: 10ms, fixed: {dist: exponential, mean: 4ms}, "
                                                "per_item: 0.3ms}", 20, 0.05),
    "one row a batch, overloaded": (1000, 5000, "drop_oldest", 1, "{size: 1, fixed: 2ms, per_item: 0.1ms}", 20, 0.05),
    "no timeout, two workers, busy": (3000, 1000, "unbounded", 2, "{size: 50, fixed: {dist: exponential, mean: 5ms}, "
                                      "per_item: 0.2ms}", 20, 0.05),
}


def _writer(figure: str) -> Figure:
    return lambda summary: float(summary["components"]["writer"][figure])


def _latency(figure: str) -> Figure:
    return lambda summary: float(summary["latency_s"][figure])


def batch_case(name: str) -> Case:
    rate, capacity, policy, workers, batch, duration, quantum = BATCHES[name]
    body = BATCHED.format(duration=duration, rate=rate, capacity=capacity, policy=policy, workers=workers, batch=batch)
    if policy == "unbounded":
        body = body.replace(f"capacity: {capacity}, ", "")
    return Case("batch consumers", name, simbp.load_scenario(body), quantum,
                [("loss ratio", _loss, LOSS_RATIO), ("mean batch size", _writer("mean_batch_size"), BATCH_SIZE),
                 ("latency mean", _latency("mean"), BATCH_LATENCY), ("latency p99", _latency("p99"), BATCH_LATENCY)])


@pytest.mark.parametrize("name", list(BATCHES))
def test_batch_consumers_within_the_stated_bounds(name: str) -> None:
    _holds(batch_case(name))


def test_batches_by_hand_constant_arrivals_fill_on_time() -> None:
    """100 rows/s evenly spaced into batches of 10 with a 1 s timeout: every batch fills in 0.1 s ×
    9 after its first row, so batches are full and a row waits (9 − i) × 10 ms + the 11 ms insert."""
    body = BATCHED.format(duration=10, rate=100, capacity=1000, policy="drop_newest", workers=1,
                          batch="{size: 10, timeout: 1s, fixed: 10ms, per_item: 0.1ms}").replace("poisson", "constant")
    summary = build_results(simulate_fast(simbp.load_scenario(body), seed=1, quantum=0.05)).summary
    writer = summary["components"]["writer"]
    assert writer["mean_batch_size"] == pytest.approx(10, abs=0.1) and summary["loss_ratio"] == 0
    assert summary["latency_s"]["mean"] == pytest.approx(0.045 + 0.011, rel=0.05)
    assert summary["latency_s"]["max"] <= 0.09 + 0.011 + 0.01


# --------------------------------------------------------------------------- RxJS operators
def _stage(producer: str, stage: str, figure: str) -> Figure:
    def value(summary: dict[str, Any]) -> float:
        entry = summary["components"][producer]["operators"][stage]
        if figure == "discarded_share":
            return entry["discarded"] / max(entry["received"], 1)
        if figure == "added":
            return float(entry["added_latency_s"]["mean"] or 0.0)
        return float(entry[figure])
    return value


CHAIN = """
name: chain
duration: 20
sample_interval: 1
producers: [{name: events, to: queue, arrivals: {process: poisson, rate: 3000},
             operators: [{throttleTime: 1ms}, {bufferTime: {duration: 200ms, max_size: 50}}]}]
buffers: [{name: queue, policy: unbounded}]
consumers: [{name: handler, from: queue, workers: 2, service: {dist: exponential, mean: 1ms}}]
"""
OPERATOR_CASES = {  # name: (scenario, duration, quantum, producer, [(stage, figure, bound)])
    "throttle, coarse quanta": ("rxjs_throttle", 60, 0.2, "scroll", [("throttleTime", "discarded_share", OPERATOR_DISCARDED)]),
    "throttle, fine quanta": ("rxjs_throttle", 30, 0.01, "scroll", [("throttleTime", "discarded_share", OPERATOR_DISCARDED),
                                                                    ("", "p99", LATENCY_P99)]),
    "debounce": ("rxjs_debounce", 60, 0.05, "keystrokes", [("debounceTime", "discarded_share", OPERATOR_DISCARDED),
                                                           ("debounceTime", "added", OPERATOR_ADDED_LATENCY)]),
    "bufferTime into a batch writer": ("rxjs_buffer_time", 30, 0.2, "telemetry",
                                       [("bufferTime", "added", OPERATOR_ADDED_LATENCY), ("", "mean", BATCH_LATENCY),
                                        ("", "p99", BATCH_LATENCY)]),
    "throttle then bufferTime with max_size": (CHAIN, 20, 0.05, "events",
                                               [("throttleTime", "discarded_share", OPERATOR_DISCARDED),
                                                ("bufferTime", "added", OPERATOR_ADDED_LATENCY),
                                                ("bufferTime", "mean_array_size", BATCH_SIZE)]),
}


def operator_case(name: str) -> Case:
    source, duration, quantum, producer, checks = OPERATOR_CASES[name]
    text = source if "\n" in source else (ROOT / "scenarios" / f"{source}.yaml").read_text()
    scenario = simbp.load_scenario(text).with_changes({"duration": duration})
    return Case("RxJS operators", name, scenario, quantum,
                [(f"{stage} {figure}".strip(), _stage(producer, stage, figure) if stage else _latency(figure), bound)
                 for stage, figure, bound in checks])


@pytest.mark.parametrize("name", list(OPERATOR_CASES))
def test_rxjs_operators_within_the_stated_bounds(name: str) -> None:
    _holds(operator_case(name))


def test_operators_by_hand_an_array_emitted_when_the_source_stops() -> None:
    """100 values/s evenly spaced from t = 0 to 2.5 s into bufferTime(1 s): arrays at 1 s and 2 s of
    100 values, and when the source stops at 2.5 s the open array of 50 is emitted at once."""
    body = CHAIN.replace("process: poisson, rate: 3000", "process: constant, rate: 100").replace(
        "operators: [{throttleTime: 1ms}, {bufferTime: {duration: 200ms, max_size: 50}}]",
        "stop: 2.5s, operators: [{bufferTime: 1s}]").replace("duration: 20", "duration: 4")
    summary = build_results(simulate_fast(simbp.load_scenario(body), seed=1, quantum=0.1)).summary
    stage = summary["components"]["events"]["operators"]["bufferTime"]
    assert stage["arrays"] == 3 and stage["largest_array"] == 100 and stage["emitted"] == summary["produced"] == 250
    assert stage["added_latency_s"]["max"] == pytest.approx(1.0, abs=0.01)
    assert stage["added_latency_s"]["mean"] == pytest.approx((100 * 0.5 + 100 * 0.5 + 50 * 0.25) / 250, abs=0.01)


def test_operators_into_a_block_buffer_are_modelled_but_not_with_a_block_timeout() -> None:
    """(Compared with exact mode in tests/fast/test_fast_block.py.)"""
    body = CHAIN.replace("{name: queue, policy: unbounded}", "{name: queue, capacity: 10, policy: block}")
    assert not unsupported(simbp.load_scenario(body))
    timed = body.replace("policy: block}", "policy: block, block_timeout: 1s}")
    assert any("block_timeout" in m for m in unsupported(simbp.load_scenario(timed)))


# --------------------------------------------------------------------------- callers that time out and retry
STORM = """
name: storm
duration: 45
sample_interval: 1
producers:
  - name: clients
    to: jobs
    arrivals: {process: schedule, interpolation: step, points: [{at: 0s, rate: 400/s}, {at: 20s, rate: 1000/s},
                                                                {at: 30s, rate: 400/s}]}
    caller_timeout: 1s
    RETRY
buffers: [{name: jobs, capacity: 2000, policy: drop_newest}]
consumers: [{name: worker, from: jobs, workers: 20, service: {dist: exponential, mean: 40ms}}]
"""
DROPS = """
name: drops
duration: 12
sample_interval: 1
producers:
  - name: clients
    to: jobs
    arrivals: {process: poisson, rate: 600}
    retry: {max: 2, backoff: 100ms, multiplier: 2, jitter: full, on: [drop]}
buffers: [{name: jobs, capacity: 50, policy: drop_newest}]
consumers: [{name: worker, from: jobs, workers: 4, service: {dist: exponential, mean: 8ms}}]
"""
PRODUCTION_STORM = (STORM.replace("RETRY", "retry: {max: 3, backoff: 200ms}").replace("400/s", "10000/s")
                    .replace("1000/s", "25000/s").replace("workers: 20", "workers: 500")
                    .replace("capacity: 2000", "capacity: 50000").replace("duration: 45", "duration: 3600"))
RETRY_CASES = {  # name: (scenario, quantum): each judged per first attempt
    "a retry storm (metastable after a burst)": (STORM.replace("RETRY", "retry: {max: 3, backoff: 200ms}"), 0.1),
    "the same burst without retries": (STORM.replace("RETRY", ""), 0.1),
    "retries of drops, exponential backoff, full jitter": (DROPS, 0.02),
}


def _per_first_attempt(figure: str) -> Figure:
    def value(summary: dict[str, Any]) -> float:
        entry = summary["components"]["clients"]
        first = entry.get("first_attempts", summary["produced"])
        return (summary["retries"] if figure == "retries" else entry.get(figure, 0)) / max(first, 1)
    return value


def retry_case(name: str) -> Case:
    body, quantum = RETRY_CASES[name]
    return Case("retries and caller time-outs", name, simbp.load_scenario(body), quantum,
                [("retries per first attempt", _per_first_attempt("retries"), RETRIES),
                 ("given up per first attempt", _per_first_attempt("gave_up"), RETRIES),
                 ("abandoned in queue per first attempt", _per_first_attempt("abandoned_in_queue"), ABANDONED),
                 ("loss ratio", _loss, LOSS_RATIO)], range(1, 5))


@pytest.mark.parametrize("name", list(RETRY_CASES))
def test_retries_and_caller_timeouts_within_the_stated_bounds(name: str) -> None:
    _holds(retry_case(name))


def test_retries_into_a_block_buffer_stay_exact_and_auto_says_why() -> None:
    body = DROPS.replace("on: [drop]}", "on: [timeout]}").replace(
        "{name: jobs, capacity: 50, policy: drop_newest}", "{name: jobs, capacity: 50, policy: block, block_timeout: 1s}")
    scenario = simbp.load_scenario(body).with_changes({"duration": 36_000})
    assert any("block buffer" in m for m in unsupported(scenario))
    mode, reason = choose_mode(scenario, "auto")
    assert mode == "exact" and "block" in reason


# --------------------------------------------------------------------------- downstream calls
CALLING = """
name: calls
duration: 20
sample_interval: 1
producers: [{name: api, to: requests, arrivals: {process: poisson, rate: RATE}}]
buffers: [{name: requests, capacity: 2000, policy: drop_newest}]
consumers: [{name: handlers, from: requests, workers: 40, service: 0.5ms, calls: CALLS}]
downstreams: [{name: db, capacity: 10, latency: {dist: exponential, mean: 20ms}, error_rate: ERROR}]
"""
CALL_CASES = {  # name: (rate, calls, error rate, quantum)
    "errors, timeouts and retries": (1500, "{downstream: db, timeout: 50ms, retries: 2, backoff: 10ms}", 0.05, 0.02),
    "workers all calling (overloaded)": (2200, "{downstream: db, timeout: 50ms, retries: 2, backoff: 10ms}", 0.05, 0.05),
    "plain calls": (1000, "{downstream: db}", 0.0, 0.05),
    # half the calls err and a third time out: a call doing both is one failed call, as in exact mode
    "errors that also time out": (800, "{downstream: db, timeout: 20ms}", 0.5, 0.05),
}


def _db(figure: str, inner: str = "") -> Figure:
    def value(summary: dict[str, Any]) -> float:
        entry = summary["components"]["db"][figure]
        return float(entry[inner] if inner else entry)
    return value


def _per_message(figure: str) -> Figure:
    def value(summary: dict[str, Any]) -> float:
        total = summary["failed"] if figure == "failed" else summary["components"]["handlers"][figure]
        return total / max(summary["produced"], 1)
    return value


def call_case(name: str) -> Case:
    rate, calls, error, quantum = CALL_CASES[name]
    scenario = simbp.load_scenario(CALLING.replace("RATE", str(rate)).replace("CALLS", calls).replace("ERROR", str(error)))
    return Case("downstream calls (no semaphore, no overload terms)", name, scenario, quantum,
                [("call error ratio", _db("error_ratio"), CALLS), ("failed per message", _per_message("failed"), CALLS),
                 ("failed calls per message", _per_message("call_errors"), CALLS),
                 ("retried calls per message", _per_message("call_retries"), CALLS),
                 ("call latency mean", _db("call_latency_s", "mean"), CALL_LATENCY),
                 ("call latency p99", _db("call_latency_s", "p99"), CALL_LATENCY),
                 ("calls in flight (mean)", _db("mean_in_flight"), CALL_LATENCY), ("loss ratio", _loss, LOSS_RATIO),
                 ("latency mean", _latency("mean"), LATENCY_MEAN), ("latency p99", _latency("p99"), LATENCY_P99)],
                range(1, 5))


@pytest.mark.parametrize("name", list(CALL_CASES))
def test_downstream_calls_within_the_stated_bounds(name: str) -> None:
    _holds(call_case(name))


def test_calls_that_interact_stay_exact_and_auto_says_why() -> None:
    """Calls behind a semaphore run in fast mode at production sizes (tests/fast/test_fast_calls.py); a
    downstream that can collapse stays exact (no bound holds), and auto says why."""
    expected = {"downstream_with_semaphore": ("fast", "calls behind a semaphore"),
                "downstream_without_semaphore": ("exact", "congestion collapse")}
    for name, (mode_expected, why) in expected.items():
        scenario = simbp.load_scenario(ROOT / "scenarios" / f"{name}.yaml").with_changes({"duration": 36_000})
        mode, reason = choose_mode(scenario, "auto")
        assert mode == mode_expected and why in reason, reason
    assert any("collapse" in m for m in unsupported(simbp.load_scenario(ROOT / "scenarios" / "downstream_without_semaphore.yaml")))


# --------------------------------------------------------------------------- shape, report, mode
SHAPES = {"priority_shedding": ("shed_rel", SHED.relative), "token_bucket": ("rate_limited_abs", RATE_LIMITED.absolute),
          "batch_size_100": ("batch_size_rel", BATCH_SIZE.relative),
          "rxjs_debounce": ("operator_discarded_rel", OPERATOR_DISCARDED.relative),
          "retry_storm": ("retries_rel", RETRIES.relative),
          "CALLING": ("calls_rel", CALLS.relative)}


@pytest.mark.parametrize("name", list(SHAPES))
def test_systems_results_have_exact_modes_shape_and_report_their_bounds(name: str) -> None:
    text = (CALLING.replace("RATE", "500").replace("CALLS", "{downstream: db, retries: 1}").replace("ERROR", "0.1")
            if name == "CALLING" else (ROOT / "scenarios" / f"{name}.yaml").read_text())
    scenario = simbp.load_scenario(text).with_changes({"duration": 10})
    exact, fast = simbp.run(scenario, mode="exact"), simbp.run(scenario, mode="fast")
    assert set(fast.summary) - {"quantum_s", "fast_error"} == set(exact.summary)
    for component, figures in exact.summary["components"].items():
        assert set(fast.summary["components"][component]) == set(figures), component
    assert list(fast.timeseries.columns) == list(exact.timeseries.columns)
    key, value = SHAPES[name]
    assert fast.summary["fast_error"][key] == value
    assert set(fast.summary["fast_error"]) >= {"loss_ratio_rel", "latency_p99_rel"}
    others = {k for other, (k, _) in SHAPES.items() if other != name}
    assert not others & set(fast.summary["fast_error"])


def test_auto_runs_production_sized_systems_keys_in_fast_mode() -> None:
    for name in ("token_bucket", "priority_shedding", "batch_size_100", "rxjs_throttle", "rxjs_buffer_time"):  # 10 h
        scenario = simbp.load_scenario(ROOT / "scenarios" / f"{name}.yaml").with_changes({"duration": 36_000})
        mode, reason = choose_mode(scenario, "auto")
        assert mode == "fast" and "fast mode" in reason and "modelled on counts too" in reason, reason
    one_row = simbp.load_scenario(ROOT / "scenarios" / "batch_size_1.yaml").with_changes({"duration": 3600})
    mode, reason = choose_mode(one_row, "auto")
    assert mode == "exact" and "batch by batch" in reason
    mode, reason = choose_mode(simbp.load_scenario(PRODUCTION_STORM), "auto")
    assert mode == "fast" and "retries modelled on counts too" in reason, reason
    # one worker of 2 ms that retries can keep full: sub-steps of 0.5 ms all along, slower than exact mode
    storm = simbp.load_scenario(ROOT / "scenarios" / "retry_storm.yaml").with_changes({"duration": 36_000})
    mode, reason = choose_mode(storm, "auto")
    assert mode == "exact" and "retries could keep a dropping buffer full" in reason, reason


def test_a_waiting_rate_limit_holds_the_producer_and_auto_runs_it_fast() -> None:
    body = LIMITED.format(duration=36_000, arrivals=POISSON % 2000, burst=1).replace("burst: 1}", "burst: 1, on_limit: wait}")
    scenario = simbp.load_scenario(body)
    assert not unsupported(scenario) and choose_mode(scenario, "auto")[0] == "fast"
    summary = build_results(simulate_fast(scenario.with_changes({"duration": 20}), seed=1, quantum=0.5)).summary
    assert summary["discarded"] == 0 and _conserved(summary)
    rho = 2000 / 900  # M/D/1/2: the held message is one more place; a blocked arrival is never produced
    assert summary["produced"] / (2000 * 20) == pytest.approx(1 - md1k_blocking(rho, 2), abs=0.01)


def mechanism_cases() -> list[Case]:
    """Every comparison above, for `benchmarks/fast_error.py --systems` (the table in docs/performance.md)."""
    return ([bucket_case(n) for n in BUCKETS] + [waiting_case(n) for n in WAITING] + [shedding_case(q) for q in SHEDDING] + [batch_case(n) for n in BATCHES]
            + [operator_case(n) for n in OPERATOR_CASES] + [retry_case(n) for n in RETRY_CASES]
            + [call_case(n) for n in CALL_CASES])


@pytest.mark.parametrize("name", ["token_bucket", "priority_shedding", "batch_size_100", "rxjs_buffer_time", "retry_storm",
                                  "CALLING"])
def test_conservation_holds_through_crashes_and_restarts(name: str) -> None:
    """Every message is counted once (produced = consumed + dropped + timed_out + lost_in_crash +
    discarded + failed + in flight), also when the service crashes, losing what it held, and restarts."""
    text = (CALLING.replace("RATE", "1500").replace("CALLS", "{downstream: db, timeout: 50ms, retries: 1}").replace("ERROR", "0.1")
            if name == "CALLING" else (ROOT / "scenarios" / f"{name}.yaml").read_text())
    scenario = simbp.load_scenario(text).with_changes(
        {"duration": 30, "memory": {"limit": "20KiB", "restart_after": "1s", "per_item_overhead": "1KiB"}})
    summary = simbp.run(scenario, mode="fast").summary
    assert summary["crashes"] >= 1 and summary["lost_in_crash"] > 0
    assert _conserved(summary) and summary["in_flight_at_end"] >= 0
