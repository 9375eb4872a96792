"""Presenting sweeps and plans: plots, the HTML report, the files on disk, and the `simbp sweep` /
`simbp plan` sub-commands.

Plots return a matplotlib `Figure` (no pyplot, never `show()`): a heatmap of a figure over two
varied fields, a figure against load with its 95% interval band and the knee marked, and for a
plan the search (simulation beside theory) and the margin. Files go into `reports/<spec name>/`
(or `--out`), each written atomically; the summary JSON is written last, so its presence means the
sweep finished.
"""

from __future__ import annotations

import argparse
import base64
import html
import io
import itertools
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from .core import PlanResult, PointResult, Study, SweepResult

__all__ = [
    "plot_heatmap",
    "plot_load_curve",
    "plot_plan_search",
    "plot_margin",
    "find_knee",
    "write_sweep_report",
    "write_plan_report",
    "render_sweep_html",
    "render_plan_html",
    "add_planning_commands",
]

_PASS, _FAIL = "#2ca02c", "#d62728"


# ====================================================================================== knee
def find_knee(xs: Sequence[float], ys: Sequence[float], passes: Sequence[bool] | None = None) -> int | None:
    """Index of the knee of a curve: with pass/fail, the last passing point before the first
    failure (where the target breaks); without, the point farthest from the chord joining the
    ends (the Kneedle rule: where the curve bends most)."""
    count = len(xs)
    if count == 0:
        return None
    if passes is not None:
        if not passes[0]:
            return None
        for index in range(1, count):
            if not passes[index]:
                return index - 1
        return None  # never fails in range: no knee seen
    finite = [i for i in range(count) if math.isfinite(ys[i])]
    if len(finite) < 3:
        return None
    x0, x1 = xs[finite[0]], xs[finite[-1]]
    low, high = min(ys[i] for i in finite), max(ys[i] for i in finite)
    if x1 == x0 or high == low:
        return None
    best, distance = None, 0.0
    for i in finite:
        u = (xs[i] - x0) / (x1 - x0)
        v = (ys[i] - low) / (high - low)
        chord = (ys[finite[0]] - low) / (high - low) + u * ((ys[finite[-1]] - ys[finite[0]]) / (high - low))
        if abs(chord - v) > distance:
            best, distance = i, abs(chord - v)
    return best


# ====================================================================================== plots
def _figure(title: str, height: float = 3.6, width: float = 8.0) -> tuple["Figure", Any]:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=100, layout="constrained")
    axes = figure.add_subplot()
    axes.set_title(title, loc="left", fontsize=11)
    axes.grid(True, alpha=0.3)
    return figure, axes


def _value_axis(axes: Any, kind: str) -> None:
    from matplotlib.ticker import FuncFormatter

    from .core import format_figure

    if kind == "ratio":
        axes.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v * 100:.3g}%"))
    else:
        axes.yaxis.set_major_formatter(FuncFormatter(lambda v, _: "0" if v == 0 else format_figure(v, kind)))


def _label(path: str) -> str:
    return "load multiplier" if path == "load_multiplier" else path


def _axes_fields(study: "Study") -> tuple[str | None, str | None, list[str]]:
    """x, y and the remaining (facet) fields for the sweep plots."""
    from .core import _resolved_vary

    varied = [p for p, v in _resolved_vary(study).items() if len(v) > 1]
    if not varied:
        return None, None, []
    load = "load_multiplier" if "load_multiplier" in varied else None
    others = [p for p in varied if p != load]
    x = others[0] if others else load
    y = load if (load and x != load) else (others[1] if len(others) > 1 else None)
    rest = [p for p in varied if p not in (x, y)]
    return x, y, rest


def _sort_key(value: Any) -> Any:
    return (0, value, "") if isinstance(value, (int, float)) else (1, 0, str(value))


