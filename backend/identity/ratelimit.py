"""Failed-attempt counters with a fixed window: Redis when the runtime has it, in-process otherwise.

Identification at a kiosk or by an operator counts failures per device/operator and per policy number;
once a key reaches its limit it stays locked until its window ends. The in-process fallback serves the
embedded profile (one process, no Redis); it uses the identity clock, so tests drive it without sleeping.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from backend.identity import tokens

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from backend.runtime import Runtime

PREFIX = "mz:identity:fail:"


class FailureCounter(Protocol):
    async def locked(self, key: str, *, limit: int) -> bool: ...

    async def fail(self, key: str, *, window_s: int) -> int:
        """Count one failure; returns the count in the current window."""
        ...

    async def reset(self, key: str) -> None: ...


class RedisFailureCounter:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis

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

    def _now(self) -> float:
        return tokens.now(self.runtime).timestamp()

    def _current(self, key: str) -> int:
        count, ends = self._counts.get(key, (0, math.inf))
        if self._now() >= ends:
            self._counts.pop(key, None)
            return 0
        return count

    async def locked(self, key: str, *, limit: int) -> bool:
        return self._current(key) >= limit

    async def fail(self, key: str, *, window_s: int) -> int:
        count = self._current(key)
        ends = self._counts.get(key, (0, self._now() + window_s))[1] if count else self._now() + window_s
        self._counts[key] = (count + 1, ends)
        return count + 1

    async def reset(self, key: str) -> None:
        self._counts.pop(key, None)


def failure_counter(runtime: Runtime) -> FailureCounter:
    counter = runtime.adapters.failure_counter
    if counter is None:
        counter = RedisFailureCounter(runtime.redis) if runtime.redis is not None else MemoryFailureCounter(runtime)
        runtime.adapters.failure_counter = counter
    return counter
