"""The files a sweep or plan writes into `reports/<spec name>/` (or `--out`): tables (CSV,
Parquet), plots (PNG), the HTML report and the summary JSON, each written atomically, the summary
last, so its presence means the run finished."""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .html import render_plan_html, render_sweep_html
from .plots import plot_heatmap, plot_load_curve, plot_margin, plot_plan_search, plot_sensitivity

if TYPE_CHECKING:
    from collections.abc import Callable

    from matplotlib.figure import Figure

    from ..output import OutputFolder
    from .plan import PlanResult
    from .sweep import SweepResult

__all__ = ["write_sweep_report", "write_plan_report", "SWEEP_FILES", "PLAN_FILES", "output_folder"]

SWEEP_FILES = ("sweep_table.csv", "sweep_table.parquet", "sweep_points.csv", "sweep_heatmap.png", "sweep_load.png",
               "sweep_report.html", "sweep_summary.json")
PLAN_FILES = ("plan_table.csv", "plan_table.parquet", "plan_points.csv", "plan_margin.png", "plan_report.html",
              "plan_summary.json")  # and plan_search_<figure>.png


def output_folder(out_dir: "Path | OutputFolder", kind: str) -> "OutputFolder":
    """The `OutputFolder` a sweep ("sweep") or plan ("plan") writes: checked, locked, and only
    simbp's own files replaced or removed (`simbp.output`)."""
    from ..output import OutputFolder

    if isinstance(out_dir, OutputFolder):
        return out_dir
    return OutputFolder(out_dir, SWEEP_FILES if kind == "sweep" else PLAN_FILES, summary=f"{kind}_summary.json",
                        family=(f"{kind}_*",))

# ====================================================================================== files
def _png(figure: "Figure") -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def _tables_out(prefix: str, table: Any, points: Any, folder: "OutputFolder") -> list[Path]:
    folder.begin()  # the previous summary goes first: an interrupted write never looks complete
    written = [folder.write(f"{prefix}_table.csv", table.to_csv(index=False).encode("utf-8"))]
    buffer = io.BytesIO()
    table.to_parquet(buffer, index=False)
    written.append(folder.write(f"{prefix}_table.parquet", buffer.getvalue()))
    written.append(folder.write(f"{prefix}_points.csv", points.to_csv(index=False).encode("utf-8")))
    return written


def _finish(folder: "OutputFolder", name: str, data: bytes, written: list[Path]) -> list[Path]:
    folder.remove_stale()
    written.append(folder.write(name, data))
    return written


def _written_in(folder: "OutputFolder", write: "Callable[[OutputFolder], list[Path]]") -> list[Path]:
    """Run `write` in `folder`, holding its lock unless the caller already holds it."""
    if folder.locked:
        return write(folder)
    with folder:
        return write(folder)


def write_sweep_report(result: "SweepResult", out_dir: "Path | OutputFolder", *, plots: bool = True) -> list[Path]:
    """Write sweep_table.csv/.parquet (every point and replication), sweep_points.csv, the plots,
    sweep_report.html, and sweep_summary.json last (into a path or an open `OutputFolder`)."""
    return _written_in(output_folder(out_dir, "sweep"), lambda folder: _write_sweep(result, folder, plots))


def _write_sweep(result: "SweepResult", folder: "OutputFolder", plots: bool) -> list[Path]:
    written = _tables_out("sweep", result.table, result.points, folder)
    images: dict[str, tuple[bytes, str]] = {}
    if plots:
        study = result.study
        heat_figure, curve_figure = study.plot_figure("heatmap"), study.plot_figure("curve")
        heatmap = plot_heatmap(result, heat_figure)
        if heatmap is not None:
            images["sweep_heatmap"] = (_png(heatmap), f"{heat_figure} over the two varied fields; each cell shows the mean "
                                       f"and ✓ (meets every target), ✗ (misses one) or ? (undecided).")
        curve = plot_load_curve(result, curve_figure)
        if curve is not None:
            images["sweep_load"] = (_png(curve), f"{curve_figure} as the load rises, with its 95% interval band; the diamond "
                                    f"marks the knee (the last load that still meets the target, or where the curve bends most).")
        for name, (png, _) in images.items():
            written.append(folder.write(f"{name}.png", png))
    written.append(folder.write("sweep_report.html", render_sweep_html(result, images).encode("utf-8")))
    return _finish(folder, "sweep_summary.json", result.to_json().encode("utf-8"), written)


def write_plan_report(result: "PlanResult", out_dir: "Path | OutputFolder", *, plots: bool = True) -> list[Path]:
    """Write plan_table.csv/.parquet, plan_points.csv, the plots, plan_report.html, plan_summary.json
    last (into a path or an open `OutputFolder`)."""
    return _written_in(output_folder(out_dir, "plan"), lambda folder: _write_plan(result, folder, plots))


def _write_plan(result: "PlanResult", folder: "OutputFolder", plots: bool) -> list[Path]:
    written = _tables_out("plan", result.table, result.points, folder)
    images: dict[str, tuple[bytes, str]] = {}
    if plots:
        study = result.study
        for figure_name in [t.figure for t in study.targets][:3] or [study.plot_figure("curve")]:
            search = plot_plan_search(result, figure_name)
            if search is not None:
                images[f"plan_search_{_file_part(figure_name)}"] = (
                    _png(search), f"{figure_name} of each configuration simulated at the planning load, beside the "
                                  f"theory curve; the dotted line marks the choice.")
        shown = [t.figure for t in study.targets][:3] or [study.plot_figure("curve")]
        margin = plot_margin(result, shown)
        if margin is not None:
            images["plan_margin"] = (_png(margin), f"{', '.join(shown)} of the chosen configuration as the load rises; "
                                     f"the diamond marks the knee, the highest load that still meets every target.")
        tornado = plot_sensitivity(result)
        if tornado is not None:
            images["plan_sensitivity"] = (_png(tornado), "Sensitivity: the deciding figure with each parameter one step "
                                          "either side of the recommendation (the others fixed); the widest bar matters most.")
        for name, (png, _) in images.items():
            written.append(folder.write(f"{name}.png", png))
    written.append(folder.write("plan_report.html", render_plan_html(result, images).encode("utf-8")))
    return _finish(folder, "plan_summary.json", result.to_json().encode("utf-8"), written)


def _file_part(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name).strip("_")


