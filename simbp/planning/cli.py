"""The `simbp sweep` and `simbp plan` sub-commands: thin front ends over `sweep`, `plan` and the
report writers."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..budget import Budgets, add_budget_option, clamp_jobs
from .figures import display
from .files import output_folder, write_plan_report, write_sweep_report

if TYPE_CHECKING:
    from ..output import OutputFolder
    from .study import Study

__all__ = ["add_planning_commands", "run_sweep_command", "run_plan_command"]

_MARKS = {"pass": " ok", "fail": " MISS", "undecided": " UNDECIDED"}


def _label(changes: dict[str, Any]) -> str:
    return ", ".join(f"{p}={display(v)}" for p, v in changes.items() if p != "load_multiplier") or "base"

# ====================================================================================== commands
def add_planning_commands(commands: Any) -> None:
    """Add `sweep` and `plan` to the `simbp` sub-command parser."""
    for name, text, handler in (
        ("sweep", "run a sweep spec: every point, replications, 95%% intervals, targets", run_sweep_command),
        ("plan", "find the cheapest configuration meeting a spec's targets, and its margin", run_plan_command),
    ):
        parser = commands.add_parser(name, help=text, description=text.replace("%%", "%"))
        parser.add_argument("spec", help="sweep spec YAML file (see docs/planning.md)")
        parser.add_argument("--jobs", type=int, help="local processes to run on (default: all cores; 1: this process)")
        parser.add_argument("--dask", metavar="SCHEDULER_ADDRESS",
                            help='run on a Dask cluster ("tcp://host:8786"), or "local" for a local Dask cluster')
        parser.add_argument("--out", help="output folder (default: reports/<spec name>/)")
        parser.add_argument("--duration", help='simulated time per replication, over the spec\'s (e.g. "10s" for a quick look)')
        parser.add_argument("--allow-large", action="store_true", help="run points even when over the size limit")
        parser.add_argument("--no-lengthen", action="store_true",
                            help="never lengthen runs found too short (a quick look: such points are reported undecided)")
        parser.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
        parser.add_argument("--quiet", action="store_true", help="print nothing but errors")
        add_budget_option(parser)
        parser.set_defaults(handler=handler)


def _executor(args: argparse.Namespace) -> Any:
    from ..errors import Problem, ScenarioError
    from .executors import make_executor

    if args.jobs is not None and args.jobs < 1:
        raise ScenarioError([Problem("--jobs", f"must be at least 1, got {args.jobs}", None, "command line")])
    jobs, note = clamp_jobs(args.jobs)
    if note and not args.quiet:
        print(f"note: {note}", file=sys.stderr)
    try:
        return make_executor(jobs, args.dask)
    except (OSError, TimeoutError, ValueError) as error:
        raise ScenarioError([Problem("--dask", f"cannot reach the Dask scheduler {args.dask!r}: {error}", None,
                                     "command line")]) from None


def _load(args: argparse.Namespace, need_plan: bool) -> "Study":
    from ..errors import Problem, ScenarioError
    from .study import load_study

    path = Path(args.spec)
    if not path.is_file():
        raise ScenarioError([Problem("", "no such spec file", None, str(path))])
    overrides = {"duration": args.duration} if args.duration else None
    return load_study(path, allow_large=True if args.allow_large else None, need_plan=need_plan, overrides=overrides,
                      lengthen=not args.no_lengthen, budgets=Budgets().with_overrides(args.budget))


def _folder(args: argparse.Namespace, study: "Study", kind: str) -> "OutputFolder":
    """The output folder, checked before anything runs (a file, not writable: exit 2 now)."""
    out_dir = Path(args.out) if args.out else Path("reports") / study.spec.name
    folder = output_folder(out_dir, kind)
    folder.check()
    return folder


def run_sweep_command(args: argparse.Namespace) -> int:
    """`simbp sweep SPEC`: validate, run every point, print the points and write the report."""
    return _run_command(args, "sweep", _sweep)


def _run_command(args: argparse.Namespace, kind: str,
                 body: Callable[[argparse.Namespace, "Study", "OutputFolder", Any], int]) -> int:
    """Validate the spec and check the output folder before anything runs, then run `body` with
    the folder created and locked and the executor started (both released however it ends)."""
    study = _load(args, need_plan=kind == "plan")
    folder = _folder(args, study, kind)
    executor = _executor(args)
    try:
        folder.open()  # created and locked while the points run and the files are written
    except BaseException:
        executor.close()
        raise
    try:
        return body(args, study, folder, executor)
    finally:
        folder.close()


def _sweep(args: argparse.Namespace, study: "Study", folder: "OutputFolder", executor: Any) -> int:
    from .figures import format_figure
    from .sweep import sweep

    try:
        if not args.quiet:
            print(f"sweep {study.spec.name}: {len(study.points)} points × {study.spec.replications.min}"
                  f"{'–' + str(study.spec.replications.most) if study.spec.replications.most > study.spec.replications.min else ''}"
                  f" replications on {executor.description}", file=sys.stderr)
        result = sweep(study, executor, progress=None if not args.quiet else False)
    finally:
        executor.close()
    out_dir = folder.folder
    written = write_sweep_report(result, folder, plots=not args.no_plots)
    if not args.quiet:
        figures = [t.figure for t in study.targets] or ["loss_ratio", "latency_s.p99"]
        for r in result.results:
            cells = "  ".join(f"{f} {format_figure(r.estimates[f].mean, study.figures.get(f, 'number'))}"
                              f"{_MARKS.get(r.judgements.get(f, ''), '')}" for f in figures if f in r.estimates)
            short = "  (runs too short)" if r.steady.get("too_short") else ""
            print(f"  {r.point.label():<48} n={r.replications:<3} {r.mode or '?':<5} {cells}{short}")
        for entry in result.summary["recommendations"]:
            load = display(entry["load_multiplier"])
            if entry.get("recommendation"):
                changes = ", ".join(f"{p}={display(v)}" for p, v in entry["recommendation"].items() if p != "load_multiplier")
                print(f"at {load}× load: cheapest point meeting every target: {changes or 'the base scenario'}")
                for warning in entry.get("warnings", []):
                    print(f"  warning: {warning}")
            else:
                print(f"at {load}× load: {entry['reason']}")
            for item in entry.get("undecided", []):
                print(f"  undecided, cheaper: {_label(item['changes'])}: {item['to_decide'] or 'more replications'}")
        print(f"wrote {len(written)} files to {out_dir}/ (open {out_dir / 'sweep_report.html'})")
    return 0


def run_plan_command(args: argparse.Namespace) -> int:
    """`simbp plan SPEC`: search for the cheapest configuration; exit 1 when none meets the targets."""
    return _run_command(args, "plan", _plan)


def _plan(args: argparse.Namespace, study: "Study", folder: "OutputFolder", executor: Any) -> int:
    from .plan import plan

    try:
        if not args.quiet:
            print(f"plan {study.spec.name}: searching {', '.join(p for p, _ in study.search)} on {executor.description}",
                  file=sys.stderr)
        result = plan(study, executor, progress=None if not args.quiet else False)
    finally:
        executor.close()
    out_dir = folder.folder
    written = write_plan_report(result, folder, plots=not args.no_plots)
    if not args.quiet:
        summary = result.summary
        if result.recommendation is None:
            print(f"at {display(result.load)}× load: {summary['reason']}")
        else:
            changes = ", ".join(f"{p}={display(v)}" for p, v in summary["recommendation"]["changes"].items())
            cost = summary["recommendation"].get("cost")
            priced = f" (cost {cost:,.4g}{' ' + study.spec.cost_unit if study.spec.cost_unit else ''})" if cost is not None else ""
            print(f"at {display(result.load)}× load: cheapest configuration meeting every target: {changes}{priced}")
            for r in result.cheaper_failed:
                what = f"misses {', '.join(r.failing())}" if r.failing() else f"undecided on {', '.join(r.undecided())}"
                print(f"  cheaper {r.point.label()}: {what}")
        for item in summary.get("undecided", []):
            print(f"  undecided: {_label(item['changes'])}: {item['to_decide'] or 'more replications would decide it'}")
        print(f"theory: {summary['agreement']}")
        if summary.get("explanation"):
            print(f"why: {summary['explanation']}")
        for warning in result.warnings:
            print(f"warning: {warning}")
        if result.margin is not None:
            m = result.margin
            if m.first_failing_load is None:
                print(f"margin: meets every target up to {display(m.max_load)}× (the most tried)")
            else:
                missed = ", ".join(m.failing_targets) or "nothing clearly"
                undecided = f" (undecided: {', '.join(m.undecided_targets)})" if m.undecided_targets else ""
                print(f"margin: meets every target up to {display(m.max_load)}× ({m.headroom:.2f}× the planning load); "
                      f"misses {missed}{undecided} at {display(m.first_failing_load)}×")
        print(f"wrote {len(written)} files to {out_dir}/ (open {out_dir / 'plan_report.html'})")
    return 0 if result.recommendation is not None else 1
