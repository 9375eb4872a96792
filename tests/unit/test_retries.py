"""Callers that time out and retry: how retries add load, and how they are counted.

Every attempt is produced; a retry is a new message created when it is sent. An attempt ends in
exactly one of consumed, dropped, timed out, lost in a crash or in flight, so conservation is exact.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import simbp


def _blocked(retry: str) -> str:
    return f"""
name: blocked
duration: 9.75
producers:
  - name: clients
    to: jobs
    arrivals: {{process: constant, rate: 1/s}}
    blocking: request
    {retry}
buffers:
  - name: jobs
    capacity: 1
    policy: block
    block_timeout: 1s
consumers:
  - name: worker
    from: jobs
    service: 10s
"""


def test_retries_after_block_timeouts_add_load() -> None:
    """One slow worker (busy 1 → 11 s), room for one waiting job, requests each second from 1 s.

    Request 1 is served, request 2 waits in the queue, requests 3 … 9 each wait for room on their
    own and time out 1 s later (at 4 … 9 s by 9.75 s: 6 time-outs; request 9 still waits). With
    `retry: {max: 1, backoff: 0.5s}` each time-out k + 1 is retried at k + 1.5 (6 retries by 9.75 s),
    which times out at k + 2.5 (5 of them by 9.75 s) and then gives up; the retry sent at 9.5 s still waits.
    """
    plain = simbp.run(_blocked("")).summary
    assert plain["produced"] == 9 and plain["timed_out"] == 6 and plain["in_flight_at_end"] == 3
    retried = simbp.run(_blocked("retry: {max: 1, backoff: 0.5s}")).summary
    clients = retried["components"]["clients"]
    assert retried["produced"] == 9 + 6 and retried["retries"] == clients["retries"] == 6
    assert clients["first_attempts"] == 9
    assert retried["timed_out"] == 6 + 5
    assert clients["gave_up"] == 5
    assert retried["in_flight_at_end"] == 4  # served, queued, request 9 and the retry of request 8
    assert retried["produced"] == retried["consumed"] + retried["timed_out"] + retried["in_flight_at_end"]


def _queued(retry: str, duration: float = 10.0) -> str:
    return f"""
name: queued
duration: {duration}
producers:
  - name: clients
    to: jobs
    arrivals: {{process: constant, rate: 4/s}}
    stop: 1.1s
    caller_timeout: 1s
    {retry}
buffers:
  - name: jobs
    capacity: 10
    policy: drop_newest
consumers:
  - name: worker
    from: jobs
    service: 1s
"""


def test_a_caller_gives_up_on_a_queued_job_which_is_still_processed() -> None:
    """Jobs at 0.25 (taken at once), 0.5, 0.75, 1.0; the worker takes one a second: 0.5 is taken at
    1.25 (in time), 0.75 at 2.25 and 1.0 at 3.25, after their callers gave up at 1.75 and 2.0.
    Both are still processed: abandoned work, counted as consumed."""
    summary = simbp.run(_queued("")).summary
    clients = summary["components"]["clients"]
    assert summary["produced"] == summary["consumed"] == 4
    assert clients["abandoned_in_queue"] == 2 and clients["gave_up"] == 2


def test_retrying_abandoned_jobs_adds_work_the_worker_does_for_nobody() -> None:
    """With one retry and no backoff, the abandoned jobs are sent again at 1.75 and 2.0; those wait
    behind the originals (taken at 4.25 and 5.25), their callers give up again at 2.75 and 3.0."""
    summary = simbp.run(_queued("retry: {max: 1, backoff: 0s}")).summary
    clients = summary["components"]["clients"]
    assert summary["produced"] == 6 and summary["retries"] == 2
    assert summary["consumed"] == 6  # every copy is processed
    assert clients["abandoned_in_queue"] == 4 and clients["gave_up"] == 2
    assert summary["latency_s"]["max"] == pytest.approx(6.25 - 2.0)  # the retry sent at 2.0, done at 6.25


def test_retry_storm_stays_overloaded_after_the_burst() -> None:
    """The library pair: after the burst ends at 30 s, with retries the queue is still full at the
    end; without them it has drained."""
    storm = simbp.run("scenarios/retry_storm.yaml")
    calm = simbp.run("scenarios/burst_without_retries.yaml")
    late_storm = storm.timeseries[storm.timeseries["time_s"] > 60]
    late_calm = calm.timeseries[calm.timeseries["time_s"] > 60]
    assert late_storm["jobs.depth"].mean() > 1500 and late_calm["jobs.depth"].mean() < 50
    assert late_storm["produced"].sum() > 1.8 * late_calm["produced"].sum()  # offered load doubled by retries
    assert late_storm["latency_p50_s"].median() > 1.0  # longer than the callers' timeout: all wasted
    assert storm.summary["retries"] > 0 == calm.summary["retries"]


@settings(max_examples=15, deadline=None)
@given(max_retries=st.integers(0, 4), backoff_ms=st.integers(0, 300), rate=st.integers(100, 900),
       jitter=st.sampled_from(["none", "full"]), blocking=st.sampled_from(["producer", "request"]),
       crash=st.booleans(), seed=st.integers(0, 1000))
def test_conservation_is_exact_with_retries(max_retries: int, backoff_ms: int, rate: int, jitter: str, blocking: str,
                                            crash: bool, seed: int) -> None:
    memory = "memory: {limit: 60KiB, restart_after: 0.3s}" if crash else ""
    text = f"""
name: prop
duration: 4s
seed: {seed}
{memory}
producers:
  - name: clients
    to: jobs
    arrivals: {{process: poisson, rate: {rate}/s}}
    size: 1KiB
    blocking: {blocking}
    retry: {{max: {max_retries}, backoff: {backoff_ms}ms, multiplier: 2, jitter: {jitter}}}
buffers:
  - name: jobs
    capacity: 50
    policy: block
    block_timeout: 100ms
consumers:
  - name: worker
    from: jobs
    workers: 2
    service: {{dist: exponential, mean: 5ms}}
"""
    summary = simbp.run(text).summary
    accounted = (summary["consumed"] + summary["dropped"] + summary["timed_out"] + summary["lost_in_crash"]
                 + summary["discarded"] + summary["failed"] + summary["in_flight_at_end"])
    assert summary["produced"] == accounted
    assert summary["dropped"] == 0  # block never drops, retries or not
    if max_retries == 0:
        assert summary["retries"] == 0
