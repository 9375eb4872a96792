"""Hand-traced runs with constant times: every accept, drop, block and loss is known in advance.

Conventions the traces rely on (from the engine): constant arrivals at rate r come at 1/r, 2/r, …
(none at t = 0); arrivals at or after `duration` (or a producer's `stop`) are not produced;
workers start idle and an arriving message goes straight to an idle worker without waiting in the
buffer; `capacity` counts waiting messages only. Times are chosen as binary fractions (x.25,
x.375, …) so that no two events fall on the same instant and every sum is exact in floating point.
Message k is called m<k>; "→ 3.25" means "served until 3.25".
"""

from __future__ import annotations

from typing import Any

import pytest

import simbp
from simbp.results import Results


def run(text: str) -> Results:
    return simbp.run(simbp.load_scenario(text))


def one_stage(*, buffer: str, service: str = "2.25s", duration: str = "9.5s", extra: str = "") -> str:
    """Arrivals every second (1, 2, 3, …) into buffer `queue`, one worker (sink)."""
    return f"""
name: traced
duration: {duration}
{extra}
producers:
  - name: source
    to: queue
    arrivals: {{process: constant, rate: 1/s}}
    size: 100B
buffers:
  - name: queue
    {buffer}
consumers:
  - name: worker
    from: queue
    workers: 1
    service: {service}
"""


def assert_counts(summary: dict[str, Any], **expected: int) -> None:
    got = {key: summary[key] for key in expected}
    assert got == expected
    assert summary["produced"] == (summary["consumed"] + summary["dropped"] + summary["timed_out"]
                                   + summary["lost_in_crash"] + summary["in_flight_at_end"])


def assert_latencies(summary: dict[str, Any], latencies: list[float]) -> None:
    latency = summary["latency_s"]
    assert latency["count"] == len(latencies)
    assert latency["mean"] == pytest.approx(sum(latencies) / len(latencies), rel=1e-12)
    assert latency["max"] == pytest.approx(max(latencies), rel=1e-12)


def test_drop_newest_capacity_one() -> None:
    """Arrivals every 1s, service 2.25s, capacity 1, drop_newest, run to 9.5s.

    t1 m1 → worker → 3.25 | t2 m2 waits | t3 m3 DROPPED (buffer full)
    3.25 m1 done (latency 2.25), worker takes m2 → 5.5 | t4 m4 waits | t5 m5 DROPPED
    5.5 m2 done (3.5), takes m4 → 7.75 | t6 m6 waits | t7 m7 DROPPED
    7.75 m4 done (3.75), takes m6 → 10 | t8 m8 waits | t9 m9 DROPPED | end 9.5
    produced 9 = consumed 3 (m1 m2 m4) + dropped 4 (m3 m5 m7 m9) + in flight 2 (m6 at the worker, m8 waiting)
    """
    summary = run(one_stage(buffer="policy: drop_newest\n    capacity: 1")).summary
    assert_counts(summary, produced=9, consumed=3, dropped=4, timed_out=0, lost_in_crash=0, in_flight_at_end=2)
    assert_latencies(summary, [2.25, 3.5, 3.75])
    queue = summary["components"]["queue"]
    assert (queue["accepted"], queue["dropped"], queue["peak_queue_depth"], queue["in_flight_at_end"]) == (5, 4, 1, 1)
    assert queue["loss_ratio"] == pytest.approx(4 / 9)
    assert summary["loss_ratio"] == pytest.approx(4 / 9)
    assert summary["producer_blocked_fraction"] == 0.0
    worker = summary["components"]["worker"]
    assert (worker["consumed"], worker["in_flight_at_end"]) == (3, 1)
    # the worker is never idle after t = 1: busy 8.5 of 9.5 seconds
    assert worker["utilisation"] == pytest.approx(8.5 / 9.5)
    assert summary["verdict"] == "dropping"


