"""The scenario layer: the closed schema, the systems keys, YAML loading with line-aware errors.

Everything downstream (exact and fast engines, planning, the dashboard) reads a `Scenario` built
here; nothing here imports an engine.
"""

from .schema import *  # noqa: F403
from .schema import __all__ as _schema_all
from .systems import *  # noqa: F403
from .systems import __all__ as _systems_all

__all__ = [*_schema_all, *_systems_all]
