"""A small cache for availability, with stale-while-revalidate, and a fail-fast slot marker.

Two implementations behind one interface (:class:`CacheBackend`): Redis when the runtime has one, and
an in-process dictionary for the embedded profile (``runtime.redis is None``). Neither is ever the guard
against double booking (the database's unique indexes are); the marker only turns away, early and
cheaply, attempts at a slot another request is booking right now.

:class:`SwrCache` serves a fresh entry as it is, a stale one at once while *one* background refresh runs
(the refresh takes a short marker, so many readers start one refresh between them), and fetches only on
a miss. A slow upstream therefore delays the first reader of a key, never the readers of a stale one.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import orjson
import structlog
from redis.exceptions import NoScriptError

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from backend.runtime import Runtime

log = structlog.get_logger(__name__)

PREFIX = "mz:booking:"
_RELEASE_LUA = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"
# SET NX PX on KEYS[1], and only if it was set, GET of KEYS[2]: one command (a refused attempt reads nothing).
_ACQUIRE_AND_GET_LUA = (
    "if not redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return false end "
    "return {1, redis.call('get', KEYS[2])}"
)
_ACQUIRE_AND_GET_SHA = hashlib.sha1(_ACQUIRE_AND_GET_LUA.encode(), usedforsecurity=False).hexdigest()


class CacheBackend(Protocol):
    async def get(self, key: str) -> str | None: ...

    async def set(self, key: str, value: str, ttl_s: float) -> None: ...

    async def delete(self, key: str) -> None: ...

    async def acquire(self, key: str, ttl_s: float) -> str | None:
        """Set ``key`` if absent (SET NX with a TTL); the owner token, or None if someone holds it."""
        ...

    async def release(self, key: str, token: str) -> None:
        """Delete ``key`` only if ``token`` still owns it."""
        ...

    async def acquire_and_get(self, key: str, ttl_s: float, other: str) -> tuple[str | None, str | None]:
        """:meth:`acquire` ``key`` and :meth:`get` ``other``, in one round trip."""
        ...


@dataclass
class MemoryBackend:
    """The embedded profile's backend: one process, one dictionary, expiry by a monotonic clock."""

    clock: Callable[[], float] = time.monotonic
    _data: dict[str, tuple[str, float]] = field(default_factory=dict)

    def _live(self, key: str) -> str | None:
        item = self._data.get(key)
        if item is None:
            return None
        if item[1] <= self.clock():
            self._data.pop(key, None)
            return None
        return item[0]

    async def get(self, key: str) -> str | None:
        return self._live(key)

    async def set(self, key: str, value: str, ttl_s: float) -> None:
        if len(self._data) > 50_000:  # bounded: drop what expired, then the oldest
            now = self.clock()
            for k in [k for k, (_, exp) in self._data.items() if exp <= now]:
                self._data.pop(k, None)
            while len(self._data) > 40_000:
                self._data.pop(next(iter(self._data)))
        self._data[key] = (value, self.clock() + ttl_s)

    async def delete(self, key: str) -> None:
        self._data.pop(key, None)

    async def acquire(self, key: str, ttl_s: float) -> str | None:
        if self._live(key) is not None:
            return None
        token = secrets.token_hex(8)
        self._data[key] = (token, self.clock() + ttl_s)
        return token

    async def release(self, key: str, token: str) -> None:
        if self._live(key) == token:
            self._data.pop(key, None)

    async def acquire_and_get(self, key: str, ttl_s: float, other: str) -> tuple[str | None, str | None]:
        return await self.acquire(key, ttl_s), self._live(other)


