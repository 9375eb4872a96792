"""Kafka topics and consumer groups against hand-worked cases (constant times, every event known).

Event order at equal times follows SimPy: the event scheduled first runs first. A member's
"batch done" timeout is scheduled when the batch starts, before the producer schedules the
arrival falling at the same instant, so at a tie the member polls before the message lands.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import simbp
from simbp.errors import ScenarioError
from simbp.exact.kafka import (
    OK,
    STALL,
    STOP,
    WARN,
    Partition,
    Topic,
    burrow_status,
    murmur2,
    partition_for_key,
    range_assignment,
    round_robin_assignment,
)
from simbp.exact.model import Model
from simbp.results import build_results
from simbp.scenario import TopicSpec


def run(text: str, seed: int | None = None) -> simbp.Results:
    return simbp.run(simbp.load_scenario(text), seed=seed)


def conserved(summary: dict[str, Any]) -> bool:
    return summary["produced"] == (summary["consumed"] + summary["dropped"] + summary["timed_out"]
                                   + summary["lost_in_crash"] + summary["in_flight_at_end"] + summary.get("discarded", 0))


# --------------------------------------------------------------------------- partitioning
def test_murmur2_matches_kafka_utils_test_vectors() -> None:
    # org.apache.kafka.common.utils.UtilsTest#testMurmur2
    assert murmur2(b"21") == -973932308
    assert murmur2(b"foobar") == -790332482
    assert murmur2(b"a-little-bit-long-string") == -985981536
    assert murmur2(b"a-little-bit-longer-string") == -1486304829
    assert murmur2(b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8") == -58897971
    assert murmur2(b"abc") == 479470107


def test_partition_for_key_is_positive_hash_modulo_partitions() -> None:
    assert partition_for_key("foobar", 6) == (-790332482 & 0x7FFFFFFF) % 6
    assert all(0 <= partition_for_key(f"key-{k}", 7) < 7 for k in range(100))


def test_range_and_round_robin_assignment_as_kafka() -> None:
    assert range_assignment(6, 4) == [[0, 1], [2, 3], [4], [5]]
    assert round_robin_assignment(6, 4) == [[0, 4], [1, 5], [2], [3]]
    assert range_assignment(7, 3) == [[0, 1, 2], [3, 4], [5, 6]]
    assert range_assignment(6, 8) == [[0], [1], [2], [3], [4], [5], [], []]
    assert round_robin_assignment(6, 8)[6:] == [[], []]


def test_hot_key_sends_its_share_to_the_partition_its_key_hashes_to() -> None:
    summary = run("""
name: hot
duration: 10s
producers:
  - {name: p, to: t, arrivals: {process: constant, rate: 100/s}, key: {strategy: hash, hot_key_share: 1.0}}
topics: [{name: t, partitions: 6}]
""").summary
    hot = partition_for_key("key-0", 6)
    detail = summary["components"]["t"]["partition_detail"]
    assert [p["produced"] for p in detail] == [999 if p["partition"] == hot else 0 for p in detail]


def test_few_keys_use_only_the_partitions_they_hash_to() -> None:
    summary = run("""
name: keys
duration: 10s
producers:
  - {name: p, to: t, arrivals: {process: poisson, rate: 200/s}, key: {strategy: hash, keys: 2}}
topics: [{name: t, partitions: 12}]
""").summary
    used = {p["partition"] for p in summary["components"]["t"]["partition_detail"] if p["produced"]}
    assert used == {partition_for_key("key-0", 12), partition_for_key("key-1", 12)}


def test_round_robin_spreads_evenly() -> None:
    summary = run("""
