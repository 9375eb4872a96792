"""The scenario layer: the closed schema, the systems keys, YAML loading with line-aware errors.

Everything downstream (exact and fast engines, planning, the dashboard) reads a `Scenario` built
here; nothing here imports an engine. Modules, lowest first: `base` (the pydantic base, quantities
with units, names), `distributions`, `arrivals` (and `rates`, their rate functions), `system_specs`,
`kafka`, `components`, `systems` (checks of the systems keys), `schema` (`Scenario` and its
cross-references), `paths` (`set_path`/`get_path`), `loading` (YAML → `Scenario`).
"""

from .loading import ScenarioLoader, load_scenario, parse_scenario_dict, parse_scenario_text
from .schema import *  # noqa: F403
from .schema import __all__ as _schema_all
from .systems import *  # noqa: F403
from .systems import __all__ as _systems_all

__all__ = [*_schema_all, *_systems_all, "ScenarioLoader", "load_scenario", "parse_scenario_dict", "parse_scenario_text"]
