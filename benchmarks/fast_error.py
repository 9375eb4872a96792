"""Fast mode's error against exact mode on the scenario library, over several seeds.

    python benchmarks/fast_error.py                      # every scenario fast mode can model, seeds 1-3
    python benchmarks/fast_error.py --seeds 1 2 3 4 5 --quanta 20000 100000 --only quickstart
    python benchmarks/fast_error.py --near-capacity --seeds 1 2 3 4 5 6 7 8   # M/M/3/10 loss, rho 0.7-1.3
    python benchmarks/fast_error.py --systems          # each systems key fast mode models, against exact mode
    python benchmarks/fast_error.py --systems --only Node   # only the Node.js streams rows
    python benchmarks/fast_error.py --systems --only block  # block with several or evenly spaced producers
    python benchmarks/fast_error.py --systems --only block_timeout  # producers that give up (block_timeout)
    python benchmarks/fast_error.py --systems --only request  # requests that wait on their own (blocking: request)
    python benchmarks/fast_error.py --block-scale      # both at 27,000-36,000/s: exact against fast on a slice
    python benchmarks/fast_error.py --block-timeout 2ms 5ms 10ms --seeds 1 2 3 4 5 6 7 8 --duration 40 --quanta-s 0.02
    python benchmarks/fast_error.py --block-timeout 5ms 20ms --request --seeds 1 2 3 4 5 6 7 8 --duration 40 --quanta-s 0.02
    python benchmarks/fast_error.py --systems-scale    # an hour of each in fast mode: wall time, auto's choice
    python benchmarks/fast_error.py --calls-speed      # semaphores and degrading downstreams: exact against fast
    python benchmarks/fast_error.py --latency --seeds 1 2 3 4 5 6   # latency by quantum, up to a day's (issue 12)
    python benchmarks/fast_error.py --latency --only "M/M/4" --quanta-st 2 50 432
    python benchmarks/fast_error.py --systems-scale --only node   # the Node.js streams only

For each scenario it runs exact mode and fast mode (at each `--quanta`: the most quanta per run)
with the same seeds and prints the mean ± standard deviation over seeds of the figures the issue
names: loss ratio, peak queue depth, p99 and mean latency, peak memory, time to the first crash,
and the producers' blocked fraction. The two modes draw different random numbers, so compare the
difference of the means with the seed-to-seed spread. The figures are in docs/performance.md; the
tolerances tested in tests/test_fast_mode.py were set from them.

`--near-capacity` measures the loss ratio of M/M/3 with 7 waiting places (K = 10) from ρ = 0.7 to
1.3: the formula, exact mode and fast mode at quanta of 2.5 ms (a quarter of the service time, the
finest fast mode uses) to 20 ms (two service times, what a run of a few hours gets), each the mean
and standard error over the seeds, and fast mode's error relative to exact mode's.

`--systems` runs the comparisons of tests/fast/test_fast_systems.py, test_fast_calls.py,
test_fast_streams.py, test_fast_block.py, test_fast_block_timeout.py and test_fast_block_requests.py (the same scenarios, quanta and
seeds: the table and the tests measure the same runs) and prints, per mechanism and figure, exact
and fast mode's mean ± standard error, fast's error, the stated bound (`simbp.fast.accuracy`) and
whether fast's mean lies within exact's 99.9% interval widened by it.

`--latency` measures latency mean and p99, throughput and loss of single stages (M/M/3 with 7 places at
ρ = 0.7, 0.9, 1.0, 1.3; M/M/4 unbounded at ρ = 0.3, 0.5, 0.8; gamma and lognormal service at ρ = 0.5
and 0.8) at quanta of `--quanta-st` mean service times (2 up to 432: a day of 2 ms stages gets quanta of
0.864 s), each against exact mode on the same scenario (a warm-up cut, so neither reads the empty start):
mean ± standard error over the seeds, and fast's error relative to exact's with its standard error.
The bounds of `simbp.fast.accuracy` (`LATENCY_MEAN`, `LATENCY_P99`) were set from these figures.

`--calls-speed` runs calls behind a semaphore and to a degrading downstream at 3,000 and 9,000 calls a
second: auto's choice for an hour, and exact against fast mode on a 20-second slice at the hour's
quantum, in the same process.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import simbp  # noqa: E402
from simbp.exact.model import simulate  # noqa: E402
from simbp.fast.model import MAX_QUANTA, choose_quantum, simulate_fast, unsupported  # noqa: E402
from simbp.results import build_results  # noqa: E402

FIGURES = ("loss_ratio", "peak_queue_depth", "p99_s", "mean_s", "peak_memory_bytes", "first_crash_s", "blocked_fraction")


def figures(summary: dict[str, Any]) -> dict[str, float | None]:
    return {"loss_ratio": summary["loss_ratio"], "peak_queue_depth": summary["peak_queue_depth"],
            "p99_s": summary["latency_s"]["p99"], "mean_s": summary["latency_s"]["mean"],
            "peak_memory_bytes": summary["peak_memory_bytes"], "first_crash_s": summary["first_crash_s"],
            "blocked_fraction": summary["producer_blocked_fraction"]}


def spread(values: list[float | None]) -> str:
    present = [v for v in values if v is not None]
    if not present:
        return "-"
    deviation = statistics.stdev(present) if len(present) > 1 else 0.0
    return f"{statistics.mean(present):.4g} ±{deviation:.2g}"


NEAR_CAPACITY = """
name: mmck_near_capacity
duration: {duration}
sample_interval: 1
producers: [{{name: source, to: queue, arrivals: {{process: poisson, rate: {rate}}}}}]
buffers: [{{name: queue, capacity: 7, policy: drop_newest}}]
consumers: [{{name: workers, from: queue, workers: 3, service: {{dist: exponential, mean: 0.01}}}}]
"""


def mean_and_error(values: list[float]) -> tuple[float, float]:
    return statistics.mean(values), statistics.stdev(values) / len(values) ** 0.5 if len(values) > 1 else 0.0


def near_capacity(seeds: list[int], duration: float, quanta_s: list[float]) -> None:
    """Loss ratio of M/M/3/10 by load: formula, exact mode, fast mode at each quantum."""
    from simbp.theory import mmck_blocking

    print(f"\n## M/M/3/10 loss ratio (mean ± standard error over {len(seeds)} seeds of {duration:g} s)")
    print("| ρ | formula | exact | " + " | ".join(f"fast {q * 1000:g} ms | error" for q in quanta_s) + " |")
    print("|---|---|---|" + "---|---|" * len(quanta_s))
    for rho in (0.7, 0.8, 0.9, 1.0, 1.1, 1.3):
        rate = rho * 300
        scenario = simbp.load_scenario(NEAR_CAPACITY.format(duration=duration, rate=rate))
        formula = mmck_blocking(rate, 100.0, 3, 10)
        exact, exact_error = mean_and_error([build_results(simulate(scenario, seed=s)).summary["loss_ratio"] for s in seeds])
        cells = [f"{formula:.4f}", f"{exact:.4f} ± {exact_error:.4f}"]
        for quantum in quanta_s:
            began = time.perf_counter()
            fast, fast_error = mean_and_error([build_results(simulate_fast(scenario, seed=s, quantum=quantum)).summary["loss_ratio"]
                                               for s in seeds])
            seconds = (time.perf_counter() - began) / len(seeds)
            cells += [f"{fast:.4f} ± {fast_error:.4f} ({seconds:.1f} s)", f"{(fast - exact) / exact:+.1%}"]
        print(f"| {rho} | " + " | ".join(cells) + " |")


def systems(only: list[str] | None) -> None:
    """The systems keys against exact mode (the cases of tests/fast/test_fast_systems.py)."""
    sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "fast")]
    from test_fast_block import block_cases
    from test_fast_block_requests import request_cases
    from test_fast_block_timeout import timeout_cases
    from test_fast_calls import mechanism_cases as call_cases  # calls that interact (semaphore, overload)
    from test_fast_streams import stream_cases
    from test_fast_systems import Z, mechanism_cases  # the tests' own cases

    print("| mechanism | case | figure | exact | fast | error | bound | within |")
    print("|---|---|---|---|---|---|---|---|")
    for case in mechanism_cases() + call_cases() + stream_cases() + block_cases() + timeout_cases() + request_cases():
        if only and not any(word in case.mechanism or word in case.name for word in only):
            continue
        began = time.perf_counter()
        exact = [build_results(simulate(case.scenario, seed=seed)).summary for seed in case.seeds]
        middle = time.perf_counter()
        fast = [build_results(simulate_fast(case.scenario, seed=seed, quantum=case.quantum)).summary for seed in case.seeds]
        ended = time.perf_counter()
        timing = f"{len(case.seeds)} seeds, {case.quantum * 1000:g} ms quanta; {(middle - began) / len(case.seeds):.1f} s / " \
                 f"{(ended - middle) / len(case.seeds):.1f} s a run"
        for label, figure, bound in case.checks:
            (e_mean, e_error), (f_mean, f_error) = (mean_and_error([figure(s) for s in runs]) for runs in (exact, fast))
            allowed = Z * (e_error ** 2 + f_error ** 2) ** 0.5 + bound.tolerance(e_mean)
            error = f"{(f_mean - e_mean) / e_mean:+.1%}" if e_mean else f"{f_mean - e_mean:+.4f}"
            stated = f"{bound.relative:.0%}" + (f" or {bound.absolute:g}" if bound.absolute else "")
            print(f"| {case.mechanism} | {case.name} ({timing}) | {label} | {e_mean:.4g} ± {e_error:.2g} | "
                  f"{f_mean:.4g} ± {f_error:.2g} | {error} | {stated} | {'yes' if abs(f_mean - e_mean) <= allowed else 'NO'} |")


def systems_scale(only: list[str] | None = None) -> None:
    """An hour of each systems scenario in fast mode: messages, auto's choice, wall time, and exact
    mode's estimated time (`limits.estimate_seconds`)."""
    from simbp.limits import choose_mode, estimate_seconds

    sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "fast")]
    from test_fast_systems import CALLING, PRODUCTION_STORM

    calls = (CALLING.replace("RATE", "10000").replace("CALLS", "{downstream: db, timeout: 50ms, retries: 2, backoff: 10ms}")
             .replace("ERROR", "0.05").replace("workers: 40", "workers: 400").replace("duration: 20", "duration: 3600"))
    cases = [(name, simbp.load_scenario(ROOT / "scenarios" / f"{name}.yaml").with_changes({"duration": 3600}))
             for name in ("token_bucket", "priority_shedding", "batch_size_100", "rxjs_buffer_time")]
    cases += [("retry storm, 10,000/s with a burst of 25,000/s, 500 workers", simbp.load_scenario(PRODUCTION_STORM)),
              ("downstream calls, 10,000/s, 400 workers", simbp.load_scenario(calls))]
    cases += [(name, simbp.load_scenario(ROOT / "scenarios" / f"{name}.yaml").with_changes({"duration": 3600}))
              for name in ("node_pipe", "node_naive_write")]
    daily = (ROOT / "scenarios" / "node_pipe.yaml").read_text().replace(
        "arrivals: {process: constant, rate: 2000/s}",
        "arrivals: {process: schedule, interpolation: linear, repeat: 24h, points: [{at: 0h, rate: 300/s}, "
        "{at: 12h, rate: 2000/s}, {at: 24h, rate: 300/s}]}").replace("duration: 30s", "duration: 24h")
    cases.append(("node_pipe over a day, a ramp 300 → 2,000 → 300/s (24 h, not an hour)", simbp.load_scenario(daily)))
    print("| scenario (an hour) | messages | auto | fast mode wall | exact mode (estimated) |")
    print("|---|---:|---|---:|---:|")
    for name, scenario in cases:
        if only and not any(word in name for word in only):
            continue
        mode, _ = choose_mode(scenario, "auto")
        began = time.perf_counter()
        summary = simbp.run(scenario, mode="fast").summary
        wall = time.perf_counter() - began
        print(f"| {name} | {summary['produced']:,} | {mode} | {wall:.1f} s | {estimate_seconds(scenario, 'exact'):.0f} s |")


