"""Which mode the dashboard should run each library scenario in: fast mode's time and error against exact mode.

    python benchmarks/dashboard_modes.py                       # every scenario of the library, seeds 1-5
    python benchmarks/dashboard_modes.py --only kafka node_pipe --seeds 1 2 3 4 5 6 7 8

For each scenario in scenarios/*.yaml (as written, and with the load multiplier one step up, what a
control change runs), it times exact and fast mode in this process (the best of `--repeats`), and
for each scenario where fast mode can model it and is quicker, runs both modes on `--seeds` and
compares every figure fast mode states a bound for (`summary["fast_error"]`, `simbp.fast.accuracy`):
exact and fast mode's mean ± standard error over the seeds, fast's error, the bound, and whether
the difference of the means lies within the bound plus 3.29 standard errors of that difference
(a 99.9% interval: both modes draw their own random numbers). It also prints how often the verdicts
agree, and fast's error on the latency panel (each interval's p50 and p99 over the run's median),
for which no bound is stated. The dashboard runs a scenario in fast mode only where every figure is
within its bound and fast mode is quicker (`simbp.dashboard.modes.page_mode`).
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from simbp import dashboard  # noqa: E402
from simbp.errors import ScenarioError  # noqa: E402
from simbp.fast import accuracy  # noqa: E402

Getter = Callable[[dict[str, Any]], float | None]


def _components(summary: dict[str, Any], kind: str) -> list[tuple[str, dict[str, Any]]]:
    return [(name, entry) for name, entry in summary["components"].items() if entry.get("kind") == kind]


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    return None if numerator is None or not denominator else numerator / denominator


def _at(*path: str) -> Getter:
    """A getter of the summary's value at `path` (None where a key is missing)."""
    def read(summary: dict[str, Any]) -> float | None:
        value: Any = summary
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        return None if value is None else float(value)
    return read


def _share(numerator: Getter, denominator: Getter) -> Getter:
    return lambda summary: _ratio(numerator(summary), denominator(summary))


def _near_saturation(summary: dict[str, Any]) -> bool:
    return any((entry.get("utilisation") or 0.0) >= 0.85 for _, entry in _components(summary, "consumer_group"))


def figures(summary: dict[str, Any]) -> dict[str, tuple[Getter, accuracy.Bound]]:
    """Every figure of this (fast) run's summary with a stated bound: how to read it, and its bound."""
    stated = summary.get("fast_error") or {}
    out: dict[str, tuple[Getter, accuracy.Bound]] = {
        "loss ratio": (_at("loss_ratio"), accuracy.LOSS_RATIO),
        "throughput (/s)": (_at("throughput_per_s"), accuracy.THROUGHPUT),
    }
    latency = (accuracy.LATENCY_MEAN, accuracy.LATENCY_P99)
    if "stream_latency_rel" in stated:
        latency = (accuracy.STREAM_LATENCY, accuracy.STREAM_LATENCY)
    elif "batch_latency_rel" in stated:
        latency = (accuracy.BATCH_LATENCY, accuracy.BATCH_LATENCY)
    elif "latency_near_saturation_rel" in stated and _near_saturation(summary):
        latency = (accuracy.KAFKA_LATENCY_NEAR_SATURATION, accuracy.KAFKA_LATENCY_NEAR_SATURATION)
    if stated.get("latency_covered") is not False:
        out["latency mean (s)"] = (_at("latency_s", "mean"), latency[0])
        out["latency p99 (s)"] = (_at("latency_s", "p99"), latency[1])
    out["producers blocked"] = (_at("producer_blocked_fraction"),
                                accuracy.STREAM_PAUSED if "stream_paused_rel" in stated else accuracy.BLOCKED_FRACTION)
    for name, _ in _components(summary, "consumer") + _components(summary, "consumer_group"):
        out[f"{name} utilisation"] = (_at("components", name, "utilisation"), accuracy.UTILISATION)
    for name, _ in _components(summary, "topic"):
        out[f"{name} lag at the end"] = (_at("components", name, "lag"), accuracy.KAFKA_LAG)
        out[f"{name} peak lag"] = (_at("components", name, "peak_queue_depth"), accuracy.KAFKA_LAG)
        out[f"{name} lag (s) at the end"] = (_at("components", name, "lag_s"), accuracy.KAFKA_LAG_SECONDS)
        out[f"{name} peak lag (s)"] = (_at("components", name, "peak_lag_s"), accuracy.KAFKA_LAG_SECONDS)
        out[f"{name} retention lost"] = (_at("components", name, "retention_lost"),
                                         accuracy.KAFKA_RETENTION_LOST)
    for name, entry in _components(summary, "consumer_group"):
        if entry.get("autoscale"):
            out[f"{name} peak consumers"] = (_at("components", name, "autoscale", "peak_consumers"),
                                             accuracy.WORKERS_SCALED)
            out[f"{name} scale-ups"] = (_at("components", name, "autoscale", "scale_ups"),
                                        accuracy.WORKERS_SCALED)
    if "stream_writes_rel" in stated:
        for name, _ in _components(summary, "buffer"):
            out[f"{name} write() false per write"] = (
                _share(_at("components", name, "writes_returned_false"), _at("components", name, "writes")),
                accuracy.STREAM_WRITES)
        out["peak memory (B)"] = (_at("peak_memory_bytes"), accuracy.STREAM_MEMORY)
    for name, entry in _components(summary, "producer"):
        for operator in (entry.get("operators") or {}):
            path = ("components", name, "operators", operator)
            out[f"{operator} discarded share"] = (_share(_at(*path, "discarded"), _at(*path, "received")),
                                                  accuracy.OPERATOR_DISCARDED)
            out[f"{operator} added latency (s)"] = (_at(*path, "added_latency_s", "mean"), accuracy.OPERATOR_ADDED_LATENCY)
    if "batch_size_rel" in stated:
        for name, entry in _components(summary, "consumer"):
            if "mean_batch_size" in entry:
                out[f"{name} batch size"] = (_at("components", name, "mean_batch_size"), accuracy.BATCH_SIZE)
    return out