def test_drop_oldest_capacity_one() -> None:
    """Same load with drop_oldest: the waiting message is dropped to make room for the new one.

    t1 m1 → worker → 3.25 | t2 m2 waits | t3 m3 arrives, m2 DROPPED, m3 waits
    3.25 m1 done (2.25), takes m3 → 5.5 | t4 m4 waits | t5 m4 DROPPED, m5 waits
    5.5 m3 done (2.5), takes m5 → 7.75 | t6 m6 waits | t7 m6 DROPPED, m7 waits
    7.75 m5 done (2.75), takes m7 → 10 | t8 m8 waits | t9 m8 DROPPED, m9 waits | end 9.5
    produced 9 = consumed 3 (m1 m3 m5) + dropped 4 (m2 m4 m6 m8) + in flight 2 (m7, m9);
    the same number is lost as with drop_newest but the survivors are fresher (2.5 s vs 3.2 s mean).
    """
    summary = run(one_stage(buffer="policy: drop_oldest\n    capacity: 1")).summary
    assert_counts(summary, produced=9, consumed=3, dropped=4, timed_out=0, lost_in_crash=0, in_flight_at_end=2)
    assert_latencies(summary, [2.25, 2.5, 2.75])
    queue = summary["components"]["queue"]
    # every arrival gets in (m1 by hand-off, the rest into the buffer); four are pushed out later
    assert (queue["accepted"], queue["dropped"], queue["peak_queue_depth"]) == (9, 4, 1)


def test_block_without_timeout() -> None:
    """Capacity 1, policy block: the producer waits for room and emits nothing while it waits.

    t1 m1 → worker → 3.25 | t2 m2 waits | t3 m3 finds the buffer full: producer BLOCKED
    3.25 m1 done (2.25), takes m2 → 5.5; m3 gets in; producer free (blocked 0.25 s)
    t4 m4 BLOCKED | 5.5 m2 done (3.5), takes m3 → 7.75; m4 in (blocked 1.5 s); m5 fell due
    during the wait: never produced | t6 m6 BLOCKED | 7.75 m3 done (4.75), takes m4 → 10; m6 in
    (blocked 1.75 s); m7 never produced | t8 m8 BLOCKED until the end at 9.5 (1.5 s)
    produced 6 (m1 m2 m3 m4 m6 m8) = consumed 3 + in flight 3 (m4 worker, m6 buffer, m8 producer);
    nothing dropped; blocked 0.25 + 1.5 + 1.75 + 1.5 = 5 s of 9.5.
    """
    summary = run(one_stage(buffer="policy: block\n    capacity: 1")).summary
    assert_counts(summary, produced=6, consumed=3, dropped=0, timed_out=0, lost_in_crash=0, in_flight_at_end=3)
    assert_latencies(summary, [2.25, 3.5, 4.75])
    assert summary["producer_blocked_fraction"] == pytest.approx(5.0 / 9.5)
    source = summary["components"]["source"]
    assert source["blocked_s"] == pytest.approx(5.0)
    assert source["in_flight_at_end"] == 1
    assert summary["components"]["queue"]["peak_queue_depth"] == 1
    assert summary["verdict"] == "blocking"


def test_block_with_timeout() -> None:
    """Capacity 1, block with block_timeout 0.625s: a message blocked longer is timed out upstream.

    t1 m1 → worker → 3.25 | t2 m2 waits | t3 m3 BLOCKED; 3.25 m1 done (2.25), takes m2 → 5.5,
    m3 in after 0.25 s | t4 m4 BLOCKED, TIMED OUT at 4.625 | t5 m5 BLOCKED; 5.5 m2 done (3.5),
    takes m3 → 7.75, m5 in after 0.5 s | t6 m6 TIMED OUT at 6.625 | t7 m7 TIMED OUT at 7.625
    7.75 m3 done (4.75), takes m5 → 10 | t8 m8 waits | t9 m9 BLOCKED until the end (0.5 s)
    Every arrival is produced (each wait ends before the next is due): produced 9 = consumed 3
    + timed out 3 (m4 m6 m7) + in flight 3 (m5 worker, m8 buffer, m9 producer); nothing dropped.
    Blocked 0.25 + 0.625 + 0.5 + 0.625 + 0.625 + 0.5 = 3.125 s.
    """
    summary = run(one_stage(buffer="policy: block\n    capacity: 1\n    block_timeout: 0.625s")).summary
    assert_counts(summary, produced=9, consumed=3, dropped=0, timed_out=3, lost_in_crash=0, in_flight_at_end=3)
    assert_latencies(summary, [2.25, 3.5, 4.75])
    source = summary["components"]["source"]
    assert (source["timed_out"], source["in_flight_at_end"]) == (3, 1)
    assert source["blocked_s"] == pytest.approx(3.125)