BLOCK_AT_SCALE = """
name: block_at_scale
duration: {duration}
sample_interval: 1
producers: [{{name: p0, to: queue, {blocking}arrivals: {{process: poisson, rate: {rate}}}}}]
buffers: [{{name: queue, capacity: 200, policy: block, block_timeout: 50ms}}]
consumers: [{{name: workers, from: queue, workers: 300, service: {{dist: exponential, mean: 10ms}}}}]
"""


def block_scale() -> None:
    """`block_timeout` and `blocking: request` at 27,000–36,000 messages a second (300 workers of 10 ms):
    auto's choice for an hour, and exact against fast mode on a 20-second slice at the hour's quantum,
    in the same process."""
    from simbp.limits import choose_mode, estimate_seconds

    print("| callers | ρ | auto for an hour | quantum | 20 s slice: exact / fast | ratio | timed out per produced |")
    print("|---|---|---|---|---|---|---|")
    for blocking in ("", "blocking: request, "):
        for rho in (0.9, 1.2):
            hour = simbp.load_scenario(BLOCK_AT_SCALE.format(duration=3600, blocking=blocking, rate=rho * 30_000))
            mode, _ = choose_mode(hour, "auto")
            quantum = choose_quantum(hour)
            piece = hour.with_changes({"duration": 20})
            began = time.perf_counter()
            exact = build_results(simulate(piece, seed=1)).summary
            middle = time.perf_counter()
            fast = build_results(simulate_fast(piece, seed=1, quantum=quantum)).summary
            ended = time.perf_counter()
            print(f"| {'requests wait on their own' if blocking else 'producer blocks'} | {rho} | {mode} (estimated "
                  f"{estimate_seconds(hour, 'exact'):.0f} s exact, {estimate_seconds(hour, 'fast'):.0f} s fast) | "
                  f"{quantum * 1000:.0f} ms | {middle - began:.1f} s / {ended - middle:.1f} s | "
                  f"{(middle - began) / (ended - middle):.1f}× | {exact['timed_out'] / exact['produced']:.4f} / "
                  f"{fast['timed_out'] / fast['produced']:.4f} |")


