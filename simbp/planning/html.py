"""The self-contained HTML reports of a sweep and of a plan (plots embedded as PNG)."""

from __future__ import annotations

import base64
import html
import math
from typing import TYPE_CHECKING, Any

from .figures import display, field_label, format_figure
from .statistics import JUDGE_RULES

if TYPE_CHECKING:
    from .evaluation import PointResult
    from .plan import PlanResult
    from .study import Study
    from .sweep import SweepResult

__all__ = ["render_sweep_html", "render_plan_html"]

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
    head = "".join(f"<th>{_esc(field_label(p))}</th>" for p in params)
    head += "".join(f"<th>{_esc(f)} mean [95% interval]</th>" for f in figures)
    phase_head = "<th>phase</th>" if phases else ""
    rows = []
    for r in sorted(results, key=lambda r: r.point.index):
        cells = "".join(f"<td>{_esc(display(r.point.changes.get(p)))}</td>" for p in params)
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
    study = result.study
    answers = []
    for entry in result.summary["recommendations"]:
        load = display(entry["load_multiplier"])
        if entry.get("recommendation"):
            changes = ", ".join(f"<code>{_esc(p)}</code> = {_esc(display(v))}" for p, v in entry["recommendation"].items()
                                if p != "load_multiplier")
            figures = "; ".join(f"{_esc(f)} {_esc(format_figure(v['mean'], study.figures.get(f, 'number')))}"
                                for f, v in entry["figures"].items())
            answers.append(f"<div class='answer'><b>At {load}× load:</b> {changes or 'the base scenario'} is the cheapest "
                           f"point in the sweep that meets every target ({figures}).</div>")
        else:
            answers.append(f"<div class='answer none'><b>At {load}× load:</b> {_esc(entry['reason'])}.</div>")
    description = f"<p>{_esc(study.spec.description.strip())}</p>" if study.spec.description.strip() else ""
    body = (f"<h1>Sweep: {_esc(study.spec.name)}</h1>{description}{''.join(answers)}{_images(images)}"
            f"{_method(study, result.summary.get('modes'))}"
            f"<h3>Points</h3><p class='note'>{len(result.results)} points, {result.summary['replications_run']} "
            f"replications. ✓ meets the target, ✗ misses it.</p>{_points_table(result.results, study)}")
    return _page(study.spec.name, body)


def render_plan_html(result: "PlanResult", images: dict[str, tuple[bytes, str]]) -> str:
    """The plan report: the answer with its figures beside theory, the confirmation, the margin."""
    from .theory_bridge import TheoryPrediction

    study = result.study
    summary = result.summary
    parts = [f"<h1>Plan: {_esc(study.spec.name)}</h1>"]
    if study.spec.description.strip():
        parts.append(f"<p>{_esc(study.spec.description.strip())}</p>")
    chosen = result.recommendation
    if chosen is None:
        parts.append(f"<div class='answer none'><b>No configuration in the search space meets every target at "
                     f"{display(result.load)}× load.</b> Widen the search or relax a target.</div>")
    else:
        changes = ", ".join(f"<code>{_esc(p)}</code> = {_esc(display(v))}" for p, v in chosen.point.changes.items()
                            if p != "load_multiplier")
        margin = ""
        if result.margin is not None:
            m = result.margin
            if m.first_failing_load is None:
                margin = f" It still meets every target at {display(m.max_load)}× (the most tried)."
            else:
                margin = (f" It meets every target up to {display(m.max_load)}× load ({m.headroom:.2f}× the planning load) "
                          f"and misses {_esc(', '.join(m.failing_targets))} at {display(m.first_failing_load)}×.")
        parts.append(f"<div class='answer'><b>At {display(result.load)}× load, the cheapest configuration meeting every "
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
        answer = ", ".join(f"<code>{_esc(p)}</code> = {_esc(display(v))}" for p, v in theory.changes.items())
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


