"""The self-contained HTML reports of a sweep and of a plan (plots embedded as PNG)."""

from __future__ import annotations

import base64
import html
import math
from typing import TYPE_CHECKING, Any

from .figures import display, field_label, format_figure
from .judging import JUDGE_RULES

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
td.open { color: #b8860b; } .warning { border-left: 0.5rem solid #e6a700; padding: 0.3rem 1rem; background: #fdf8ea; }
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


_JUDGED = {"pass": (" class='ok'", " ✓"), "fail": (" class='bad'", " ✗"), "undecided": (" class='open'", " ?")}


def _verdict(result: "PointResult", study: "Study") -> str:
    short = " (runs too short)" if result.steady.get("too_short") else ""
    if result.passed:
        return "<td class='ok'>meets all</td>"
    if result.failing():
        return f"<td class='bad'>misses {_esc(', '.join(result.failing()))}{short}</td>"
    return f"<td class='open'>undecided: {_esc(result.decision_note(study) or ', '.join(result.undecided()))}</td>"


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
            css, mark = _JUDGED.get(r.judgements.get(f, ""), ("", ""))
            cells += f"<td{css}>{_esc(_interval(r, f, study.figures.get(f, 'number')))}{mark}</td>"
        verdict = _verdict(r, study)
        phase = f"<td>{_esc(phases.get(r.point.index, ''))}</td>" if phases else ""
        rows.append(f"<tr><td>{r.point.index}</td>{phase}{cells}<td>{r.replications}</td>{verdict}</tr>")
    return (f"<div style='overflow-x:auto'><table><tr><th>point</th>{phase_head}{head}<th>replications</th><th>targets</th></tr>"
            f"{''.join(rows)}</table></div>")


def _method(study: "Study", modes: dict[str, int] | None = None) -> str:
    rule = study.spec.replications
    asks = []
    if rule.target_relative_half_width is not None:
        asks.append(f"a checked figure's interval is wider than {rule.target_relative_half_width:.0%} of its estimate")
    if rule.stop_when_decided and study.targets:
        asks.append("a target is undecided (its interval straddles the limit)")
    more = (f", and more ({rule.step} at a time, up to {rule.most}) while {' or '.join(asks)}"
            if asks and rule.most > rule.min else "")
    targets = "".join(f"<li><code>{_esc(t.figure)}</code> {_esc(t.describe())}</li>" for t in study.targets) or "<li>none</li>"
    steady = study.steady
    if steady.enabled:
        cut = ("a fixed warm-up of " + format_figure(steady.warmup, "duration") if steady.warmup is not None else
               "a warm-up found by MSER-5 on the average number in system of the point's first replications")
        analysis = (f"Figures are steady-state: each run leaves out {cut}. Runs that had not settled (or held too "
                    f"few observations beyond the tail quantile asked) were a pilot: the point was run again, with "
                    f"fresh random numbers, at the length the pilot asked for (twice what it needs), up to "
                    f"{steady.longest:g}× the duration; a point whose runs were still too short cannot pass. ")
    else:
        analysis = "Figures cover the whole run (" + "; ".join(study.notes) + "). "
    return (f"<h3>Method</h3><ul>{targets}</ul><p>Each point runs {rule.min} replications{_esc(more)}. Replication seeds "
            f"come from the sweep seed {study.spec.seed} (numpy <code>SeedSequence</code>, spawned by configuration and "
            f"replication index), so the numbers do not depend on where they ran. {_esc(analysis)}Means come with a "
            f"95% Student's t interval over replications; latency percentiles are read from every replication's "
            f"observations pooled, with a sectioning interval; the loss ratio is pooled losses over pooled traffic "
            f"with an exact binomial interval allowing for bursts, so zero losses still give an upper bound. Targets "
            f"are judged on {_esc(JUDGE_RULES[study.judge])}. Base scenario: <code>{_esc(study.base.name)}</code>"
            f" ({_esc(study.base.duration)} s simulated per replication at least).{_modes_note(modes)}</p>")


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
            answers += [f"<p class='warning'>{_esc(w)}</p>" for w in entry.get("warnings", [])]
        else:
            answers.append(f"<div class='answer none'><b>At {load}× load:</b> {_esc(entry['reason'])}.</div>")
        answers += [f"<p class='note'>Cheaper but undecided: {_esc(display(item['changes']))}: {_esc(item['to_decide'])}</p>"
                    for item in entry.get("undecided", [])]
    description = f"<p>{_esc(study.spec.description.strip())}</p>" if study.spec.description.strip() else ""
    body = (f"<h1>Sweep: {_esc(study.spec.name)}</h1>{description}{''.join(answers)}{_images(images)}"
            f"{_method(study, result.summary.get('modes'))}"
            f"<h3>Points</h3><p class='note'>{len(result.results)} points, {result.summary['replications_run']} "
            f"replications. ✓ meets the target, ✗ misses it, ? undecided (the interval straddles the limit).</p>"
            f"{_points_table(result.results, study)}")
    return _page(study.spec.name, body)


def render_plan_html(result: "PlanResult", images: dict[str, tuple[bytes, str]]) -> str:
    """The plan report: the answer with its figures beside theory, warnings, what limits it,
    undecided configurations, the confirmation, the margin and the sensitivity."""
    study = result.study
    summary = result.summary
    parts = [f"<h1>Plan: {_esc(study.spec.name)}</h1>"]
    if study.spec.description.strip():
        parts.append(f"<p>{_esc(study.spec.description.strip())}</p>")
    chosen = result.recommendation
    if chosen is None:
        parts.append(f"<div class='answer none'><b>At {display(result.load)}× load: {_esc(summary['reason'])}.</b> "
                     f"Widen the search, relax a target, or give undecided configurations more replications.</div>")
    else:
        parts.append(_answer(result))
        parts += [f"<p class='warning'>{_esc(w)}</p>" for w in result.warnings]
        if result.explanation:
            parts.append(f"<h3>What limits it</h3><p>{_esc(result.explanation)}</p>")
    parts.append(_theory_section(result))
    if summary.get("undecided"):
        items = "".join(f"<li>{_esc(display(item['changes']))}: undecided on {_esc(', '.join(item['undecided']))}"
                        f"{_theory_of(item, study)}. {_esc(item['to_decide'])}</li>" for item in summary["undecided"])
        parts.append(f"<h3>Too close to call</h3><p>These configurations were neither shown to pass nor to fail, so "
                     f"the plan does not recommend them:</p><ul>{items}</ul>")
    if result.cheaper_failed:
        items = "".join(f"<li>{_esc(r.point.label())}: "
                        f"{_esc('misses ' + ', '.join(r.failing()) if r.failing() else 'undecided on ' + ', '.join(r.undecided()))}"
                        f"</li>" for r in result.cheaper_failed)
        parts.append(f"<h3>Confirmation</h3><p>The cheaper configurations simulated next to the choice did not pass:"
                     f"</p><ul>{items}</ul>")
    parts.append(_images(images))
    parts.append(_method(study, summary.get("modes")))
    phases = {r.point.index: result.phase(r) for r in result.evaluated}
    parts.append(f"<h3>Every configuration simulated</h3><p class='note'>{len(result.evaluated)} configurations, "
                 f"{summary['replications_run']} replications.</p>{_points_table(result.evaluated, study, phases)}")
    return _page(study.spec.name, "".join(parts))


def _answer(result: "PlanResult") -> str:
    from .theory_bridge import TheoryPrediction

    study, chosen = result.study, result.recommendation
    assert chosen is not None
    changes = ", ".join(f"<code>{_esc(p)}</code> = {_esc(display(v))}" for p, v in chosen.point.changes.items()
                        if p != "load_multiplier")
    cost = result.summary["recommendation"].get("cost")
    priced = f" Cost {cost:,.4g}{(' ' + _esc(study.spec.cost_unit)) if study.spec.cost_unit else ''}." if cost is not None else ""
    headroom = (f" It also passes every target at {study.spec.headroom:g}× that load, the headroom asked."
                if study.spec.headroom else "")
    margin = ""
    if result.margin is not None:
        m = result.margin
        if m.first_failing_load is None:
            margin = f" It still meets every target at {display(m.max_load)}× (the most tried)."
        else:
            missed = ", ".join(m.failing_targets) or "no target clearly"
            undecided = f" (undecided on {', '.join(m.undecided_targets)})" if m.undecided_targets else ""
            margin = (f" It meets every target up to {display(m.max_load)}× load ({m.headroom:.2f}× the planning load) "
                      f"and misses {_esc(missed)}{_esc(undecided)} at {display(m.first_failing_load)}×.")
    theory_at = result.theory_at_recommendation
    rows = []
    for t in study.targets:
        predicted = (format_figure(theory_at.figures[t.figure], t.kind) + ("" if theory_at.exact else " (approx.)")
                     if isinstance(theory_at, TheoryPrediction) and t.figure in theory_at.figures else "—")
        css, mark = _JUDGED.get(chosen.judgements.get(t.figure, ""), ("", ""))
        rows.append(f"<tr><th>{_esc(t.figure)}</th><td>{_esc(t.describe())}</td><td>{_esc(_interval(chosen, t.figure, t.kind))}</td>"
                    f"<td>{_esc(predicted)}</td><td{css}>{mark}</td></tr>")
    return (f"<div class='answer'><b>At {display(result.load)}× load, the cheapest configuration meeting every target is "
            f"{changes}.</b>{priced}{headroom}{margin}</div>"
            "<table><tr><th>figure</th><th>target</th><th>simulated estimate [95% interval]</th><th>theory</th><th></th></tr>"
            + "".join(rows) + "</table>")


def _theory_section(result: "PlanResult") -> str:
    theory, summary = result.theory, result.summary
    if theory.changes is None or theory.prediction is None:
        return f"<h3>Theory beside simulation</h3><p>{_esc(summary['agreement'])}.</p>"
    answer = ", ".join(f"<code>{_esc(p)}</code> = {_esc(display(v))}" for p, v in theory.changes.items())
    notes = "".join(f"<li>{_esc(n)}</li>" for n in theory.prediction.notes)
    exact = "exact for this scenario" if theory.prediction.exact else "an approximation for this scenario"
    not_judged = (f"<p class='note'>Theory does not judge: {_esc(', '.join(theory.not_judged))}.</p>"
                  if theory.not_judged else "")
    return (f"<h3>Theory beside simulation</h3><p>{_esc(theory.prediction.model)} ({exact}) with λ = "
            f"{theory.prediction.arrival_rate:,.4g}/s and μ = {theory.prediction.service_rate:,.4g}/s per worker "
            f"says {answer}. <b>{_esc(summary['agreement'])}.</b></p><ul>{notes}</ul>{not_judged}")


def _theory_of(item: dict[str, Any], study: "Study") -> str:
    values = item.get("theory") or {}
    if not values:
        return ""
    shown = ", ".join(f"{f} {format_figure(v, study.figures.get(f, 'number'))}" for f, v in values.items())
    return f" (theory, {item.get('theory_model')}: {shown})"


