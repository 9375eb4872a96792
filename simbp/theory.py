"""Queueing formulas: the theory the simulator is checked against, and a yardstick for planning.

Conventions used by every function here:

- `arrival_rate` is λ, messages per second; `service_rate` is μ, messages per second *per worker*
  (the reciprocal of the mean service time); `workers` is c.
- *wait* is the time a message spends waiting in the buffer before a worker takes it; *sojourn* is
  wait plus service (what simbp reports as latency: from production to the end of consumption).
- *number* is the mean number of messages in the system (waiting plus being served); *queue
  number* counts only those waiting in the buffer.
- Finite systems (`/K`) take `system_capacity` K: the most messages in the system at once,
  waiting plus in service. A simbp buffer of `capacity` B drained by c workers with policy
  `drop_newest` is an M/M/c/K queue with K = B + c.
- An unstable infinite-buffer queue (λ ≥ cμ) has no steady state: its means are `math.inf`.

Everything is plain `math`; Erlang B is computed by its recursion, so thousands of workers neither
overflow nor lose precision, and finite systems use log-space state probabilities.
"""

from __future__ import annotations

import math

__all__ = [
    "utilisation",
    "mm1_mean_wait",
    "mm1_mean_sojourn",
    "mm1_mean_number",
    "mm1_mean_queue_number",
    "erlang_b",
    "erlang_c",
    "mmc_mean_wait",
    "mmc_mean_sojourn",
    "mmc_mean_number",
    "mmck_state_probabilities",
    "mmck_blocking",
    "mmck_mean_number",
    "mmck_mean_queue_number",
    "mmck_mean_sojourn",
    "mmck_mean_wait",
    "mm1k_blocking",
    "mm1k_mean_number",
    "mm1k_mean_sojourn",
    "mg1_mean_wait",
    "mg1_mean_sojourn",
    "md1_mean_wait",
    "md1_mean_sojourn",
    "little_number",
    "little_time",
]


def _check_rates(arrival_rate: float, service_rate: float, workers: int = 1) -> None:
    if not arrival_rate >= 0 or math.isinf(arrival_rate):
        raise ValueError(f"arrival_rate must be a finite number >= 0, got {arrival_rate!r}")
    if not service_rate > 0 or math.isinf(service_rate):
        raise ValueError(f"service_rate must be a finite number > 0, got {service_rate!r}")
    if int(workers) != workers or workers < 1:
        raise ValueError(f"workers must be a whole number >= 1, got {workers!r}")


def utilisation(arrival_rate: float, service_rate: float, workers: int = 1) -> float:
    """Offered load per worker ρ = λ / (c μ); a queue with an infinite buffer is stable only below 1."""
    _check_rates(arrival_rate, service_rate, workers)
    return arrival_rate / (workers * service_rate)


# --- M/M/1 -------------------------------------------------------------------------------------

def mm1_mean_wait(arrival_rate: float, service_rate: float) -> float:
    """M/M/1 mean wait in the buffer, Wq = ρ / (μ − λ)."""
    rho = utilisation(arrival_rate, service_rate)
    if rho >= 1:
        return math.inf
    return rho / (service_rate - arrival_rate)


def mm1_mean_sojourn(arrival_rate: float, service_rate: float) -> float:
    """M/M/1 mean time in the system (wait + service), W = 1 / (μ − λ)."""
    rho = utilisation(arrival_rate, service_rate)
    if rho >= 1:
        return math.inf
    return 1.0 / (service_rate - arrival_rate)


def mm1_mean_number(arrival_rate: float, service_rate: float) -> float:
    """M/M/1 mean number in the system, L = ρ / (1 − ρ)."""
    rho = utilisation(arrival_rate, service_rate)
    if rho >= 1:
        return math.inf
    return rho / (1.0 - rho)


def mm1_mean_queue_number(arrival_rate: float, service_rate: float) -> float:
    """M/M/1 mean number waiting in the buffer, Lq = ρ² / (1 − ρ)."""
    rho = utilisation(arrival_rate, service_rate)
    if rho >= 1:
        return math.inf
    return rho * rho / (1.0 - rho)


