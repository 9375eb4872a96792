"""`simbp fit OBSERVED --out DIR`: the command-line face of `simbp.calibration.fit`.

Bad input raises `ScenarioError`, which `simbp.cli.main` prints (file, line, field, what was
expected) and turns into exit status 2.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..errors import Problem, ScenarioError

__all__ = ["add_fit_command", "run_fit_command"]


def add_fit_command(commands: Any) -> None:
    """Add `fit` to the `simbp` sub-command parser."""
    text = "fit a scenario to observed metrics (CSV or Prometheus JSON), backtest it, and write a capacity plan"
    parser = commands.add_parser("fit", help=text, description=text)
    parser.add_argument("observed", help="CSV with a time column, or a folder of Prometheus query_range JSON (role.json or manifest.yaml)")
    parser.add_argument("--out", help="output folder (default: reports/<fitted scenario name>/)")
    parser.add_argument("--as", dest="kind", choices=("auto", "buffer", "kafka"), default="auto",
                        help="system to fit: a buffer with workers, or a Kafka topic and consumer group (default: from the data)")
    parser.add_argument("--map", action="append", default=[], metavar="ROLE=COLUMN",
                        help="CSV column for a role (arrivals, throughput, lag, consumers, latency_p99); repeatable")
    parser.add_argument("--counter", action="append", default=[], metavar="ROLE", help="the role is a monotonic total: turn it into a rate")
    parser.add_argument("--gauge", action="append", default=[], metavar="ROLE", help="the role is not a counter (no detection)")
    parser.add_argument("--scale", action="append", default=[], metavar="ROLE=FACTOR",
                        help="multiply a role's values, e.g. latency_p99=0.001 for milliseconds")
    parser.add_argument("--workers", type=int, help="consumer count, when the data has no consumers series")
    parser.add_argument("--lag-target", default="60s", help="plan.yaml's target: longest wait of any message (default 60s)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the first backtest replay (default 0)")
    parser.add_argument("--replications", type=int, default=5, metavar="N",
                        help="backtest replays with seeds SEED, SEED+1, … (default 5; fewer when over a minute of computing)")
    parser.add_argument("--allow-large", action="store_true", help="backtest even when the replay is over the size limit")
    parser.add_argument("--no-plots", action="store_true", help="skip the plots in fit_report.html")
    parser.add_argument("--quiet", action="store_true", help="print nothing but errors")
    parser.set_defaults(handler=run_fit_command)


def _pairs(items: list[str], option: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in items:
        role, sep, value = item.partition("=")
        if not sep or not role.strip() or not value.strip():
            raise ScenarioError([Problem(option, f"expected ROLE=VALUE, got {item!r}", None, "command line")])
        pairs[role.strip()] = value.strip()
    return pairs


def _fmt(value: float | None) -> str:
    if value is None:
        return "?"
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"


def run_fit_command(args: argparse.Namespace) -> int:
    """Fit, write the files, print the estimates, the repairs and the backtest; returns the exit status."""
    from ..units import parse_duration
    from .run import fit
    from .scenario_out import scenario_name

    try:
        scale = {role: float(value) for role, value in _pairs(args.scale, "--scale").items()}
    except ValueError:
        raise ScenarioError([Problem("--scale", "expected ROLE=FACTOR with a number", None, "command line")]) from None
    try:
        lag_target = parse_duration(args.lag_target)
    except ValueError as error:
        raise ScenarioError([Problem("--lag-target", str(error), None, "command line")]) from None
    if args.replications < 1:
        raise ScenarioError([Problem("--replications", f"must be at least 1, got {args.replications}", None, "command line")])
    if not Path(args.observed).exists():
        raise ScenarioError([Problem("", "no such file or folder", None, args.observed)])
    out = Path(args.out) if args.out else Path("reports") / scenario_name(args.observed)
    result = fit(args.observed, out, kind=args.kind, mapping=_pairs(args.map, "--map"), counters=set(args.counter),
                 gauges=set(args.gauge), scale=scale, workers=args.workers, seed=args.seed, lag_target_s=lag_target,
                 allow_large=args.allow_large, plots=not args.no_plots, replications=args.replications)
    if args.quiet:
        return 0
    s = result.summary
    low, high = s["capacity_per_s_interval"]
    print(f"{args.observed}: {s['observed']['samples']} samples every {s['observed']['step_s']:g}s; fitted as {s['kind']} "
          f"({s['kind_reason']})")
    for repair in s["repairs"]:
        print(f"  repair: {repair}")
    print(f"  consumers        {s['workers']} ({s['workers_source']})")
    print(f"  capacity         {_fmt(s['capacity_per_s'])}/s per consumer, 95% interval [{_fmt(low)}, {_fmt(high)}]; "
          f"total {_fmt(s['total_capacity_per_s'])}/s")
    print(f"                   {s['capacity_method']}")
    print(f"  service time     mean {s['service_mean_s']:.4g}s; {s['service_method']}")
    for item in s["unidentified"]:
        print(f"  not identified:  {item}")
    for note in s["notes"]:
        print(f"  note: {note}")
    bt = s["backtest"]
    if "observed_peak_lag" in bt:
        print(f"  backtest         peak lag observed {_fmt(bt['observed_peak_lag'])} at {bt['observed_peak_time']}, "
              f"simulated {_fmt(bt['simulated_peak_lag'])} at {bt['simulated_peak_time']}; lag NRMSE {bt['lag_nrmse']}")
    spread = bt.get("spread", {})
    if bt.get("replications", 1) > 1 and "simulated_peak_lag" in spread:
        peak, lag_error = spread["simulated_peak_lag"], spread.get("lag_nrmse", {})
        print(f"                   over {bt['replications']} seeds: simulated peak lag {_fmt(peak['mean'])} "
              f"(95% interval [{_fmt(peak['low'])}, {_fmt(peak['high'])}], single replays {_fmt(peak['min'])}–"
              f"{_fmt(peak['max'])}); lag NRMSE {_fmt(lag_error.get('mean'))} (up to {_fmt(lag_error.get('max'))})")
    if bt.get("replications_note"):
        print(f"                   {bt['replications_note']}")
    if bt.get("throughput_nrmse") is not None:
        print(f"                   throughput NRMSE {bt['throughput_nrmse']}"
              + (f", latency p99 NRMSE {bt['latency_p99_nrmse']}" if bt.get("latency_p99_nrmse") is not None else ""))
    print(f"wrote {len(result.written)} files to {out}/ (open {out / 'fit_report.html'}); "
          f"next: simbp plan {out / 'plan.yaml'}")
    return 0
