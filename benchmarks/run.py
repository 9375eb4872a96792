"""How fast and how big simbp is, against a minimal hand-written SimPy model of the same queues.

    python benchmarks/run.py                 # every scenario, 3 alternating repeats, medians
    python benchmarks/run.py --only mm1k_drop --repeats 5
    python benchmarks/run.py --quick         # one repeat, no memory subprocesses
    python benchmarks/run.py --json out.json # also write the figures as JSON

For each scenario and mode it prints messages simulated per second (median over repeats, timing
only `simbp.run`), microseconds and SimPy events per message, the ratio against the baseline
(`benchmarks/baseline.py`: one producer process, worker processes, a `simpy.Store`, run in this
same process, alternated with simbp's runs so both see the same machine load), and the
simulator's own peak memory, measured as peak RSS in a fresh subprocess per scenario and mode
(`growth` is the peak minus the RSS right after `import simbp`). The figures are in
docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import simpy  # noqa: E402
from baseline import Queue, Stage, run_baseline  # noqa: E402

import simbp  # noqa: E402


@dataclass
class Case:
    """A benchmark scenario: simbp YAML, the same queues for the baseline, and which modes to run."""

    name: str
    what: str
    yaml: str
    queues: list[Queue]
    duration: float
    modes: tuple[str, ...] = ("exact", "fast")
    baseline: bool = True
    note: str = ""
    memory_only: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def _kafka_yaml(partitions: int, rate: float, service: float, duration: float) -> str:
    lines = [f"name: kafka_{partitions}_partitions", f"duration: {duration}", "producers:"]
    for p in range(partitions):
        lines.append(f"  - {{name: producer-p{p}, to: partition-{p}, arrivals: {{process: poisson, rate: {rate / partitions}}}}}")
    lines.append("buffers:")
    for p in range(partitions):
        lines.append(f"  - {{name: partition-{p}, policy: unbounded}}")
    lines.append("consumers:")
    for p in range(partitions):
        lines.append(f"  - {{name: consumer-p{p}, from: partition-{p}, workers: 1, service: {{dist: exponential, mean: {service}}}}}")
    return "\n".join(lines) + "\n"


def cases() -> list[Case]:
    """The scenarios the issue asks for, plus production-sized ones for fast mode and memory."""
    return [
        Case("mm1k_drop", "M/M/1/K, K=10 (capacity 9 + 1 in service), drop_newest, rho=0.91",
             """
name: mm1k_drop
duration: 300
producers: [{name: source, to: queue, arrivals: {process: poisson, rate: 1000}}]
buffers: [{name: queue, capacity: 9, policy: drop_newest}]
consumers: [{name: worker, from: queue, workers: 1, service: {dist: exponential, mean: 0.00090909}}]
""", [Queue(1000, [Stage(1, 0.00090909, 9, "drop")])], 300),
        Case("overloaded_unbounded", "M/M/1, arrivals 2x service rate, unbounded: 150k items queued at the end",
             """
name: overloaded_unbounded
duration: 150
producers: [{name: source, to: queue, arrivals: {process: poisson, rate: 2000}}]
buffers: [{name: queue, policy: unbounded}]
consumers: [{name: worker, from: queue, workers: 1, service: {dist: exponential, mean: 0.001}}]
""", [Queue(2000, [Stage(1, 0.001, None, "drop")])], 150),
        Case("pipeline_3_stages", "three M/M/1 stages in series, block buffers of 1000, bottleneck rho=0.81",
             """
name: pipeline_3_stages
duration: 300
producers: [{name: source, to: raw, arrivals: {process: poisson, rate: 900}}]
buffers:
  - {name: raw, capacity: 1000, policy: block}
  - {name: parsed, capacity: 1000, policy: block}
  - {name: enriched, capacity: 1000, policy: block}
consumers:
  - {name: parse, from: raw, workers: 1, service: {dist: exponential, mean: 0.0008}, to: parsed}
  - {name: enrich, from: parsed, workers: 1, service: {dist: exponential, mean: 0.0009}, to: enriched}
  - {name: write, from: enriched, workers: 1, service: {dist: exponential, mean: 0.0007}}
""", [Queue(900, [Stage(1, 0.0008, 1000, "block"), Stage(1, 0.0009, 1000, "block"), Stage(1, 0.0007, 1000, "block")])], 300),
        Case("kafka_12_partitions", "a topic of 12 partitions, one consumer per partition (consumer group), rho=0.8",
             _kafka_yaml(12, 12_000, 0.0008, 25),
             [Queue(1000, [Stage(1, 0.0008, None, "drop")]) for _ in range(12)], 25,
             note="no Kafka component yet: modelled as 12 unbounded buffers (partitions), each fed by a Poisson "
                  "producer at 1/12 of the topic's rate (random partitioning) and read by one single-worker "
                  "consumer (the group's member for that partition)"),
        Case("kafka_topic_12_partitions", "the same load on simbp's Kafka component: a topic of 12 partitions, a group of 12 consumers",
             """
