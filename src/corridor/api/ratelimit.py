"""Per-key rate limits: a token bucket for each API key.

Each key may send `rate_per_s` requests per second on average and `burst` at once. A bucket
holds up to `burst` tokens, refills at `rate_per_s` tokens a second, and each request takes
one; a request that finds the bucket empty is refused with 429 ``rate_limited`` and a
``Retry-After`` header (whole seconds until a token is back, at least 1). Requests without a
valid key share one bucket (`ANONYMOUS`), so a flood of bad keys cannot starve the server of
database reads. Buckets live in memory; at most `BUCKETS_MAX` are kept (full buckets are
forgotten first, since forgetting them changes nothing).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

__all__ = ["ANONYMOUS", "BUCKETS_MAX", "RateLimiter", "RateLimits"]

ANONYMOUS: Final = ""
"""The bucket of requests that present no valid key."""
BUCKETS_MAX: Final = 100_000


@dataclass(frozen=True, slots=True)
class RateLimits:
    """Requests per second and burst, for each key and for unauthenticated requests."""

    rate_per_s: float = 2000.0
    burst: int = 4000
    anonymous_rate_per_s: float = 50.0
    anonymous_burst: int = 100

    def __post_init__(self) -> None:
        if not (self.rate_per_s > 0 and self.anonymous_rate_per_s > 0):
            raise ValueError("rate limits are positive")
        if self.burst < 1 or self.anonymous_burst < 1:
            raise ValueError("bursts are at least 1")


class RateLimiter:
    """Token buckets by key id. Use from one thread (the event loop)."""

    def __init__(self, limits: RateLimits, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)

    def take(self, key_id: str) -> float:
        """Take a token; 0.0 if granted, else the seconds until one is available."""
        if key_id == ANONYMOUS:
            rate, burst = self.limits.anonymous_rate_per_s, float(self.limits.anonymous_burst)
        else:
            rate, burst = self.limits.rate_per_s, float(self.limits.burst)
        now = self._clock()
        tokens, at = self._buckets.get(key_id, (burst, now))
        tokens = min(burst, tokens + (now - at) * rate)
        if tokens >= 1.0:
            if len(self._buckets) >= BUCKETS_MAX and key_id not in self._buckets:
                self._forget_full(now)
            self._buckets[key_id] = (tokens - 1.0, now)
            return 0.0
        self._buckets[key_id] = (tokens, now)
        return (1.0 - tokens) / rate

    @staticmethod
    def retry_after_s(wait_s: float) -> int:
        return max(1, math.ceil(wait_s))

    def _forget_full(self, now: float) -> None:
        rate, burst = self.limits.rate_per_s, float(self.limits.burst)
        full = [k for k, (t, at) in self._buckets.items() if t + (now - at) * rate >= burst]
        for key in full:
            del self._buckets[key]
        if len(self._buckets) >= BUCKETS_MAX:
            self._buckets.clear()