# --- Erlang B and C, M/M/c -------------------------------------------------------------------------

def erlang_b(offered_load: float, servers: int) -> float:
    """Erlang B: the probability that an arrival finds all `servers` busy in M/M/c/c (lost calls).

    `offered_load` is a = λ/μ in erlangs. Uses the recursion B(0) = 1,
    B(k) = a B(k−1) / (k + a B(k−1)), which is stable for any number of servers.
    """
    if not offered_load >= 0 or math.isinf(offered_load):
        raise ValueError(f"offered_load must be a finite number >= 0, got {offered_load!r}")
    if int(servers) != servers or servers < 0:
        raise ValueError(f"servers must be a whole number >= 0, got {servers!r}")
    blocking = 1.0
    for k in range(1, int(servers) + 1):
        blocking = offered_load * blocking / (k + offered_load * blocking)
    return blocking


def erlang_c(arrival_rate: float, service_rate: float, workers: int) -> float:
    """Erlang C: the probability that an arrival has to wait in M/M/c (all c workers busy).

    C = c B / (c − a (1 − B)) with a = λ/μ and B = Erlang B(a, c); 1.0 when the queue is unstable.
    """
    rho = utilisation(arrival_rate, service_rate, workers)
    if rho >= 1:
        return 1.0
    load = arrival_rate / service_rate
    blocking = erlang_b(load, workers)
    return workers * blocking / (workers - load * (1.0 - blocking))


def mmc_mean_wait(arrival_rate: float, service_rate: float, workers: int) -> float:
    """M/M/c mean wait in the buffer, Wq = C / (c μ − λ)."""
    if utilisation(arrival_rate, service_rate, workers) >= 1:
        return math.inf
    return erlang_c(arrival_rate, service_rate, workers) / (workers * service_rate - arrival_rate)


def mmc_mean_sojourn(arrival_rate: float, service_rate: float, workers: int) -> float:
    """M/M/c mean time in the system, W = Wq + 1/μ."""
    return mmc_mean_wait(arrival_rate, service_rate, workers) + 1.0 / service_rate


def mmc_mean_number(arrival_rate: float, service_rate: float, workers: int) -> float:
    """M/M/c mean number in the system, L = λ W (Little's law)."""
    return little_number(arrival_rate, mmc_mean_sojourn(arrival_rate, service_rate, workers))


# --- M/M/c/K (finite buffer, arrivals beyond K lost) ------------------------------------------------

def mmck_state_probabilities(arrival_rate: float, service_rate: float, workers: int,
                             system_capacity: int) -> list[float]:
    """Stationary probabilities p_0 … p_K of n messages in an M/M/c/K system.

    p_n ∝ a^n / n! for n ≤ c and a^c/c! · (a/c)^(n−c) above, with a = λ/μ; computed in log space so
    large c and K neither overflow nor underflow. Any load is allowed (the buffer bounds the system).
    """
    _check_rates(arrival_rate, service_rate, workers)
    if int(system_capacity) != system_capacity or system_capacity < workers:
        raise ValueError(f"system_capacity must be a whole number >= workers ({workers}), got {system_capacity!r}")
    if arrival_rate == 0:
        return [1.0] + [0.0] * int(system_capacity)
    log_load = math.log(arrival_rate / service_rate)
    log_terms = [0.0]
    for n in range(1, int(system_capacity) + 1):
        log_terms.append(log_terms[-1] + log_load - math.log(min(n, workers)))
    top = max(log_terms)
    weights = [math.exp(t - top) for t in log_terms]
    total = math.fsum(weights)
    return [w / total for w in weights]


def mmck_blocking(arrival_rate: float, service_rate: float, workers: int, system_capacity: int) -> float:
    """M/M/c/K loss probability: the share of arrivals that find K messages in the system (PASTA)."""
    return mmck_state_probabilities(arrival_rate, service_rate, workers, system_capacity)[-1]


