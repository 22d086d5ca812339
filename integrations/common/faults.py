"""Fault injection shared by the upstream simulators.

A simulator takes a :class:`FaultProfile` and calls :meth:`FaultInjector.before_reply` before it
answers; the injector sleeps for the configured latency (plus jitter) and decides whether this reply
is an error, a timeout (the simulator stalls past any sane client timeout) or a malformed body. The
decision is drawn from a seeded generator, so a test with a fixed seed sees the same sequence.
"""

from __future__ import annotations

import asyncio
import enum
import random
from dataclasses import dataclass, field


class Fault(enum.Enum):
    NONE = "none"
    ERROR = "error"  # the upstream answers with its own error shape
    TIMEOUT = "timeout"  # the upstream does not answer in time
    MALFORMED = "malformed"  # the upstream answers with a body the client cannot parse


@dataclass
class FaultProfile:
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    error_rate: float = 0.0
    timeout_rate: float = 0.0
    malformed_rate: float = 0.0
    timeout_stall_s: float = 30.0
    seed: int = 0
    #: While set to an unset event, replies wait for it after their latency: a test keeps a call in flight.
    hold: asyncio.Event | None = None

    def __post_init__(self) -> None:
        for name in ("error_rate", "timeout_rate", "malformed_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be within [0, 1], got {value}")
        if self.error_rate + self.timeout_rate + self.malformed_rate > 1.0:
            raise ValueError("the fault rates add up to more than 1")


@dataclass
class FaultInjector:
    profile: FaultProfile = field(default_factory=FaultProfile)
    _rng: random.Random = field(init=False)
    _forced: list[Fault] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.profile.seed)

    def force(self, *faults: Fault) -> None:
        """Queue faults for the next replies, ahead of the random draw (for exact test scenarios)."""
        self._forced.extend(faults)

    def draw(self) -> Fault:
        if self._forced:
            return self._forced.pop(0)
        p = self.profile
        roll = self._rng.random()
        if roll < p.error_rate:
            return Fault.ERROR
        if roll < p.error_rate + p.timeout_rate:
            return Fault.TIMEOUT
        if roll < p.error_rate + p.timeout_rate + p.malformed_rate:
            return Fault.MALFORMED
        return Fault.NONE

    async def before_reply(self) -> Fault:
        """Wait the configured latency, then return the fault this reply must show (if any)."""
        p = self.profile
        delay = p.latency_ms + (self._rng.uniform(-p.jitter_ms, p.jitter_ms) if p.jitter_ms else 0.0)
        if delay > 0:
            await asyncio.sleep(delay / 1000.0)
        if p.hold is not None:
            await p.hold.wait()
        fault = self.draw()
        if fault is Fault.TIMEOUT:
            await asyncio.sleep(p.timeout_stall_s)
        return fault