name: rr
duration: 10s
producers: [{name: p, to: t, arrivals: {process: constant, rate: 60/s}}]
topics: [{name: t, partitions: 6}]
""").summary
    assert [p["produced"] for p in summary["components"]["t"]["partition_detail"]] == [100, 100, 100, 100, 100, 99]


# --------------------------------------------------------------------------- groups
EIGHT_ON_SIX = """
name: eight
duration: 20s
producers: [{name: p, to: t, arrivals: {process: poisson, rate: 600/s}}]
topics: [{name: t, partitions: 6}]
consumer_groups:
  - {name: g, topic: t, consumers: 8, processing: {dist: exponential, mean: 2ms}, assignment: ASSIGNMENT}
"""


@pytest.mark.parametrize("assignment", ["range", "round_robin"])
def test_eight_consumers_on_six_partitions_leave_exactly_two_idle(assignment: str) -> None:
    results = run(EIGHT_ON_SIX.replace("ASSIGNMENT", assignment))
    group = results.summary["components"]["g"]
    processed = [c["processed"] for c in group["consumer_detail"]]
    assert group["idle_consumers"] == 2
    assert sorted(processed)[:2] == [0, 0] and all(n > 0 for n in sorted(processed)[2:])
    owners = [p["owner"] for p in results.summary["components"]["t"]["partition_detail"]]
    assert sorted(owners) == [0, 1, 2, 3, 4, 5]  # each partition read by exactly one member
    by_member = {c["consumer"]: c["processed"] for c in group["consumer_detail"]}
    for partition in results.summary["components"]["t"]["partition_detail"]:
        assert partition["consumed"] == by_member[partition["owner"]]
    assert (results.timeseries["g.consumers_active"].iloc[1:] == 6).all()
    assert conserved(results.summary)


def test_processing_is_per_message_within_a_poll_batch() -> None:
    """Arrivals at 0.25, 0.5, 0.75, 1.0; 0.6s per message; one member.

    m1 polled at 0.25, done 0.85. Poll at 0.85 finds m2, m3: m2 done 1.45, m3 done 2.05 (one after
    the other). Poll at 2.05 finds m4: done 2.65. Latencies 0.6, 0.95, 1.3, 1.65 whatever the batch.
    """
    template = """
name: batch
duration: 5s
producers: [{name: p, to: t, arrivals: {process: constant, rate: 4/s}, stop: 1.1s}]
topics: [{name: t, partitions: 1}]
consumer_groups: [{name: g, topic: t, consumers: 1, processing: 600ms, max_poll_records: MAX, commit: {every: poll}}]
"""
    batched = run(template.replace("MAX", "500")).summary
    single = run(template.replace("MAX", "1")).summary
    for summary in (batched, single):
        assert summary["consumed"] == 4
        assert summary["latency_s"]["mean"] == pytest.approx((0.6 + 0.95 + 1.3 + 1.65) / 4)
        assert summary["latency_s"]["max"] == pytest.approx(1.65)
    assert batched["components"]["g"]["polls"] == 3
    assert single["components"]["g"]["polls"] == 4


# --------------------------------------------------------------------------- retention
def test_retention_deletes_unread_messages_when_nobody_reads() -> None:
    """Arrivals every 0.25s until 5s (19 messages), retention 2s: at 5s only those from 3.0s on remain."""
    summary = run("""
name: nobody
duration: 5s
producers: [{name: p, to: t, arrivals: {process: constant, rate: 4/s}}]
topics: [{name: t, partitions: 1, retention: {time: 2s}}]
""").summary
    assert summary["produced"] == 19
    assert summary["dropped"] == 11 and summary["components"]["t"]["retention_lost"] == 11
    assert summary["in_flight_at_end"] == 8 and summary["components"]["t"]["retained"] == 8
    assert summary["verdict"] == "dropping"


RETENTION_TRACE = """
name: trace
duration: 6s
sample_interval: 1s
producers: [{name: p, to: t, arrivals: {process: constant, rate: 4/s}, size: 100B}]
topics: [{name: t, partitions: 1, retention: {time: 2s}}]
consumer_groups:
  - {name: g, topic: t, consumers: 1, max_poll_records: 1, processing: 1s, commit: {every: poll}}
