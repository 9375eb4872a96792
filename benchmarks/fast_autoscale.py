"""Fast mode's error against exact mode for worker autoscaling (`consumers[].autoscale`), over seeds.

    python benchmarks/fast_autoscale.py                 # every case, seeds 1-8
    python benchmarks/fast_autoscale.py --seeds 1 2 3 --cases step
    python benchmarks/fast_autoscale.py --scale         # a day at production size: fast vs exact on a slice

For each case it runs exact and fast mode with the same seeds and prints, per figure, exact and fast
mode's mean ± standard error over the seeds, fast's relative error, the stated bound
(`simbp.fast.accuracy.WORKERS_SCALED` for the scaling figures, the core's for the rest) and whether
fast's mean lies within exact's 99.9% interval widened by the bound (what
tests/fast/test_fast_autoscale.py asserts on fewer seeds). The figures are in docs/performance.md.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from replications import mean_and_error  # noqa: E402

import simbp  # noqa: E402
from simbp.exact.model import simulate  # noqa: E402
from simbp.fast.model import choose_quantum, simulate_fast  # noqa: E402
from simbp.results import build_results  # noqa: E402

sys.path.insert(0, str(ROOT / "tests" / "fast"))
from test_fast_autoscale import CASES, bound_for, figures  # noqa: E402

T999 = 3.29  # two-sided 99.9% normal quantile (t with 7 d.f. would be 5.4: the table prints both sides)


def compare(case: str, seeds: list[int], quantum: float | None) -> None:
    scenario = simbp.load_scenario(CASES[case])
    runs: dict[str, list[dict[str, float]]] = {"exact": [], "fast": []}
    seconds = {"exact": 0.0, "fast": 0.0}
    for mode in runs:
        for seed in seeds:
            start = time.process_time()
            model = (simulate(scenario, seed=seed) if mode == "exact"
                     else simulate_fast(scenario, seed=seed, quantum=quantum))
            runs[mode].append(figures(build_results(model).summary))
            seconds[mode] += time.process_time() - start
    print(f"\n## {case}: {len(seeds)} seeds, quantum {quantum or choose_quantum(scenario):g} s; "
          f"CPU exact {seconds['exact']:.1f}s, fast {seconds['fast']:.1f}s "
          f"(ratio {seconds['exact'] / max(seconds['fast'], 1e-9):.1f}×)")
    print(f"{'figure':<22}{'exact':>22}{'fast':>22}{'error':>9}{'bound':>9}  within")
    for name in runs["exact"][0]:
        e_mean, e_se = mean_and_error([r[name] for r in runs["exact"]])
        f_mean, f_se = mean_and_error([r[name] for r in runs["fast"]])
        bound = bound_for(name)
        error = (f_mean - e_mean) / e_mean if e_mean else float("nan")
        allowed = T999 * math.hypot(e_se, f_se) + bound.tolerance(e_mean)
        print(f"{name:<22}{e_mean:>14.4g} ±{e_se:<6.2g}{f_mean:>14.4g} ±{f_se:<6.2g}{error:>+9.1%}"
              f"{bound.relative:>8.0%}  {'yes' if abs(f_mean - e_mean) <= allowed else 'NO'}")


DAY = """
name: autoscaled_day
duration: 86400s
sample_interval: 60s
producers:
  - name: users
    to: queue
    arrivals: {process: schedule, interpolation: linear,
               points: [{at: 0s, rate: 5000/s}, {at: 43200s, rate: 100000/s}, {at: 86400s, rate: 5000/s}]}
buffers: [{name: queue, policy: unbounded}]
consumers:
  - name: workers
    from: queue
    workers: 100
    service: {dist: gamma, mean: 4ms, shape: 2}
    autoscale: {min: 100, max: 800, scale_up_lag: 7500, scale_down_lag: 500, cooldown: 60s, scale_up_delay: 30s, check_every: 15s, step: 40}
"""


def scale() -> None:
    """A day of a pool autoscaled from 100 to 800 workers under a daily cycle peaking at 100,000/s (about
    4.5e9 messages) in fast mode, and a 60 s slice of its peak in both modes."""
    day = simbp.load_scenario(DAY)
    mode, reason = simbp.limits.choose_mode(day, "auto")
    print(f"a day: {day.estimated_messages():.3g} messages; auto picks {mode} ({reason})")
    start, wall = time.process_time(), time.perf_counter()
    summary = simbp.run(day, mode="fast").summary
    scaled = summary["components"]["workers"]["autoscale"]
    print(f"  fast mode: {time.process_time() - start:.1f} s CPU ({time.perf_counter() - wall:.1f} s wall), "
          f"{summary['consumed']:.3g} consumed, peak {scaled['peak_consumers']} workers, {scaled['scale_ups']} scale-ups, "
          f"p99 {summary['latency_s']['p99']:.3g} s")
    cycle = DAY[DAY.index("interpolation"):DAY.index("]}") + 1]
    piece = simbp.load_scenario(DAY.replace("duration: 86400s", "duration: 60s").replace("sample_interval: 60s", "sample_interval: 1s")
                                .replace(cycle, "points: [{at: 0s, rate: 100000/s}]").replace("workers: 100\n", "workers: 500\n"))
    times = {}
    for mode in ("exact", "fast"):
        start = time.process_time()
        simbp.run(piece, mode=mode)
        times[mode] = time.process_time() - start
        print(f"  60 s of the peak in {mode} mode: {times[mode]:.2f} s CPU")
    print(f"  fast mode {times['exact'] / times['fast']:.0f}× faster on the slice")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(1, 9)))
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument("--quantum", type=float, default=None, help="fast mode's quantum (default: its own choice)")
    parser.add_argument("--scale", action="store_true", help="production size instead of the comparison")
    args = parser.parse_args()
    if args.scale:
        scale()
        return
    for case in args.cases:
        compare(case, args.seeds, args.quantum)


if __name__ == "__main__":
    main()