def test_capacity_zero_drop_newest_is_a_loss_system() -> None:
    """Capacity 0 with drop_newest: no waiting room, an arrival is served at once or dropped.

    t1 m1 → worker → 3.25 | t2 m2, t3 m3 DROPPED | t4 m4 → 6.25 | t5 m5, t6 m6 DROPPED
    t7 m7 → 9.25 | t8 m8, t9 m9 DROPPED (the worker frees up at 9.25) | end 9.5
    produced 9 = consumed 3 (all latency 2.25: nobody waits) + dropped 6, nothing in flight
    """
    summary = run(one_stage(buffer="policy: drop_newest\n    capacity: 0")).summary
    assert_counts(summary, produced=9, consumed=3, dropped=6, timed_out=0, lost_in_crash=0, in_flight_at_end=0)
    assert_latencies(summary, [2.25, 2.25, 2.25])
    assert summary["peak_queue_depth"] == 0


def test_capacity_zero_block_hands_over_directly() -> None:
    """Capacity 0 with block: the producer holds its message until the worker takes it from its hand.

    t1 m1 → worker → 3.25 | t2 m2 BLOCKED | 3.25 m1 done (2.25), takes m2 from the producer → 5.5
    (blocked 1.25 s); m3 never produced | t4 m4 BLOCKED | 5.5 m2 done (3.5), takes m4 → 7.75
    (1.5 s); m5 never produced | t6 m6 BLOCKED | 7.75 m4 done (3.75), takes m6 → 10 (1.75 s)
    | t8 m8 BLOCKED until 9.5 (1.5 s)
    produced 5 (m1 m2 m4 m6 m8) = consumed 3 + in flight 2 (m6 worker, m8 producer); blocked 6 s.
    """
    summary = run(one_stage(buffer="policy: block\n    capacity: 0")).summary
    assert_counts(summary, produced=5, consumed=3, dropped=0, timed_out=0, lost_in_crash=0, in_flight_at_end=2)
    assert_latencies(summary, [2.25, 3.5, 3.75])
    assert summary["peak_queue_depth"] == 0
    assert summary["components"]["source"]["blocked_s"] == pytest.approx(6.0)


PIPELINE = """
name: pipeline
duration: 9.5s
producers:
  - name: source
    to: intake
    arrivals: {process: constant, rate: 1/s}
buffers:
  - name: intake
    capacity: 1
    policy: block
  - name: handoff
    capacity: 1
    policy: block
consumers:
  - name: parse
    from: intake
    to: handoff
    workers: 1
    service: 0.5s
  - name: store
    from: handoff
    workers: 1
    service: 2.375s
"""


def test_two_stage_pipeline_pushes_back() -> None:
    """source → intake (block, 1) → parse (0.5 s) → handoff (block, 1) → store (2.375 s, sink).

    t1 m1 parse → 1.5, handed to store → 3.875 | t2 m2 parse → 2.5, waits in handoff
    t3 m3 parse → 3.5, handoff full: parse BLOCKED holding m3
    3.875 store m1 done (2.875), takes m2 → 6.25; m3 into handoff; parse free (blocked 0.375 s)
    t4 m4 parse → 4.5, BLOCKED | t5 m5 waits in intake | t6 m6: intake full, producer BLOCKED
    6.25 store m2 done (4.25), takes m3 → 8.625; m4 into handoff (parse blocked 1.75 s); parse
    takes m5 → 6.75; m6 into intake (producer blocked 0.25 s) | 6.75 parse BLOCKED with m5
    t7 m7: intake full, producer BLOCKED | 8.625 store m3 done (5.625), takes m4 → 11; m5 into
    handoff (parse blocked 1.875 s); parse takes m6 → 9.125; m7 into intake (producer blocked
    1.625 s); m8 fell due meanwhile: never produced | t9 m9 producer BLOCKED (0.5 s to the end)
    9.125 parse BLOCKED with m6 (0.375 s to the end) | end 9.5
    produced 8 = consumed 3 + in flight 5: m4 at store, m5 in handoff, m6 held by parse,
    m7 in intake, m9 held by the producer. The slow last stage has pushed back to the producer.
    """
    summary = run(PIPELINE).summary
    assert_counts(summary, produced=8, consumed=3, dropped=0, timed_out=0, lost_in_crash=0, in_flight_at_end=5)
    assert_latencies(summary, [2.875, 4.25, 5.625])
    components = summary["components"]
    assert components["source"]["blocked_s"] == pytest.approx(0.25 + 1.625 + 0.5)
    assert components["parse"]["blocked_s"] == pytest.approx(0.375 + 1.75 + 1.875 + 0.375)
    assert (components["parse"]["processed"], components["parse"]["forwarded"], components["parse"]["in_flight_at_end"]) == (6, 5, 1)
    assert (components["store"]["consumed"], components["store"]["in_flight_at_end"]) == (3, 1)
    assert (components["intake"]["in_flight_at_end"], components["handoff"]["in_flight_at_end"]) == (1, 1)
    assert components["intake"]["accepted"] == 7  # m1-m4 handed to parse, m5 queued, m6 and m7 admitted
    assert components["handoff"]["accepted"] == 5  # m1 handed to store, m2 queued, m3-m5 admitted
    assert "latency_s" not in components["parse"]  # only the sink measures end-to-end latency


