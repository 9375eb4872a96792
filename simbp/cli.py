"""The `simbp` command: `simbp run FILE`, `simbp validate FILE`.

Bad input gets a clear message (file, line, field, what was expected) and exit status 2, never a
traceback. The CLI only turns arguments into a scenario, calls the library and writes the files.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .budget import add_budget_option
from .errors import Problem, ScenarioError

__all__ = ["main", "build_parser"]

EXIT_OK = 0
EXIT_EXPECTATION_FAILED = 1
EXIT_BAD_INPUT = 2


def build_parser() -> argparse.ArgumentParser:
    """The argument parser, with one sub-command per job."""
    parser = argparse.ArgumentParser(prog="simbp", description="Discrete-event backpressure simulator.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="simulate a scenario and write its report")
    run.add_argument("file", help="scenario YAML file")
    run.add_argument("--out", help="output folder (default: reports/<scenario name>/)")
    run.add_argument("--seed", type=int, help="override the scenario's seed")
    run.add_argument("--duration", help='override the simulated time, e.g. "30s", "5m"')
    run.add_argument("--sample-interval", help='time-series sampling interval, e.g. "1s"')
    run.add_argument("--mode", choices=("auto", "exact", "fast"), default="auto",
                     help="exact: every message; fast: message counts per quantum (production-sized runs); "
                          "auto (default): fast for large scenarios it can model, and says so")
    run.add_argument("--allow-large", action="store_true", help="run even when the estimated size is over the limit")
    run.add_argument("--no-plots", action="store_true", help="skip the PNG plots (the report then has none)")
    run.add_argument("--check-expect", action="store_true", help="exit 1 when the scenario's `expect` does not hold")
    run.add_argument("--quiet", action="store_true", help="print nothing but errors")
    add_budget_option(run)
    run.set_defaults(handler=_run)

    validate = commands.add_parser("validate", help="check a scenario file and say what is wrong")
    validate.add_argument("file", help="scenario YAML file")
    add_budget_option(validate)
    validate.set_defaults(handler=_validate)

    from .planning.cli import add_planning_commands

    add_planning_commands(commands)  # `simbp sweep SPEC`, `simbp plan SPEC`
    from .calibration.cli import add_fit_command

    add_fit_command(commands)  # `simbp fit OBSERVED`
    return parser


def budgets_from(args: argparse.Namespace) -> Any:
    """The budgets the command line asks for (defaults, changed by each --budget)."""
    from .budget import Budgets

    return Budgets().with_overrides(getattr(args, "budget", None) or [])


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except ScenarioError as error:
        _print_problems(error.problems)
        return EXIT_BAD_INPUT
    except MemoryError:
        print("error: simbp ran out of memory; shorten `duration`, lower the rates, bound the queues or lower "
              "--budget memory (see docs/limits.md)", file=sys.stderr)
        return EXIT_BAD_INPUT
    except RecursionError:
        print("error: the input is nested too deeply to process", file=sys.stderr)
        return EXIT_BAD_INPUT
    except BrokenPipeError:  # output piped into `head` and closed early
        sys.stderr.close()
        return EXIT_OK
    except KeyboardInterrupt:
        print("interrupted: no partial files were left under final names", file=sys.stderr)
        return 130
    except Exception as error:  # a bug met on some input: say so in one line, never a traceback
        if os.environ.get("SIMBP_TRACEBACK"):
            raise
        print(f"error: simbp could not process this input ({type(error).__name__}: {str(error)[:300]}); this is a "
              "bug in simbp, please report it with the input (SIMBP_TRACEBACK=1 shows the traceback)", file=sys.stderr)
        return EXIT_BAD_INPUT


def _print_problems(problems: list[Problem]) -> None:
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)


def _load(args: argparse.Namespace) -> Any:
    from .scenario import load_scenario

    path = Path(args.file)
    if not path.is_file():
        raise ScenarioError([Problem("", "no such scenario file", None, str(path))])
    return load_scenario(path, budgets=budgets_from(args))


def _overrides(args: argparse.Namespace, scenario: Any) -> Any:
    from .scenario import parse_scenario_dict
    from .units import parse_duration

    changes: dict[str, Any] = {}
    for option, key in (("duration", "duration"), ("sample_interval", "sample_interval")):
        value = getattr(args, option, None)
        if value is not None:
            try:
                changes[key] = parse_duration(value)
            except ValueError as error:
                raise ScenarioError([Problem(f"--{option.replace('_', '-')}", str(error), None, "command line")]) from None
    if not changes:
        return scenario
    data = scenario.model_dump(by_alias=True, exclude_none=True)
    data.update(changes)
    updated = parse_scenario_dict(data, label=f"{args.file} (with command-line overrides)", base_dir=scenario.base_dir,
                                  budgets=budgets_from(args))
    return updated


def _progress_bar(enabled: bool) -> tuple[Callable[[float], None] | None, Callable[[], None]]:
    if not enabled:
        return None, lambda: None
    from tqdm import tqdm

    bar = tqdm(total=100, unit="%", desc="simulating", file=sys.stderr, leave=False, delay=1.0)
    state = {"done": 0}

    def update(fraction: float) -> None:
        target = int(round(fraction * 100))
        if target > state["done"]:
            bar.update(target - state["done"])
            state["done"] = target

    return update, bar.close


def _run(args: argparse.Namespace) -> int:
    import simbp

    from .output import OutputFolder, result_names, write_results
    from .report import headline_figures

    budgets = budgets_from(args)
    scenario = _overrides(args, _load(args))
    out_dir = Path(args.out) if args.out else Path("reports") / scenario.name
    interactive = sys.stderr.isatty() and not args.quiet
    folder = OutputFolder(out_dir, result_names(plots=not args.no_plots), family=result_names())
    folder.check()  # a file, or not writable: said now, not after the simulation
    _refuse_up_front(scenario, args, budgets)  # nothing created for a run refused before it starts
    with folder:  # created and locked while the run goes and writes
        progress, close = _progress_bar(interactive)
        started = time.perf_counter()
        try:
            with _WallWatchdog(budgets.wall):
                results = simbp.run(scenario, seed=args.seed, progress=progress, allow_large=args.allow_large,
                                    mode=args.mode, budgets=budgets)
        finally:
            close()
        elapsed = time.perf_counter() - started
        written = write_results(results, folder, plots=not args.no_plots)
    summary = results.summary
    if not args.quiet:
        print(f"{scenario.name}: {summary['verdict'].upper()}: {summary['verdict_reason']}")
        width = max(len(label) for label, _ in headline_figures(summary))
        for label, value in headline_figures(summary):
            print(f"  {label:<{width}}  {value}")
        print(f"  {'mode':<{width}}  {summary.get('mode', 'exact')}, simulated in {elapsed:.2f}s")
        if summary.get("mode") == "fast" or args.mode != "auto":
            print(f"  {'':<{width}}  ({summary.get('mode_reason', '')})")
        if "expected_verdict" in summary:
            state = "held" if summary["expectation_met"] else "DID NOT HOLD"
            print(f"expectation: verdict {summary['expected_verdict']} {state} (got {summary['verdict']})")
        print(f"wrote {len(written)} files to {out_dir}/ (open {out_dir / 'report.html'})")
    if args.check_expect and summary.get("expectation_met") is False:
        return EXIT_EXPECTATION_FAILED
    return EXIT_OK


def _refuse_up_front(scenario: Any, args: argparse.Namespace, budgets: Any) -> None:
    from .limits import check_size, choose_mode

    mode, _ = choose_mode(scenario, args.mode)
    check_size(scenario, allow_large=args.allow_large, mode=mode, budgets=budgets)


class _WallWatchdog:
    """Stops the run with a `BudgetExceeded` from a timer signal, a little after the wall budget, in
    case the run is stuck where the engine's own checks do not reach (main thread, POSIX only)."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.previous: Any = None

    def __enter__(self) -> None:
        import signal
        import threading

        if not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
            return
        if not 0 < self.seconds < 10**7:
            return

        def expire(signum: int, frame: Any) -> None:
            from .budget import BudgetExceeded, describe, raise_hint

            raise BudgetExceeded("wall", f"the run took over {describe('wall', self.seconds)} of wall-clock time and "
                                         f"was stopped. {raise_hint('wall')}")

        self.previous = signal.signal(signal.SIGALRM, expire)
        signal.setitimer(signal.ITIMER_REAL, self.seconds * 1.05 + 2.0)

    def __exit__(self, *exc: Any) -> None:
        import signal

        if self.previous is not None:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self.previous)



def _validate(args: argparse.Namespace) -> int:
    from .limits import estimate_messages

    scenario = _load(args)
    messages = estimate_messages(scenario)
    print(f"{args.file}: ok: scenario {scenario.name!r}, {len(scenario.producers)} producer(s), "
          f"{len(scenario.buffers)} buffer(s), {len(scenario.consumers)} consumer group(s), "
          + (f"{len(scenario.topics)} Kafka topic(s) read by {len(scenario.consumer_groups)} Kafka consumer group(s), "
             if scenario.topics else "")
          + f"about {messages:,.0f} messages")
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
