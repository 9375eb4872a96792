"""Fast mode on pipelines: a first stage forwarding into a small second stage, exact against fast.

    python benchmarks/fast_pipeline.py                        # the table in docs/performance.md
    python benchmarks/fast_pipeline.py --seeds 1 2 3 --quanta 0.0005 0.05 --rho 0.9 --policy drop_newest
    python benchmarks/fast_pipeline.py --production            # the library's pipelines at production sizes

A Poisson source (1,000/s) feeds an M/M/4 first stage (mean 2 ms, ρ = 0.5) that forwards into a
buffer of `--capacity` places read by 2 workers whose mean service sets the second stage's ρ
(`--rho`); `--stages 3` adds a third stage like the second. For each policy, ρ and quantum it prints
exact and fast mode's mean ± standard error over the seeds of the loss ratio, latency p99 and mean,
throughput and the producers' blocked fraction, and fast's error relative to exact's mean.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import simbp  # noqa: E402
from simbp.exact.model import simulate  # noqa: E402
from simbp.fast.model import choose_quantum, simulate_fast  # noqa: E402
from simbp.results import build_results  # noqa: E402
from simbp.scenario.loading import parse_scenario_text  # noqa: E402

FIGURES = ("loss_ratio", "p99_s", "mean_s", "throughput", "blocked")


def pipeline(policy: str, rho: float, capacity: int = 20, stages: int = 2, duration: str = "60s",
             rate: float = 1000.0) -> simbp.Scenario:
    """A first M/M/4 stage forwarding into `stages − 1` stages of 2 workers at `rho` behind `policy` buffers."""
    mean = rho * 2 / rate
    room = "" if policy == "unbounded" else f"capacity: {capacity}, "
    buffers = "\n".join(f"  - {{name: b{i}, {room}policy: {policy}}}" for i in range(2, stages + 1))
    consumers = "\n".join(
        f"  - {{name: s{i}, from: b{i}, workers: 2, service: {{dist: exponential, mean: {mean * 1000:.4f}ms}}"
        + (f", to: b{i + 1}}}" if i < stages else "}") for i in range(2, stages + 1))
    text = f"""
name: pipeline_{policy}_{rho}
duration: {duration}
sample_interval: 1
producers:
  - {{name: source, to: b1, arrivals: {{process: poisson, rate: {rate:g}/s}}, size: 100B}}
buffers:
  - {{name: b1, policy: unbounded}}
{buffers}
consumers:
  - {{name: s1, from: b1, workers: 4, service: {{dist: exponential, mean: 2ms}}, to: b2}}
{consumers}
"""
    return parse_scenario_text(text)


def figures(summary: dict[str, Any], duration: float) -> dict[str, float]:
    return {"loss_ratio": summary["loss_ratio"], "p99_s": summary["latency_s"]["p99"],
            "mean_s": summary["latency_s"]["mean"], "throughput": summary["consumed"] / duration,
            "blocked": summary["producer_blocked_fraction"]}


def stats(values: list[float]) -> tuple[float, float]:
    mean = statistics.mean(values)
    return mean, (statistics.stdev(values) / len(values) ** 0.5 if len(values) > 1 else 0.0)


def compare(scenario: simbp.Scenario, quanta: list[float], seeds: list[int]) -> None:
    exact = [figures(build_results(simulate(scenario, seed=s)).summary, scenario.duration) for s in seeds]
    rows = {"exact": exact}
    for q in quanta:
        rows[f"fast {q * 1000:g}ms"] = [figures(build_results(simulate_fast(scenario, seed=s, quantum=q)).summary,
                                                 scenario.duration) for s in seeds]
    base = {f: stats([r[f] for r in exact])[0] for f in FIGURES}
    print(f"\n{scenario.name}")
    for label, runs in rows.items():
        cells = []
        for f in FIGURES:
            mean, se = stats([r[f] for r in runs])
            rel = f" ({(mean - base[f]) / base[f]:+.0%})" if label != "exact" and base[f] else ""
            cells.append(f"{f} {mean:.4g}±{se:.2g}{rel}")
        print(f"  {label:12s} " + "  ".join(cells))


def production() -> None:
    """The library's pipeline scenarios at production sizes: auto's choice, quantum, wall time, figures."""
    for path in sorted((ROOT / "scenarios").glob("pipeline*.yaml")):
        scenario = simbp.load_scenario(path)
        for duration in (3600.0, 86400.0):
            sized = scenario.model_copy(update={"duration": duration})
            start = time.perf_counter()
            model = simulate_fast(sized, seed=1)
            wall = time.perf_counter() - start
            s = build_results(model).summary
            print(f"{path.stem} {duration:g}s quantum {choose_quantum(sized) * 1000:.3g}ms wall {wall:.2f}s "
                  f"loss {s['loss_ratio']:.4g} p99 {s['latency_s']['p99']:.4g} mean {s['latency_s']['mean']:.4g} "
                  f"blocked {s['producer_blocked_fraction']:.4g}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4])
    parser.add_argument("--quanta", type=float, nargs="+", default=[0.0005, 0.005, 0.05, 0.5])
    parser.add_argument("--rho", type=float, nargs="+", default=[0.7, 0.9, 1.1])
    parser.add_argument("--policy", nargs="+", default=["drop_newest", "block", "unbounded"])
    parser.add_argument("--capacity", type=int, default=20)
    parser.add_argument("--stages", type=int, default=2)
    parser.add_argument("--duration", default="60s")
    parser.add_argument("--production", action="store_true")
    args = parser.parse_args()
    if args.production:
        production()
        return
    for policy in args.policy:
        for rho in args.rho:
            compare(pipeline(policy, rho, args.capacity, args.stages, args.duration), args.quanta, args.seeds)


if __name__ == "__main__":
    main()
