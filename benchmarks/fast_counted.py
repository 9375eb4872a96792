"""Fast mode's counted service and `block` rule against exact mode (docs/performance.md).

    python benchmarks/fast_counted.py                  # both tables, 6 seeds each
    python benchmarks/fast_counted.py --only block --seeds 8 --duration 200

`counted`: M/M/100 and M/G/100 (gamma, c² = 1/4) at ρ = 0.9 and 1.2, 20 s, quanta of two service
times; fast mode with every service time drawn (per item) and with completions counted
(`simbp.fast.renewal`, counting from 64 expected completions a quantum instead of `COUNTED_FROM`,
so the quanta here are counted), against exact mode. `block`: M/M/3 with 7 waiting places and a
`block` buffer, against exact mode and the M/M/3/11 formula (the held item is the eleventh place).
Mean ± standard error over the seeds.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from replications import mean_and_error  # noqa: E402

MMC = """
name: counted
duration: {duration}
warmup: 2
sample_interval: 1
producers: [{{name: source, to: queue, arrivals: {{process: poisson, rate: {rate}}}}}]
buffers: [{{name: queue, policy: unbounded}}]
consumers: [{{name: workers, from: queue, workers: 100, service: {service}}}]
"""

MMCK_BLOCK = """
name: blocking
duration: {duration}
sample_interval: 1
producers: [{{name: source, to: queue, arrivals: {{process: poisson, rate: {rate}}}}}]
buffers: [{{name: queue, capacity: 7, policy: block}}]
consumers: [{{name: workers, from: queue, workers: 3, service: {{dist: exponential, mean: 0.01}}}}]
"""


def _replicate(run: Callable[[int], dict[str, float]], seeds: range) -> dict[str, tuple[float, float]]:
    runs = [run(seed) for seed in seeds]
    return {key: mean_and_error(r[key] for r in runs) for key in runs[0]}


def _cell(value: tuple[float, float], reference: tuple[float, float] | None = None, scale: float = 1.0) -> str:
    mean, error = value
    text = f"{mean * scale:.5g} ± {error * scale:.2g}"
    if reference is not None and reference[0]:
        text += f" ({(mean - reference[0]) / reference[0]:+.1%})"
    return text


def counted(seeds: range, duration: float) -> None:
    import simbp
    from simbp.exact.model import simulate
    from simbp.fast import renewal
    from simbp.fast.model import FastModel
    from simbp.results import build_results

    renewal.COUNTED_FROM = 64

    def figures(model: Any) -> dict[str, float]:
        summary = build_results(model).summary
        return {"throughput": summary["consumed"] / duration,
                "utilisation": summary["components"]["workers"]["utilisation"],
                "mean": summary["latency_s"]["mean"], "p99": summary["latency_s"]["p99"]}

    def fast(scenario: Any, counted: bool) -> Callable[[int], dict[str, float]]:
        def run(seed: int) -> dict[str, float]:
            model = FastModel(scenario, seed, quantum=0.02)
            if not counted:
                for group in model.groups.values():
                    group.counts = None
            return figures(model.run())
        return run

    print("| queue | figure | exact | fast, per item | fast, counted |\n|---|---|---|---|---|")
    for rho, service, label in ((0.9, "{dist: exponential, mean: 0.01}", "M/M/100, ρ = 0.9"),
                                (0.9, "{dist: gamma, mean: 0.01, shape: 4}", "M/G/100 (gamma 4), ρ = 0.9"),
                                (1.2, "{dist: exponential, mean: 0.01}", "M/M/100, ρ = 1.2")):
        scenario = simbp.load_scenario(MMC.format(duration=duration, rate=rho * 100 / 0.01, service=service))
        began = time.perf_counter()
        rows = {"exact": _replicate(lambda seed, s=scenario: figures(simulate(s, seed=seed)), seeds)}
        seconds = {"exact": time.perf_counter() - began}
        for name, flag in (("per item", False), ("counted", True)):
            began = time.perf_counter()
            rows[name] = _replicate(fast(scenario, flag), seeds)
            seconds[name] = time.perf_counter() - began
        for key, scale, unit in (("throughput", 1.0, "/s"), ("utilisation", 1.0, ""), ("mean", 1e3, " ms"),
                                 ("p99", 1e3, " ms")):
            cells = [_cell(rows[m][key], None if m == "exact" else rows["exact"][key], scale) for m in rows]
            print(f"| {label} | {key}{unit} | " + " | ".join(cells) + " |")
        print(f"| {label} | wall, {len(seeds)} runs | " + " | ".join(f"{seconds[m]:.1f} s" for m in rows) + " |")


def block(seeds: range, duration: float) -> None:
    import simbp
    from simbp.exact.model import simulate
    from simbp.fast.model import simulate_fast
    from simbp.results import build_results
    from simbp.theory import mmck_blocking

    def figures(model: Any) -> dict[str, float]:
        summary = build_results(model).summary
        return {"blocked": summary["producer_blocked_fraction"], "throughput": summary["produced"] / duration,
                "mean": summary["latency_s"]["mean"]}

    print("| ρ | blocked, M/M/3/11 | blocked, exact | blocked, fast | produced/s, exact | produced/s, fast | "
          "mean latency, exact | mean latency, fast |\n|---|---|---|---|---|---|---|---|")
    for rho in (0.7, 0.8, 0.9, 1.0, 1.1, 1.3):
        rate = rho * 3 / 0.01
        scenario = simbp.load_scenario(MMCK_BLOCK.format(duration=duration, rate=rate))
        exact = _replicate(lambda seed, s=scenario: figures(simulate(s, seed=seed)), seeds)
        fast = _replicate(lambda seed, s=scenario: figures(simulate_fast(s, seed=seed, quantum=0.02)), seeds)
        formula = mmck_blocking(rate, 100.0, 3, 11)
        print(f"| {rho} | {formula:.4f} | {_cell(exact['blocked'])} | {_cell(fast['blocked'], exact['blocked'])} | "
              f"{_cell(exact['throughput'])} | {_cell(fast['throughput'], exact['throughput'])} | "
              f"{_cell(exact['mean'], None, 1e3)} ms | {_cell(fast['mean'], exact['mean'], 1e3)} ms |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=["counted", "block"])
    parser.add_argument("--seeds", type=int, default=6)
    parser.add_argument("--duration", type=float, default=None, help="seconds simulated (20 counted, 60 block)")
    args = parser.parse_args(argv)
    seeds = range(1, args.seeds + 1)
    print(f"load average: {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")
    if args.only in (None, "counted"):
        counted(seeds, args.duration or 20.0)
    if args.only in (None, "block"):
        block(seeds, args.duration or 60.0)
    print(f"load average: {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