CALLS_AT_SCALE = """
name: calls_at_scale
duration: {duration}
sample_interval: 1
producers: [{{name: api, to: requests, arrivals: {{process: poisson, rate: {rate}}}}}]
buffers: [{{name: requests, capacity: 20000, policy: drop_newest}}]
consumers: [{{name: handlers, from: requests, workers: 1000, service: 0.5ms, calls: {calls}}}]
downstreams: [{{name: db, capacity: 200, latency: {{dist: exponential, mean: 20ms}}, {overload}}}]
"""


def calls_speed(rates: list[float], slice_s: float = 20.0) -> None:
    """Calls that interact at production rates: auto's choice for an hour, and exact against fast mode on
    a slice of `slice_s` seconds run at the hour's quantum, in the same process (the ratio is what counts
    on a shared machine)."""
    from simbp.limits import choose_mode, estimate_seconds

    kinds = {"semaphore 200 at the capacity": ("{downstream: db, semaphore: 200}", "overload: {}"),
             "no semaphore, degrading downstream (mild)": ("{downstream: db}", "overload: {slowdown: 0.002, error_rate: 0.001}"),
             "no semaphore, plain calls (calls.py)": ("{downstream: db}", "overload: {}")}
    print("| calls (an hour) | rate | auto | quantum | exact / fast on a slice | ratio | latency mean exact / fast | p99 |")
    print("|---|---:|---|---:|---:|---:|---:|---:|")
    for name, (calls, overload) in kinds.items():
        for rate in rates:
            hour = simbp.load_scenario(CALLS_AT_SCALE.format(duration=3600, rate=rate, calls=calls, overload=overload))
            mode, _ = choose_mode(hour, "auto")
            quantum = choose_quantum(hour)
            piece = simbp.load_scenario(CALLS_AT_SCALE.format(duration=slice_s, rate=rate, calls=calls, overload=overload))
            began = time.perf_counter()
            exact = build_results(simulate(piece, seed=1)).summary
            middle = time.perf_counter()
            fast = build_results(simulate_fast(piece, seed=1, quantum=quantum)).summary
            ended = time.perf_counter()
            e, f = exact["latency_s"], fast["latency_s"]
            print(f"| {name} | {rate:,.0f}/s | {mode} (estimated {estimate_seconds(hour, 'exact'):.0f} s exact, "
                  f"{estimate_seconds(hour, 'fast'):.0f} s fast) | {quantum * 1000:.0f} ms | {middle - began:.1f} s / "
                  f"{ended - middle:.1f} s | {(middle - began) / (ended - middle):.1f}× | {e['mean'] * 1000:.1f} / "
                  f"{f['mean'] * 1000:.1f} ms | {e['p99'] * 1000:.0f} / {f['p99'] * 1000:.0f} ms |")


