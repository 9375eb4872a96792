"""What an SRE asks after a plan: does theory agree (and if not, why, without blaming an exact
model for sampling noise), what was left undecided and what it would take, is there enough
headroom, which parameter matters most (the sensitivity, drawn as a tornado), and what limits
the recommendation, in plain words."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .evaluation import PointResult
from .figures import display, format_figure
from .judging import FAIL, UNDECIDED, Target
from .study import Study
from .theory_bridge import TheoryAnswer, TheoryPrediction, theory_prediction

__all__ = ["agreement", "undecided_report", "headroom_warnings", "deciding_target", "Sensitivity", "explanation",
           "WARN_HEADROOM", "WARN_UTILISATION"]

WARN_HEADROOM = 1.2  # without a stated `headroom`, warn when the recommendation survives less than 20% more load
WARN_UTILISATION = 0.9  # … or when a consumer group is busier than this


def _interval(result: PointResult, figure: str, kind: str) -> str:
    value = result.estimates.get(figure)
    if value is None:
        return "n/a"
    return f"{format_figure(value.mean, kind)} [{format_figure(max(value.low, 0.0), kind)} – {format_figure(value.high, kind)}]"


def agreement(answer: TheoryAnswer, chosen: PointResult | None, path: str, at_theory: PointResult | None,
              study: Study) -> str:
    """Theory's answer beside simulation's, and why they differ when they do."""
    if answer.changes is None:
        return f"no theory answer ({answer.reason})"
    prediction = answer.prediction
    kind = "the exact model" if prediction is not None and prediction.exact else "the approximation"
    theory_value = answer.changes.get(path)
    if chosen is not None and theory_value == chosen.point.changes.get(path):
        return f"theory and simulation agree on {path} = {display(theory_value)}" + _figures_disagree(chosen, study)
    if at_theory is None:
        if chosen is None:
            return "theory found a configuration but simulation confirmed none"
        return f"theory says {path} = {display(theory_value)}, simulation {display(chosen.point.changes.get(path))}"
    undecided = at_theory.undecided()
    failing = at_theory.failing()
    chosen_text = f"{path} = {display(chosen.point.changes.get(path))}" if chosen is not None else "nothing in the search space"
    if undecided and not failing:
        parts = []
        for figure in undecided:
            target = study.target(figure)
            predicted = prediction.figures.get(figure) if prediction is not None else None
            shown = f"; {kind} puts it at {format_figure(predicted, target.kind)}" if target and predicted is not None else ""
            parts.append(f"{figure} {_interval(at_theory, figure, target.kind if target else 'number')} against "
                         f"{target.describe() if target else 'its target'}{shown}")
        note = at_theory.decision_note(study)
        return (f"theory's answer {path} = {display(theory_value)} is too close to call: simulation left it undecided "
                f"({'; '.join(parts)}){': ' + note if note else ''}. So the recommendation is {chosen_text}, the "
                f"cheapest shown to pass; that is the price of certainty, not a fault of the model")
    if prediction is not None and prediction.exact:
        return (f"simulation finds {path} = {display(theory_value)} misses {', '.join(failing)} although the exact "
                f"model says it meets it; a 95% interval misses the truth about 1 time in 20, so rerun with another "
                f"seed before doubting either. The recommendation is {chosen_text}")
    return (f"theory ({prediction.model if prediction else 'approximate'}) says {path} = {display(theory_value)}, but "
            f"simulation finds it misses {', '.join(failing) or 'a target'}: the scenario departs from the "
            f"approximation's assumptions, and simulation decides ({chosen_text})")


def _figures_disagree(chosen: PointResult, study: Study) -> str:
    """A note when an exact model's figure at the recommendation lies outside its simulated interval."""
    prediction = theory_prediction(chosen.point.scenario)
    if not isinstance(prediction, TheoryPrediction) or not prediction.exact:
        return ""
    outside = []
    for target in study.targets:
        value, predicted = chosen.estimates.get(target.figure), prediction.figures.get(target.figure)
        if value is None or predicted is None or not math.isfinite(predicted) or value.low <= predicted <= value.high:
            continue
        outside.append(f"{target.figure} {_interval(chosen, target.figure, target.kind)} against the exact "
                       f"{format_figure(predicted, target.kind)}")
    if not outside:
        return ", and on its figures (each exact value within its simulated interval)"
    return (f"; but the simulated {'; '.join(outside)}: a 95% interval misses the truth about 1 time in 20, so "
            f"rerun with another seed before doubting either")


def undecided_report(results: list[PointResult], chosen: PointResult | None, study: Study) -> list[dict[str, Any]]:
    """Configurations the search left undecided, cheaper than the recommendation (by the search
    order), with theory's prediction for them and what it would take to decide them."""
    entries = []
    for result in results:
        if result.judgement != UNDECIDED or result is chosen:
            continue
        prediction = theory_prediction(result.point.scenario)
        theory = ({f: prediction.figures[f] for f in result.undecided() if f in prediction.figures}
                  if isinstance(prediction, TheoryPrediction) else {})
        entries.append({"point": result.point.index, "changes": result.point.changes, "undecided": result.undecided(),
                        "to_decide": result.decision_note(study), "theory": theory,
                        "theory_model": prediction.model if isinstance(prediction, TheoryPrediction) else prediction})
    return entries