name: kafka_topic_12_partitions
duration: 25
producers: [{name: source, to: events, arrivals: {process: poisson, rate: 12000}, key: {strategy: round_robin}}]
topics: [{name: events, partitions: 12}]
consumer_groups: [{name: readers, topic: events, consumers: 12, processing: {dist: exponential, mean: 0.0008}}]
""", [Queue(1000, [Stage(1, 0.0008, None, "drop")]) for _ in range(12)], 25, modes=("exact",),
             note="Kafka component (topics, consumer_groups): exact mode only, fast mode does not model it; "
                  "the baseline is the same 12 independent queues as above"),
        Case("million_messages", "M/M/4/K at rho=0.9, capacity 1000, drop_newest: 1,000,000 messages",
             """
name: million_messages
duration: 500
producers: [{name: source, to: queue, arrivals: {process: poisson, rate: 2000}}]
buffers: [{name: queue, capacity: 1000, policy: drop_newest}]
consumers: [{name: workers, from: queue, workers: 4, service: {dist: exponential, mean: 0.0018}}]
""", [Queue(2000, [Stage(4, 0.0018, 1000, "drop")])], 500),
        Case("one_hour_10k_per_s", "one hour at 10,000 messages/s (36 M), 45 workers at rho=0.89, capacity 50,000",
             """
name: one_hour_10k_per_s
duration: 1h
producers: [{name: source, to: queue, arrivals: {process: poisson, rate: 10000}}]
buffers: [{name: queue, capacity: 50000, policy: drop_newest}]
consumers: [{name: workers, from: queue, workers: 45, service: {dist: exponential, mean: 0.004}}]
""", [], 3600, modes=("fast",), baseline=False,
             note="production-sized: exact mode would take about 36e6 / (exact msgs/s) seconds; auto picks fast"),
        Case("unbounded_10m_items", "an unbounded queue growing to 10 million items (100k/s in, 1k/s out, 101 s)",
             """
