"""How fast exact mode runs the library scenarios, as ratios against a minimal SimPy M/M/1 loop.

    python benchmarks/exact_speed.py                      # every scenario in scenarios/, 3 repeats
    python benchmarks/exact_speed.py --only quickstart,kafka_8 --repeats 5
    python benchmarks/exact_speed.py --repo /work/main    # the same measurement of another checkout

For each library scenario it times `simbp.run(scenario, seed=1, mode="exact")` (simulation and
`build_results`) and, alternated with it in this same process, a fixed minimal SimPy M/M/1 run
(`benchmarks/baseline.py`: one producer process, one worker process, a `simpy.Store`,
`BASELINE_MESSAGES` messages). It prints the median wall time of the scenario's run (`run_s`) and
of the baseline (`base_s`), and `ratio`: the median over repeats of the scenario's run in units of
the baseline run next to it, measured in this process's CPU time (`time.process_time`, which other
processes on a shared machine disturb far less than the wall time; `wall_ratio` is the same from
wall times). The ratio is what to compare between two versions of simbp (run both with `--repo`,
in the same conditions): old ratio / new ratio is the speed-up.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

BASELINE_RATE = 1000.0
BASELINE_SERVICE = 0.0008
BASELINE_MESSAGES = 50_000
"""The yardstick: M/M/1 at rho 0.8 for this many messages (about 2 SimPy events per message)."""


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", default=str(ROOT), help="the simbp checkout to measure (default: this one)")
    parser.add_argument("--only", default="", help="comma-separated parts of scenario names")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    return parser.parse_args()


def main() -> None:
    args = _arguments()
    repo = Path(args.repo).resolve()
    sys.path.insert(0, str(repo))
    sys.path.insert(0, str(HERE))
    from baseline import Queue, Stage, run_baseline

    import simbp

    if Path(simbp.__file__).resolve().parent != repo / "simbp":
        raise SystemExit(f"imported simbp from {simbp.__file__}, not from {repo}")
    queues = [Queue(BASELINE_RATE, [Stage(1, BASELINE_SERVICE, None, "drop")])]
    duration = BASELINE_MESSAGES / BASELINE_RATE
    only = [part for part in args.only.split(",") if part]
    files = sorted((repo / "scenarios").glob("*.yaml"))
    files = [f for f in files if not only or any(part in f.stem for part in only)]
    print(f"simbp from {repo}; load average {' '.join(f'{v:.1f}' for v in os.getloadavg())}; "
          f"{args.repeats} repeats; baseline: SimPy M/M/1, {BASELINE_MESSAGES:,} messages")
    print(f"{'scenario':36s} {'messages':>9s} {'run_s':>7s} {'base_s':>7s} {'ratio':>7s} {'wall_ratio':>10s} {'us/msg':>7s}")
    ratios: list[float] = []
    for file in files:
        scenario = simbp.load_scenario(file)
        simbp.run(scenario, seed=args.seed, mode="exact", allow_large=True)  # imports, caches
        runs: list[float] = []
        bases: list[float] = []
        pair_ratios: list[float] = []
        wall_ratios: list[float] = []
        produced = 0
        for repeat in range(args.repeats):
            order: list[Any] = ["simbp", "baseline"] if repeat % 2 == 0 else ["baseline", "simbp"]
            pair: dict[str, float] = {}
            cpu: dict[str, float] = {}
            for what in order:
                began = time.perf_counter()
                began_cpu = time.process_time()
                if what == "baseline":
                    run_baseline(queues, duration, seed=repeat + 1)
                else:
                    produced = simbp.run(scenario, seed=args.seed, mode="exact", allow_large=True).summary["produced"]
                pair[what] = time.perf_counter() - began
                cpu[what] = time.process_time() - began_cpu
            runs.append(pair["simbp"])
            bases.append(pair["baseline"])
            pair_ratios.append(cpu["simbp"] / cpu["baseline"])
            wall_ratios.append(pair["simbp"] / pair["baseline"])
        ratio = statistics.median(pair_ratios)
        ratios.append(ratio)
        run_s = statistics.median(runs)
        print(f"{file.stem:36s} {produced:9,d} {run_s:7.3f} {statistics.median(bases):7.3f} {ratio:7.3f} "
              f"{statistics.median(wall_ratios):10.3f} {1e6 * run_s / max(produced, 1):7.2f}", flush=True)
    if ratios:
        print(f"{'sum of ratios':36s} {'':9s} {'':7s} {'':7s} {sum(ratios):7.3f}")


if __name__ == "__main__":
    main()
