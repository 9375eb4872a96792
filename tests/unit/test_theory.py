"""The queueing formulas in `simbp.theory` against values worked out by hand.

Each expected value below is derived in the comment next to it from the textbook formula, with
fractions, so a wrong formula (or a wrong convention: wait vs sojourn, K vs buffer capacity) fails.
"""

from __future__ import annotations

import math
from fractions import Fraction

import pytest

from simbp import theory


def approx(value: float) -> object:
    return pytest.approx(value, rel=1e-12, abs=1e-15)


def test_mm1_by_hand() -> None:
    # λ = 1, μ = 2: ρ = 1/2; Wq = ρ/(μ−λ) = 1/2; W = 1/(μ−λ) = 1; L = ρ/(1−ρ) = 1; Lq = ρ²/(1−ρ) = 1/2
    assert theory.utilisation(1, 2) == approx(0.5)
    assert theory.mm1_mean_wait(1, 2) == approx(0.5)
    assert theory.mm1_mean_sojourn(1, 2) == approx(1.0)
    assert theory.mm1_mean_number(1, 2) == approx(1.0)
    assert theory.mm1_mean_queue_number(1, 2) == approx(0.5)
    # λ = 3, μ = 4: W = 1; Wq = 3/4; L = 3
    assert theory.mm1_mean_sojourn(3, 4) == approx(1.0)
    assert theory.mm1_mean_wait(3, 4) == approx(0.75)
    assert theory.mm1_mean_number(3, 4) == approx(3.0)


def test_unstable_queues_have_infinite_means() -> None:
    assert theory.mm1_mean_wait(2, 2) == math.inf
    assert theory.mm1_mean_number(3, 2) == math.inf
    assert theory.mmc_mean_sojourn(6, 2, 3) == math.inf
    assert theory.erlang_c(6, 2, 3) == 1.0
    assert theory.md1_mean_wait(5, 4) == math.inf


def test_erlang_b_by_hand() -> None:
    # B(a, c) = (a^c/c!) / Σ_{k≤c} a^k/k!
    assert theory.erlang_b(1, 0) == 1.0  # no servers: everything is lost
    assert theory.erlang_b(1, 1) == approx(0.5)  # 1 / (1 + 1)
    assert theory.erlang_b(1, 2) == approx(0.2)  # (1/2) / (1 + 1 + 1/2)
    assert theory.erlang_b(2, 2) == approx(0.4)  # 2 / (1 + 2 + 2)
    assert theory.erlang_b(2, 3) == approx(4 / 19)  # (4/3) / (1 + 2 + 2 + 4/3)
    assert theory.erlang_b(0, 3) == 0.0


def _erlang_b_exact(load: int, servers: int) -> Fraction:
    terms = [Fraction(load) ** k / math.factorial(k) for k in range(servers + 1)]
    return terms[-1] / sum(terms)


@pytest.mark.parametrize("load, servers", [(40, 50), (95, 100), (300, 280)])
def test_erlang_b_recursion_matches_exact_fractions(load: int, servers: int) -> None:
    assert theory.erlang_b(load, servers) == pytest.approx(float(_erlang_b_exact(load, servers)), rel=1e-11)


def test_erlang_b_and_c_are_stable_for_thousands_of_workers() -> None:
    # a^c / c! overflows a float long before c = 5000; the recursion must not.
    blocking = theory.erlang_b(5000, 5000)
    # B(a, a) ≈ 1/sqrt(π a / 2) for large a (normal approximation): about 0.0113 at a = 5000
    assert 0.0105 < blocking < 0.0115
    wait = theory.erlang_c(4900, 1.0, 5000)
    assert 0.0 < wait < 1.0 and math.isfinite(theory.mmc_mean_wait(4900, 1.0, 5000))


def test_erlang_c_by_hand() -> None:
    # λ = 2, μ = 1, c = 3: a = 2, B = 4/19, C = cB / (c − a(1 − B)) = (12/19) / (3 − 30/19) = 12/27 = 4/9
    assert theory.erlang_c(2, 1, 3) == approx(4 / 9)
    # Wq = C / (cμ − λ) = 4/9; W = Wq + 1/μ = 13/9; L = λW = 26/9
    assert theory.mmc_mean_wait(2, 1, 3) == approx(4 / 9)
    assert theory.mmc_mean_sojourn(2, 1, 3) == approx(13 / 9)
    assert theory.mmc_mean_number(2, 1, 3) == approx(26 / 9)
    # one worker: Erlang C is the utilisation and M/M/c is M/M/1
    assert theory.erlang_c(1, 2, 1) == approx(0.5)
    assert theory.mmc_mean_sojourn(3, 4, 1) == approx(theory.mm1_mean_sojourn(3, 4))


