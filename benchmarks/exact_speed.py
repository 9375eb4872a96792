"""How fast exact mode runs the library scenarios, as ratios against a minimal SimPy M/M/1 loop.

    python benchmarks/exact_speed.py                      # every scenario in scenarios/, 3 repeats
    python benchmarks/exact_speed.py --only quickstart,kafka_8 --repeats 5
    python benchmarks/exact_speed.py --repo /work/main    # the same measurement of another checkout
    python benchmarks/exact_speed.py --against /work/main --repeats 5   # old vs this checkout

For each library scenario it times `simbp.run(scenario, seed=1, mode="exact")` (simulation and
`build_results`) and, alternated with it in this same process, a fixed minimal SimPy M/M/1 run
(`benchmarks/baseline.py`: one producer process, one worker process, a `simpy.Store`,
`BASELINE_MESSAGES` messages). Times are this process's CPU time (`time.process_time`), which other
processes on a shared machine disturb less than the wall time. It prints the median wall time of
the scenario's run (`run_s`), `ratio`: the median over repeats of the run in units of the baseline
run next to it, and `best_ratio`: the fastest run over the fastest baseline (on a busy machine the
slowest repeats measure the other processes more than simbp).

`--against OLD` compares two checkouts: one server process per checkout (each imports its own
simbp once), asked in turn, alternating which goes first, to run the same scenario; each answers
with its run's and its own baseline's CPU time. It prints both checkouts' best and median times
and ratios, and `speedup`: the old checkout's best ratio over this one's (the median of paired
old/new times is `paired`). The ratios, not the seconds, are what to compare across machines or
loads.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
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
    parser.add_argument("--against", default=None, help="an older checkout to compare --repo with")
    parser.add_argument("--only", default="", help="comma-separated parts of scenario names")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args()


class Runner:
    """Runs library scenarios and the baseline with one checkout's simbp, timing CPU and wall."""

    def __init__(self, repo: Path, seed: int):
        sys.path.insert(0, str(repo))
        sys.path.insert(0, str(HERE))
        from baseline import Queue, Stage, run_baseline

        import simbp

        if Path(simbp.__file__).resolve().parent != repo / "simbp":
            raise SystemExit(f"imported simbp from {simbp.__file__}, not from {repo}")
        self.simbp = simbp
        self.repo = repo
        self.seed = seed
        self._baseline = run_baseline
        self._queues = [Queue(BASELINE_RATE, [Stage(1, BASELINE_SERVICE, None, "drop")])]
        self._scenarios: dict[str, Any] = {}

    def scenario(self, stem: str) -> Any:
        if stem not in self._scenarios:
            scenario = self.simbp.load_scenario(self.repo / "scenarios" / f"{stem}.yaml")
            self.simbp.run(scenario, seed=self.seed, mode="exact", allow_large=True)  # imports, caches
            self._scenarios[stem] = scenario
        return self._scenarios[stem]

    def run(self, stem: str) -> dict[str, float]:
        """One run of the scenario: CPU and wall seconds, and messages produced."""
        scenario = self.scenario(stem)
        wall, cpu = time.perf_counter(), time.process_time()
        produced = self.simbp.run(scenario, seed=self.seed, mode="exact", allow_large=True).summary["produced"]
        return {"cpu": time.process_time() - cpu, "wall": time.perf_counter() - wall, "produced": produced}

    def baseline(self, repeat: int) -> dict[str, float]:
        wall, cpu = time.perf_counter(), time.process_time()
        self._baseline(self._queues, BASELINE_MESSAGES / BASELINE_RATE, seed=repeat + 1)
        return {"cpu": time.process_time() - cpu, "wall": time.perf_counter() - wall}


def _serve(runner: Runner) -> None:
    """Answer `stem repeat` lines with the run's and a baseline's figures as JSON (for --against)."""
    print("ready", flush=True)
    for line in sys.stdin:
        stem, repeat = line.split()
        runner.scenario(stem)
        figures = {"run": runner.run(stem), "base": runner.baseline(int(repeat))}
        print(json.dumps(figures), flush=True)


def _stems(repo: Path, only: str) -> list[str]:
    parts = [part for part in only.split(",") if part]
    return [f.stem for f in sorted((repo / "scenarios").glob("*.yaml")) if not parts or any(p in f.stem for p in parts)]


def _load() -> str:
    return " ".join(f"{v:.1f}" for v in os.getloadavg())