LATENCY_STAGE = """
name: {name}
duration: {duration}
warmup: {warmup}
sample_interval: 1
producers: [{{name: source, to: queue, arrivals: {{process: poisson, rate: {rate}}}}}]
buffers: [{{name: queue, {room}}}]
consumers: [{{name: workers, from: queue, workers: {workers}, service: {service}}}]
"""


def latency_cases() -> list[tuple[str, simbp.Scenario, float]]:
    """(name, scenario, mean service) of the `--latency` table: the issue's M/M/c/K loads, low-load unbounded
    stages, and service that is not exponential."""
    cases = []

    def add(name: str, rho: float, workers: int, mean: float, service: str, room: str, duration: float) -> None:
        text = LATENCY_STAGE.format(name="latency_stage", duration=duration + 10, warmup=10, rate=rho * workers / mean, room=room,
                                    workers=workers, service=service)
        cases.append((name, simbp.load_scenario(text), mean))

    for rho in (0.7, 0.9, 1.0, 1.3):
        add(f"M/M/3, 7 places, ρ = {rho}", rho, 3, 0.01, "{dist: exponential, mean: 10ms}",
            "capacity: 7, policy: drop_newest", 120)
    for rho in (0.3, 0.5, 0.8):
        add(f"M/M/4 unbounded, ρ = {rho}", rho, 4, 0.002, "{dist: exponential, mean: 2ms}", "policy: unbounded", 120)
    for rho in (0.5, 0.8):
        add(f"M/G/4 gamma (scv 2), ρ = {rho}", rho, 4, 0.002, "{dist: gamma, mean: 2ms, shape: 0.5}", "policy: unbounded", 120)
        add(f"M/G/4 lognormal (σ 1), ρ = {rho}", rho, 4, 0.002, "{dist: lognormal, mean: 2ms, sigma: 1}",
            "policy: unbounded", 120)
    return cases


