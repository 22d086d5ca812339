"""Attempt counters with a fixed window: Redis when the runtime has it, in-process otherwise.

Identification at a kiosk or by an operator counts attempts per device/operator and per person; SMS
codes are counted per person and per requester; staff logins that name no account lock as accounts do.
An attempt is checked and counted *before* it is evaluated, on every key at once and atomically (one Lua
script on Redis; no await in between in-process): of any number of concurrent attempts, at most
``limit`` per key are let through in a window, and a refused one counts nowhere. A successful attempt
gives its count back (:meth:`release`) or clears the key (:meth:`reset`); a failed one keeps it. Once a
key is at its limit it stays locked until its window ends. The in-process fallback serves the embedded
profile (one process, no Redis); it uses the identity clock, so tests drive it without sleeping.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from backend.identity import tokens

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from backend.runtime import Runtime

PREFIX = "mz:identity:fail:"
#: How long a login's failures are remembered without a new one (Redis).
LOCKOUT_MEMORY_S = 86400

#: KEYS: the counters; ARGV[1]: the window in seconds, ARGV[1 + i]: the limit of KEYS[i]. Returns the
#: (1-based) positions of the keys one more attempt would take past their limit; when there are none, the
#: attempt is counted on every key.
_ACQUIRE = """
local refused = {}
for i, key in ipairs(KEYS) do
  if tonumber(redis.call('GET', key) or '0') + 1 > tonumber(ARGV[i + 1]) then table.insert(refused, i) end
end
if #refused == 0 then
  for _, key in ipairs(KEYS) do
    redis.call('INCR', key)
    redis.call('EXPIRE', key, ARGV[1], 'NX')
  end
end
return refused
"""
#: KEYS[1]: a login's lock; ARGV: now, limit, lockout (seconds), ttl. Returns 1 if locked (nothing
#: counted), else counts one failure (one reaching the limit locks until now + lockout) and returns 0.
_LOCKOUT = """
local now = tonumber(ARGV[1])
local locked_until = tonumber(redis.call('HGET', KEYS[1], 'until') or '0')
if locked_until > now then return 1 end
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
if failures >= tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[1], 'until', tostring(now + tonumber(ARGV[3])), 'failures', 0)
end
redis.call('EXPIRE', KEYS[1], ARGV[4])
return 0
"""
#: Gives one attempt back (never below zero).
_RELEASE = """
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
if count > 0 then redis.call('DECR', KEYS[1]) end
return count
"""


class FailureCounter(Protocol):
    async def acquire(self, limits: Sequence[tuple[str, int]], *, window_s: int) -> set[str]:
        """The keys one more attempt would take past their limit; when none, the attempt is counted on
        every ``(key, limit)``, in the same atomic step (a refused attempt counts nowhere)."""
        ...

    async def release(self, key: str) -> None:
        """Give back the attempt counted on ``key`` (it succeeded)."""
        ...

    async def locked(self, key: str, *, limit: int) -> bool: ...

    async def lockout(self, key: str, *, at: float, limit: int, lockout_s: int) -> bool:
        """A failed login under ``key`` at ``at`` (the identity clock, seconds): True if ``key`` is locked
        (nothing is counted then); otherwise the failure is counted, and the one reaching ``limit`` locks
        ``key`` for ``lockout_s`` — as staff accounts lock in the database."""
        ...

    async def fail(self, key: str, *, window_s: int) -> int:
        """Count one failure; returns the count in the current window."""
        ...

    async def reset(self, key: str) -> None: ...


class RedisFailureCounter:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._acquire: Any = redis.register_script(_ACQUIRE)
        self._release: Any = redis.register_script(_RELEASE)
        self._lockout: Any = redis.register_script(_LOCKOUT)

    async def acquire(self, limits: Sequence[tuple[str, int]], *, window_s: int) -> set[str]:
        keys = [PREFIX + key for key, _ in limits]
        refused = await self._acquire(keys=keys, args=[window_s, *(limit for _, limit in limits)])
        return {limits[int(i) - 1][0] for i in refused}

    async def release(self, key: str) -> None:
        await self._release(keys=[PREFIX + key])

    async def lockout(self, key: str, *, at: float, limit: int, lockout_s: int) -> bool:
        ttl = max(lockout_s, LOCKOUT_MEMORY_S)
        return bool(int(await self._lockout(keys=[PREFIX + key], args=[at, limit, lockout_s, ttl])))

    async def locked(self, key: str, *, limit: int) -> bool:
        raw = await self._redis.get(PREFIX + key)
        return raw is not None and int(raw) >= limit

    async def fail(self, key: str, *, window_s: int) -> int:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(PREFIX + key)
            pipe.expire(PREFIX + key, window_s, nx=True)
            count, _ = await pipe.execute()
        return int(count)

    async def reset(self, key: str) -> None:
        await self._redis.delete(PREFIX + key)


@dataclass
class MemoryFailureCounter:
    runtime: Runtime
    _counts: dict[str, tuple[int, float]] = field(default_factory=dict)  # key → (count, window end)
    _locks: dict[str, tuple[int, float]] = field(default_factory=dict)  # key → (failures, locked until)

    def _now(self) -> float:
        return tokens.now(self.runtime).timestamp()

    def _current(self, key: str) -> int:
        count, ends = self._counts.get(key, (0, math.inf))
        if self._now() >= ends:
            self._counts.pop(key, None)
            return 0
        return count

    def _count(self, key: str, window_s: int) -> int:
        count = self._current(key)
        ends = self._counts[key][1] if key in self._counts else self._now() + window_s
        self._counts[key] = (count + 1, ends)
        return count + 1

    async def acquire(self, limits: Sequence[tuple[str, int]], *, window_s: int) -> set[str]:
        # No await between the check and the counts: atomic within the process.
        refused = {key for key, limit in limits if self._current(key) + 1 > limit}
        if not refused:
            for key, _ in limits:
                self._count(key, window_s)
        return refused

    async def release(self, key: str) -> None:
        count = self._current(key)
        if count > 0:
            self._counts[key] = (count - 1, self._counts[key][1])

    async def locked(self, key: str, *, limit: int) -> bool:
        return self._current(key) >= limit

    async def lockout(self, key: str, *, at: float, limit: int, lockout_s: int) -> bool:
        failures, locked_until = self._locks.get(key, (0, 0.0))
        if locked_until > at:
            return True
        failures += 1
        self._locks[key] = (0, at + lockout_s) if failures >= limit else (failures, locked_until)
        return False

    async def fail(self, key: str, *, window_s: int) -> int:
        return self._count(key, window_s)

    async def reset(self, key: str) -> None:
        self._counts.pop(key, None)


def failure_counter(runtime: Runtime) -> FailureCounter:
    counter = runtime.adapters.failure_counter
    if counter is None:
        counter = RedisFailureCounter(runtime.redis) if runtime.redis is not None else MemoryFailureCounter(runtime)
        runtime.adapters.failure_counter = counter
    return counter
