"""Theory cross-checks: for M/M/c and M/M/c/K scenarios the plan's answer for workers equals the
Erlang C / M/M/c/K answer, with targets placed far from the boundary so simulation noise cannot
flip a decision (checked: the simulated intervals sit many half widths away from the limits)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from simbp import theory
from simbp.planning import load_study, plan
from simbp.planning.executors import make_executor

# λ = 100/s, mean service 50 ms (μ = 20/s per worker): a = 5 erlangs, stable from 6 workers.
MMC = """\
name: mmc
duration: 200s
warmup: 20s
producers:
  - {name: clients, to: queue, arrivals: {process: poisson, rate: 100/s}}
buffers:
  - {name: queue, policy: unbounded}
consumers:
  - {name: servers, from: queue, workers: 1, service: {dist: exponential, mean: 50ms}}
"""

MMCK = MMC.replace("{name: queue, policy: unbounded}", "{name: queue, capacity: 2, policy: drop_newest}")

SPEC = """\
name: {name}
base: {base}
seed: 2
replications: {{min: 3}}
targets:
  {target}
plan:
  search:
    consumers.servers.workers: {{min: 1, max: 30}}
  margin: {{enabled: false}}
"""


def erlang_answer(meets: Callable[[int], bool]) -> int:
    return next(c for c in range(1, 31) if meets(c))


@pytest.mark.parametrize("case", ["mean latency, M/M/c", "loss, M/M/c/K"])
def test_plan_agrees_with_theory(case: str, tmp_path: Path) -> None:
    if case.startswith("mean"):
        (tmp_path / "base.yaml").write_text(MMC)
        # W(6) = 79.4 ms, W(7) = 58.1 ms: a 68 ms limit is 15% from either
        target, limit = "latency_s.mean: {max: 68ms}", 0.068
        expected = erlang_answer(lambda c: theory.mmc_mean_sojourn(100, 20, c) <= limit)
        figure = "latency_s.mean"
    else:
        (tmp_path / "base.yaml").write_text(MMCK)
        # K = 2 + c: loss(7) = 5.4%, loss(8) = 2.6%: a 4% limit is a third from either
        target, limit = "loss_ratio: {max: 4%}", 0.04
        expected = erlang_answer(lambda c: theory.mmck_blocking(100, 20, c, c + 2) <= limit)
        figure = "loss_ratio"
    (tmp_path / "spec.yaml").write_text(SPEC.format(name="check", base="base.yaml", target=target))
    with make_executor(2) as executor:
        result = plan(load_study(tmp_path / "spec.yaml"), executor)
    assert expected == (7 if figure == "latency_s.mean" else 8)
    assert result.theory.changes == {"consumers.servers.workers": expected}
    assert result.theory.prediction is not None and result.theory.prediction.exact
    chosen = result.recommendation
    assert chosen is not None and chosen.point.changes["consumers.servers.workers"] == expected
    assert "agree" in result.summary["agreement"]
    # confirmed: one worker fewer was simulated and failed, clearly (its whole interval is above)
    [cheaper] = result.cheaper_failed
    assert cheaper.point.changes["consumers.servers.workers"] == expected - 1
    assert cheaper.estimates[figure].low > limit
    assert chosen.estimates[figure].high < limit
    # started from theory: only the answer and the value below it were simulated
    assert len(result.evaluated) == 2
    # the chosen point's simulated figures sit within their 95% interval of the theory prediction
    # (plus the latency sketch's 1% relative error for percentiles)
    predicted = result.theory.prediction.figures
    checks = ["latency_s.mean", "latency_s.p99"] if figure == "latency_s.mean" else ["loss_ratio", "latency_s.mean"]
    for name in checks:
        simulated = chosen.estimates[name]
        slack = 0.01 * predicted[name] if name.endswith("p99") else 0.0
        assert abs(simulated.mean - predicted[name]) <= simulated.half_width + slack, name


def test_mmc_sojourn_tail_by_hand_and_by_integration() -> None:
    import math

    # one worker: M/M/1 sojourn is exponential with rate μ − λ, so P(W > t) = e^(−(μ−λ)t)
    for t in (0.0, 0.1, 0.5, 2.0):
        assert theory.mmc_sojourn_tail(3, 4, 1, t) == pytest.approx(math.exp(-t), rel=1e-12)
    assert theory.mmc_sojourn_quantile(3, 4, 1, 0.99) == pytest.approx(math.log(100), rel=1e-9)
    # the waiting tail starts at Erlang C
    assert theory.mmc_wait_tail(100, 20, 7, 0.0) == pytest.approx(theory.erlang_c(100, 20, 7))
    # ∫ P(W > t) dt = E[W]: the tail integrates to the Erlang C mean sojourn (Simpson's rule)
    for workers in (6, 7, 10):
        step, total = 1e-4, 0.0
        grid = [theory.mmc_sojourn_tail(100, 20, workers, i * step) for i in range(40_001)]
        total = step / 3 * (grid[0] + grid[-1] + 4 * sum(grid[1:-1:2]) + 2 * sum(grid[2:-1:2]))
        assert total == pytest.approx(theory.mmc_mean_sojourn(100, 20, workers), rel=1e-4)
    # θ = cμ − λ equal to μ takes the limiting form: c = 2, μ = 1, λ = 1
    assert theory.mmc_sojourn_tail(1, 1, 2, 1.5) == pytest.approx(
        (1 - theory.erlang_c(1, 1, 2)) * math.exp(-1.5) + theory.erlang_c(1, 1, 2) * 2.5 * math.exp(-1.5))
    q = theory.mmc_sojourn_quantile(100, 20, 7, 0.99)
    assert theory.mmc_sojourn_tail(100, 20, 7, q) == pytest.approx(0.01, rel=1e-9)
    assert math.isinf(theory.mmc_sojourn_quantile(100, 20, 5, 0.99))
