"""Identity's service API for the other domains: patients (read-only views) and the SMS seam.

* :class:`PatientView`, :func:`get_patient`, :func:`get_patients` — what other domains read about a
  patient (they never touch identity's tables).
* :class:`SmsSender` — the one-function seam SMS codes go through. The outbox topic ``identity.sms_code``
  calls the runtime's sender; the embedded and test profiles default to :class:`MemorySmsSender`
  (tests read the codes from it); notifications plugs the real gateway with :func:`set_sms_sender`.
"""

from __future__ import annotations

import datetime
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, Protocol

import structlog
from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.db import HotStatement
from backend.identity import tokens
from backend.identity.models import Patient
from backend.outbox.service import Envelope

if TYPE_CHECKING:
    from backend.runtime import Runtime

log = structlog.get_logger(__name__)

SMS_TOPIC = "identity.sms_code"
#: A patient completed an ESIA login: other domains react (the documents domain syncs); the composition
#: root (backend.wiring) names the handler, so identity knows none of them.
LOGIN_TOPIC = "identity.patient_logged_in"


# ---------------------------------------------------------------------------------------------- patients


@dataclass(frozen=True)
class PatientView:
    id: uuid.UUID
    esia_oid: str | None
    last_name: str
    first_name: str
    middle_name: str | None
    birth_date: datetime.date
    sex: str
    snils: str | None
    oms_policy: str | None
    phone: str | None
    email: str | None
    # ESIA's addresses as {"line", "fias_code", "postcode"}: registration (PRG) and residence (PLV)
    registration_address: dict[str, Any] | None = None
    residence_address: dict[str, Any] | None = None

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.last_name, self.first_name, self.middle_name) if p)

    @property
    def short_name(self) -> str:
        """«Тестова А. С.»: what a kiosk or an operator's screen shows."""
        initials = " ".join(f"{p[0]}." for p in (self.first_name, self.middle_name) if p)
        return f"{self.last_name} {initials}".strip()

    def age_on(self, day: datetime.date) -> int:
        born = self.birth_date
        return day.year - born.year - ((day.month, day.day) < (born.month, born.day))

    @classmethod
    def of(cls, row: Patient) -> PatientView:
        return cls(
            id=row.id,
            esia_oid=row.esia_oid,
            last_name=row.last_name,
            first_name=row.first_name,
            middle_name=row.middle_name,
            birth_date=row.birth_date,
            sex=row.sex,
            snils=row.snils,
            oms_policy=row.oms_policy,
            phone=row.phone,
            email=row.email,
            registration_address=row.registration_address,
            residence_address=row.residence_address,
        )


async def get_patients(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, PatientView]:
    """The patients among ``ids`` (one query; missing ids are absent from the result)."""
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        return {}
    rows = await session.scalars(select(Patient).where(Patient.id.in_(wanted)))
    return {row.id: PatientView.of(row) for row in rows}


_VIEW_COLUMNS = tuple(getattr(Patient, f.name) for f in fields(PatientView))
_PATIENT_VIEW = HotStatement(select(*_VIEW_COLUMNS).where(Patient.id == bindparam("id")))


async def get_patient(session: AsyncSession, id: uuid.UUID) -> PatientView | None:
    """One patient's view (a prebuilt statement of the view's columns: no ORM object is loaded)."""
    row = await _PATIENT_VIEW.first(session, {"id": id})
    return PatientView(*row) if row is not None else None


_POLICY = re.compile(r"^\d{16}$")
_SNILS_DIGITS = re.compile(r"^\d{11}$")


def normalise_policy(value: str) -> str | None:
    """A 16-digit unified OMS policy number (ЕНП) from typed or scanned input; None if it is not one."""
    digits = re.sub(r"[\s-]", "", value or "")
    return digits if _POLICY.match(digits) else None