BATCH = """
name: batch
duration: 5s
producers:
  - name: source
    to: queue
    arrivals: {process: constant, rate: 4/s}
    stop: 1.8s
buffers:
  - name: queue
    policy: unbounded
consumers:
  - name: bulk
    from: queue
    workers: 1
    batch: {size: 3, timeout: 1s, fixed: 0.5s, per_item: 0.125s}
"""


def test_batch_by_size_then_by_timeout() -> None:
    """Arrivals every 0.25 s until 1.8 s (m1 … m7); batches of up to 3, wait at most 1 s; cost
    0.5 s + 0.125 s per item (a full batch takes 0.875 s).

    0.25 m1 starts a batch (deadline 1.25) | 0.5 m2 | 0.75 m3 fills it → served until 1.625
    (the 1.25 deadline is void) | 1.0 m4, 1.25 m5, 1.5 m6 wait | 1.625 batch done: latencies
    1.375, 1.125, 0.875; takes m4 m5 m6 (full) → 2.5 | 1.75 m7 waits | 2.5 done: 1.5, 1.25, 1.0;
    takes m7 alone (deadline 3.5) | 3.5 deadline: batch of 1 served for 0.625 s → 4.125: latency 2.375
    consumed 7 in 3 batches (3, 3, 1).
    """
    summary = run(BATCH).summary
    assert_counts(summary, produced=7, consumed=7, dropped=0, timed_out=0, lost_in_crash=0, in_flight_at_end=0)
    assert_latencies(summary, [1.375, 1.125, 0.875, 1.5, 1.25, 1.0, 2.375])
    bulk = summary["components"]["bulk"]
    assert bulk["batches"] == 3
    assert bulk["mean_batch_size"] == pytest.approx(7 / 3)
    assert summary["components"]["queue"]["peak_queue_depth"] == 3


CRASH = """
name: crash
duration: 9.5s
memory:
  limit: 350B
  restart_after: 1.5s
producers:
  - name: source
    to: queue
    arrivals: {process: constant, rate: 1/s}
    size: 100B
buffers:
  - name: queue
    policy: unbounded
consumers:
  - name: worker
    from: queue
    workers: 1
    service: 2.25s
"""


def test_unbounded_buffer_crashes_at_the_memory_limit_and_restarts() -> None:
    """Messages of 100 B, memory limit 350 B, service slower than arrivals, restart after 1.5 s.

    t1 m1 → worker → 3.25 (100 B held) | t2 m2 (200) | t3 m3 (300) | 3.25 m1 done (2.25), 200 B,
    takes m2 → 5.5 | t4 m4 (300) | t5 m5 (400 > 350): CRASH at 5 — lost m3 m4 m5 in the buffer and
    m2 at the worker | t6 m6 arrives while the service is down: lost | 6.5 restart, empty
    t7 m7 → worker → 9.25 | t8 m8, t9 m9 wait | 9.25 m7 done (2.25), takes m8 → 11.5 | end 9.5
    produced 9 = consumed 2 (m1 m7) + lost_in_crash 5 (m2-m6) + in flight 2 (m8 m9); peak memory 400 B.
    """
    results = run(CRASH)
    summary = results.summary
    assert_counts(summary, produced=9, consumed=2, dropped=0, timed_out=0, lost_in_crash=5, in_flight_at_end=2)
    assert_latencies(summary, [2.25, 2.25])
    assert (summary["crashes"], summary["first_crash_s"], summary["peak_memory_bytes"]) == (1, 5.0, 400.0)
    assert summary["downtime_s"] == pytest.approx(1.5)
    components = summary["components"]
    assert components["queue"]["lost_in_crash"] == 3
    assert components["worker"]["lost_in_crash"] == 1
    assert components["source"]["lost_in_crash"] == 1
    assert summary["verdict"] == "crashed"
    assert list(results.events["event"]) == ["crash", "restart"]
    assert list(results.events["time_s"]) == [5.0, 6.5]


