"""simbp: a discrete-event backpressure simulator.

Producers, bounded buffers and consumers are simulated on SimPy under drop, block or unbounded
policies; results show lag, loss, memory growth, latency and the failure mode the system fell into.

    import simbp
    scenario = simbp.load_scenario("scenarios/quickstart.yaml")
    results = simbp.run(scenario, seed=7)
    results.summary["verdict"]

`import simbp` loads neither streamlit nor matplotlib.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import Problem, ScenarioError, ScenarioTooLarge
from .results import Results
from .scenario import Scenario, load_scenario

if TYPE_CHECKING:
    from .budget import Budgets
    from .calibration import FitResult
    from .engine_contract import SimulatedModel

__all__ = ["load_scenario", "run", "fit", "Scenario", "Results", "ScenarioError", "ScenarioTooLarge", "Problem", "__version__"]

__version__ = "0.1.0"


def run(scenario: Scenario | str, seed: int | None = None, *, progress: Callable[[float], None] | None = None,
        allow_large: bool = False, mode: str = "auto", budgets: "Budgets | Mapping[str, Any] | None" = None,
        cancelled: Callable[[], bool] | None = None) -> Results:
    """Simulate a scenario (a `Scenario`, a path or YAML text) and return its `Results`.

    `seed` overrides the scenario's seed (a whole number from 0 to 2**63 - 1). `mode` is "exact"
    (every message simulated), "fast" (message counts per quantum of time, for production-sized runs;
    see docs/performance.md) or "auto" (fast above about two million messages when fast mode can
    model the scenario); `summary["mode"]` and `summary["mode_reason"]` say which ran and why; a fast
    run adds its quantum (`quantum_s`) and its stated error bounds against exact mode (`fast_error`). A
    scenario estimated too large for its mode raises `ScenarioTooLarge` with the estimate unless
    `allow_large` is set. `budgets` (`simbp.budget.Budgets` or a mapping such as `{"wall": "30m"}`)
    bound the run while it goes: over one, `BudgetExceeded` names it (see docs/limits.md);
    `cancelled()` returning true stops the run with `RunCancelled`.
    """
    from .budget import Budgets, RunCancelled
    from .limits import check_size, choose_mode
    from .results import build_results

    if not isinstance(budgets, Budgets):
        budgets = Budgets().with_overrides(budgets)
    seed = checked_seed(seed)
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario, budgets=budgets)
    chosen, reason = choose_mode(scenario, mode)
    check_size(scenario, allow_large=allow_large, mode=chosen, budgets=budgets)
    guard = budgets.guard(label=getattr(scenario, "_source", None), cancelled=cancelled)

    def on_progress(fraction: float) -> None:
        guard.check_clock()
        if progress is not None:
            progress(fraction)

    model: SimulatedModel
    about_mode: dict[str, Any] = {"mode_reason": reason}
    try:
        if chosen == "fast":
            from .fast.accuracy import fast_error_summary
            from .fast.model import simulate_fast

            fast_model = simulate_fast(scenario, seed=seed, progress=on_progress, guard=guard)
            about_mode["quantum_s"] = fast_model.quantum
            # stated bounds (docs/performance.md)
            about_mode["fast_error"] = fast_error_summary(kafka=bool(scenario.topics), scenario=scenario, quantum=fast_model.quantum)
            model = fast_model
        else:
            from .exact.model import simulate

            model = simulate(scenario, seed=seed, progress=on_progress, guard=guard)
    except MemoryError:
        from .budget import BudgetExceeded

        raise BudgetExceeded("memory", "the run ran out of memory and was stopped; shorten `duration`, lower the "
                                       "rates or bound the queues", getattr(scenario, "_source", None)) from None
    if cancelled is not None and cancelled():
        raise RunCancelled(getattr(scenario, "_source", None))
    results = build_results(model)
    summary = {}
    for key, value in results.summary.items():  # mode_reason (and fast mode's quantum) right after mode
        summary[key] = value
        if key == "mode":
            summary.update(about_mode)
    results.summary = summary
    return results


def checked_seed(seed: Any) -> int | None:
    """A run seed as given (None keeps the scenario's), or `ScenarioError`: a whole number from 0 to
    2**63 - 1; `1.7`, `-1` and `True` are errors, not seeds."""
    import numbers

    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise ScenarioError([Problem("seed", f"a seed is a whole number from 0 to 2**63 - 1, not {seed!r}", None, "run")])
    value = int(seed)
    if not 0 <= value < 2**63:
        raise ScenarioError([Problem("seed", f"a seed is a whole number from 0 to 2**63 - 1, not {value}", None, "run")])
    return value


def fit(observed: str | Path, out_dir: str | Path | None = None, **options: Any) -> FitResult:
    """Fit a scenario to observed metrics and backtest it (`simbp.calibration.fit`; docs/fit.md)."""
    from .calibration import fit as _fit

    return _fit(observed, out_dir, **options)
