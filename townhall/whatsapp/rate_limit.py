"""Meta's sending limits, kept by us rather than discovered through errors.

- Throughput: messages per second per business number (80 by default, up to 1,000 on the
  top tier; ``WHATSAPP["SEND_RATE_PER_SECOND"]``). One token bucket for all workers and
  machines, in Redis when ``REDIS_URL`` is set, in this process otherwise (the embedded
  install runs one worker process). A 130429 answer pauses the bucket for everyone.
- Pair limit: about one message per 6 s to the same citizen, with short bursts
  (``WHATSAPP["PAIR_LIMIT_BURST"]``, ``["PAIR_LIMIT_INTERVAL_SECONDS"]``); 131056 otherwise.

Both are asked once per batch: ``take(n)`` grants up to ``n`` sends, ``take_pairs(wa_ids)``
says which citizens may get a message now. The clock is the limiter's own (Redis ``TIME`` or
``time.monotonic``): it measures rates, not dates.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Protocol

from django.conf import settings

from townhall.citysettings.config import whatsapp_setting


@dataclass(frozen=True, slots=True)
class Grant:
    granted: int
    # When the next token will be there, if fewer than asked were granted.
    retry_after: float


class RateLimiter(Protocol):
    def take(self, wanted: int) -> Grant: ...

    def refund(self, count: int) -> None: ...

    def pause(self, seconds: float) -> None: ...

    def take_pairs(self, wa_ids: Sequence[str]) -> list[float]:
        """For each citizen, 0 if a message may go now, else seconds to wait."""
        ...


@dataclass
class LocalRateLimiter:
    """Token buckets in this process, shared by its threads."""

    rate: float
    burst: float
    pair_burst: float
    pair_interval: float
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _tokens: float = 0.0
    _updated: float = 0.0
    _paused_until: float = 0.0
    _pairs: dict[str, tuple[float, float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._tokens, self._updated = self.burst, time.monotonic()

    def _refill(self, now: float) -> None:
        self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
        self._updated = now

    def take(self, wanted: int) -> Grant:
        with self._lock:
            now = time.monotonic()
            if now < self._paused_until:
                return Grant(0, self._paused_until - now)
            self._refill(now)
            granted = max(0, min(wanted, int(self._tokens)))
            self._tokens -= granted
            retry_after = 0.0 if granted == wanted else self._until_batch(wanted)
            return Grant(granted, retry_after)

    def _until_batch(self, wanted: int) -> float:
        # Wait for a whole batch (a full bucket), not for the next single token: one batch
        # of n costs a fraction of n batches of one.
        return max(0.0, min(wanted, self.burst) - self._tokens) / self.rate

    def refund(self, count: int) -> None:
        with self._lock:
            self._tokens = min(self.burst, self._tokens + count)

    def pause(self, seconds: float) -> None:
        if seconds <= 0:
            return
        with self._lock:
            self._paused_until = max(self._paused_until, time.monotonic() + seconds)
            self._tokens = 0.0

    def take_pairs(self, wa_ids: Sequence[str]) -> list[float]:
        waits = []
        with self._lock:
            now = time.monotonic()
            if len(self._pairs) > 100_000:
                # Buckets that are full again carry no information.
                horizon = self.pair_burst * self.pair_interval
                self._pairs = {k: v for k, v in self._pairs.items() if now - v[1] < horizon}
            for wa_id in wa_ids:
                tokens, updated = self._pairs.get(wa_id, (self.pair_burst, now))
                tokens = min(self.pair_burst, tokens + (now - updated) / self.pair_interval)
                if tokens >= 1:
                    self._pairs[wa_id] = (tokens - 1, now)
                    waits.append(0.0)
                else:
                    self._pairs[wa_id] = (tokens, now)
                    waits.append((1 - tokens) * self.pair_interval)
        return waits


# KEYS[1]: the number's bucket. ARGV: rate/s, burst, wanted. Returns {granted, retry_after}.
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local rate, burst, wanted = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local s = redis.call('HMGET', KEYS[1], 'tokens', 'ts', 'paused_until')
local paused = tonumber(s[3]) or 0
if now < paused then return {0, tostring(paused - now)} end
local tokens = tonumber(s[1]) or burst
local ts = tonumber(s[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local granted = math.max(0, math.min(wanted, math.floor(tokens)))
tokens = tokens - granted
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], 3600000)
local wait = 0
if granted < wanted then wait = math.max(0, math.min(wanted, burst) - tokens) / rate end
return {granted, tostring(wait)}
"""
# KEYS[1]: the number's bucket. ARGV: count to give back, burst.
_REFUND = """
local tokens = tonumber(redis.call('HGET', KEYS[1], 'tokens'))
if tokens then
  redis.call('HSET', KEYS[1], 'tokens', tostring(math.min(tonumber(ARGV[2]), tokens + tonumber(ARGV[1]))))
end
return 1
"""
# KEYS[1]: the number's bucket. ARGV: seconds.
_PAUSE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local until_ = now + tonumber(ARGV[1])
local paused = tonumber(redis.call('HGET', KEYS[1], 'paused_until')) or 0
redis.call('HSET', KEYS[1], 'paused_until', tostring(math.max(paused, until_)), 'tokens', '0', 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], 3600000)
return 1
"""
# KEYS: one bucket per citizen. ARGV: burst, interval. Returns a wait (string) per key.
_PAIRS = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local burst, interval = tonumber(ARGV[1]), tonumber(ARGV[2])
local waits = {}
for i, key in ipairs(KEYS) do
  local s = redis.call('HMGET', key, 'tokens', 'ts')
  local tokens = tonumber(s[1]) or burst
  local ts = tonumber(s[2]) or now
  tokens = math.min(burst, tokens + math.max(0, now - ts) / interval)
  if tokens >= 1 then
    tokens = tokens - 1
    waits[i] = '0'
  else
    waits[i] = tostring((1 - tokens) * interval)
  end
  redis.call('HSET', key, 'tokens', tostring(tokens), 'ts', tostring(now))
  redis.call('EXPIRE', key, math.ceil(burst * interval) + 1)
end
return waits
"""