def mean_se(values: list[float]) -> tuple[float, float]:
    mean = statistics.fmean(values)
    return mean, (statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else 0.0)


def panel_error(exact: list[Any], fast: list[Any], column: str) -> float | None:
    """Fast's relative error on the median over the run of a latency panel's column, means over seeds."""
    def median(results: Any) -> float | None:
        series = results.timeseries.get(column)
        present = series.dropna() if series is not None else []
        return float(statistics.median(present)) if len(present) else None
    values = [median(r) for r in exact], [median(r) for r in fast]
    if any(v is None for v in values[0] + values[1]):
        return None
    base = statistics.fmean(values[0])  # type: ignore[arg-type]
    return statistics.fmean(values[1]) / base - 1 if base else None  # type: ignore[arg-type]


def timed(text: str, mode: str, repeats: int) -> float:
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        dashboard.run_text(text, base_dir=ROOT / "scenarios", mode=mode)
        best = min(best, time.perf_counter() - start)
    return best


def compare(file: str, text: str, seeds: list[int], repeats: int) -> bool:
    """Print fast mode's time and error on `text`; whether it is quicker and within every bound."""
    exact_s = timed(text, "exact", repeats)
    try:
        fast_s = timed(text, "fast", repeats)
    except ScenarioError as error:
        print(f"{file}: exact {exact_s:.2f} s; fast mode cannot model it ({dashboard.problem_lines(error)[0][:90]})")
        return False
    print(f"{file}: exact {exact_s:.2f} s, fast {fast_s:.2f} s")
    if fast_s >= exact_s:
        return False
    exact = [dashboard.run_text(text, seed, base_dir=ROOT / "scenarios", mode="exact") for seed in seeds]
    fast = [dashboard.run_text(text, seed, base_dir=ROOT / "scenarios", mode="fast") for seed in seeds]
    verdicts = sum(e.summary["verdict"] == f.summary["verdict"] for e, f in zip(exact, fast))
    print(f"  verdicts agree on {verdicts} of {len(seeds)} seeds ({exact[0].summary['verdict']} / "
          f"{fast[0].summary['verdict']} on seed {seeds[0]}); quantum {fast[0].summary.get('quantum_s')} s")
    within = verdicts == len(seeds)
    for label, (read, bound) in figures(fast[0].summary).items():
        exact_values = [read(r.summary) for r in exact]
        fast_values = [read(r.summary) for r in fast]
        if any(v is None for v in exact_values + fast_values):
            continue
        (e_mean, e_se), (f_mean, f_se) = mean_se(exact_values), mean_se(fast_values)  # type: ignore[arg-type]
        allowed = bound.tolerance(e_mean) + 3.29 * math.hypot(e_se, f_se)
        ok = abs(f_mean - e_mean) <= allowed
        within = within and ok
        relative = f"{f_mean / e_mean - 1:+7.1%}" if e_mean else f"{f_mean - e_mean:+.3g}"
        print(f"  {label:34s} exact {e_mean:11.5g} ±{e_se:<9.2g} fast {f_mean:11.5g} ±{f_se:<9.2g} {relative} "
              f"bound ±{bound.relative:.0%} (or {bound.absolute:g})  {'within' if ok else 'OUTSIDE'}")
    for column in ("latency_p50_s", "latency_p99_s"):
        error_value = panel_error(exact, fast, column)
        if error_value is not None:
            print(f"  latency panel {column:20s} fast's error on its median over the run {error_value:+.1%} (no stated bound)")
    print(f"  => {'fast mode is quicker and within every stated bound' if within else 'keep exact mode'}")
    return within


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="scenario file names containing any of these")
    parser.add_argument("--seeds", nargs="*", type=int, default=[1, 2, 3, 4, 5])
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    chosen = []
    for path in sorted((ROOT / "scenarios").glob("*.yaml")):
        if args.only and not any(word in path.name for word in args.only):
            continue
        text = path.read_text()
        knobs = dashboard.derive_knobs(dashboard.load_text(text, base_dir=ROOT / "scenarios"))
        load = next(k for k in knobs if k.key == "load_multiplier")
        moved = dashboard.apply_knobs(text, knobs, {"load_multiplier": load.value + load.step})
        ok = [compare(path.name + suffix, variant, args.seeds, args.repeats)
              for suffix, variant in (("", text), (f" (load ×{load.value + load.step:g})", moved))]
        if all(ok):
            chosen.append(path.name)
    print(f"quicker in fast mode and within every stated bound, as written and one load step up: {', '.join(chosen) or 'none'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
