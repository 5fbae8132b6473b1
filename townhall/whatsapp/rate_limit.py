"""Meta's sending limits, kept by us rather than discovered through errors.

- Throughput: messages per second per business number (80 by default, up to 1,000 on the
  top tier; ``WHATSAPP["SEND_RATE_PER_SECOND"]``). Meta counts a rolling second, so a
  bucket that lets a burst leave at once trips 130429 as soon as requests arrive a little
  bunched. Instead every send gets a **slot**: a time of its own, 1/rate after the one
  before, booked at most ``HORIZON_SECONDS`` ahead (the generic cell rate algorithm). All
  workers and machines book from one schedule, in Redis when ``REDIS_URL`` is set, in this
  process otherwise (the embedded install runs one worker process), and send each message
  at its slot: requests reach Meta evenly spread, at ``RATE_SHARE`` of the tier. A 130429
  answer pauses the schedule for everyone.
- Pair limit: about one message per 6 s to the same citizen, with short bursts
  (``WHATSAPP["PAIR_LIMIT_BURST"]``, ``["PAIR_LIMIT_INTERVAL_SECONDS"]``); 131056 otherwise.

Both are asked once per batch: ``take(n)`` books up to ``n`` slots, ``take_pairs(wa_ids)``
says which citizens may get a message now. The clock is the limiter's own (Redis ``TIME`` or
``time.monotonic``): it measures rates, not dates.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Protocol

from django.conf import settings

from townhall.citysettings.config import whatsapp_setting

logger = logging.getLogger(__name__)

# The share of the tier we send at: the rest absorbs requests that reach Meta a few
# milliseconds early or late (2.5 % is 25 ms of jitter before a second holds one too many;
# at 96 % a broadcast at 80/s fell short of the tier's 76/s lower bound with start-up).
RATE_SHARE = 0.975
# How far ahead slots are booked: a claim's worth of sends, short enough that a chat reply
# booked behind a running broadcast still leaves within a second.
HORIZON_SECONDS = 0.25
# How often a worker compares its clock with Redis's (see RedisRateLimiter).
CLOCK_CHECK_SECONDS = 60.0
# How far Redis's clock, as a worker translates it, may stray from the worker's own before
# the worker measures the difference again (a stepped wall clock: NTP, a VM resumed).
CLOCK_TOLERANCE_SECONDS = 0.05


@dataclass(frozen=True, slots=True)
class Grant:
    granted: int
    # When booking may be worth trying again, if fewer than asked were granted.
    retry_after: float
    # Seconds from now until the first granted slot (negative: it has begun already); slot
    # i comes ``i * spacing`` later.
    delay: float = 0.0
    spacing: float = 0.0


class RateLimiter(Protocol):
    def take(self, wanted: int) -> Grant: ...

    def pause(self, seconds: float) -> None: ...

    def take_pairs(self, wa_ids: Sequence[str]) -> list[float]:
        """For each citizen, 0 if a message may go now, else seconds to wait."""
        ...


def _book(
    now: float, tat: float, rate: float, horizon: float, wanted: int
) -> tuple[int, float, float, float]:
    """Book up to ``wanted`` slots from the schedule whose next free slot is ``tat``:
    (granted, the next free slot afterwards, delay of the first, retry_after). The same
    arithmetic as the Lua script below."""
    tat = max(tat, now)
    free = int((now + horizon - tat) * rate + 1e-9)
    granted = max(0, min(wanted, free))
    delay = tat - now
    tat += granted / rate
    retry_after = 0.0
    if granted < wanted:
        # Come back when half the horizon is free again: a part worth sending, not one slot.
        retry_after = max(1 / rate, tat - now - horizon / 2)
    return granted, tat, delay, retry_after


@dataclass
class LocalRateLimiter:
    """The schedule in this process, shared by its threads."""

    rate: float
    pair_burst: float
    pair_interval: float
    horizon: float = HORIZON_SECONDS
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _tat: float = 0.0
    _paused_until: float = 0.0
    _pairs: dict[str, tuple[float, float]] = field(default_factory=dict)

    def take(self, wanted: int) -> Grant:
        with self._lock:
            now = time.monotonic()
            if now < self._paused_until:
                return Grant(0, self._paused_until - now)
            granted, self._tat, delay, retry_after = _book(
                now, self._tat, self.rate, self.horizon, wanted
            )
            return Grant(granted, retry_after, delay, 1 / self.rate)

    def pause(self, seconds: float) -> None:
        if seconds <= 0:
            return
        with self._lock:
            self._paused_until = max(self._paused_until, time.monotonic() + seconds)
            self._tat = max(self._tat, self._paused_until)

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


# KEYS[1]: the number's schedule. ARGV: rate/s, horizon s, wanted.
# Returns {granted, retry_after, first slot, now} (see _book); the first slot as a time of
# Redis's clock (Unix seconds), not a delay: the reply may reach a busy worker milliseconds
# later, and a delay counted from then would move its slots onto the next booker's. ``now``
# lets the worker check its translation of Redis's clock.
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local rate, horizon, wanted = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local s = redis.call('HMGET', KEYS[1], 'tat', 'paused_until')
local paused = tonumber(s[2]) or 0
if now < paused then return {0, tostring(paused - now), '0', tostring(now)} end
local tat = math.max(tonumber(s[1]) or now, now)
local free = math.floor((now + horizon - tat) * rate + 1e-9)
local granted = math.max(0, math.min(wanted, free))
local delay = tat - now
tat = tat + granted / rate
redis.call('HSET', KEYS[1], 'tat', tostring(tat))
redis.call('PEXPIRE', KEYS[1], 3600000)
local wait = 0
if granted < wanted then wait = math.max(1 / rate, tat - now - horizon / 2) end
return {granted, tostring(wait), tostring(now + delay), tostring(now)}
"""
# KEYS[1]: the number's schedule. ARGV: seconds.
_PAUSE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local s = redis.call('HMGET', KEYS[1], 'tat', 'paused_until')
local until_ = math.max(tonumber(s[2]) or 0, now + tonumber(ARGV[1]))
local tat = math.max(tonumber(s[1]) or 0, until_)
redis.call('HSET', KEYS[1], 'paused_until', tostring(until_), 'tat', tostring(tat))
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
    """The same schedule in Redis, shared by every worker on every machine."""

    def __init__(
        self,
        url: str,
        *,
        key: str,
        rate: float,
        pair_burst: float,
        pair_interval: float,
        horizon: float = HORIZON_SECONDS,
    ) -> None:
        import redis

        self._redis = redis.Redis.from_url(url)
        self._key = key
        self.rate, self.horizon = rate, horizon
        self.pair_burst, self.pair_interval = pair_burst, pair_interval
        self._take = self._redis.register_script(_TAKE)
        self._pause = self._redis.register_script(_PAUSE)
        self._pairs = self._redis.register_script(_PAIRS)
        self._offset = 0.0
        self._offset_measured_at = 0.0

    def take(self, wanted: int) -> Grant:
        asked_at = time.monotonic()
        granted, retry_after, first_slot, redis_now = self._take(
            keys=[self._key], args=[self.rate, self.horizon, wanted]
        )
        answered_at = time.monotonic()
        offset = self._redis_clock_offset()
        # Redis read its clock between our asking and its answer. If the translation puts
        # that moment elsewhere, a clock was stepped since the offset was measured (a VM
        # resumed from a snapshot moved the wall clock 6 s against the monotonic one, and
        # every slot came 6 s late until the next check, a minute later).
        redis_now_here = float(redis_now) - offset
        if not (
            asked_at - CLOCK_TOLERANCE_SECONDS
            <= redis_now_here
            <= answered_at + CLOCK_TOLERANCE_SECONDS
        ):
            stale = offset
            offset = self._redis_clock_offset(again=True)
            logger.warning("whatsapp.clock_stepped seconds=%.3f", offset - stale)
        delay = float(first_slot) - offset - time.monotonic()
        return Grant(int(granted), float(retry_after), delay, 1 / self.rate)

    def _redis_clock_offset(self, *, again: bool = False) -> float:
        """Redis's clock minus this process's ``time.monotonic()``, from the quickest of a
        few ``TIME`` round trips; measured again every ``CLOCK_CHECK_SECONDS`` (the clocks
        drift apart by milliseconds per hour), or at once with ``again``."""
        now = time.monotonic()
        if (
            not again
            and self._offset_measured_at
            and now - self._offset_measured_at < CLOCK_CHECK_SECONDS
        ):
            return self._offset
        samples = []
        for _ in range(3):
            before = time.monotonic()
            seconds, microseconds = self._redis.time()
            after = time.monotonic()
            samples.append((after - before, seconds + microseconds / 1e6 - (before + after) / 2))
        best = min(samples)
        self._offset, self._offset_measured_at = best[1], time.monotonic()
        return self._offset

    def pause(self, seconds: float) -> None:
        if seconds > 0:
            self._pause(keys=[self._key], args=[seconds])

    def take_pairs(self, wa_ids: Sequence[str]) -> list[float]:
        if not wa_ids:
            return []
        keys = [f"{self._key}:pair:{wa_id}" for wa_id in wa_ids]
        waits = self._pairs(keys=keys, args=[self.pair_burst, self.pair_interval])
        return [float(wait) for wait in waits]


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
    rate = tier_rate * RATE_SHARE
    pair_burst = float(config["PAIR_LIMIT_BURST"])
    pair_interval = float(config["PAIR_LIMIT_INTERVAL_SECONDS"])
    if settings.REDIS_URL:
        key = f"townhall:{settings.HUEY['name']}:slots:{phone_number_id}"
        return RedisRateLimiter(
            settings.REDIS_URL,
            key=key,
            rate=rate,
            pair_burst=pair_burst,
            pair_interval=pair_interval,
        )
    return LocalRateLimiter(rate=rate, pair_burst=pair_burst, pair_interval=pair_interval)
