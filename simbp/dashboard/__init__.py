"""The what-if dashboard's logic, without Streamlit: what `app.py` decides, unit-tested without a browser.

One module per job: `library` (the scenario library and scenario text), `controls` and `knobs`
(controls derived from a scenario, and writing them into its YAML), `guard` (what a shared server
accepts: size caps, files, run budgets), `modes` (the mode the page's `auto` runs), `running` and
`runpool` (guarded, shared, cancellable runs), `compare` (policy comparison), `capacity` and `sweeps` (the capacity sweep, in its own
process), `charts` (interactive Vega-Lite charts), `mechanisms` and `advice` (Kafka, Node.js
streams, downstreams; advice that fits them), `urlstate` (shareable links), `workshop` (lessons,
predict-then-reveal), `figures` and `downloads`. The Streamlit page is `simbp.dashboard.ui`.
Importing this package loads neither streamlit nor matplotlib.
"""

from __future__ import annotations

from .advice import advise
from .capacity import (
    CapacityQuestion,
    capacity_available,
    capacity_figures,
    capacity_recommendations,
    capacity_spec,
    capacity_table,
    default_size_values,
    parse_number_list,
    run_capacity_sweep,
    sizing_knobs,
)
from .compare import buffer_names, compare_policies, compared_policies, comparison_table, policy_variants, split_valid
from .controls import derive_knobs
from .downloads import scenario_yaml_bytes, summary_json, timeseries_csv
from .figures import KEY_FIGURES, figure_png, headline_metrics, plot_caption, plot_names, series_columns
from .guard import BUDGET, BUDGETS, Budget, Deadline, RunCancelled, RunEstimate, estimate_run
from .knobs import DEFAULT_CAPACITY, Knob, apply_knobs, is_bounded
from .library import (
    LIBRARY_DIR,
    LibraryScenario,
    default_library_index,
    library_scenarios,
    load_text,
    problem_lines,
    source_id,
)
from .modes import page_mode
from .running import run_guarded, run_key, run_modes, run_text
from .urlstate import ShareState, decode_state, encode_state, format_value, parse_value

__all__ = [
    "LIBRARY_DIR",
    "DEFAULT_CAPACITY",
    "KEY_FIGURES",
    "LibraryScenario",
    "Knob",
    "library_scenarios",
    "default_library_index",
    "source_id",
    "load_text",
    "problem_lines",
    "derive_knobs",
    "apply_knobs",
    "is_bounded",
    "run_text",
    "run_modes",
    "buffer_names",
    "compared_policies",
    "policy_variants",
    "split_valid",
    "compare_policies",
    "comparison_table",
    "headline_metrics",
    "series_columns",
    "plot_names",
    "plot_caption",
    "figure_png",
    "timeseries_csv",
    "summary_json",
    "scenario_yaml_bytes",
    "CapacityQuestion",
    "capacity_available",
    "sizing_knobs",
    "default_size_values",
    "parse_number_list",
    "capacity_spec",
    "run_capacity_sweep",
    "capacity_recommendations",
    "capacity_table",
    "capacity_figures",
    "advise",
    "BUDGET",
    "BUDGETS",
    "Budget",
    "Deadline",
    "RunCancelled",
    "RunEstimate",
    "estimate_run",
    "run_guarded",
    "page_mode",
    "run_key",
    "ShareState",
    "decode_state",
    "encode_state",
    "format_value",
    "parse_value",
]