name: unbounded_10m_items
duration: 101
producers: [{name: source, to: queue, arrivals: {process: constant, rate: 100000}}]
buffers: [{name: queue, policy: unbounded}]
consumers: [{name: worker, from: queue, workers: 1, service: 0.001}]
""", [], 101, modes=("exact", "fast"), baseline=False, memory_only=True,
             note="memory check: queued items are stored as array('d') columns (exact) or FIFO cohorts (fast)"),
    ]


# --------------------------------------------------------------------------- measuring
def _run_simbp(scenario: simbp.Scenario, mode: str) -> simbp.Results:
    try:
        return simbp.run(scenario, allow_large=True, mode=mode)  # type: ignore[call-arg]
    except TypeError:  # a simbp without modes: exact only
        if mode != "exact":
            raise
        return simbp.run(scenario, allow_large=True)


def _count_events(function: Any) -> tuple[Any, int]:
    """Run `function()` counting every event SimPy schedules (timeouts, process steps, store puts)."""
    original = simpy.Environment.schedule
    count = [0]

    def counting(self: simpy.Environment, event: Any, priority: int = 1, delay: float = 0) -> None:
        count[0] += 1
        original(self, event, priority, delay)

    simpy.Environment.schedule = counting  # type: ignore[method-assign]
    try:
        result = function()
    finally:
        simpy.Environment.schedule = original  # type: ignore[method-assign]
    return result, count[0]


def _rss_kib() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def child(name: str, mode: str) -> None:
    """Run one scenario once in this fresh process and print its memory figures as JSON."""
    case = next(c for c in cases() if c.name == name)
    scenario = simbp.load_scenario(case.yaml)
    # warm up on one simulated second, so that modules imported on first use are not counted
    _run_simbp(scenario.with_changes({"duration": min(1.0, scenario.duration), "sample_interval": None}), mode)
    start = _rss_kib()
    began = time.perf_counter()
    results = _run_simbp(scenario, mode)
    wall = time.perf_counter() - began
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"rss_start_mib": start / 1024, "rss_peak_mib": peak / 1024, "growth_mib": (peak - start) / 1024,
                      "wall_s": wall, "produced": results.summary["produced"],
                      "peak_queue_depth": results.summary["peak_queue_depth"]}))


def measure(case: Case, repeats: int, memory: bool) -> list[dict[str, Any]]:
    scenario = simbp.load_scenario(case.yaml)
    rows: list[dict[str, Any]] = []
    timings: dict[str, list[float]] = {mode: [] for mode in case.modes}
    produced: dict[str, int] = {}
    base_times: list[float] = []
    base_arrivals = 0
    if not case.memory_only:
        for repeat in range(repeats):
            order = list(case.modes) + (["baseline"] if case.baseline else [])
            if repeat % 2:
                order.reverse()
            for what in order:
                began = time.perf_counter()
                if what == "baseline":
                    stats = run_baseline(case.queues, case.duration, seed=repeat + 1)
                    base_times.append(time.perf_counter() - began)
                    base_arrivals = stats["arrivals"]
                else:
                    results = _run_simbp(scenario, what)
                    timings[what].append(time.perf_counter() - began)
                    produced[what] = results.summary["produced"]
    base_rate = base_arrivals / statistics.median(base_times) if base_times else None
    base_events = None
    if case.baseline and not case.memory_only:
        stats, events = _count_events(lambda: run_baseline(case.queues, case.duration, seed=1))
        base_events = events / max(stats["arrivals"], 1)
    for mode in case.modes:
        row: dict[str, Any] = {"scenario": case.name, "mode": mode}
        if not case.memory_only:
            wall = statistics.median(timings[mode])
            rate = produced[mode] / wall
            results, events = _count_events(lambda mode=mode: _run_simbp(scenario, mode))
            row.update({"messages": produced[mode], "wall_s": wall, "messages_per_s": rate,
                        "us_per_message": 1e6 / rate, "events_per_message": events / max(results.summary["produced"], 1),
                        "baseline_messages_per_s": base_rate, "baseline_events_per_message": base_events,
                        "ratio_vs_baseline": rate / base_rate if base_rate else None,
                        "runs": len(timings[mode])})
        if memory:
            out = subprocess.run([sys.executable, __file__, "--child", case.name, "--mode", mode],
                                 capture_output=True, text=True, check=False)
            if out.returncode == 0:
                row.update(json.loads(out.stdout.strip().splitlines()[-1]))
                if case.memory_only:
                    row["messages"] = row["produced"]
                    row["wall_s"] = row["wall_s"]
                    row["messages_per_s"] = row["produced"] / row["wall_s"]
                    row["us_per_message"] = 1e6 / row["messages_per_s"]
            else:
                row["memory_error"] = out.stderr.strip().splitlines()[-1:] or ["failed"]
        rows.append(row)
    return rows


def _fmt(value: Any, spec: str) -> str:
    if value is None:
        return "-"
    return format(value, spec)


def print_table(rows: list[dict[str, Any]]) -> None:
    header = (f"{'scenario':<25} {'mode':<5} {'messages':>11} {'wall s':>7} {'msgs/s':>10} {'us/msg':>7} "
              f"{'ev/msg':>6} {'SimPy msgs/s':>12} {'SimPy ev/msg':>12} {'ratio':>6} {'peak RSS':>9} {'growth':>8}")
    print(header)
    print("-" * len(header))
    for row in rows:
        print(f"{row['scenario']:<25} {row['mode']:<5} {_fmt(row.get('messages'), ',d'):>11} {_fmt(row.get('wall_s'), '.2f'):>7} "
              f"{_fmt(row.get('messages_per_s'), ',.0f'):>10} {_fmt(row.get('us_per_message'), '.2f'):>7} "
              f"{_fmt(row.get('events_per_message'), '.2f'):>6} {_fmt(row.get('baseline_messages_per_s'), ',.0f'):>12} "
              f"{_fmt(row.get('baseline_events_per_message'), '.2f'):>12} {_fmt(row.get('ratio_vs_baseline'), '.2f'):>6} "
              f"{_fmt(row.get('rss_peak_mib'), '.0f'):>6} MiB {_fmt(row.get('growth_mib'), '.0f'):>5} MiB")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", help="scenario names to run")
    parser.add_argument("--repeats", type=int, default=3, help="alternating repeats per scenario (medians)")
    parser.add_argument("--quick", action="store_true", help="one repeat, no memory subprocesses")
    parser.add_argument("--no-memory", action="store_true", help="skip the memory subprocesses")
    parser.add_argument("--memory-only", action="store_true", help="only the memory subprocesses (no timing)")
    parser.add_argument("--modes", nargs="*", help="restrict to these modes (exact, fast)")
    parser.add_argument("--json", help="also write the rows to this JSON file")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--mode", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.mode)
        return 0
    repeats = 1 if args.quick else args.repeats
    memory = not (args.quick or args.no_memory)
    print(f"simbp {simbp.__version__}, SimPy {simpy.__version__}, Python {sys.version.split()[0]}, "
          f"{os.cpu_count()} cores; {repeats} alternating repeat(s), medians")
    rows: list[dict[str, Any]] = []
    for case in cases():
        if args.only and case.name not in args.only:
            continue
        if args.modes:
            case.modes = tuple(m for m in case.modes if m in args.modes)
            if not case.modes:
                continue
        print(f"\n# {case.name}: {case.what}" + (f"\n  note: {case.note}" if case.note else ""), flush=True)
        if args.memory_only:
            case.memory_only = True
        case_rows = measure(case, repeats, memory)
        print_table(case_rows)
        rows += case_rows
    print("\n# all")
    print_table(rows)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