"""


def test_retention_loss_when_the_consumer_falls_behind_retention() -> None:
    """m_k is created at 0.25k; retention 2s deletes what is older; one message per second is read.

    polls: 0.25 m1 | 1.25 m2 | 2.25 m3 | 3.25 deletes m1-m4, m4 unread (1 lost), reads m5
    | 4.25 deletes m5-m8, m6-m8 unread (3), reads m9 | 5.25 deletes m9-m12, m10-m12 unread (3), reads m13
    | end 6.0 deletes m13-m15, m14-m15 unread (2). Consumed 5 (m1, m2, m3, m5, m9), lost 9,
    in flight 9 (m13 being processed, m16-m23 unread), produced 23.
    """
    results = run(RETENTION_TRACE)
    summary = results.summary
    assert (summary["produced"], summary["consumed"], summary["dropped"], summary["in_flight_at_end"]) == (23, 5, 9, 9)
    topic = summary["components"]["t"]
    assert topic["retention_lost"] == 9
    assert topic["partition_detail"][0]["log_start_offset"] == 15
    assert topic["partition_detail"][0]["committed_offset"] == 9
    assert topic["lag"] == 23 - 9
    # deleting lazily gives the same figures as deleting continuously: per second 0, 0, 0, 3, 3, 3
    assert results.timeseries["t.retention_lost"].tolist() == [0, 0, 0, 0, 3, 3, 3]
    assert summary["verdict"] == "dropping"


def test_auto_offset_reset_latest_skips_to_the_end_and_counts_the_skipped_as_lost() -> None:
    """As above until 3.25: m4 deleted unread (1 lost), then `latest` jumps from m5 to the log end,
    skipping m5-m12 (8 lost though still on disk). m13 (3.25) is read at once, done 4.25; m14 (3.5)
    done 5.25; m15 (3.75) in progress at the end. Same 9 lost, but fresher messages are read:
    the worst latency is m3's 2.5s (0.75 → 3.25) instead of 3.0s for m5 and m9 with `earliest`."""
    latest = run(RETENTION_TRACE.replace("commit: {every: poll}", "commit: {every: poll}, auto_offset_reset: latest")).summary
    earliest = run(RETENTION_TRACE).summary
    assert (latest["produced"], latest["consumed"], latest["dropped"], latest["in_flight_at_end"]) == (23, 5, 9, 9)
    assert latest["components"]["t"]["partition_detail"][0]["committed_offset"] == 14
    assert latest["latency_s"]["max"] == pytest.approx(2.5)
    assert earliest["latency_s"]["max"] == pytest.approx(3.0)


def test_compacting_the_log_arrays_changes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dropping the deleted head of a partition's arrays (normally past 65,536 entries) keeps offsets right."""
    import simbp.exact.kafka.log as log

    monkeypatch.setattr(log, "_COMPACT_AT", 2)
    summary = run(RETENTION_TRACE).summary
    assert (summary["produced"], summary["consumed"], summary["dropped"], summary["in_flight_at_end"]) == (23, 5, 9, 9)
    assert summary["components"]["t"]["partition_detail"][0]["log_start_offset"] == 15
    assert summary["latency_s"]["max"] == pytest.approx(3.0)


def test_retention_by_bytes_keeps_at_most_that_many_bytes_per_partition() -> None:
    results = run("""
name: bytes
duration: 10s
producers: [{name: p, to: t, arrivals: {process: constant, rate: 10/s}, size: 100B}]
topics: [{name: t, partitions: 1, retention: {bytes: 1000B}}]
""")
    summary = results.summary
    assert summary["produced"] == 99
    assert summary["components"]["t"]["retained"] == 10
    assert summary["dropped"] == 89
    assert results.timeseries["t.bytes"].max() <= 1000


