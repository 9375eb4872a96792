"""The former single module of the dashboard's logic; everything now lives in `simbp.dashboard`.

Kept so that `from simbp.dashboard import page` goes on working; new code imports `simbp.dashboard`.
"""

from __future__ import annotations

from . import *  # noqa: F403
from . import __all__  # noqa: F401