def test_crash_without_restart_stays_down() -> None:
    """Without restart_after the service stays down after the crash at 5: m6 … m9 are lost too.
    produced 9 = consumed 1 + lost_in_crash 8 (m2 … m9), nothing in flight."""
    summary = run(CRASH.replace("  restart_after: 1.5s\n", "")).summary
    assert_counts(summary, produced=9, consumed=1, dropped=0, timed_out=0, lost_in_crash=8, in_flight_at_end=0)
    assert summary["downtime_s"] == pytest.approx(4.5)


def test_warmup_cuts_latency_and_time_averages_but_not_the_counts() -> None:
    """The drop_newest trace above with `warmup: 4s`.

    Counts stay end to end (produced 9 = consumed 3 + dropped 4 + in flight 2). Latency counts
    only messages consumed after 4 s: m2 at 5.5 (3.5) and m4 at 7.75 (3.75). The buffer's depth
    is 1 while m2 waits (2–3.25), m4 (4–5.5), m6 (6–7.75) and m8 (8–9.5): over the 5.5 s after
    the warm-up that is 1.5 + 1.75 + 1.5 = 4.75 item-seconds, a mean depth of 4.75/5.5. The
    worker is busy the whole 5.5 s.
    """
    summary = run(one_stage(buffer="policy: drop_newest\n    capacity: 1", extra="warmup: 4s")).summary
    assert_counts(summary, produced=9, consumed=3, dropped=4, timed_out=0, lost_in_crash=0, in_flight_at_end=2)
    assert_latencies(summary, [3.5, 3.75])
    assert summary["components"]["queue"]["mean_queue_depth"] == pytest.approx(4.75 / 5.5, rel=1e-12)
    assert summary["components"]["worker"]["utilisation"] == pytest.approx(1.0, rel=1e-12)


def test_mean_queue_depth_without_warmup() -> None:
    """drop_newest trace, whole run: depth 1 for 1.25 + 1.5 + 1.75 + 1.5 = 6 of 9.5 seconds."""
    summary = run(one_stage(buffer="policy: drop_newest\n    capacity: 1")).summary
    assert summary["components"]["queue"]["mean_queue_depth"] == pytest.approx(6.0 / 9.5, rel=1e-12)


def test_time_series_of_the_drop_newest_trace() -> None:
    """The drop_newest trace sampled every 1.3 s (no sample falls on an event): each row counts
    what happened since the previous one; depth and memory are read at the sample instant.

    (0, 1.3] m1 arrives | (1.3, 2.6] m2 | (2.6, 3.9] m3 dropped, m1 consumed 3.25
    (3.9, 5.2] m4, m5 (dropped) | (5.2, 6.5] m6, m2 consumed 5.5 | (6.5, 7.8] m7 dropped, m4 consumed 7.75
    (7.8, 9.1] m8, m9 (dropped) | (9.1, 9.5] nothing. Memory is 100 B per message in the buffer or at the worker.
    """
    results = run(one_stage(buffer="policy: drop_newest\n    capacity: 1", extra="sample_interval: 1.3s"))
    frame = results.timeseries
    assert frame["time_s"].tolist() == pytest.approx([0, 1.3, 2.6, 3.9, 5.2, 6.5, 7.8, 9.1, 9.5])
    assert frame["produced"].tolist() == [0, 1, 1, 1, 2, 1, 1, 2, 0]
    assert frame["dropped"].tolist() == [0, 0, 0, 1, 1, 0, 1, 1, 0]
    assert frame["queue.dropped"].tolist() == frame["dropped"].tolist()
    assert frame["consumed"].tolist() == [0, 0, 0, 1, 0, 1, 1, 0, 0]
    assert frame["queue.depth"].tolist() == [0, 0, 1, 0, 1, 1, 0, 1, 1]
    assert frame["in_flight"].tolist() == [0, 1, 2, 1, 2, 2, 1, 2, 2]
    assert frame["memory_bytes"].tolist() == [0, 100, 200, 100, 200, 200, 100, 200, 200]
    assert frame["worker.utilisation"].tolist() == pytest.approx([0, 0.3 / 1.3, 1, 1, 1, 1, 1, 1, 1])