def test_topic_storage_is_not_service_memory() -> None:
    summary = run("""
name: disk
duration: 10s
memory: {limit: 10KiB}
producers: [{name: p, to: t, arrivals: {process: constant, rate: 100/s}, size: 1KiB}]
topics: [{name: t, partitions: 2}]
""").summary
    assert summary["crashes"] == 0 and summary["peak_memory_bytes"] == 0
    assert summary["components"]["t"]["bytes"] == 999 * 1024


# --------------------------------------------------------------------------- rebalance
REBALANCE = """
name: rebalance
duration: 4s
producers: [{name: p, to: t, arrivals: {process: constant, rate: 8/s}}]
topics: [{name: t, partitions: 2}]
consumer_groups:
  - {name: g, topic: t, consumers: 1, max_poll_records: 1, processing: 10ms, commit: {every: poll}, rebalance_pause: 950ms}
"""


def test_a_change_in_group_size_pauses_everyone_for_the_rebalance() -> None:
    """Arrivals every 0.125s, 10ms each. At 2.0s the group grows to two: nobody consumes until 2.95s.

    Before: m1..m15 (to 1.875s) consumed. m16..m23 (2.0 .. 2.875s) wait out the pause; at 2.95s each
    member takes its partition's four and is done by 2.99s; m24 (3.0s) is done at 3.01s.
    """
    model = Model(simbp.load_scenario(REBALANCE))
    group = model.kafka.groups["g"]
    seen: dict[float, tuple[int, int]] = {}

    def at(time: float, action: Any) -> None:
        model.env.timeout(time).callbacks.append(lambda _event: action())

    at(2.0, lambda: group.resize(2))
    for moment in (1.99, 2.5, 2.94, 3.05):
        at(moment, lambda moment=moment: seen.__setitem__(moment, (group.consumed, group.active_members())))
    model.run()
    assert seen[1.99] == (15, 1)
    assert seen[2.5] == (15, 0)
    assert seen[2.94] == (15, 0)
    assert seen[3.05] == (24, 2)
    assert group.rebalances == 1
    assert group.rebalancing_seconds(model.env.now) == pytest.approx(0.95)
    summary = build_results(model).summary
    assert [c["partitions"] for c in summary["components"]["g"]["consumer_detail"]] == [[0], [1]]
    assert conserved(summary)


def test_a_member_leaving_finishes_its_batch_and_commits_before_the_group_resumes() -> None:
    model = Model(simbp.load_scenario(REBALANCE.replace("consumers: 1,", "consumers: 2,").replace("processing: 10ms", "processing: 300ms")))
    group = model.kafka.groups["g"]
    model.env.timeout(1.0).callbacks.append(lambda _event: group.resize(1))
    model.run()
    summary = build_results(model).summary
    assert conserved(summary)
    assert summary["components"]["g"]["consumers"] == 1
    detail = summary["components"]["g"]["consumer_detail"]
    assert detail[0]["partitions"] == [0, 1] and detail[1]["member"] is False


# --------------------------------------------------------------------------- Burrow
def test_burrow_rules_on_crafted_windows() -> None:
    # (time, committed offset, lag at that commit)
    growing = [(0, 0, 10), (1, 5, 12), (2, 9, 12), (3, 14, 15)]
    assert burrow_status(growing, 15, 3.5) == WARN
    assert burrow_status(growing, 0, 3.5) == OK  # no lag now: never an error
    assert burrow_status([(0, 0, 10), (1, 5, 8), (2, 9, 12)], 12, 2.5) == OK  # lag went down once
    assert burrow_status([(0, 0, 10), (1, 5, 0), (2, 9, 12)], 12, 2.5) == OK  # lag was zero once
    stalled = [(0, 5, 10), (1, 5, 12), (2, 5, 13)]
    assert burrow_status(stalled, 13, 2.5) == STALL
    assert burrow_status(stalled, 13, 4.5) == STOP  # 2.5s since the last commit > 2s spanned
    assert burrow_status(growing, 15, 6.0) == WARN  # 3s since the last commit = 3s spanned: not yet
    assert burrow_status(growing, 15, 6.01) == STOP


