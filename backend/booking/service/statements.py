"""The booking path's statements, built once and executed with parameters.

Building the SQLAlchemy expressions on every call cost more than running them (bench P2).
"""

from __future__ import annotations

import uuid
from typing import cast

from sqlalchemy import Table, bindparam, literal_column, select, update

from backend.booking.models import Appointment, HoldStatus, SlotHold, is_live
from backend.core.db import GUID, HotStatement, insert_or_skip

_HOLDS = cast("Table", SlotHold.__table__)
_APPOINTMENTS = cast("Table", Appointment.__table__)
_NO_ID = uuid.UUID(int=0)


_CLAIM_HOLD = HotStatement(insert_or_skip(_HOLDS).returning(_HOLDS.c.id))
_LIVE_CHECK = HotStatement(
    select(
        select(Appointment.id)
        .where(
            Appointment.patient_id == bindparam("patient_id"),
            Appointment.specialty_code == bindparam("specialty_code"),
            is_live(Appointment.status),
            Appointment.id != bindparam("except_id"),
        )
        .exists(),
        select(Appointment.id)
        .where(
            Appointment.mo_id == bindparam("mo_id"),
            Appointment.slot_id == bindparam("slot_id"),
            is_live(Appointment.status),
        )
        .exists(),
    )
)
# An appointment claims its slot: inserted unless the slot has a live appointment (the partial unique
# indexes: a concurrent claim waits for the other transaction, then skips) or a running hold other than
# ``except_hold`` (the caller's own). Nothing returned: refused; see _claim_appointment.
_CLAIM_APPOINTMENT = HotStatement(
    insert_or_skip(
        _APPOINTMENTS,
        where=~select(_HOLDS.c.id)
        .where(
            _HOLDS.c.mo_id == bindparam("mo_id"),
            _HOLDS.c.slot_id == bindparam("slot_id"),
            _HOLDS.c.status == literal_column(f"'{HoldStatus.HELD.value}'"),
            _HOLDS.c.expires_at > bindparam("created_at"),
            _HOLDS.c.id != bindparam("except_hold", type_=GUID),
        )
        .exists(),
    ).returning(_APPOINTMENTS.c.id)
)
_SET_HUB_IDS = HotStatement(
    update(_APPOINTMENTS)
    .where(_APPOINTMENTS.c.id == bindparam("appointment_id"))
    .values(slot_id=bindparam("hub_slot_id"), hub_patient_id=bindparam("hub_patient"))
)
_CONFIRM_HOLD = HotStatement(
    update(_HOLDS)
    .where(_HOLDS.c.id == bindparam("hold_id"))
    .values(status=HoldStatus.CONFIRMED.value, closed_at=bindparam("at"))
)