def latency(seeds: list[int], quanta_st: list[float], only: list[str] | None) -> None:
    """Latency mean and p99, throughput and loss: exact against fast at each quantum (in service times)."""
    def measure(summary: dict[str, Any], duration: float) -> tuple[float, float, float, float]:
        return (summary["latency_s"]["mean"], summary["latency_s"]["p99"], summary["consumed"] / duration,
                summary["loss_ratio"])

    def relative(fast: list[float], exact: list[float]) -> str:
        (f, f_error), (e, e_error) = mean_and_error(fast), mean_and_error(exact)
        if not e:
            return f"{f - e:+.4f}"
        return f"{(f - e) / e:+.1%} ± {(f_error ** 2 + e_error ** 2) ** 0.5 / e:.1%}"

    print(f"| case | quantum (service times) | latency mean: exact / fast (ms) | error | p99: exact / fast (ms) | error "
          f"| throughput error | loss: exact / fast |  ({len(seeds)} seeds, mean ± standard error)")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, scenario, mean in latency_cases():
        if only and not any(word in name for word in only):
            continue
        span = scenario.duration - scenario.warmup
        exact = [measure(build_results(simulate(scenario, seed=s)).summary, span) for s in seeds]
        for quanta in quanta_st:
            fast = [measure(build_results(simulate_fast(scenario, seed=s, quantum=quanta * mean)).summary, span)
                    for s in seeds]
            column = [[run[i] for run in exact] for i in range(4)], [[run[i] for run in fast] for i in range(4)]
            (e_mean, _), (f_mean, _) = mean_and_error(column[0][0]), mean_and_error(column[1][0])
            (e_p99, _), (f_p99, _) = mean_and_error(column[0][1]), mean_and_error(column[1][1])
            print(f"| {name} | {quanta:g} | {e_mean * 1000:.3f} / {f_mean * 1000:.3f} | {relative(column[1][0], column[0][0])} "
                  f"| {e_p99 * 1000:.2f} / {f_p99 * 1000:.2f} | {relative(column[1][1], column[0][1])} "
                  f"| {relative(column[1][2], column[0][2])} | {mean_and_error(column[0][3])[0]:.4f} / "
                  f"{mean_and_error(column[1][3])[0]:.4f} |", flush=True)