def normalise_phone(phone: str | None) -> str | None:
    """E.164 (``+79191234567``) from the forms ESIA and people write (``+7(919)123-45-67``, ``8919…``)."""
    if not phone:
        return None
    digits = re.sub(r"\D", "", phone)
    if len(digits) == 11 and digits[0] in "78":
        return "+7" + digits[1:]
    return "+" + digits if digits else None


def normalise_snils(value: str) -> str | None:
    """``123-456-789 01`` from any spacing/dashes; None if it is not 11 digits."""
    digits = re.sub(r"\D", "", value or "")
    if not _SNILS_DIGITS.match(digits):
        return None
    return f"{digits[0:3]}-{digits[3:6]}-{digits[6:9]} {digits[9:11]}"


async def find_patient_by_policy(session: AsyncSession, policy: str, birth_date: datetime.date) -> PatientView | None:
    """The patient with this OMS policy *and* birth date (both must match: identification, not lookup)."""
    row = await session.scalar(select(Patient).where(Patient.oms_policy == policy, Patient.birth_date == birth_date))
    return PatientView.of(row) if row is not None else None


async def find_patient_by_snils(session: AsyncSession, snils: str, birth_date: datetime.date) -> PatientView | None:
    row = await session.scalar(select(Patient).where(Patient.snils == snils, Patient.birth_date == birth_date))
    return PatientView.of(row) if row is not None else None


async def find_caller(session: AsyncSession, phone: str | None, esia_oid: str | None) -> PatientView | None:
    """Who made a call: the person of this ESIA identity, else the one whose confirmed phone it is (the
    phone on file comes from ESIA, where it is verified); of several sharing a phone, the eldest (a parent
    whose child's record carries the family phone)."""
    if esia_oid:
        row = await session.scalar(select(Patient).where(Patient.esia_oid == esia_oid))
        if row is not None:
            return PatientView.of(row)
    number = normalise_phone(phone)
    if not number:
        return None
    row = await session.scalar(
        select(Patient).where(Patient.phone == number).order_by(Patient.birth_date, Patient.id).limit(1)
    )
    return PatientView.of(row) if row is not None else None


#: The most people one phone number is offered for (a family sharing a number; more is not a caller's line).
MAX_PHONE_MATCHES = 10


async def patients_by_phone(
    session: AsyncSession, phone: str | None, *, limit: int = MAX_PHONE_MATCHES
) -> list[PatientView]:
    """The people whose confirmed phone (from ESIA, where it is verified) is ``phone``, eldest first: who a
    122 call from that number may be (a parent and the children whose records carry the family phone).
    Not identification: the operator still asks for the birth date (:func:`backend.identity.operators`)."""
    number = normalise_phone(phone)
    if not number:
        return []
    rows = await session.scalars(
        select(Patient).where(Patient.phone == number).order_by(Patient.birth_date, Patient.id).limit(limit)
    )
    return [PatientView.of(row) for row in rows]


async def patient_ids_by_snils(session: AsyncSession, snils: Sequence[str]) -> dict[str, uuid.UUID]:
    """SNILS → patient id for the people we know among ``snils`` (upstream registers name people by SNILS;
    a lookup for system feeds, not identification)."""
    wanted = {n for n in (normalise_snils(s) for s in snils) if n}
    if not wanted:
        return {}
    rows = await session.execute(select(Patient.snils, Patient.id).where(Patient.snils.in_(sorted(wanted))))
    return {str(number): patient_id for number, patient_id in rows.all()}


@dataclass(frozen=True)
class PatientData:
    """What ESIA (or a guardian's ESIA data about a child) tells us about a person."""

    esia_oid: str | None
    last_name: str
    first_name: str
    middle_name: str | None
    birth_date: datetime.date
    sex: str
    snils: str | None
    oms_policy: str | None
    phone: str | None = None
    email: str | None = None
    registration_address: dict[str, Any] | None = None
    residence_address: dict[str, Any] | None = None


