"""Sweep and plan plots, each returning a matplotlib `Figure` (no pyplot, never `show()`): a
heatmap of a figure over two varied fields, a figure against load with its 95% interval band and
the knee marked, and for a plan the search (simulation beside theory) and the margin."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .figures import display, field_label, format_figure, short_path

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from .plan import PlanResult
    from .study import Study
    from .sweep import PointResult, SweepResult

__all__ = ["find_knee", "plot_heatmap", "plot_load_curve", "plot_plan_search", "plot_margin", "plot_sensitivity"]

_PASS, _FAIL, _OPEN = "#2ca02c", "#d62728", "#e6a700"
_COLOURS = {"pass": _PASS, "fail": _FAIL, "undecided": _OPEN}


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
_MARKS = {"pass": "✓", "fail": "✗", "undecided": "?"}


def _figure(title: str, height: float = 3.6, width: float = 8.0) -> tuple["Figure", Any]:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=100, layout="constrained")
    axes = figure.add_subplot()
    axes.set_title(title, loc="left", fontsize=11)
    axes.grid(True, alpha=0.3)
    return figure, axes


def _value_axis(axes: Any, kind: str) -> None:
    from matplotlib.ticker import FuncFormatter

    if kind == "ratio":
        axes.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v * 100:.3g}%"))
    else:
        axes.yaxis.set_major_formatter(FuncFormatter(lambda v, _: "0" if v == 0 else format_figure(v, kind)))



def _axes_fields(study: "Study") -> tuple[str | None, str | None, list[str]]:
    """x, y and the remaining (facet) fields for the sweep plots."""
    from .sweep import resolved_vary

    varied = [p for p, v in resolved_vary(study).items() if len(v) > 1]
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
    """A figure's mean over two varied fields (cells coloured against its target; ✓ meets every
    target, ✗ misses one, ? undecided)."""
    import numpy as np
    from matplotlib.colors import TwoSlopeNorm

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
            labels[(i, j)] = f"{format_figure(mean, kind)}\n{_MARKS.get(r.judgement, '✗')}"
        if limit:
            image = axes.imshow(np.clip(grid, -3, 3), cmap="RdYlGn_r", norm=TwoSlopeNorm(vcenter=0.0, vmin=-3, vmax=3),
                                aspect="auto", origin="lower")
        else:
            image = axes.imshow(grid, cmap="viridis", aspect="auto", origin="lower")
        for (i, j), text in labels.items():
            axes.text(j, i, text, ha="center", va="center", fontsize=8, color="black",
                      bbox={"boxstyle": "round,pad=0.15", "fc": "white", "alpha": 0.6, "lw": 0})
        axes.set_xticks(range(len(xs)), [display(v) for v in xs])
        axes.set_yticks(range(len(ys)), [display(v) for v in ys])
        axes.set_xlabel(field_label(x_path))
        axes.set_ylabel(field_label(y_path))
        if rest:
            axes.set_title(", ".join(f"{p}={display(v)}" for p, v in zip(rest, facet)), fontsize=9)
    if image is not None:
        bar = figure.colorbar(image, ax=figure.axes, shrink=0.8)
        bar.set_label("log10(mean / target)" if limit else figure_name)
    return figure



def plot_load_curve(result: "SweepResult", figure_name: str) -> "Figure | None":
    """A figure against load (or the first varied field), one line per other setting, with its
    95% interval band, the target line and the knee marked."""
    import numpy as np

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
    figure, axes = _figure(f"{figure_name} against {field_label(x_path)} (band: 95% interval)")
    lines: dict[tuple[Any, ...], list["PointResult"]] = {}
    for r in result.results:
        lines.setdefault(tuple(r.point.changes.get(p) for p in groups), []).append(r)
    colours = itertools.cycle(["#1f77b4", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f"])
    levels = sorted({r.point.changes[x_path] for r in result.results}, key=_sort_key)
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in levels)
    position = (lambda v: float(v)) if numeric else (lambda v: float(levels.index(v)))
    if not numeric:  # words (a policy, say): one tick per value
        axes.set_xticks(range(len(levels)), [display(v) for v in levels])
    knee_label = False
    for key in sorted(lines, key=lambda t: tuple(map(_sort_key, t))):
        members = sorted(lines[key], key=lambda r: _sort_key(r.point.changes[x_path]))
        x = np.array([position(r.point.changes[x_path]) for r in members])
        estimates = [r.estimates.get(figure_name) for r in members]
        mean = np.array([e.mean if e else math.nan for e in estimates])
        low = np.array([e.low if e else math.nan for e in estimates])
        high = np.array([e.high if e else math.nan for e in estimates])
        colour = next(colours)
        label = ", ".join(f"{short_path(p)}={display(v)}" for p, v in zip(groups, key)) or figure_name
        axes.plot(x, mean, marker="o", color=colour, label=label)
        axes.fill_between(x, np.where(np.isfinite(low), low, mean), np.where(np.isfinite(high), high, mean), color=colour, alpha=0.18)
        passes = [target.passes(e, study.judge) for e in estimates if e is not None] if (target and all(estimates)) else None
        knee = find_knee(list(x), list(mean), passes)
        if knee is not None:
            axes.plot([x[knee]], [mean[knee]], marker="D", markersize=10, markerfacecolor="none", markeredgecolor="black",
                      markeredgewidth=1.5, label="knee (last load meeting the target)" if passes and not knee_label else
                      ("knee" if not knee_label else None))
            axes.annotate(f"{display(float(x[knee]))}×" if x_path == "load_multiplier"
                          else display(members[knee].point.changes[x_path]),
                          (x[knee], mean[knee]), textcoords="offset points", xytext=(6, 8), fontsize=8)
            knee_label = True
    if target is not None:
        for limit, word in ((target.high, "max"), (target.low, "min")):
            if limit is not None:
                axes.axhline(limit, color=_FAIL, linestyle="--", linewidth=1, label=f"target {word} {format_figure(limit, kind)}")
    axes.set_xlabel(field_label(x_path))
    axes.set_ylabel(figure_name)
    _value_axis(axes, kind)
    _from_zero(axes, [r.estimates[figure_name].mean for r in result.results if figure_name in r.estimates])
    axes.legend(fontsize=8, loc="upper left")
    return figure



def plot_plan_search(result: "PlanResult", figure_name: str) -> "Figure | None":
    """The search at the planning load: simulated configurations (mean and 95% interval, green
    pass / red fail) against the first search field, with the theory prediction beside them."""
    from .theory_bridge import TheoryPrediction, theory_prediction

    study = result.study
    path = study.search[0][0]
    searched = [r for r in result.evaluated if result.phase(r) == "search"]
    if not searched:
        return None
    kind = study.figures.get(figure_name, "number")
    figure, axes = _figure(f"{figure_name} at {display(result.load)}× load: simulation (95% interval) and theory")
    for r in searched:
        e = r.estimates.get(figure_name)
        if e is None or not math.isfinite(e.mean):
            continue
        x = float(r.point.changes[path])
        below = max(e.mean - e.low, 0.0) if math.isfinite(e.low) else 0.0
        above = max(e.high - e.mean, 0.0) if math.isfinite(e.high) else 0.0
        axes.errorbar([x], [e.mean], yerr=[[below], [above]], fmt="o", color=_COLOURS[r.judgement], capsize=4)
    axes.plot([], [], "o", color=_PASS, label="simulated: meets every target")
    axes.plot([], [], "o", color=_FAIL, label="simulated: misses a target")
    if any(r.judgement == "undecided" for r in searched):
        axes.plot([], [], "o", color=_OPEN, label="simulated: undecided")
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
    limit = None if target is None else (target.high or target.low)
    if kind == "ratio" and limit:
        # losses span decades (0.01% … 70%): linear below the target, logarithmic above it
        axes.set_yscale("symlog", linthresh=float(limit), linscale=0.5)
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
            axes.plot([load], [m], "o", color=_COLOURS[r.judgement])
        target = study.target(figure_name)
        if target is not None:
            for limit in (target.high, target.low):
                if limit is not None:
                    axes.axhline(limit, color=_FAIL, linestyle="--", linewidth=1, label=f"target {target.describe()}")
        axes.axvline(margin.planning_load, color="grey", linestyle=":", label=f"planning load {display(margin.planning_load)}×")
        if knee is not None:
            axes.plot([x[knee]], [mean[knee]], marker="D", markersize=11, markerfacecolor="none", markeredgecolor="black",
                      markeredgewidth=1.5, label=f"knee: meets every target up to {display(margin.max_load)}×")
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




def plot_sensitivity(result: "PlanResult") -> "Figure | None":
    """A tornado chart: for each parameter of the plan's search (and the load), the deciding figure
    one step down and one step up from the recommendation, widest effect on top, with the target."""
    target = result.deciding
    if result.recommendation is None or target is None or not result.sensitivity:
        return None
    name, kind = target.figure, target.kind
    centre = result.recommendation.estimates[name].mean
    bars = []
    for item in result.sensitivity:
        low, high = item.figure(name)
        if math.isfinite(low) or math.isfinite(high):
            bars.append((item, low, high))
    if not bars:
        return None
    bars.sort(key=lambda entry: abs((entry[2] if math.isfinite(entry[2]) else centre)
                                    - (entry[1] if math.isfinite(entry[1]) else centre)))
    figure, axes = _figure(f"What moves {name}\n(each parameter one step either side of the recommendation)",
                           height=1.6 + 0.55 * len(bars))
    for row, (item, low, high) in enumerate(bars):
        for value, label, colour, away in ((low, item.low_value, "#9ecae1", -1), (high, item.high_value, "#3182bd", 1)):
            if not math.isfinite(value):
                continue
            axes.barh(row, value - centre, left=centre, color=colour, height=0.6)
            side = away if value == centre else (1 if value > centre else -1)  # just past the bar's end
            axes.annotate(display(label), (value, row), textcoords="offset points", ha="left" if side > 0 else "right",
                          va="center", xytext=(4 * side, 0), fontsize=8,
                          bbox={"boxstyle": "round,pad=0.15", "fc": "white", "alpha": 0.7, "lw": 0})
    axes.use_sticky_edges = False  # bars stick to 0 otherwise, and the labels at their ends would leave the axes
    axes.margins(x=0.12)
    axes.set_yticks(range(len(bars)), [field_label(item.parameter) for item, _, _ in bars])
    axes.axvline(centre, color="black", linewidth=1, label=f"recommendation: {format_figure(centre, kind)}")
    for limit in (target.high, target.low):
        if limit is not None:
            axes.axvline(limit, color=_FAIL, linestyle="--", linewidth=1, label=f"target {target.describe()}")
    axes.set_xlabel(name)
    from matplotlib.ticker import FuncFormatter

    axes.xaxis.set_major_formatter(FuncFormatter(lambda v, _: "0" if v == 0 else format_figure(v, kind)))
    axes.legend(fontsize=8, loc="lower right")
    return figure
