"""Scenarios that more than one test file runs, written once."""

from __future__ import annotations

# A step load on one autoscaled pool: 100/s, then 900/s for 25 s, then 100/s; 1 to 6 workers of 5 ms.
# tests/unit/test_autoscale.py traces what the autoscaler does in exact mode; tests/fast/test_fast_autoscale.py
# compares fast mode with it.
AUTOSCALE_STEP = """
name: buffer_auto
duration: 60s
producers:
  - name: web
    to: queue
    arrivals: {process: schedule, interpolation: step, points: [{at: 0s, rate: 100/s}, {at: 10s, rate: 900/s}, {at: 35s, rate: 100/s}]}
buffers: [{name: queue, policy: unbounded}]
consumers:
  - name: workers
    from: queue
    workers: 1
    service: {dist: exponential, mean: 5ms}
    autoscale: {min: 1, max: 6, scale_up_lag: 500, scale_down_lag: 5, cooldown: 4s, scale_up_delay: 2s, check_every: 1s, step: 2}
"""
