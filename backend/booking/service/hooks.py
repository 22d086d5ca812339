"""What booking tells other parts of the house, by hooks they register (wired in :mod:`backend.wiring`):

* **a slot freed** (:func:`on_slot_freed`): a cancellation here reached the hub, a reschedule let the
  old slot go, or the hub's history says the clinic cancelled. Called after the change is committed,
  each hook on its own: a hook's failure is logged, never undoes the cancellation (the waitlist's sweep
  finds what a failed hook missed). A hook registered with ``keeps_slot=True`` (the waitlist) has the
  slot kept for it: the transaction that frees the slot also writes a short *bridge hold*
  (:func:`backend.booking.service.holds.bridge_hold`), so nobody can book the slot between that commit
  and the hook; the hook takes the bridge over (:func:`~backend.booking.service.holds.take_bridge`) in the
  transaction where it makes its own hold, or lets it go. A hook that fails leaves the bridge to lapse
  after :data:`~backend.booking.service.holds.BRIDGE_TTL`.
* **a visit took place** (:func:`on_visited`): called inside the unit of work that records the status,
  so what a hook writes (a survey invitation) commits with it, once.

Hooks are keyed by name: registering the same name again replaces it (a runtime built twice wires twice).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import structlog

from backend.booking.models import Appointment

if TYPE_CHECKING:
    from backend.core.uow import UnitOfWork
    from backend.runtime import Runtime

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class FreedSlot:
    """A slot of the hub free again (the times aware UTC)."""

    mo_id: str
    doctor_id: str
    specialty_code: str
    slot_id: str
    start: datetime
    end: datetime

    @classmethod
    def of(cls, appointment: Appointment) -> FreedSlot:
        return cls(
            mo_id=appointment.mo_id,
            doctor_id=appointment.doctor_id,
            specialty_code=appointment.specialty_code,
            slot_id=appointment.slot_id,
            start=appointment.slot_start,
            end=appointment.slot_end,
        )


SlotFreedHook = Callable[["Runtime", FreedSlot], Awaitable[None]]
VisitedHook = Callable[["UnitOfWork", Appointment], Awaitable[None]]

_SLOT_FREED: dict[str, SlotFreedHook] = {}
_KEEPERS: set[str] = set()
_VISITED: dict[str, VisitedHook] = {}


def on_slot_freed(name: str, hook: SlotFreedHook, *, keeps_slot: bool = False) -> None:
    _SLOT_FREED[name] = hook
    if keeps_slot:
        _KEEPERS.add(name)
    else:
        _KEEPERS.discard(name)


def keeps_freed_slots() -> bool:
    """Whether a registered hook wants a freed slot kept for it (a bridge hold written with the change)."""
    return bool(_KEEPERS & _SLOT_FREED.keys())


def on_visited(name: str, hook: VisitedHook) -> None:
    _VISITED[name] = hook


async def slot_freed(runtime: Runtime, appointment: Appointment) -> None:
    """Tell the hooks that ``appointment``'s slot is free again (after the commit that freed it)."""
    if appointment.slot_start <= runtime.now():
        return  # a past slot is nobody's to take
    freed = FreedSlot.of(appointment)
    for name, hook in list(_SLOT_FREED.items()):
        try:
            await hook(runtime, freed)
        except Exception:
            log.exception("booking.slot_freed_hook_failed", hook=name, mo_id=freed.mo_id, slot_id=freed.slot_id)


async def visited(uow: UnitOfWork, appointment: Appointment) -> None:
    """Tell the hooks, in ``uow``, that ``appointment`` was visited."""
    for hook in list(_VISITED.values()):
        await hook(uow, appointment)