async def upsert_patient(session: AsyncSession, data: PatientData, *, at: datetime.datetime) -> Patient:
    """Create or refresh the patient ``data`` describes (matched by ESIA oid, then SNILS, then policy).

    ESIA is the source of truth: every field it sent overwrites ours. A unique value (SNILS, policy) held
    by another row is moved to this person: ESIA has verified it.
    """
    row: Patient | None = None
    if data.esia_oid:
        row = await session.scalar(select(Patient).where(Patient.esia_oid == data.esia_oid))
    if row is None and data.snils:
        row = await session.scalar(select(Patient).where(Patient.snils == data.snils))
    if row is None and data.oms_policy:
        row = await session.scalar(select(Patient).where(Patient.oms_policy == data.oms_policy))
    for column, value in (("snils", data.snils), ("oms_policy", data.oms_policy)):
        if value:
            holder = await session.scalar(select(Patient).where(getattr(Patient, column) == value))
            if holder is not None and (row is None or holder.id != row.id):
                setattr(holder, column, None)
                await session.flush()
    if row is None:
        row = Patient(id=uuid.uuid4(), created_at=at)
        session.add(row)
    if data.esia_oid:
        row.esia_oid = data.esia_oid
    row.last_name, row.first_name, row.middle_name = data.last_name, data.first_name, data.middle_name
    row.birth_date, row.sex = data.birth_date, data.sex
    row.snils = data.snils or row.snils
    row.oms_policy = data.oms_policy or row.oms_policy
    row.phone = data.phone or row.phone
    row.email = data.email or row.email
    row.registration_address = data.registration_address or row.registration_address
    row.residence_address = data.residence_address or row.residence_address
    row.esia_synced_at = at if data.esia_oid else row.esia_synced_at
    row.updated_at = at
    await session.flush()
    return row


# ---------------------------------------------------------------------------------------------- SMS seam


class SmsSender(Protocol):
    """Sends one SMS. ``idempotency_key`` is the outbox message id: a retry must not send twice."""

    async def send(self, phone: str, text: str, *, idempotency_key: str) -> None: ...


@dataclass(frozen=True)
class SentSms:
    phone: str
    text: str
    idempotency_key: str


@dataclass
class MemorySmsSender:
    """The embedded/test sender: records the messages (once per idempotency key) and logs them."""

    messages: list[SentSms] = field(default_factory=list)

    async def send(self, phone: str, text: str, *, idempotency_key: str) -> None:
        if any(m.idempotency_key == idempotency_key for m in self.messages):
            return
        self.messages.append(SentSms(phone=phone, text=text, idempotency_key=idempotency_key))
        log.info("identity.sms.memory", phone=phone[:-4] + "****", key=idempotency_key)

    def last_code(self, phone: str | None = None) -> str:
        """The digits of the last code sent (to ``phone`` if given): what a test types back."""
        for message in reversed(self.messages):
            if phone is None or message.phone == phone:
                found = re.search(r"\b(\d{6})\b", message.text)
                if found:
                    return found.group(1)
        raise LookupError("no SMS code was sent")


def set_sms_sender(runtime: Runtime, sender: SmsSender) -> None:
    """Plug the real SMS channel (notifications) into identity's codes."""
    runtime.adapters.code_sms = sender


def sms_sender(runtime: Runtime) -> SmsSender:
    sender = runtime.adapters.code_sms
    if sender is None:
        # In production codes go out through the runtime's SMS gateway, like every other SMS.
        sender = runtime.adapters.gateway_sms_sender() if runtime.settings.is_production else MemorySmsSender()
        runtime.adapters.code_sms = sender
    return sender


def memory_sms(runtime: Runtime) -> MemorySmsSender:
    sender = sms_sender(runtime)
    if not isinstance(sender, MemorySmsSender):
        raise TypeError("the runtime's SMS sender is not the in-memory one")
    return sender


async def send_sms_code(envelope: Envelope, runtime: Runtime) -> None:
    payload = envelope.payload
    text = tokens.unseal(runtime, str(payload["sealed"])) if "sealed" in payload else str(payload["text"])
    await sms_sender(runtime).send(str(payload["phone"]), text, idempotency_key=str(envelope.id))