def mmck_mean_number(arrival_rate: float, service_rate: float, workers: int, system_capacity: int) -> float:
    """M/M/c/K mean number in the system, L = Σ n p_n."""
    probabilities = mmck_state_probabilities(arrival_rate, service_rate, workers, system_capacity)
    return math.fsum(n * p for n, p in enumerate(probabilities))


def mmck_mean_queue_number(arrival_rate: float, service_rate: float, workers: int,
                           system_capacity: int) -> float:
    """M/M/c/K mean number waiting in the buffer, Lq = Σ (n − c) p_n over n > c."""
    probabilities = mmck_state_probabilities(arrival_rate, service_rate, workers, system_capacity)
    return math.fsum((n - workers) * p for n, p in enumerate(probabilities) if n > workers)


def mmck_mean_sojourn(arrival_rate: float, service_rate: float, workers: int, system_capacity: int) -> float:
    """M/M/c/K mean time in the system of *accepted* messages, W = L / (λ (1 − p_K))."""
    probabilities = mmck_state_probabilities(arrival_rate, service_rate, workers, system_capacity)
    accepted_rate = arrival_rate * (1.0 - probabilities[-1])
    if accepted_rate == 0:
        return 1.0 / service_rate
    return math.fsum(n * p for n, p in enumerate(probabilities)) / accepted_rate


def mmck_mean_wait(arrival_rate: float, service_rate: float, workers: int, system_capacity: int) -> float:
    """M/M/c/K mean wait in the buffer of accepted messages, Wq = W − 1/μ."""
    return mmck_mean_sojourn(arrival_rate, service_rate, workers, system_capacity) - 1.0 / service_rate


def mm1k_blocking(arrival_rate: float, service_rate: float, system_capacity: int) -> float:
    """M/M/1/K loss probability, (1 − ρ) ρ^K / (1 − ρ^(K+1)), and 1/(K+1) at ρ = 1."""
    return mmck_blocking(arrival_rate, service_rate, 1, system_capacity)


def mm1k_mean_number(arrival_rate: float, service_rate: float, system_capacity: int) -> float:
    """M/M/1/K mean number in the system."""
    return mmck_mean_number(arrival_rate, service_rate, 1, system_capacity)


def mm1k_mean_sojourn(arrival_rate: float, service_rate: float, system_capacity: int) -> float:
    """M/M/1/K mean time in the system of accepted messages."""
    return mmck_mean_sojourn(arrival_rate, service_rate, 1, system_capacity)


# --- M/G/1 (Pollaczek–Khinchine) -------------------------------------------------------------------

def mg1_mean_wait(arrival_rate: float, mean_service: float, service_scv: float) -> float:
    """M/G/1 mean wait in the buffer by Pollaczek–Khinchine, Wq = λ E[S²] / (2 (1 − ρ)).

    `mean_service` is E[S] in seconds; `service_scv` is the squared coefficient of variation
    Var[S]/E[S]² (0 for constant service, 1 for exponential), so E[S²] = E[S]² (1 + scv).
    """
    if not mean_service > 0 or math.isinf(mean_service):
        raise ValueError(f"mean_service must be a finite number > 0, got {mean_service!r}")
    if not service_scv >= 0:
        raise ValueError(f"service_scv must be >= 0, got {service_scv!r}")
    rho = utilisation(arrival_rate, 1.0 / mean_service)
    if rho >= 1:
        return math.inf
    second_moment = mean_service * mean_service * (1.0 + service_scv)
    return arrival_rate * second_moment / (2.0 * (1.0 - rho))


def mg1_mean_sojourn(arrival_rate: float, mean_service: float, service_scv: float) -> float:
    """M/G/1 mean time in the system, W = Wq + E[S]."""
    return mg1_mean_wait(arrival_rate, mean_service, service_scv) + mean_service