def measure(args: argparse.Namespace, repo: Path) -> None:
    """Each scenario's runs alternated with the baseline in this process."""
    runner = Runner(repo, args.seed)
    print(f"simbp from {repo}; load average {_load()}; {args.repeats} repeats; baseline: SimPy M/M/1, "
          f"{BASELINE_MESSAGES:,} messages; CPU seconds")
    print(f"{'scenario':36s} {'messages':>9s} {'run_s':>7s} {'base_s':>7s} {'ratio':>7s} {'best_ratio':>10s} {'us/msg':>7s}")
    ratios: list[float] = []
    for stem in _stems(repo, args.only):
        runner.scenario(stem)
        runs, bases, pairs = [], [], []
        produced = 0
        for repeat in range(args.repeats):
            order = ["run", "base"] if repeat % 2 == 0 else ["base", "run"]
            pair: dict[str, dict[str, float]] = {}
            for what in order:
                pair[what] = runner.run(stem) if what == "run" else runner.baseline(repeat)
            produced = int(pair["run"]["produced"])
            runs.append(pair["run"]["cpu"])
            bases.append(pair["base"]["cpu"])
            pairs.append(pair["run"]["cpu"] / pair["base"]["cpu"])
        ratio = statistics.median(pairs)
        ratios.append(ratio)
        run_s = statistics.median(runs)
        print(f"{stem:36s} {produced:9,d} {run_s:7.3f} {statistics.median(bases):7.3f} {ratio:7.3f} "
              f"{min(runs) / min(bases):10.3f} {1e6 * run_s / max(produced, 1):7.2f}", flush=True)
    if ratios:
        print(f"{'sum of ratios':36s} {'':9s} {'':7s} {'':7s} {sum(ratios):7.3f}")


def _server(repo: Path, seed: int) -> subprocess.Popen[str]:
    process = subprocess.Popen([sys.executable, __file__, "--serve", "--repo", str(repo), "--seed", str(seed)],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    if process.stdout.readline().strip() != "ready":
        raise SystemExit(f"the server for {repo} did not start")
    return process


def _ask(process: subprocess.Popen[str], stem: str, repeat: int) -> dict[str, dict[str, float]]:
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(f"{stem} {repeat}\n")
    process.stdin.flush()
    answer: dict[str, dict[str, float]] = json.loads(process.stdout.readline())
    return answer


def compare(args: argparse.Namespace, repo: Path) -> None:
    """Old (`--against`) and new (`--repo`) checkouts, asked in turn to run the same scenario."""
    old_repo = Path(args.against).resolve()
    servers = {"old": _server(old_repo, args.seed), "new": _server(repo, args.seed)}
    print(f"old: {old_repo}; new: {repo}; load average {_load()}; {args.repeats} repeats; CPU seconds; "
          f"ratio = run / SimPy M/M/1 baseline ({BASELINE_MESSAGES:,} messages) in the same process")
    print(f"{'scenario':36s} {'old_best':>8s} {'new_best':>8s} {'old_med':>8s} {'new_med':>8s} "
          f"{'old_ratio':>9s} {'new_ratio':>9s} {'speedup':>7s} {'paired':>7s}")
    speedups: list[float] = []
    totals = {"old": 0.0, "new": 0.0}
    try:
        for stem in _stems(repo, args.only):
            figures: dict[str, list[dict[str, dict[str, float]]]] = {"old": [], "new": []}
            for repeat in range(args.repeats):
                order = ["old", "new"] if repeat % 2 == 0 else ["new", "old"]
                for side in order:
                    figures[side].append(_ask(servers[side], stem, repeat))
            best = {side: min(f["run"]["cpu"] for f in runs) for side, runs in figures.items()}
            median = {side: statistics.median(f["run"]["cpu"] for f in runs) for side, runs in figures.items()}
            ratio = {side: best[side] / min(f["base"]["cpu"] for f in runs) for side, runs in figures.items()}
            paired = statistics.median(o["run"]["cpu"] / n["run"]["cpu"] for o, n in zip(figures["old"], figures["new"]))
            speedup = ratio["old"] / ratio["new"]
            speedups.append(speedup)
            totals["old"] += best["old"]
            totals["new"] += best["new"]
            print(f"{stem:36s} {best['old']:8.3f} {best['new']:8.3f} {median['old']:8.3f} {median['new']:8.3f} "
                  f"{ratio['old']:9.3f} {ratio['new']:9.3f} {speedup:7.2f} {paired:7.2f}", flush=True)
    finally:
        for process in servers.values():
            if process.stdin is not None:
                process.stdin.close()
            process.wait()
    if speedups:
        print(f"{'all (best CPU seconds summed)':36s} {totals['old']:8.3f} {totals['new']:8.3f} "
              f"{'':8s} {'':8s} {'':9s} {'':9s} {totals['old'] / totals['new']:7.2f}")
        print(f"median speedup over scenarios: {statistics.median(speedups):.2f}; range {min(speedups):.2f}-{max(speedups):.2f}")


def main() -> None:
    args = _arguments()
    repo = Path(args.repo).resolve()
    if args.serve:
        _serve(Runner(repo, args.seed))
    elif args.against:
        compare(args, repo)
    else:
        measure(args, repo)


if __name__ == "__main__":
    main()