def test_commits_closer_than_min_distance_replace_the_last_and_keep_its_time() -> None:
    topic = Topic(None, TopicSpec(name="t"), window=3, min_distance=1.0)  # type: ignore[arg-type]
    partition: Partition = topic.partitions[0]
    for _ in range(20):
        partition.created.append(0.0)
        partition.sizes.append(1.0)
    partition.commit(0.0, 2)
    partition.commit(0.5, 4)  # within 1s: replaces, keeping time 0.0
    partition.commit(1.2, 6)
    assert [list(e) for e in partition.window] == [[0.0, 4, 16], [1.2, 6, 14]]
    assert partition.status(1.3) == OK  # window not full yet: Burrow's `complete` < 1
    partition.commit(2.5, 6)
    partition.commit(3.6, 6)  # the window keeps the last three
    assert [e[0] for e in partition.window] == [1.2, 2.5, 3.6]
    assert partition.status(3.7) == STALL


def test_status_in_the_time_series_warn_while_falling_behind_then_stop_while_commits_stop() -> None:
    """One member reads 5 messages/s of 8 arriving: lag grows at every commit (WARN). At 10s the
    group grows and the 20s pause stops all commits: after the 2s the window spans, STOP."""
    model = Model(simbp.load_scenario("""
name: status
duration: 20s
sample_interval: 1s
producers: [{name: p, to: t, arrivals: {process: constant, rate: 8/s}}]
topics: [{name: t, partitions: 2}]
consumer_groups:
  - name: g
    topic: t
    consumers: 1
    max_poll_records: 1
    processing: 200ms
    commit: {every: poll}
    rebalance_pause: 20s
    lag_status: {window: 3, min_distance: 1s}
"""))
    model.env.timeout(10.0).callbacks.append(lambda _event: model.kafka.groups["g"].resize(2))
    model.run()
    frame = build_results(model).timeseries.set_index("time_s")
    assert frame.loc[8.0, "g.p0.status"] == WARN and frame.loc[8.0, "g.status"] == 1
    assert frame.loc[15.0, "g.p0.status"] == STOP and frame.loc[15.0, "g.status"] == 2
    assert frame.loc[15.0, "g.consumers_active"] == 0


# --------------------------------------------------------------------------- validation
@pytest.mark.parametrize("change, field, words", [
    ("topic: nowhere", "consumer_groups[0].topic", "no topic named 'nowhere'"),
    ("topic: t\n    commit: {}", "consumer_groups[0].commit", "exactly one of"),
    ("topic: t\n    autoscale: {min: 2, max: 1, scale_up_lag: 10}", "consumer_groups[0].autoscale.max", "at least min"),
    ("topic: t\n    autoscale: {min: 1, max: 4, scale_up_lag: 10, scale_down_lag: 10}", "consumer_groups[0].autoscale.scale_down_lag", "flap"),
    ("topic: t\n    consumers: 9\n    autoscale: {min: 1, max: 4, scale_up_lag: 10}", "consumer_groups[0].consumers", "within autoscale"),
])
def test_bad_consumer_groups_are_rejected_with_the_field_and_line(change: str, field: str, words: str) -> None:
    text = f"""name: bad
duration: 1s
producers: [{{name: p, to: t, arrivals: {{process: constant, rate: 1/s}}}}]
topics: [{{name: t, partitions: 2}}]
consumer_groups:
  - name: g
    processing: 1ms
    {change}
"""
    with pytest.raises(ScenarioError) as caught:
        simbp.load_scenario(text)
    problem = caught.value.problems[0]
    assert problem.field == field and words in problem.message
    assert problem.line == (8 if field.endswith(".topic") else 9)  # the line of the faulty key