BLOCK_TIMEOUT = """
name: block_timeout_sweep
duration: {duration}
sample_interval: 1
producers: [{{name: p0, to: queue, {blocking}arrivals: {{process: {process}, rate: {rate}}}}}]
buffers: [{{name: queue, capacity: {capacity}, policy: block, block_timeout: {timeout}}}]
consumers: [{{name: workers, from: queue, workers: {workers}, service: {{dist: exponential, mean: {service}}}}}]
"""


def block_timeout_sweep(seeds: list[int], duration: float, quantum: float, timeouts: list[str], process: str,
                        workers: int, capacity: int, service: float, request: bool) -> None:
    """`block_timeout` (and `blocking: request` with `--request`) by load: exact against fast mode on the
    figures exact mode reports for it, mean ± standard error over the seeds (docs/performance.md)."""
    keys = ("timed out per produced", "blocked fraction", "requests waited per produced", "mean request wait (s)",
            "throughput (/s)", "latency mean (s)", "latency p99 (s)")

    def values(summary: dict[str, Any]) -> list[float]:
        entry = summary["components"]["p0"]
        return [summary["timed_out"] / summary["produced"], summary["producer_blocked_fraction"],
                entry.get("requests_blocked", 0) / entry["produced"], entry.get("mean_request_wait_s", 0.0),
                summary["consumed"] / summary["duration_s"], summary["latency_s"]["mean"], summary["latency_s"]["p99"]]

    print(f"| timeout | ρ | figure | exact | fast | error |  ({len(seeds)} seeds of {duration:g} s, quanta of {quantum * 1000:g} ms)")
    print("|---|---|---|---|---|---|")
    for timeout in timeouts:
        for rho in (0.7, 0.9, 1.1, 1.3):
            scenario = simbp.load_scenario(BLOCK_TIMEOUT.format(
                duration=duration, blocking="blocking: request, " if request else "", process=process,
                rate=rho * workers / service, capacity=capacity, timeout=timeout, workers=workers, service=service))
            exact = [values(build_results(simulate(scenario, seed=seed)).summary) for seed in seeds]
            fast = [values(build_results(simulate_fast(scenario, seed=seed, quantum=quantum)).summary) for seed in seeds]
            for index, key in enumerate(keys):
                (e_mean, e_error), (f_mean, f_error) = (mean_and_error([run[index] for run in runs]) for runs in (exact, fast))
                if not e_mean and not f_mean:
                    continue
                error = f"{(f_mean - e_mean) / e_mean:+.1%}" if e_mean else f"{f_mean - e_mean:+.4g}"
                print(f"| {timeout} | {rho} | {key} | {e_mean:.4g} ± {e_error:.2g} | {f_mean:.4g} ± {f_error:.2g} | {error} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", nargs="*", type=int, default=[1, 2, 3])
    parser.add_argument("--quanta", nargs="*", type=int, default=[MAX_QUANTA])
    parser.add_argument("--only", nargs="*")
    parser.add_argument("--near-capacity", action="store_true", help="M/M/3/10 loss by load instead of the library")
    parser.add_argument("--duration", type=float, default=200.0, help="seconds simulated per run (--near-capacity)")
    parser.add_argument("--quanta-s", nargs="*", type=float, default=[0.0025, 0.01, 0.02],
                        help="fast mode's quanta in seconds (--near-capacity)")
    parser.add_argument("--systems", action="store_true", help="the systems keys fast mode models, against exact mode")
    parser.add_argument("--systems-scale", action="store_true", help="an hour of each systems scenario in fast mode")
    parser.add_argument("--calls-speed", action="store_true",
                        help="calls that interact at production rates: exact against fast mode on a slice")
    parser.add_argument("--latency", action="store_true", help="latency by quantum against exact mode (issue 12)")
    parser.add_argument("--quanta-st", nargs="*", type=float, default=[2, 9, 25, 50, 100, 432],
                        help="fast mode's quanta in mean service times (--latency)")
    parser.add_argument("--block-timeout", nargs="*", metavar="TIMEOUT",
                        help="block_timeout by load (M/M/3 with 7 places, 10 ms service unless changed), e.g. 2ms 5ms 10ms")
    parser.add_argument("--request", action="store_true", help="with --block-timeout: blocking: request")
    parser.add_argument("--process", default="poisson", help="arrival process (--block-timeout)")
    parser.add_argument("--workers", type=int, default=3, help="workers (--block-timeout)")
    parser.add_argument("--capacity", type=int, default=7, help="waiting places (--block-timeout)")
    parser.add_argument("--service", type=float, default=0.01, help="mean service time, s (--block-timeout)")
    parser.add_argument("--block-scale", action="store_true",
                        help="block_timeout and blocking: request at production rates: exact against fast on a slice")
    args = parser.parse_args(argv)
    if args.latency:
        latency(args.seeds, args.quanta_st, args.only)
        return 0
    if args.block_scale:
        block_scale()
        return 0
    if args.block_timeout:
        block_timeout_sweep(args.seeds, args.duration, args.quanta_s[-1], args.block_timeout, args.process, args.workers,
                            args.capacity, args.service, args.request)
        return 0
    if args.calls_speed:
        calls_speed([3000.0, 9000.0])
        return 0
    if args.systems_scale:
        systems_scale(args.only)
        return 0
    if args.systems:
        systems(args.only)
        return 0
    if args.near_capacity:
        near_capacity(args.seeds, args.duration, args.quanta_s)
        return 0
    for path in sorted((ROOT / "scenarios").glob("*.yaml")):
        if args.only and path.stem not in args.only:
            continue
        scenario = simbp.load_scenario(path)
        if unsupported(scenario):
            continue
        runs: dict[str, list[dict[str, Any]]] = {"exact": []}
        seconds: dict[str, float] = {"exact": 0.0}
        for seed in args.seeds:
            began = time.perf_counter()
            runs["exact"].append(figures(build_results(simulate(scenario, seed=seed)).summary))
            seconds["exact"] += time.perf_counter() - began
            for quanta in args.quanta:
                key = f"fast {quanta // 1000}k"
                began = time.perf_counter()
                model = simulate_fast(scenario, seed=seed, quantum=choose_quantum(scenario, quanta))
                runs.setdefault(key, []).append(figures(build_results(model).summary))
                seconds[key] = seconds.get(key, 0.0) + time.perf_counter() - began
        timing = ", ".join(f"{key} {value / len(args.seeds):.1f} s" for key, value in seconds.items())
        print(f"\n## {path.stem} (mean ± sd over seeds {args.seeds}; {timing} a run)")
        print("| figure | " + " | ".join(runs) + " |")
        print("|---|" + "---|" * len(runs))
        for figure in FIGURES:
            print(f"| {figure} | " + " | ".join(spread([r[figure] for r in rows]) for rows in runs.values()) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