def plot_heatmap(result: "SweepResult", figure_name: str) -> "Figure | None":
    """A figure's mean over two varied fields (cells coloured against its target, ✓/✗ = meets every target)."""
    import numpy as np
    from matplotlib.colors import TwoSlopeNorm

    from .core import format_figure

    study = result.study
    x_path, y_path, rest = _axes_fields(study)
    if x_path is None or y_path is None:
        return None
    kind = study.figures.get(figure_name, "number")
    target = study.target(figure_name)
    xs = sorted({r.point.changes[x_path] for r in result.results}, key=_sort_key)
    ys = sorted({r.point.changes[y_path] for r in result.results}, key=_sort_key)
    facets = sorted({tuple(r.point.changes.get(p) for p in rest) for r in result.results}, key=lambda t: tuple(map(_sort_key, t)))
    shown = facets[:6]
    from matplotlib.figure import Figure

    columns = min(len(shown), 3)
    rows = math.ceil(len(shown) / columns)
    figure = Figure(figsize=(max(5.0, 1.1 * len(xs) * columns + 2), 0.75 * len(ys) * rows + 1.6), dpi=100, layout="constrained")
    title = f"{figure_name}: mean of {result.summary['replications']['min']}+ replications"
    if target is not None:
        title += f" (target {target.describe()})"
    figure.suptitle(title, x=0.01, ha="left", fontsize=11)
    limit = None if target is None else (target.high if target.high is not None else target.low)
    image = None
    for panel, facet in enumerate(shown):
        axes = figure.add_subplot(rows, columns, panel + 1)
        grid = np.full((len(ys), len(xs)), np.nan)
        labels: dict[tuple[int, int], str] = {}
        for r in result.results:
            if tuple(r.point.changes.get(p) for p in rest) != facet:
                continue
            i, j = ys.index(r.point.changes[y_path]), xs.index(r.point.changes[x_path])
            mean = r.estimates[figure_name].mean if figure_name in r.estimates else math.nan
            if limit:
                grid[i, j] = math.log10(max(mean, abs(limit) * 1e-3) / abs(limit)) if math.isfinite(mean) else 3.0
            else:
                grid[i, j] = mean
            labels[(i, j)] = f"{format_figure(mean, kind)}\n{'✓' if r.passed else '✗'}"
        if limit:
            image = axes.imshow(np.clip(grid, -3, 3), cmap="RdYlGn_r", norm=TwoSlopeNorm(vcenter=0.0, vmin=-3, vmax=3),
                                aspect="auto", origin="lower")
        else:
            image = axes.imshow(grid, cmap="viridis", aspect="auto", origin="lower")
        for (i, j), text in labels.items():
            axes.text(j, i, text, ha="center", va="center", fontsize=8, color="black",
                      bbox={"boxstyle": "round,pad=0.15", "fc": "white", "alpha": 0.6, "lw": 0})
        axes.set_xticks(range(len(xs)), [_display(v) for v in xs])
        axes.set_yticks(range(len(ys)), [_display(v) for v in ys])
        axes.set_xlabel(_label(x_path))
        axes.set_ylabel(_label(y_path))
        if rest:
            axes.set_title(", ".join(f"{p}={_display(v)}" for p, v in zip(rest, facet)), fontsize=9)
    if image is not None:
        bar = figure.colorbar(image, ax=figure.axes, shrink=0.8)
        bar.set_label("log10(mean / target)" if limit else figure_name)
    return figure


def _display(value: Any) -> str:
    from .core import _display as display

    return display(value)