class RedisRateLimiter:
    """The same buckets in Redis, shared by every worker on every machine."""

    def __init__(
        self,
        url: str,
        *,
        key: str,
        rate: float,
        burst: float,
        pair_burst: float,
        pair_interval: float,
    ) -> None:
        import redis

        self._redis = redis.Redis.from_url(url)
        self._key = key
        self.rate, self.burst = rate, burst
        self.pair_burst, self.pair_interval = pair_burst, pair_interval
        self._take = self._redis.register_script(_TAKE)
        self._refund = self._redis.register_script(_REFUND)
        self._pause = self._redis.register_script(_PAUSE)
        self._pairs = self._redis.register_script(_PAIRS)

    def take(self, wanted: int) -> Grant:
        granted, retry_after = self._take(keys=[self._key], args=[self.rate, self.burst, wanted])
        return Grant(int(granted), float(retry_after))

    def refund(self, count: int) -> None:
        if count > 0:
            self._refund(keys=[self._key], args=[count, self.burst])

    def pause(self, seconds: float) -> None:
        if seconds > 0:
            self._pause(keys=[self._key], args=[seconds])

    def take_pairs(self, wa_ids: Sequence[str]) -> list[float]:
        if not wa_ids:
            return []
        keys = [f"{self._key}:pair:{wa_id}" for wa_id in wa_ids]
        waits = self._pairs(keys=keys, args=[self.pair_burst, self.pair_interval])
        return [float(wait) for wait in waits]


# The share of a second's messages that may leave at once (one batch); the rest is paced.
BURST_SHARE = 0.05


def get_limiter() -> RateLimiter:
    """The process's limiter for the configured business number and throughput (the
    settings page's values where set, else the environment's)."""
    return _limiter(
        str(whatsapp_setting("PHONE_NUMBER_ID")), float(whatsapp_setting("SEND_RATE_PER_SECOND"))
    )


def clear_limiters() -> None:
    """Forget the process's limiters (tests: fresh buckets)."""
    _limiter.cache_clear()


@cache
def _limiter(phone_number_id: str, tier_rate: float) -> RateLimiter:
    config = settings.WHATSAPP
    # Meta counts messages in a rolling second. A bucket of capacity B refilled at r lets
    # B + r through in some second, so the burst is taken out of the rate: B + r = the tier.
    burst = max(1.0, tier_rate * BURST_SHARE)
    rate = max(tier_rate - burst, tier_rate / 2)
    pair_burst = float(config["PAIR_LIMIT_BURST"])
    pair_interval = float(config["PAIR_LIMIT_INTERVAL_SECONDS"])
    if settings.REDIS_URL:
        key = f"townhall:{settings.HUEY['name']}:rate:{phone_number_id}"
        return RedisRateLimiter(
            settings.REDIS_URL,
            key=key,
            rate=rate,
            burst=burst,
            pair_burst=pair_burst,
            pair_interval=pair_interval,
        )
    return LocalRateLimiter(
        rate=rate, burst=burst, pair_burst=pair_burst, pair_interval=pair_interval
    )
