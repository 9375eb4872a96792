"""Do the planner's 95% intervals cover the truth? Repeat sweeps with independent seeds on queues
whose answers are known exactly, and count.

Each case is one configuration with an exact answer (M/M/1, M/M/2 at ρ 0.8 and 0.95, and an
M/M/2/K whose loss is rare); each repeat is a whole `simbp.planning.sweep` of it with its own sweep
seed, exactly as a user would run it (warm-up detection, run lengthening, pooled quantiles, loss
bounds). For the mean latency, the p99 latency and the loss ratio the script prints how often the
interval contained the exact value, with a 95% Clopper–Pearson interval on that coverage, and for
the rare-loss case how often a target the configuration really misses was passed (it must never
be).

    python benchmarks/coverage.py                 # every case, 100 sweeps each, 2 processes (1–2 hours)
    python benchmarks/coverage.py --repeats 30 --cases mm1,rare_loss_short --save out.json
    python benchmarks/coverage.py --table out.json more.json     # the table of saved outcomes

Each queue is swept twice: with 60 s runs and with 5 s runs (far too short: the planner must find
that out, lengthen them and still cover).

Exact values: M/M/c mean sojourn and sojourn quantiles (`simbp.theory`), M/M/c/K loss, mean and
sojourn quantiles of accepted messages (`simbp.theory`, `simbp.planning.queueing`). The latency
sketch reports a quantile within 1% of an observed value, so the exact p99 is compared as is.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from simbp import theory  # noqa: E402
from simbp.planning.queueing import mmck_sojourn_quantile  # noqa: E402
from simbp.planning.statistics import clopper_pearson  # noqa: E402

SERVICE_MEAN = 0.004  # seconds: μ = 250/s per worker

BASE = """\
name: {name}
duration: {duration}
producers:
  - {{name: clients, to: queue, arrivals: {{process: poisson, rate: {rate}/s}}}}
buffers:
  - {buffer}
consumers:
  - {{name: workers, from: queue, workers: {workers}, service: {{dist: exponential, mean: 4ms}}}}