def plot_load_curve(result: "SweepResult", figure_name: str) -> "Figure | None":
    """A figure against load (or the first varied field), one line per other setting, with its
    95% interval band, the target line and the knee marked."""
    import numpy as np

    from .core import format_figure

    study = result.study
    x_path, y_path, rest = _axes_fields(study)
    if x_path is None:
        return None
    if "load_multiplier" in (x_path, y_path):
        x_path, groups = "load_multiplier", [p for p in (x_path, y_path, *rest) if p and p != "load_multiplier"]
    else:
        groups = [p for p in (y_path, *rest) if p]
    kind = study.figures.get(figure_name, "number")
    target = study.target(figure_name)
    figure, axes = _figure(f"{figure_name} against {_label(x_path)} (band: 95% interval)")
    lines: dict[tuple[Any, ...], list["PointResult"]] = {}
    for r in result.results:
        lines.setdefault(tuple(r.point.changes.get(p) for p in groups), []).append(r)
    colours = itertools.cycle(["#1f77b4", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f"])
    levels = sorted({r.point.changes[x_path] for r in result.results}, key=_sort_key)
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in levels)
    position = (lambda v: float(v)) if numeric else (lambda v: float(levels.index(v)))
    if not numeric:  # words (a policy, say): one tick per value
        axes.set_xticks(range(len(levels)), [_display(v) for v in levels])
    knee_label = False
    for key in sorted(lines, key=lambda t: tuple(map(_sort_key, t))):
        members = sorted(lines[key], key=lambda r: _sort_key(r.point.changes[x_path]))
        x = np.array([position(r.point.changes[x_path]) for r in members])
        estimates = [r.estimates.get(figure_name) for r in members]
        mean = np.array([e.mean if e else math.nan for e in estimates])
        low = np.array([e.low if e else math.nan for e in estimates])
        high = np.array([e.high if e else math.nan for e in estimates])
        colour = next(colours)
        label = ", ".join(f"{_short(p)}={_display(v)}" for p, v in zip(groups, key)) or figure_name
        axes.plot(x, mean, marker="o", color=colour, label=label)
        axes.fill_between(x, np.where(np.isfinite(low), low, mean), np.where(np.isfinite(high), high, mean), color=colour, alpha=0.18)
        passes = [target.passes(e, study.judge) for e in estimates] if (target and all(estimates)) else None
        knee = find_knee(list(x), list(mean), passes)
        if knee is not None:
            axes.plot([x[knee]], [mean[knee]], marker="D", markersize=10, markerfacecolor="none", markeredgecolor="black",
                      markeredgewidth=1.5, label="knee (last load meeting the target)" if passes and not knee_label else
                      ("knee" if not knee_label else None))
            axes.annotate(f"{_display(float(x[knee]))}×" if x_path == "load_multiplier"
                          else _display(members[knee].point.changes[x_path]),
                          (x[knee], mean[knee]), textcoords="offset points", xytext=(6, 8), fontsize=8)
            knee_label = True
    if target is not None:
        for limit, word in ((target.high, "max"), (target.low, "min")):
            if limit is not None:
                axes.axhline(limit, color=_FAIL, linestyle="--", linewidth=1, label=f"target {word} {format_figure(limit, kind)}")
    axes.set_xlabel(_label(x_path))
    axes.set_ylabel(figure_name)
    _value_axis(axes, kind)
    _from_zero(axes, [r.estimates[figure_name].mean for r in result.results if figure_name in r.estimates])
    axes.legend(fontsize=8, loc="upper left")
    return figure


def _short(path: str) -> str:
    from .core import _short as short

    return short(path)


def plot_plan_search(result: "PlanResult", figure_name: str) -> "Figure | None":
    """The search at the planning load: simulated configurations (mean and 95% interval, green
    pass / red fail) against the first search field, with the theory prediction beside them."""
    from .core import TheoryPrediction, theory_prediction

    study = result.study
    path = study.search[0][0]
    searched = [r for r in result.evaluated if result.phase(r) == "search"]
    if not searched:
        return None
    kind = study.figures.get(figure_name, "number")
    figure, axes = _figure(f"{figure_name} at {_display(result.load)}× load: simulation (95% interval) and theory")
    for r in searched:
        e = r.estimates.get(figure_name)
        if e is None or not math.isfinite(e.mean):
            continue
        x = float(r.point.changes[path])
        error = e.half_width if math.isfinite(e.half_width) else 0.0
        axes.errorbar([x], [e.mean], yerr=[[error], [error]], fmt="o", color=_PASS if r.passed else _FAIL, capsize=4)
    axes.plot([], [], "o", color=_PASS, label="simulated: meets every target")
    axes.plot([], [], "o", color=_FAIL, label="simulated: misses a target")
    rest = {p: v for p, v in (result.recommendation.point.changes.items() if result.recommendation else {}) if p != path}
    values = sorted({float(r.point.changes[path]) for r in searched})
    if values:
        candidates = [v for v in study.search[0][1] if isinstance(v, (int, float))]
        lo, hi = min(values), max(values)
        span = [v for v in candidates if lo - 2 <= v <= hi + 2] or values
        theory_x, theory_y = [], []
        for v in span:
            try:
                scenario = study.base.with_changes({**rest, path: v, "load_multiplier": result.load})
            except Exception:
                continue
            prediction = theory_prediction(scenario)
            if isinstance(prediction, TheoryPrediction) and figure_name in prediction.figures:
                theory_x.append(float(v))
                theory_y.append(prediction.figures[figure_name])
        finite = [(a, b) for a, b in zip(theory_x, theory_y) if math.isfinite(b)]
        if finite:
            axes.plot([a for a, _ in finite], [b for _, b in finite], color="#555", linestyle="-", marker=".",
                      label=f"theory ({prediction.model if isinstance(prediction, TheoryPrediction) else ''})")
    target = study.target(figure_name)
    if target is not None:
        for limit in (target.high, target.low):
            if limit is not None:
                axes.axhline(limit, color=_FAIL, linestyle="--", linewidth=1, label=f"target {target.describe()}")
    if result.recommendation is not None:
        axes.axvline(float(result.recommendation.point.changes[path]), color=_PASS, linestyle=":", label="chosen")
    if kind == "ratio" and target is not None and (target.high or target.low):
        # losses span decades (0.01% … 70%): linear below the target, logarithmic above it
        axes.set_yscale("symlog", linthresh=float(target.high or target.low), linscale=0.5)
    axes.set_xlabel(path)
    axes.set_ylabel(figure_name)
    _value_axis(axes, kind)
    _from_zero(axes, [r.estimates[figure_name].mean for r in searched if figure_name in r.estimates])
    axes.xaxis.get_major_locator().set_params(integer=True)
    axes.legend(fontsize=8)
    return figure


def plot_margin(result: "PlanResult", figure_names: Sequence[str]) -> "Figure | None":
    """The chosen configuration under rising load, one panel per figure: its 95% band, the target,
    the planning load and the knee (the highest load that still meets every target)."""
    import numpy as np
    from matplotlib.figure import Figure

    margin = result.margin
    if margin is None or len(margin.curve) < 2 or not figure_names:
        return None
    study = result.study
    figure = Figure(figsize=(8, 0.4 + 2.6 * len(figure_names)), dpi=100, layout="constrained")
    panels = figure.subplots(len(figure_names), 1, sharex=True, squeeze=False)[:, 0]
    figure.suptitle("The chosen configuration against load (bands: 95% intervals; green meets every target)",
                    x=0.01, ha="left", fontsize=11)
    x = np.array([load for load, _ in margin.curve])
    knee = next((i for i, (load, _) in enumerate(margin.curve) if load == margin.max_load), None)
    for axes, figure_name in zip(panels, figure_names):
        kind = study.figures.get(figure_name, "number")
        axes.grid(True, alpha=0.3)
        estimates = [r.estimates.get(figure_name) for _, r in margin.curve]
        mean = np.array([e.mean if e else math.nan for e in estimates])
        low = np.array([e.low if e else math.nan for e in estimates])
        high = np.array([e.high if e else math.nan for e in estimates])
        axes.plot(x, mean, color="#1f77b4", label=figure_name)
        axes.fill_between(x, np.where(np.isfinite(low), low, mean), np.where(np.isfinite(high), high, mean),
                          color="#1f77b4", alpha=0.2)
        for (load, r), m in zip(margin.curve, mean):
            axes.plot([load], [m], "o", color=_PASS if r.passed else _FAIL)
        target = study.target(figure_name)
        if target is not None:
            for limit in (target.high, target.low):
                if limit is not None:
                    axes.axhline(limit, color=_FAIL, linestyle="--", linewidth=1, label=f"target {target.describe()}")
        axes.axvline(margin.planning_load, color="grey", linestyle=":", label=f"planning load {_display(margin.planning_load)}×")
        if knee is not None:
            axes.plot([x[knee]], [mean[knee]], marker="D", markersize=11, markerfacecolor="none", markeredgecolor="black",
                      markeredgewidth=1.5, label=f"knee: meets every target up to {_display(margin.max_load)}×")
        axes.set_ylabel(figure_name)
        _value_axis(axes, kind)
        _from_zero(axes, mean)
        axes.legend(fontsize=8, loc="upper left")
    panels[-1].set_xlabel("load multiplier")
    return figure


def _from_zero(axes: Any, means: Any) -> None:
    """Summary figures are never negative: start the axis at 0 even where an interval dips below."""
    import numpy as np

    values = np.asarray(means, dtype=float)
    if np.isfinite(values).any() and np.nanmin(values) >= 0:
        axes.set_ylim(bottom=0)


# ====================================================================================== HTML
_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 64rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
.answer { border-left: 0.5rem solid #2ca02c; padding: 0.5rem 1rem; background: #f4f9f4; }
.answer.none { border-color: #d62728; background: #fbf3f3; }
table { border-collapse: collapse; font-size: 0.8rem; margin: 0.5rem 0; }
td, th { border: 1px solid #ddd; padding: 0.2rem 0.45rem; text-align: right; }
th { background: #f3f5f8; } td.ok { color: #2ca02c; } td.bad { color: #d62728; font-weight: 600; }
img { max-width: 100%; } .note { color: #555; font-size: 0.9rem; } code { background: #f3f3f3; padding: 0 0.2rem; }
"""


def _esc(value: Any) -> str:
    return html.escape(str(value))


def _images(images: dict[str, tuple[bytes, str]]) -> str:
    return "".join(f"<section><p class='note'>{_esc(caption)}</p><img alt='{_esc(name)}' "
                   f"src='data:image/png;base64,{base64.b64encode(png).decode()}'></section>"
                   for name, (png, caption) in images.items())


def _interval(result: "PointResult", figure: str, kind: str) -> str:
    from .core import format_figure

    e = result.estimates.get(figure)
    if e is None:
        return "n/a"
    if not math.isfinite(e.half_width):
        return format_figure(e.mean, kind)
    low = max(e.low, 0.0) if e.mean >= 0 else e.low  # summary figures are never negative
    return f"{format_figure(e.mean, kind)} [{format_figure(low, kind)} – {format_figure(e.high, kind)}]"


def _points_table(results: list["PointResult"], study: "Study", phases: dict[int, str] | None = None) -> str:
    params = list(dict.fromkeys(p for r in results for p in r.point.changes))
    figures = [t.figure for t in study.targets] or ["loss_ratio", "latency_s.p99"]
    head = "".join(f"<th>{_esc(_label(p))}</th>" for p in params)
    head += "".join(f"<th>{_esc(f)} mean [95% interval]</th>" for f in figures)
    phase_head = "<th>phase</th>" if phases else ""
    rows = []
    for r in sorted(results, key=lambda r: r.point.index):
        cells = "".join(f"<td>{_esc(_display(r.point.changes.get(p)))}</td>" for p in params)
        for f in figures:
            ok = r.verdicts.get(f)
            css = "" if ok is None else (" class='ok'" if ok else " class='bad'")
            mark = "" if ok is None else (" ✓" if ok else " ✗")
            cells += f"<td{css}>{_esc(_interval(r, f, study.figures.get(f, 'number')))}{mark}</td>"
        verdict = "<td class='ok'>meets all</td>" if r.passed else "<td class='bad'>misses " + _esc(", ".join(r.failing())) + "</td>"
        phase = f"<td>{_esc(phases.get(r.point.index, ''))}</td>" if phases else ""
        rows.append(f"<tr><td>{r.point.index}</td>{phase}{cells}<td>{r.replications}</td>{verdict}</tr>")
    return (f"<div style='overflow-x:auto'><table><tr><th>point</th>{phase_head}{head}<th>replications</th><th>targets</th></tr>"
            f"{''.join(rows)}</table></div>")


def _method(study: "Study", modes: dict[str, int] | None = None) -> str:
    from .core import JUDGE_RULES

    rule = study.spec.replications
    width = (f" and more, {rule.step} at a time up to {rule.most}, until every checked figure's interval half width is "
             f"within {rule.target_relative_half_width:.0%} of its mean"
             + (" or the interval lies wholly inside or outside its target" if rule.stop_when_decided else "")
             if rule.most > rule.min else "")
    targets = "".join(f"<li><code>{_esc(t.figure)}</code> {_esc(t.describe())}</li>" for t in study.targets) or "<li>none</li>"
    return (f"<h3>Method</h3><ul>{targets}</ul><p>Each point runs {rule.min} replications{_esc(width)}. Replication seeds "
            f"come from the sweep seed {study.spec.seed} (numpy <code>SeedSequence</code>, spawned by configuration and "
            f"replication index), so the numbers do not depend on where they ran. Every figure is the mean over "
            f"replications with a 95% confidence interval (Student's t). Pass/fail is judged on "
            f"{_esc(JUDGE_RULES[study.judge])}. Base scenario: <code>{_esc(study.base.name)}</code>"
            f" ({_esc(study.base.duration)} s simulated per replication).{_modes_note(modes)}</p>")


def _modes_note(modes: dict[str, int] | None) -> str:
    if not modes:
        return ""
    text = ", ".join(f"{count} in {mode} mode" for mode, count in modes.items())
    warning = (" <b>Points ran in different engine modes, so compare them with care; set <code>mode:</code> in the "
               "spec to run them all alike.</b>") if len(modes) > 1 else ""
    return f" Replications: {_esc(text)}.{warning}"


def _page(title: str, body: str) -> str:
    return (f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>simbp: {_esc(title)}</title>"
            f"<style>{_STYLE}</style></head><body>\n{body}\n</body></html>\n")


def render_sweep_html(result: "SweepResult", images: dict[str, tuple[bytes, str]]) -> str:
    """The sweep report: recommendations per load, the plots, the method and every point."""
    from .core import format_figure

    study = result.study
    answers = []
    for entry in result.summary["recommendations"]:
        load = _display(entry["load_multiplier"])
        if entry.get("recommendation"):
            changes = ", ".join(f"<code>{_esc(p)}</code> = {_esc(_display(v))}" for p, v in entry["recommendation"].items()
                                if p != "load_multiplier")
            figures = "; ".join(f"{_esc(f)} {_esc(format_figure(v['mean'], study.figures.get(f, 'number')))}"
                                for f, v in entry["figures"].items())
            answers.append(f"<div class='answer'><b>At {load}× load:</b> {changes or 'the base scenario'} is the cheapest "
                           f"point in the sweep that meets every target ({figures}).</div>")
        else:
            answers.append(f"<div class='answer none'><b>At {load}× load:</b> {_esc(entry['reason'])}.</div>")
    description = f"<p>{_esc(study.spec.description.strip())}</p>" if study.spec.description.strip() else ""
    body = (f"<h1>Sweep: {_esc(study.spec.name)}</h1>{description}{''.join(answers)}{_images(images)}{_method(study, result.summary.get('modes'))}"
            f"<h3>Points</h3><p class='note'>{len(result.results)} points, {result.summary['replications_run']} "
            f"replications. ✓ meets the target, ✗ misses it.</p>{_points_table(result.results, study)}")
    return _page(study.spec.name, body)


def render_plan_html(result: "PlanResult", images: dict[str, tuple[bytes, str]]) -> str:
    """The plan report: the answer with its figures beside theory, the confirmation, the margin."""
    from .core import TheoryPrediction, format_figure

    study = result.study
    summary = result.summary
    parts = [f"<h1>Plan: {_esc(study.spec.name)}</h1>"]
    if study.spec.description.strip():
        parts.append(f"<p>{_esc(study.spec.description.strip())}</p>")
    chosen = result.recommendation
    if chosen is None:
        parts.append(f"<div class='answer none'><b>No configuration in the search space meets every target at "
                     f"{_display(result.load)}× load.</b> Widen the search or relax a target.</div>")
    else:
        changes = ", ".join(f"<code>{_esc(p)}</code> = {_esc(_display(v))}" for p, v in chosen.point.changes.items()
                            if p != "load_multiplier")
        margin = ""
        if result.margin is not None:
            m = result.margin
            if m.first_failing_load is None:
                margin = f" It still meets every target at {_display(m.max_load)}× (the most tried)."
            else:
                margin = (f" It meets every target up to {_display(m.max_load)}× load ({m.headroom:.2f}× the planning load) "
                          f"and misses {_esc(', '.join(m.failing_targets))} at {_display(m.first_failing_load)}×.")
        parts.append(f"<div class='answer'><b>At {_display(result.load)}× load, the cheapest configuration meeting every "
                     f"target is {changes}.</b>{margin}</div>")
        theory_at = result.theory_at_recommendation
        rows = []
        for t in study.targets:
            kind = t.kind
            predicted = (format_figure(theory_at.figures[t.figure], kind)
                         if isinstance(theory_at, TheoryPrediction) and t.figure in theory_at.figures else "—")
            ok = chosen.verdicts.get(t.figure)
            rows.append(f"<tr><th>{_esc(t.figure)}</th><td>{_esc(t.describe())}</td><td>{_esc(_interval(chosen, t.figure, kind))}</td>"
                        f"<td>{_esc(predicted)}</td><td class='{'ok' if ok else 'bad'}'>{'meets' if ok else 'misses'}</td></tr>")
        parts.append("<table><tr><th>figure</th><th>target</th><th>simulated mean [95% interval]</th><th>theory</th><th></th></tr>"
                     + "".join(rows) + "</table>")
    theory = result.theory
    if theory.changes is not None and theory.prediction is not None:
        answer = ", ".join(f"<code>{_esc(p)}</code> = {_esc(_display(v))}" for p, v in theory.changes.items())
        notes = "".join(f"<li>{_esc(n)}</li>" for n in theory.prediction.notes)
        exact = "exact for this scenario" if theory.prediction.exact else "an approximation for this scenario"
        parts.append(f"<h3>Theory beside simulation</h3><p>{_esc(theory.prediction.model)} ({exact}) with λ = "
                     f"{theory.prediction.arrival_rate:,.4g}/s and μ = {theory.prediction.service_rate:,.4g}/s per worker "
                     f"says {answer}. <b>{_esc(summary['agreement'])}.</b></p><ul>{notes}</ul>"
                     + (f"<p class='note'>Theory does not judge: {_esc(', '.join(theory.not_judged))}.</p>" if theory.not_judged else ""))
    else:
        parts.append(f"<h3>Theory beside simulation</h3><p>{_esc(summary['agreement'])}.</p>")
    if result.cheaper_failed:
        items = "".join(f"<li>{_esc(r.point.label())}: misses {_esc(', '.join(r.failing()))}</li>" for r in result.cheaper_failed)
        parts.append(f"<h3>Confirmation</h3><p>The next cheaper value of <code>{_esc(study.search[0][0])}</code> was simulated "
                     f"with every choice of the other fields, and each missed a target:</p><ul>{items}</ul>")
    parts.append(_images(images))
    parts.append(_method(study, summary.get("modes")))
    phases = {r.point.index: result.phase(r) for r in result.evaluated}
    parts.append(f"<h3>Every configuration simulated</h3><p class='note'>{len(result.evaluated)} configurations, "
                 f"{summary['replications_run']} replications.</p>{_points_table(result.evaluated, study, phases)}")
    return _page(study.spec.name, "".join(parts))


# ====================================================================================== files
def _png(figure: "Figure") -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def _tables_out(prefix: str, table: Any, points: Any, out_dir: Path) -> list[Path]:
    from ..output import atomic_write

    written = [atomic_write(out_dir / f"{prefix}_table.csv", table.to_csv(index=False).encode("utf-8"))]
    buffer = io.BytesIO()
    table.to_parquet(buffer, index=False)
    written.append(atomic_write(out_dir / f"{prefix}_table.parquet", buffer.getvalue()))
    written.append(atomic_write(out_dir / f"{prefix}_points.csv", points.to_csv(index=False).encode("utf-8")))
    return written


def write_sweep_report(result: "SweepResult", out_dir: Path, *, plots: bool = True) -> list[Path]:
    """Write sweep_table.csv/.parquet (every point and replication), sweep_points.csv, the plots,
    sweep_report.html, and sweep_summary.json last."""
    from ..output import atomic_write

    out_dir = Path(out_dir)
    written = _tables_out("sweep", result.table, result.points, out_dir)
    images: dict[str, tuple[bytes, str]] = {}
    if plots:
        study = result.study
        heat_figure, curve_figure = study.plot_figure("heatmap"), study.plot_figure("curve")
        heatmap = plot_heatmap(result, heat_figure)
        if heatmap is not None:
            images["sweep_heatmap"] = (_png(heatmap), f"{heat_figure} over the two varied fields; each cell shows the mean "
                                       f"and ✓ when the point meets every target.")
        curve = plot_load_curve(result, curve_figure)
        if curve is not None:
            images["sweep_load"] = (_png(curve), f"{curve_figure} as the load rises, with its 95% interval band; the diamond "
                                    f"marks the knee (the last load that still meets the target, or where the curve bends most).")
        for name, (png, _) in images.items():
            written.append(atomic_write(out_dir / f"{name}.png", png))
    written.append(atomic_write(out_dir / "sweep_report.html", render_sweep_html(result, images).encode("utf-8")))
    written.append(atomic_write(out_dir / "sweep_summary.json", result.to_json().encode("utf-8")))
    return written


def write_plan_report(result: "PlanResult", out_dir: Path, *, plots: bool = True) -> list[Path]:
    """Write plan_table.csv/.parquet, plan_points.csv, the plots, plan_report.html, plan_summary.json last."""
    from ..output import atomic_write

    out_dir = Path(out_dir)
    written = _tables_out("plan", result.table, result.points, out_dir)
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
        for name, (png, _) in images.items():
            written.append(atomic_write(out_dir / f"{name}.png", png))
    written.append(atomic_write(out_dir / "plan_report.html", render_plan_html(result, images).encode("utf-8")))
    written.append(atomic_write(out_dir / "plan_summary.json", result.to_json().encode("utf-8")))
    return written


def _file_part(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name).strip("_")


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
        parser.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
        parser.add_argument("--quiet", action="store_true", help="print nothing but errors")
        parser.set_defaults(handler=handler)


def _executor(args: argparse.Namespace) -> Any:
    from ..errors import Problem, ScenarioError
    from .executors import make_executor

    if args.jobs is not None and args.jobs < 1:
        raise ScenarioError([Problem("--jobs", f"must be at least 1, got {args.jobs}", None, "command line")])
    try:
        return make_executor(args.jobs, args.dask)
    except (OSError, TimeoutError, ValueError) as error:
        raise ScenarioError([Problem("--dask", f"cannot reach the Dask scheduler {args.dask!r}: {error}", None,
                                     "command line")]) from None


def _load(args: argparse.Namespace, need_plan: bool) -> "Study":
    from ..errors import Problem, ScenarioError
    from .core import load_study

    path = Path(args.spec)
    if not path.is_file():
        raise ScenarioError([Problem("", "no such spec file", None, str(path))])
    overrides = {"duration": args.duration} if args.duration else None
    return load_study(path, allow_large=True if args.allow_large else None, need_plan=need_plan, overrides=overrides)


def run_sweep_command(args: argparse.Namespace) -> int:
    """`simbp sweep SPEC`: validate, run every point, print the points and write the report."""
    from .core import format_figure, sweep

    study = _load(args, need_plan=False)
    executor = _executor(args)
    try:
        if not args.quiet:
            print(f"sweep {study.spec.name}: {len(study.points)} points × {study.spec.replications.min}"
                  f"{'–' + str(study.spec.replications.most) if study.spec.replications.most > study.spec.replications.min else ''}"
                  f" replications on {executor.description}", file=sys.stderr)
        result = sweep(study, executor, progress=None if not args.quiet else False)
    finally:
        executor.close()
    out_dir = Path(args.out) if args.out else Path("reports") / study.spec.name
    written = write_sweep_report(result, out_dir, plots=not args.no_plots)
    if not args.quiet:
        figures = [t.figure for t in study.targets] or ["loss_ratio", "latency_s.p99"]
        for r in result.results:
            cells = "  ".join(f"{f} {format_figure(r.estimates[f].mean, study.figures.get(f, 'number'))}"
                              f"{'' if f not in r.verdicts else (' ok' if r.verdicts[f] else ' MISS')}" for f in figures if f in r.estimates)
            print(f"  {r.point.label():<48} n={r.replications:<3} {cells}")
        for entry in result.summary["recommendations"]:
            load = _display(entry["load_multiplier"])
            if entry.get("recommendation"):
                changes = ", ".join(f"{p}={_display(v)}" for p, v in entry["recommendation"].items() if p != "load_multiplier")
                print(f"at {load}× load: cheapest point meeting every target: {changes or 'the base scenario'}")
            else:
                print(f"at {load}× load: {entry['reason']}")
        print(f"wrote {len(written)} files to {out_dir}/ (open {out_dir / 'sweep_report.html'})")
    return 0


def run_plan_command(args: argparse.Namespace) -> int:
    """`simbp plan SPEC`: search for the cheapest configuration; exit 1 when none meets the targets."""
    from .core import plan

    study = _load(args, need_plan=True)
    executor = _executor(args)
    try:
        if not args.quiet:
            print(f"plan {study.spec.name}: searching {', '.join(p for p, _ in study.search)} on {executor.description}",
                  file=sys.stderr)
        result = plan(study, executor, progress=None if not args.quiet else False)
    finally:
        executor.close()
    out_dir = Path(args.out) if args.out else Path("reports") / study.spec.name
    written = write_plan_report(result, out_dir, plots=not args.no_plots)
    if not args.quiet:
        summary = result.summary
        if result.recommendation is None:
            print(f"at {_display(result.load)}× load: no configuration in the search space meets every target")
        else:
            changes = ", ".join(f"{p}={_display(v)}" for p, v in summary["recommendation"]["changes"].items())
            print(f"at {_display(result.load)}× load: cheapest configuration meeting every target: {changes}")
            for r in result.cheaper_failed:
                print(f"  cheaper {r.point.label()}: misses {', '.join(r.failing())}")
        print(f"theory: {summary['agreement']}")
        if result.margin is not None:
            m = result.margin
            if m.first_failing_load is None:
                print(f"margin: meets every target up to {_display(m.max_load)}× (the most tried)")
            else:
                print(f"margin: meets every target up to {_display(m.max_load)}× ({m.headroom:.2f}× the planning load); "
                      f"misses {', '.join(m.failing_targets)} at {_display(m.first_failing_load)}×")
        print(f"wrote {len(written)} files to {out_dir}/ (open {out_dir / 'plan_report.html'})")
    return 0 if result.recommendation is not None else 1