def test_other_kafka_mistakes_point_at_the_field() -> None:
    cases = {
        "two groups": ("consumer_groups: [{name: a, topic: t, processing: 1ms}, {name: b, topic: t, processing: 1ms}]",
                       "consumer_groups[1].topic"),
        "key on a buffer": ("buffers: [{name: q, policy: unbounded}]\nconsumers: [{name: w, from: q, service: 1ms}]",
                            "producers[1].key"),
        "consumer reading a topic": ("consumers: [{name: w, from: t, service: 1ms}]", "consumers[0].from"),
    }
    for label, (extra, field) in cases.items():
        producers = "producers: [{name: p, to: t, arrivals: {process: constant, rate: 1/s}}"
        if label == "key on a buffer":
            producers += ", {name: p2, to: q, arrivals: {process: constant, rate: 1/s}, key: {strategy: round_robin}}"
        text = f"name: bad\nduration: 1s\n{producers}]\ntopics: [{{name: t}}]\n{extra}\n"
        with pytest.raises(ScenarioError) as caught:
            simbp.load_scenario(text)
        assert caught.value.problems[0].field == field, label


# --------------------------------------------------------------------------- conservation
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(partitions=st.integers(1, 5), consumers=st.integers(1, 7), rate=st.sampled_from([50, 200, 800]),
       mean_ms=st.sampled_from([1, 5, 20]), max_poll=st.sampled_from([1, 7, 500]),
       commit=st.sampled_from(["{every: poll}", "{interval: 1s}"]),
       retention=st.sampled_from(["{time: 2s}", "{bytes: 2KiB}", "{time: 1s, bytes: 4KiB}", "{time: 1h}"]),
       reset=st.sampled_from(["earliest", "latest"]), resize_at=st.sampled_from([None, 3.0]),
       seed=st.integers(0, 1000))
def test_conservation_is_exact(partitions: int, consumers: int, rate: int, mean_ms: int, max_poll: int, commit: str,
                               retention: str, reset: str, resize_at: float | None, seed: int) -> None:
    model = Model(simbp.load_scenario(f"""
name: prop
duration: 8s
producers: [{{name: p, to: t, arrivals: {{process: poisson, rate: {rate}/s}}, size: {{dist: uniform, low: 100, high: 300}},
              key: {{strategy: hash, hot_key_share: 0.3}}}}]
topics: [{{name: t, partitions: {partitions}, retention: {retention}}}]
consumer_groups:
  - {{name: g, topic: t, consumers: {consumers}, max_poll_records: {max_poll}, processing: {{dist: exponential, mean: {mean_ms}ms}},
      commit: {commit}, auto_offset_reset: {reset}, rebalance_pause: 500ms}}
"""), seed=seed)
    group = model.kafka.groups["g"]
    if resize_at is not None:
        model.env.timeout(resize_at).callbacks.append(lambda _event: group.resize(max(1, consumers - 2) if consumers > 3 else consumers + 2))
    model.run()
    summary = build_results(model).summary
    assert conserved(summary)
    topic = summary["components"]["t"]
    assert topic["produced"] == summary["produced"]
    assert topic["produced"] == summary["consumed"] + topic["retention_lost"] + topic["in_flight_at_end"] + summary["components"]["g"]["in_flight_at_end"]
    assert sum(p["consumed"] for p in topic["partition_detail"]) == summary["consumed"]
    assert all(p["log_start_offset"] <= p["log_end_offset"] for p in topic["partition_detail"])


def test_same_seed_same_results() -> None:
    text = EIGHT_ON_SIX.replace("ASSIGNMENT", "range").replace("rate: 600/s}", "rate: 600/s}, key: {strategy: hash, hot_key_share: 0.2}")
    first, second = run(text, seed=3), run(text, seed=3)
    assert first.to_json() == second.to_json()
    assert first.timeseries.equals(second.timeseries)
