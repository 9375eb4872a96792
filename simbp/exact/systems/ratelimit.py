"""Rate limiting at the source: a token bucket (rate and burst).

The bucket starts full with `burst` tokens and gains `rate` tokens a second, never holding more
than `burst`. A message passes by taking a token, so over any interval of length T at most
`rate × T + burst` messages pass. Without a token, `drop` discards the message (a 429) and `wait`
reserves the next token and waits for it (the limiter of a well-behaved client).
"""

from __future__ import annotations

__all__ = ["TokenBucket"]

_SLACK = 1e-9  # a token short by less than this (float rounding of rate × elapsed) counts as whole


class TokenBucket:
    """Tokens refilled at `rate` per second up to `burst`; one per message."""

    __slots__ = ("rate", "burst", "tokens", "updated", "passed", "limited", "waited")

    def __init__(self, rate: float, burst: int, now: float = 0.0):
        self.rate = float(rate)
        self.burst = float(burst)
        self.tokens = float(burst)
        self.updated = now
        self.passed = 0
        self.limited = 0
        self.waited = 0.0

    def _refill(self, now: float) -> None:
        if now > self.updated:
            tokens = self.tokens + (now - self.updated) * self.rate
            self.tokens = tokens if tokens < self.burst else self.burst
            self.updated = now

    def try_take(self, now: float) -> bool:
        """Take a token if there is one (True); otherwise the message is limited (False)."""
        self._refill(now)
        if self.tokens >= 1.0 - _SLACK:
            self.tokens -= 1.0
            self.passed += 1
            return True
        self.limited += 1
        return False

    def reserve(self, now: float) -> float:
        """Take the next token, now or in the future; returns the seconds to wait for it."""
        self._refill(now)
        self.tokens -= 1.0
        self.passed += 1
        if self.tokens >= -_SLACK:
            return 0.0
        wait = -self.tokens / self.rate
        self.limited += 1
        self.waited += wait
        return wait