def headroom_warnings(chosen: PointResult, study: Study, measured: float | None, up_to: float | None) -> list[str]:
    """Warnings when the recommendation has less headroom than asked (or, with none asked, than
    `WARN_HEADROOM`), or runs its workers hotter than `WARN_UTILISATION`."""
    warnings = []
    wanted = study.spec.headroom
    floor = wanted if wanted else WARN_HEADROOM
    if measured is not None and measured < floor * (1 - 1e-9) and (up_to is None or measured < up_to):
        ask = f"the {floor:.2f}× asked" if wanted else f"{floor:.2f}× (set `headroom:` to size for more)"
        warnings.append(f"little headroom: the recommendation meets every target only up to {measured:.2f}× the planning "
                        f"load, less than {ask}; a traffic rise of {max(measured - 1, 0):.0%} breaks it")
    for name, value in chosen.estimates.items():
        if name.startswith("components.") and name.endswith(".utilisation") and value.mean >= WARN_UTILISATION:
            group = name.split(".")[1]
            warnings.append(f"{group} is {value.mean:.0%} busy at the planning load: queues and tails grow steeply near "
                            f"100%, and {1 / max(value.mean, 1e-9):.2f}× the load would saturate it")
    return warnings


def deciding_target(chosen: PointResult, study: Study) -> Target | None:
    """The target the recommendation meets with the least room: the pessimistic end of its
    interval closest to the limit, as a share of the limit."""
    best: tuple[float, Target] | None = None
    for target in study.targets:
        value = chosen.estimates.get(target.figure)
        if value is None or math.isnan(value.mean):
            continue
        room = min(target.slack(value.high) if target.high is not None else math.inf,
                   target.slack(value.low) if target.low is not None else math.inf)
        if best is None or room < best[0]:
            best = (room, target)
    return best[1] if best else None


@dataclass
class Sensitivity:
    """One varied parameter's effect on the deciding figure: its value one step down and one step
    up from the recommendation (others fixed), and the figure at each (a tornado bar)."""

    parameter: str
    low_value: Any
    high_value: Any
    low: PointResult | None
    high: PointResult | None

    def figure(self, name: str) -> tuple[float, float]:
        def value(result: PointResult | None) -> float:
            e = result.estimates.get(name) if result is not None else None
            return e.mean if e is not None else math.nan

        return value(self.low), value(self.high)

    def as_dict(self, name: str) -> dict[str, Any]:
        low, high = self.figure(name)
        return {"parameter": self.parameter, "low_value": self.low_value, "high_value": self.high_value,
                "figure_at_low": low, "figure_at_high": high,
                "judgement_at_low": self.low.judgement if self.low else None,
                "judgement_at_high": self.high.judgement if self.high else None}


def explanation(chosen: PointResult, study: Study, target: Target | None, cheaper: list[PointResult],
                sensitivities: list[Sensitivity], margin: float | None) -> str:
    """What limits the recommendation, in plain words."""
    if target is None:
        return "No target limits this configuration: it was the cheapest tried."
    kind = target.kind
    value = chosen.estimates[target.figure]
    limit = target.high if target.high is not None else target.low
    share = f" ({value.high / limit:.0%} of the limit at the interval's pessimistic end)" if limit and target.high is not None else ""
    words = [f"What limits this configuration is {target.figure}: {_interval(chosen, target.figure, kind)} against a "
             f"target of {target.describe()}{share}."]
    for result in cheaper[:2]:
        state = "misses" if result.judgement == FAIL else "cannot be shown to meet"
        labels = ", ".join(f"{p} = {display(v)}" for p, v in result.point.changes.items() if p != "load_multiplier")
        words.append(f"With {labels} it {state} {', '.join(result.failing() or result.undecided())}"
                     f" ({_interval(result, target.figure, kind)}).")
    spans = []
    for item in sensitivities:
        low, high = item.figure(target.figure)
        if math.isfinite(low) and math.isfinite(high):
            spans.append((abs(high - low), item, low, high))
    if spans:
        _, item, low, high = max(spans, key=lambda entry: entry[0])
        words.append(f"It is most sensitive to {item.parameter}: from {display(item.low_value)} to "
                     f"{display(item.high_value)} moves {target.figure} from {format_figure(low, kind)} to "
                     f"{format_figure(high, kind)}.")
    busiest = max(((n, e.mean) for n, e in chosen.estimates.items() if n.endswith(".utilisation")),
                  key=lambda item: item[1], default=None)
    if busiest is not None:
        words.append(f"{busiest[0].split('.')[1]} is {busiest[1]:.0%} busy.")
    if margin is not None:
        words.append(f"It meets every target up to {margin:.2f}× the planning load.")
    return " ".join(words)
