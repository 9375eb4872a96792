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

from typing import Callable

from .errors import Problem, ScenarioError, ScenarioTooLarge
from .results import Results
from .scenario import Scenario, load_scenario

__all__ = ["load_scenario", "run", "Scenario", "Results", "ScenarioError", "ScenarioTooLarge", "Problem", "__version__"]

__version__ = "0.1.0"


def run(scenario: Scenario | str, seed: int | None = None, *, progress: Callable[[float], None] | None = None,
        allow_large: bool = False) -> Results:
    """Simulate a scenario (a `Scenario`, a path or YAML text) and return its `Results`.

    `seed` overrides the scenario's seed. A scenario estimated too large to simulate raises
    `ScenarioTooLarge` with the estimate unless `allow_large` is set.
    """
    from .engine import simulate
    from .limits import check_size
    from .results import build_results

    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    check_size(scenario, allow_large=allow_large)
    model = simulate(scenario, seed=seed, progress=progress)
    return build_results(model)
