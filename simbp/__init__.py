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

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .errors import Problem, ScenarioError, ScenarioTooLarge
from .results import Results
from .scenario.schema import Scenario, load_scenario

if TYPE_CHECKING:
    from .engine_contract import SimulatedModel

__all__ = ["load_scenario", "run", "Scenario", "Results", "ScenarioError", "ScenarioTooLarge", "Problem", "__version__"]

__version__ = "0.1.0"


def run(scenario: Scenario | str, seed: int | None = None, *, progress: Callable[[float], None] | None = None,
        allow_large: bool = False, mode: str = "auto") -> Results:
    """Simulate a scenario (a `Scenario`, a path or YAML text) and return its `Results`.

    `seed` overrides the scenario's seed. `mode` is "exact" (every message simulated), "fast"
    (message counts per quantum of time, for production-sized runs; see docs/performance.md) or
    "auto" (fast above about two million messages when fast mode can model the scenario);
    `summary["mode"]` and `summary["mode_reason"]` say which ran and why; a fast run adds its quantum
    (`quantum_s`) and its stated error bounds against exact mode (`fast_error`). A scenario estimated too
    large for its mode raises `ScenarioTooLarge` with the estimate unless `allow_large` is set.
    """
    from .limits import check_size, choose_mode
    from .results import build_results

    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    chosen, reason = choose_mode(scenario, mode)
    check_size(scenario, allow_large=allow_large, mode=chosen)
    model: SimulatedModel
    about_mode: dict[str, Any] = {"mode_reason": reason}
    if chosen == "fast":
        from .fast.accuracy import fast_error_summary
        from .fast.model import simulate_fast

        fast_model = simulate_fast(scenario, seed=seed, progress=progress)
        about_mode["quantum_s"] = fast_model.quantum
        about_mode["fast_error"] = fast_error_summary(kafka=bool(scenario.topics))  # stated bounds (docs/performance.md)
        model = fast_model
    else:
        from .exact.model import simulate

        model = simulate(scenario, seed=seed, progress=progress)
    results = build_results(model)
    summary = {}
    for key, value in results.summary.items():  # mode_reason (and fast mode's quantum) right after mode
        summary[key] = value
        if key == "mode":
            summary.update(about_mode)
    results.summary = summary
    return results