def md1_mean_wait(arrival_rate: float, service_rate: float) -> float:
    """M/D/1 mean wait in the buffer, Wq = ρ / (2 μ (1 − ρ)): half the M/M/1 wait."""
    return mg1_mean_wait(arrival_rate, 1.0 / service_rate, 0.0)


def md1_mean_sojourn(arrival_rate: float, service_rate: float) -> float:
    """M/D/1 mean time in the system, W = Wq + 1/μ."""
    return md1_mean_wait(arrival_rate, service_rate) + 1.0 / service_rate


# --- Little's law ----------------------------------------------------------------------------------

def little_number(arrival_rate: float, mean_time: float) -> float:
    """Little's law L = λ W: mean number present from throughput and mean time spent.

    Holds for any stable system and any part of it (the buffer alone: Lq = λ Wq), whatever the
    distributions; with losses use the rate of *accepted* messages.
    """
    return arrival_rate * mean_time


def little_time(mean_number: float, arrival_rate: float) -> float:
    """Little's law solved for time, W = L / λ."""
    if arrival_rate <= 0:
        raise ValueError(f"arrival_rate must be > 0, got {arrival_rate!r}")
    return mean_number / arrival_rate


# --- M/M/c tails and quantiles (capacity planning against latency percentiles) -----------------------

__all__ += ["mmc_wait_tail", "mmc_sojourn_tail", "mmc_sojourn_quantile"]


def mmc_wait_tail(arrival_rate: float, service_rate: float, workers: int, time: float) -> float:
    """M/M/c P(Wq > t) = C e^(−(cμ − λ) t): the share of messages waiting longer than `time`."""
    if utilisation(arrival_rate, service_rate, workers) >= 1:
        return 1.0
    return erlang_c(arrival_rate, service_rate, workers) * math.exp(-(workers * service_rate - arrival_rate) * time)


def mmc_sojourn_tail(arrival_rate: float, service_rate: float, workers: int, time: float) -> float:
    """M/M/c P(W > t) for the sojourn W = wait + service (FIFO).

    A message waits with probability C, and then for an Exp(θ = cμ − λ) time, before its own
    Exp(μ) service, so P(W > t) = (1 − C) e^(−μt) + C (θ e^(−μt) − μ e^(−θt)) / (θ − μ)
    (the hypoexponential tail; (1 + μt) e^(−μt) when θ = μ). With one worker it reduces to the
    M/M/1 sojourn tail e^(−(μ − λ) t).
    """
    if time <= 0:
        return 1.0
    if utilisation(arrival_rate, service_rate, workers) >= 1:
        return 1.0
    waits = erlang_c(arrival_rate, service_rate, workers)
    theta = workers * service_rate - arrival_rate
    mu = service_rate
    if abs(theta - mu) <= 1e-9 * mu:
        both = (1.0 + mu * time) * math.exp(-mu * time)
    else:
        both = (theta * math.exp(-mu * time) - mu * math.exp(-theta * time)) / (theta - mu)
    return min(1.0, max(0.0, (1.0 - waits) * math.exp(-mu * time) + waits * both))


def mmc_sojourn_quantile(arrival_rate: float, service_rate: float, workers: int, quantile: float) -> float:
    """The `quantile` (e.g. 0.99) of the M/M/c sojourn time, by bisection on `mmc_sojourn_tail`.

    `math.inf` for an unstable queue (λ ≥ cμ), whose waits grow without bound.
    """
    if not 0 < quantile < 1:
        raise ValueError(f"quantile must be between 0 and 1, got {quantile!r}")
    if utilisation(arrival_rate, service_rate, workers) >= 1:
        return math.inf
    tail = 1.0 - quantile
    low, high = 0.0, 1.0 / service_rate
    while mmc_sojourn_tail(arrival_rate, service_rate, workers, high) > tail:
        low, high = high, high * 2.0
    for _ in range(200):
        middle = (low + high) / 2
        if mmc_sojourn_tail(arrival_rate, service_rate, workers, middle) > tail:
            low = middle
        else:
            high = middle
        if high - low <= 1e-12 * high:
            break
    return high