"""

SPEC = """\
name: coverage_{name}
base: base.yaml
seed: 0
replications: {replications}
{targets}
{extra}
"""


@dataclasses.dataclass(frozen=True)
class Case:
    """One configuration with an exact answer, and how a user would sweep it."""

    name: str
    title: str
    rate: float
    workers: int
    duration: str
    capacity: int | None = None  # waiting room (drop_newest); None: unbounded
    replications: str = "{min: 5, max: 5}"
    loss_target: float | None = None
    extra: str = ""  # more spec keys (e.g. steady_state)

    def exact(self) -> dict[str, float]:
        mu = 1.0 / SERVICE_MEAN
        if self.capacity is None:
            return {"latency_s.mean": theory.mmc_mean_sojourn(self.rate, mu, self.workers),
                    "latency_s.p99": theory.mmc_sojourn_quantile(self.rate, mu, self.workers, 0.99), "loss_ratio": 0.0}
        k = self.capacity + self.workers
        return {"latency_s.mean": theory.mmck_mean_sojourn(self.rate, mu, self.workers, k),
                "latency_s.p99": mmck_sojourn_quantile(self.rate, mu, self.workers, k, 0.99),
                "loss_ratio": theory.mmck_blocking(self.rate, mu, self.workers, k)}

    def files(self, folder: Path) -> Path:
        buffer = ("{name: queue, policy: unbounded}" if self.capacity is None
                  else f"{{name: queue, capacity: {self.capacity}, policy: drop_newest}}")
        (folder / "base.yaml").write_text(BASE.format(name=self.name, duration=self.duration, rate=self.rate,
                                                      buffer=buffer, workers=self.workers))
        targets = "" if self.loss_target is None else f"targets:\n  loss_ratio: {{max: {self.loss_target}}}"
        (folder / "spec.yaml").write_text(SPEC.format(name=self.name, replications=self.replications, targets=targets,
                                                      extra=self.extra))
        return folder / "spec.yaml"


MM2K = "M/M/2/39, ρ 0.8, loss 0.0037% against a ≤ 0.001% target"
CASES = {case.name: case for case in (
    Case("mm1", "M/M/1, ρ 0.8, 60 s runs, 5 replications", 200, 1, "60s"),
    Case("mm1_short", "M/M/1, ρ 0.8, 5 s runs, 5 replications", 200, 1, "5s"),
    Case("mm2_80", "M/M/2, ρ 0.8, 60 s runs, 5 replications", 400, 2, "60s"),
    Case("mm2_80_short", "M/M/2, ρ 0.8, 5 s runs, 5 replications", 400, 2, "5s"),
    Case("mm2_95", "M/M/2, ρ 0.95, 60 s runs, 3 replications", 475, 2, "60s", replications="{min: 3, max: 3}"),
    Case("mm2_95_short", "M/M/2, ρ 0.95, 5 s runs, 3 replications", 475, 2, "5s", replications="{min: 3, max: 3}"),
    Case("rare_loss", f"{MM2K}, 60 s runs, 5–10 replications", 400, 2, "60s", capacity=37,
         replications="{min: 5, max: 10}", loss_target=1e-5),
    Case("rare_loss_short", f"{MM2K}, 5 s runs, 5–10 replications", 400, 2, "5s", capacity=37,
         replications="{min: 5, max: 10}", loss_target=1e-5),
)}
FIGURES = ("latency_s.mean", "latency_s.p99", "loss_ratio")


def one_sweep(job: tuple[str, int]) -> dict[str, Any]:
    """Run one sweep of a case with sweep seed `seed`; return its intervals and judgement."""
    from simbp.planning import load_study, sweep
    from simbp.planning.executors import SerialExecutor

    name, seed = job
    case = CASES[name]
    with tempfile.TemporaryDirectory() as folder:
        study = load_study(case.files(Path(folder)))
    study = dataclasses.replace(study, spec=study.spec.model_copy(update={"seed": seed}))
    with SerialExecutor() as executor:
        [result] = sweep(study, executor, progress=False).results
    intervals = {f: (result.estimates[f].low, result.estimates[f].high, result.estimates[f].mean) for f in FIGURES}
    return {"case": name, "seed": seed, "intervals": intervals, "judgement": result.judgements.get("loss_ratio"),
            "replications": result.replications, "run_s": result.steady["run_s"], "too_short": result.steady["too_short"]}


def coverage_table(outcomes: list[dict[str, Any]], cases: list[Case]) -> list[str]:
    """The printed table: per case and figure, coverage with its binomial interval."""
    lines = ["| case | sweeps | exact mean / p99 / loss | runs (s) | mean latency | p99 latency | loss ratio | "
             "missed target passed |", "|---|---|---|---|---|---|---|---|"]
    for case in cases:
        exact = case.exact()
        mine = [o for o in outcomes if o["case"] == case.name]
        cells = []
        for figure in FIGURES:
            hits = sum(1 for o in mine if o["intervals"][figure][0] <= exact[figure] <= o["intervals"][figure][1])
            low, high = clopper_pearson(hits, len(mine))
            cells.append(f"{hits / len(mine):.0%} [{low:.0%}–{high:.0%}]")
        passed = "—"
        if case.loss_target is not None:
            wrong = sum(1 for o in mine if o["judgement"] == "pass" and exact["loss_ratio"] > case.loss_target)
            passed = f"{wrong} of {len(mine)}"
        runs = sorted(o["run_s"] for o in mine)
        span = f"{runs[0]:g}" if runs[0] == runs[-1] else f"{runs[0]:g}–{runs[-1]:g}"
        short = sum(1 for o in mine if o["too_short"])
        if short:
            span += f" ({short} too short)"
        values = (f"{exact['latency_s.mean'] * 1e3:.1f} ms / {exact['latency_s.p99'] * 1e3:.1f} ms / "
                  f"{exact['loss_ratio']:.2g}")
        lines.append(f"| {case.title} | {len(mine)} | {values} | {span} | {' | '.join(cells)} | {passed} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=100, help="sweeps per case (default 100)")
    parser.add_argument("--jobs", type=int, default=2, help="processes (default 2)")
    parser.add_argument("--cases", default=",".join(CASES), help=f"comma-separated, from {', '.join(CASES)}")
    parser.add_argument("--first-seed", type=int, default=1000, help="sweep seeds start here (default 1000)")
    parser.add_argument("--save", type=Path, help="also write every sweep's outcome to this JSON file")
    parser.add_argument("--table", type=Path, nargs="+", help="print the table of saved outcomes (no sweeps)")
    args = parser.parse_args(argv)
    cases = [CASES[name.strip()] for name in args.cases.split(",") if name.strip()]
    if args.table:
        outcomes = [o for path in args.table for o in json.loads(path.read_text())]
        cases = [c for c in cases if any(o["case"] == c.name for o in outcomes)]
        print("\n".join(coverage_table(outcomes, cases)))
        return 0
    started = time.time()
    outcomes: list[dict[str, Any]] = []
    print("\n".join(coverage_table([], [])), flush=True)
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        for case in cases:  # a case's row is printed as soon as its sweeps are done
            jobs = [(case.name, args.first_seed + seed) for seed in range(args.repeats)]
            mine = list(pool.map(one_sweep, jobs, chunksize=2))
            outcomes += mine
            print(coverage_table(mine, [case])[-1], flush=True)
            if args.save:
                args.save.write_text(json.dumps(outcomes))
    print(f"\n95% intervals; coverage in brackets: its own 95% Clopper–Pearson interval. "
          f"{len(outcomes)} sweeps in {time.time() - started:.0f} s.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