@dataclass
class RedisBackend:
    redis: Redis
    prefix: str = PREFIX  # another user of this cache (drugs' pharmacy stock) keeps its keys apart

    async def get(self, key: str) -> str | None:
        value = await self.redis.get(self.prefix + key)
        if value is None:
            return None
        return value.decode() if isinstance(value, bytes) else str(value)

    async def set(self, key: str, value: str, ttl_s: float) -> None:
        await self.redis.set(self.prefix + key, value, px=max(1, int(ttl_s * 1000)))

    async def delete(self, key: str) -> None:
        await self.redis.delete(self.prefix + key)

    async def acquire(self, key: str, ttl_s: float) -> str | None:
        token = secrets.token_hex(8)
        ok = await self.redis.set(self.prefix + key, token, nx=True, px=max(1, int(ttl_s * 1000)))
        return token if ok else None

    async def release(self, key: str, token: str) -> None:
        await self.redis.eval(_RELEASE_LUA, 1, self.prefix + key, token)  # type: ignore[misc]

    async def acquire_and_get(self, key: str, ttl_s: float, other: str) -> tuple[str | None, str | None]:
        # One EVALSHA rather than a pipeline of SET and GET: less client CPU on the refused attempts that
        # dominate under contention (bench P2, see bench/README.md); the script is loaded on the first NOSCRIPT.
        token = secrets.token_hex(8)
        args = (2, self.prefix + key, self.prefix + other, token, max(1, int(ttl_s * 1000)))
        try:
            answer = await self.redis.execute_command("EVALSHA", _ACQUIRE_AND_GET_SHA, *args)
        except NoScriptError:
            answer = await self.redis.execute_command("EVAL", _ACQUIRE_AND_GET_LUA, *args)
        if answer is None:
            return None, None
        value = answer[1]
        return token, (value.decode() if isinstance(value, bytes) else value)


class SafeBackend:
    """Wraps a backend so that its failures degrade to a miss / no marker (Redis may only fail fast)."""

    def __init__(self, inner: CacheBackend) -> None:
        self.inner = inner

    async def get(self, key: str) -> str | None:
        try:
            return await self.inner.get(key)
        except Exception:
            log.warning("booking.cache_get_failed", key=key, exc_info=True)
            return None

    async def set(self, key: str, value: str, ttl_s: float) -> None:
        try:
            await self.inner.set(key, value, ttl_s)
        except Exception:
            log.warning("booking.cache_set_failed", key=key, exc_info=True)

    async def delete(self, key: str) -> None:
        try:
            await self.inner.delete(key)
        except Exception:
            log.warning("booking.cache_delete_failed", key=key, exc_info=True)

    async def acquire(self, key: str, ttl_s: float) -> str | None:
        try:
            return await self.inner.acquire(key, ttl_s)
        except Exception:
            log.warning("booking.cache_acquire_failed", key=key, exc_info=True)
            return ""  # no marker service: let the database decide

    async def release(self, key: str, token: str) -> None:
        if not token:
            return
        try:
            await self.inner.release(key, token)
        except Exception:
            log.warning("booking.cache_release_failed", key=key, exc_info=True)

    async def acquire_and_get(self, key: str, ttl_s: float, other: str) -> tuple[str | None, str | None]:
        try:
            return await self.inner.acquire_and_get(key, ttl_s, other)
        except Exception:
            log.warning("booking.cache_acquire_failed", key=key, exc_info=True)
            return "", None  # no marker service: let the database decide


@dataclass
class LocalMarkers:
    """This process's own view of slot markers: those it holds, and those it was refused a moment ago. A
    burst of attempts at one slot within a process (everybody clicking the first free time) is then turned
    away without a Redis round trip each. Like the markers themselves, never a guard: at worst it refuses
    a slot that just became free, for :data:`REFUSED_MEMORY_S` or until its own booking's marker expires."""

    clock: Callable[[], float] = time.monotonic
    _until: dict[str, float] = field(default_factory=dict)
    MAX = 10_000
    REFUSED_MEMORY_S = 1.0

    def busy(self, key: str) -> bool:
        until = self._until.get(key)
        if until is None:
            return False
        if until <= self.clock():
            self._until.pop(key, None)
            return False
        return True

    def hold(self, key: str, ttl_s: float) -> None:
        if len(self._until) >= self.MAX:
            now = self.clock()
            self._until = {k: u for k, u in self._until.items() if u > now}
            if len(self._until) >= self.MAX:
                self._until.clear()
        self._until[key] = self.clock() + ttl_s

    def forget(self, key: str) -> None:
        self._until.pop(key, None)