def test_mm1k_by_hand() -> None:
    # λ = 1, μ = 2, K = 2: p_n ∝ (1/2)^n → p = (4/7, 2/7, 1/7)
    assert theory.mmck_state_probabilities(1, 2, 1, 2) == [approx(4 / 7), approx(2 / 7), approx(1 / 7)]
    assert theory.mm1k_blocking(1, 2, 2) == approx(1 / 7)  # (1−ρ)ρ^K/(1−ρ^{K+1}) = (1/8)/(7/8)
    assert theory.mm1k_mean_number(1, 2, 2) == approx(4 / 7)  # 2/7 + 2·1/7
    # W = L / (λ(1 − p_K)) = (4/7) / (6/7) = 2/3; Wq = W − 1/μ = 1/6
    assert theory.mm1k_mean_sojourn(1, 2, 2) == approx(2 / 3)
    assert theory.mmck_mean_wait(1, 2, 1, 2) == approx(1 / 6)
    assert theory.mmck_mean_queue_number(1, 2, 1, 2) == approx(1 / 7)  # one waiting, in state 2
    # ρ = 1: every state equally likely, p_K = 1/(K+1)
    assert theory.mm1k_blocking(5, 5, 3) == approx(1 / 4)
    # overload is allowed for a finite buffer: λ = 2, μ = 1, K = 1 → p_1 = 2/3
    assert theory.mm1k_blocking(2, 1, 1) == approx(2 / 3)


def test_mmck_limits() -> None:
    # K = c: no waiting room, M/M/c/c, which is Erlang B
    assert theory.mmck_blocking(7, 2, 5, 5) == pytest.approx(theory.erlang_b(3.5, 5), rel=1e-12)
    # a very large K behaves like the infinite buffer
    assert theory.mmck_mean_sojourn(2, 1, 3, 3000) == pytest.approx(13 / 9, rel=1e-9)
    assert theory.mmck_blocking(2, 1, 3, 3000) < 1e-300
    # huge c and K do not overflow
    probabilities = theory.mmck_state_probabilities(9000, 1, 10_000, 12_000)
    assert math.fsum(probabilities) == pytest.approx(1.0, rel=1e-12)
    assert theory.mmck_blocking(0, 1, 2, 4) == 0.0


def test_pollaczek_khinchine_by_hand() -> None:
    # M/D/1, λ = 1, μ = 2: Wq = ρ / (2μ(1 − ρ)) = 0.5 / 2 = 1/4, half the M/M/1 wait; W = 3/4
    assert theory.md1_mean_wait(1, 2) == approx(0.25)
    assert theory.md1_mean_sojourn(1, 2) == approx(0.75)
    # M/G/1 with scv 1 is M/M/1
    assert theory.mg1_mean_wait(1, 0.5, 1.0) == approx(theory.mm1_mean_wait(1, 2))
    # uniform(0, 1) service: E[S] = 1/2, E[S²] = 1/3, λ = 1 → Wq = (1/3) / (2 · 1/2) = 1/3; scv = (1/12)/(1/4)
    assert theory.mg1_mean_wait(1, 0.5, 1 / 3) == approx(1 / 3)
    assert theory.mg1_mean_sojourn(1, 0.5, 1 / 3) == approx(5 / 6)


def test_littles_law() -> None:
    assert theory.little_number(2.0, 3.0) == 6.0
    assert theory.little_time(6.0, 2.0) == 3.0
    # the M/M/1 numbers satisfy it: L = λW and Lq = λWq
    assert theory.mm1_mean_number(3, 4) == approx(theory.little_number(3, theory.mm1_mean_sojourn(3, 4)))
    assert theory.mm1_mean_queue_number(3, 4) == approx(theory.little_number(3, theory.mm1_mean_wait(3, 4)))


@pytest.mark.parametrize("call", [
    lambda: theory.mm1_mean_wait(-1, 2),
    lambda: theory.mm1_mean_wait(1, 0),
    lambda: theory.erlang_c(1, 1, 0),
    lambda: theory.erlang_c(1, 1, 2.5),
    lambda: theory.erlang_b(-1, 3),
    lambda: theory.mmck_blocking(1, 1, 3, 2),
    lambda: theory.mg1_mean_wait(1, 0, 1),
    lambda: theory.mg1_mean_wait(1, 0.1, -1),
    lambda: theory.little_time(1, 0),
])
def test_impossible_inputs_are_refused(call) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError):
        call()


def test_mmc_sojourn_tail_and_quantile() -> None:
    # one worker: the M/M/1 sojourn is exponential with rate μ − λ, so P(W > t) = e^{−(μ−λ)t}
    assert theory.mmc_sojourn_tail(1, 3, 1, 0.5) == approx(math.exp(-1.0))
    assert theory.mmc_sojourn_quantile(1, 3, 1, 0.99) == pytest.approx(math.log(100) / 2, rel=1e-9)
    assert theory.mmc_sojourn_tail(2, 1, 3, 0.0) == 1.0
    # λ = 2, μ = 1, c = 3: θ = cμ − λ = μ, the (1 + μt) e^{−μt} branch; C = 4/9
    t = 1.0
    expected = (5 / 9) * math.exp(-1.0) + (4 / 9) * 2 * math.exp(-1.0)
    assert theory.mmc_sojourn_tail(2, 1, 3, t) == pytest.approx(expected, rel=1e-12)
    q = theory.mmc_sojourn_quantile(2, 1, 3, 0.9)
    assert theory.mmc_sojourn_tail(2, 1, 3, q) == pytest.approx(0.1, rel=1e-9)