@dataclass
class SwrCache:
    """Stale-while-revalidate over a :class:`CacheBackend`; values are JSON.

    In front of the backend, each process keeps what it read or wrote for ``local_s`` while the entry is
    still fresh (a hot doctor's day is read by every booking and search of it: without this, each one
    paid a Redis round trip and a JSON decode: bench P2 and P3). So a process may answer at most ``local_s``
    behind another process's refresh, within the ``fresh_s`` the entry may be old anyway. Local values
    are shared between readers: treat them as read-only.
    """

    backend: CacheBackend
    fresh_s: float = 30.0
    stale_s: float = 300.0
    local_s: float = 2.0
    clock: Callable[[], float] = time.time
    _tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    refreshes: int = 0  # background refreshes started (for tests and metrics)
    # key -> (the entry's time, when this process stored it, value)
    local: dict[str, tuple[float, float, Any]] = field(default_factory=dict)
    LOCAL_MAX = 4096
    fetches: int = 0  # fetches on a miss (for tests and metrics)
    markers: LocalMarkers = field(default_factory=LocalMarkers)
    _inflight: dict[str, asyncio.Future[Any]] = field(default_factory=dict)

    async def get_or_fetch(self, key: str, fetch: Callable[[], Awaitable[Any]]) -> Any:
        now = self.clock()
        near = self.local.get(key)
        if near is not None and now - near[1] < self.local_s and now - near[0] <= self.fresh_s:
            return near[2]
        raw = await self.backend.get(key)
        if raw is not None:
            try:
                entry = orjson.loads(raw)
                at = float(entry["at"])
                value = entry["value"]
            except (ValueError, KeyError, TypeError):
                entry = None
            if entry is not None:
                if now - at > self.fresh_s:
                    await self._refresh_in_background(key, fetch)
                else:
                    self._keep(key, at, value)
                return value
        return await self._fetch_once(key, fetch)

    async def _fetch_once(self, key: str, fetch: Callable[[], Awaitable[Any]]) -> Any:
        """A miss is fetched once in this process however many readers ask meanwhile (they await the one
        fetch: a cold key read by a burst of searches is one upstream call, not one per reader)."""
        running = self._inflight.get(key)
        if running is not None:
            try:
                return await asyncio.shield(running)
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if not running.cancelled() or (task is not None and task.cancelling()):
                    raise
                return await self._fetch_once(key, fetch)  # the fetching reader was cancelled, not this one
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            self.fetches += 1
            value = await fetch()
            await self.put(key, value)
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # marked retrieved: no "never retrieved" warning when nobody waited
            raise
        else:
            future.set_result(value)
            return value
        finally:
            self._inflight.pop(key, None)
            if not future.done():
                future.cancel()

    def _keep(self, key: str, at: float, value: Any) -> None:
        if len(self.local) >= self.LOCAL_MAX:
            self.local.clear()  # bounded: entries live seconds, so starting over costs little
        self.local[key] = (at, self.clock(), value)

    async def put(self, key: str, value: Any) -> None:
        at = self.clock()
        raw = orjson.dumps({"at": at, "value": value}).decode()
        await self.backend.set(key, raw, self.fresh_s + self.stale_s)
        self._keep(key, at, value)

    async def invalidate(self, key: str) -> None:
        self.local.pop(key, None)
        await self.backend.delete(key)

    async def _refresh_in_background(self, key: str, fetch: Callable[[], Awaitable[Any]]) -> None:
        token = await self.backend.acquire(f"refresh:{key}", ttl_s=max(5.0, self.fresh_s))
        if token is None:
            return  # someone else is refreshing it

        async def run() -> None:
            try:
                await self.put(key, await fetch())
            except Exception:
                log.warning("booking.cache_refresh_failed", key=key, exc_info=True)
            finally:
                await self.backend.release(f"refresh:{key}", token)

        self.refreshes += 1
        task = asyncio.create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)


def booking_cache(runtime: Runtime) -> SwrCache:
    """The runtime's booking cache (Redis-backed when there is Redis, in-process otherwise)."""
    return runtime.adapters.booking_cache
