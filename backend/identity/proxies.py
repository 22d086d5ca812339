"""Proxy grants: who may act for whom, within which scopes, until when.

* A parent or legal representative acts for a child: from the children in the parent's ESIA data
  (``guardian_esia``, active at once) or from a declared link confirmed by staff against a document
  (``guardian_declared``). Either ends by itself at the child's 15th birthday (323-ФЗ art. 54: from 15 a
  person consents to medical care themself).
* An adult names a trusted adult (``trusted_adult``): pending until the principal confirms the SMS code
  sent to their verified phone; it carries chosen scopes and an expiry.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.core.uow import UnitOfWork
from backend.identity import codes, policy, problems, tokens
from backend.identity.models import Patient, ProxyGrant
from backend.identity.policy import GUARDIAN_SCOPES
from backend.identity.service import (
    PatientData,
    PatientView,
    get_patients,
    normalise_policy,
    normalise_snils,
    upsert_patient,
)

if TYPE_CHECKING:
    from integrations.esia import EsiaChild

GUARDIAN_ESIA = "guardian_esia"
GUARDIAN_DECLARED = "guardian_declared"
TRUSTED_ADULT = "trusted_adult"
GUARDIANSHIP_AGE = 15  # 323-ФЗ art. 54 part 2
MAX_PROXY_DAYS = 5 * 365
DOCUMENT_TYPES = frozenset({"BIRTH_CERTIFICATE", "GUARDIANSHIP_ACT", "ADOPTION_DECISION"})


def birthday(born: date, age: int) -> date:
    try:
        return born.replace(year=born.year + age)
    except ValueError:  # 29 February → 1 March in a common year
        return date(born.year + age, 3, 1)


def guardianship_ends(child_birth_date: date) -> datetime:
    """The start of the child's 15th birthday (UTC midnight; a grant is valid strictly before it)."""
    return datetime.combine(birthday(child_birth_date, GUARDIANSHIP_AGE), time.min, tzinfo=UTC)


def _child_data(child: EsiaChild) -> PatientData | None:
    if not (child.last_name and child.first_name and child.birth_date):
        return None
    oms = child.oms_policy
    return PatientData(
        esia_oid=child.id or None,
        last_name=child.last_name,
        first_name=child.first_name,
        middle_name=child.middle_name,
        birth_date=child.birth_date,
        sex=child.sex or "U",
        snils=child.snils,
        oms_policy=oms.number if oms is not None else None,
    )


async def sync_esia_children(
    session: AsyncSession, parent_id: uuid.UUID, children: Sequence[EsiaChild], *, at: datetime
) -> list[uuid.UUID]:
    """Upsert the children ESIA lists for ``parent_id`` and keep an active guardian grant for each under 15."""
    linked: list[uuid.UUID] = []
    for child in children:
        data = _child_data(child)
        if data is None or guardianship_ends(data.birth_date) <= at:
            continue
        row = await upsert_patient(session, data, at=at)
        existing = await session.scalar(
            select(ProxyGrant).where(
                ProxyGrant.proxy_id == parent_id,
                ProxyGrant.principal_id == row.id,
                ProxyGrant.kind == GUARDIAN_ESIA,
                ProxyGrant.revoked_at.is_(None),
            )
        )
        if existing is None:
            session.add(
                ProxyGrant(
                    id=uuid.uuid4(),
                    principal_id=row.id,
                    proxy_id=parent_id,
                    kind=GUARDIAN_ESIA,
                    status="active",
                    scopes=sorted(GUARDIAN_SCOPES),
                    expires_at=guardianship_ends(data.birth_date),
                    document={"source": "esia"},
                    created_at=at,
                    confirmed_at=at,
                    confirmed_by="esia",
                )
            )
        linked.append(row.id)
    await session.flush()
    return linked


@dataclass(frozen=True)
class GrantView:
    id: uuid.UUID
    principal_id: uuid.UUID
    proxy_id: uuid.UUID
    kind: str
    status: str
    scopes: tuple[str, ...]
    expires_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, row: ProxyGrant) -> GrantView:
        return cls(
            id=row.id,
            principal_id=row.principal_id,
            proxy_id=row.proxy_id,
            kind=row.kind,
            status=row.status,
            scopes=tuple(row.scopes or ()),
            expires_at=row.expires_at,
            created_at=row.created_at,
        )

    def effective_status(self, at: datetime) -> str:
        if self.status == "active" and self.expires_at is not None and self.expires_at <= at:
            return "expired"
        return self.status


async def grants_of_principal(session: AsyncSession, principal_id: uuid.UUID) -> list[GrantView]:
    rows = await session.scalars(
        select(ProxyGrant).where(ProxyGrant.principal_id == principal_id).order_by(ProxyGrant.created_at.desc())
    )
    return [GrantView.of(r) for r in rows]


async def grants_of_proxy(session: AsyncSession, proxy_id: uuid.UUID) -> list[GrantView]:
    rows = await session.scalars(
        select(ProxyGrant).where(ProxyGrant.proxy_id == proxy_id).order_by(ProxyGrant.created_at.desc())
    )
    return [GrantView.of(r) for r in rows]


async def create_pending_grant(
    session: AsyncSession,
    *,
    principal_id: uuid.UUID,
    proxy_id: uuid.UUID,
    kind: str,
    scopes: Iterable[str],
    expires_at: datetime | None,
    at: datetime,
    document: dict[str, str] | None = None,
) -> ProxyGrant:
    row = ProxyGrant(
        id=uuid.uuid4(),
        principal_id=principal_id,
        proxy_id=proxy_id,
        kind=kind,
        status="pending",
        scopes=sorted(set(scopes)),
        expires_at=expires_at,
        document=document or {},
        created_at=at,
    )
    session.add(row)
    await session.flush()
    return row


async def grant_for_update(session: AsyncSession, grant_id: uuid.UUID) -> ProxyGrant | None:
    return await session.scalar(select(ProxyGrant).where(ProxyGrant.id == grant_id).with_for_update())


async def find_or_create_child(session: AsyncSession, data: PatientData, *, at: datetime) -> Patient:
    """The declared child's patient row: matched by OMS policy and birth date, else created (no ESIA oid)."""
    if data.oms_policy:
        row = await session.scalar(
            select(Patient).where(Patient.oms_policy == data.oms_policy, Patient.birth_date == data.birth_date)
        )
        if row is not None:
            return row
    return await upsert_patient(session, data, at=at)


async def pending_guardianships(session: AsyncSession, *, limit: int = 50) -> list[GrantView]:
    rows = await session.scalars(
        select(ProxyGrant)
        .where(ProxyGrant.kind == GUARDIAN_DECLARED, ProxyGrant.status == "pending")
        .order_by(ProxyGrant.created_at)
        .limit(limit)
    )
    return [GrantView.of(r) for r in rows]


async def involving(session: AsyncSession, patient_id: uuid.UUID) -> list[GrantView]:
    rows = await session.scalars(
        select(ProxyGrant).where(or_(ProxyGrant.proxy_id == patient_id, ProxyGrant.principal_id == patient_id))
    )
    return [GrantView.of(r) for r in rows]


# ---------------------------------------------------------------------------------------------- flows


@dataclass(frozen=True)
class GrantWithPeople:
    """A grant with the two people it links (what a screen shows of it)."""

    grant: GrantView
    principal: PatientView
    proxy: PatientView


@dataclass(frozen=True)
class ChildData:
    last_name: str
    first_name: str
    middle_name: str | None
    birth_date: date
    sex: str
    oms_policy: str
    snils: str | None


@dataclass(frozen=True)
class GuardianshipDocument:
    type: str
    series: str | None
    number: str
    issued_on: date


def mask_phone(phone: str) -> str:
    return phone[:-7] + "***" + phone[-4:] if len(phone) > 7 else "***"


def end_of(day: date) -> datetime:
    """The end of ``day`` in UTC: a grant "until 31.12" is valid through that day."""
    return datetime.combine(day, time.min, tzinfo=UTC) + timedelta(days=1)


async def with_people(
    session: AsyncSession, grants: Sequence[GrantView], known: Iterable[PatientView] = ()
) -> list[GrantWithPeople]:
    """``grants`` with their people (those not in ``known`` read in one query); grants of unknown people are
    left out."""
    people = {p.id: p for p in known}
    missing = [i for g in grants for i in (g.principal_id, g.proxy_id) if i not in people]
    if missing:
        people |= await get_patients(session, missing)
    return [
        GrantWithPeople(g, people[g.principal_id], people[g.proxy_id])
        for g in grants
        if g.principal_id in people and g.proxy_id in people
    ]


async def listed_with_people(
    sessionmaker: async_sessionmaker[AsyncSession], grants: Sequence[GrantView]
) -> list[GrantWithPeople]:
    """``grants`` with their people, read in a session of its own."""
    async with sessionmaker() as session:
        return await with_people(session, grants)


async def my_proxies(sessionmaker: async_sessionmaker[AsyncSession], me: uuid.UUID) -> list[GrantWithPeople]:
    """Who may act for ``me``."""
    async with sessionmaker() as session:
        grants = await grants_of_principal(session, me)
    return await listed_with_people(sessionmaker, grants)


async def my_principals(
    sessionmaker: async_sessionmaker[AsyncSession], me: uuid.UUID, *, at: datetime
) -> list[GrantWithPeople]:
    """For whom ``me`` may act (active or pending grants)."""
    async with sessionmaker() as session:
        grants = await grants_of_proxy(session, me)
    return await listed_with_people(
        sessionmaker, [g for g in grants if g.effective_status(at) in ("active", "pending")]
    )


async def request_grant(
    uow: UnitOfWork,
    *,
    me: uuid.UUID,
    proxy_snils: str,
    proxy_birth_date: date,
    scopes: Iterable[str],
    expires_on: date,
) -> tuple[GrantWithPeople, str]:
    """A pending trusted-adult grant and the principal's masked phone the confirmation code went to."""
    at = tokens.now(uow.runtime)
    snils = normalise_snils(proxy_snils)
    if snils is None:
        raise problems.InvalidInput("proxySnils", "СНИЛС — 11 цифр.")
    wanted = set(scopes)
    if not wanted or not wanted <= policy.GRANTABLE_SCOPES:
        raise problems.InvalidInput("scopes", "Выберите права из списка: " + ", ".join(sorted(policy.GRANTABLE_SCOPES)))
    if expires_on <= at.date() or expires_on > at.date() + timedelta(days=MAX_PROXY_DAYS):
        raise problems.InvalidInput("expiresOn", "Срок доверенности — от завтрашнего дня и не более 5 лет.")
    session = uow.session
    principal = await session.get_one(Patient, me)
    proxy_row = await session.scalar(
        select(Patient).where(Patient.snils == snils, Patient.birth_date == proxy_birth_date)
    )
    if proxy_row is None or proxy_row.id == me:
        raise problems.ProxyNotFound()
    if PatientView.of(proxy_row).age_on(at.date()) < 18:
        raise problems.InvalidInput("proxySnils", "Доверенным лицом может быть только совершеннолетний.")
    if not principal.phone:
        raise problems.NoVerifiedPhone()
    grant = await create_pending_grant(
        session,
        principal_id=me,
        proxy_id=proxy_row.id,
        kind=TRUSTED_ADULT,
        scopes=wanted,
        expires_at=end_of(expires_on),
        at=at,
    )
    await codes.send_code(
        uow,
        purpose="proxy_grant",
        target_id=grant.id,
        patient_id=me,
        phone=principal.phone,
        text="Код {code}: подтвердите доверенность в «Мое здоровье» для "
        + PatientView.of(proxy_row).short_name
        + ". Если это не вы — не сообщайте код никому.",
        at=at,
    )
    uow.audit("identity.proxy_requested", subject_id=me, object_type="proxy_grant", object_id=grant.id)
    known = [PatientView.of(principal), PatientView.of(proxy_row)]
    nodes = await with_people(session, [GrantView.of(grant)], known)
    return nodes[0], mask_phone(principal.phone)


async def confirm_grant(uow: UnitOfWork, *, me: uuid.UUID, grant_id: uuid.UUID, code: str) -> GrantWithPeople:
    """Activate ``me``'s pending trusted-adult grant with the SMS code sent for it."""
    # Ownership is checked by the code itself (sent to ``me`` for this grant), before any read of the
    # unit of work: see codes.check_code. A grant that is not ours has no code of ours: NOT_FOUND.
    async with uow.runtime.sessionmaker() as session:
        owned = await session.get(ProxyGrant, grant_id)
        if owned is None or owned.principal_id != me or owned.kind != TRUSTED_ADULT:
            raise problems.NotFound()
    checked = await codes.check_code(uow.runtime, purpose="proxy_grant", target_id=grant_id, code=code, patient_id=me)
    if checked is codes.CodeCheck.WRONG:
        raise problems.WrongCode()
    if checked is not codes.CodeCheck.OK:
        raise problems.CodeExpired()
    grant = await grant_for_update(uow.session, grant_id)
    if grant is None or grant.status != "pending":
        raise problems.CodeExpired()
    at = tokens.now(uow.runtime)
    grant.status, grant.confirmed_at, grant.confirmed_by = "active", at, "sms"
    await uow.session.flush()
    uow.audit("identity.proxy_granted", subject_id=me, object_type="proxy_grant", object_id=grant.id)
    return (await with_people(uow.session, [GrantView.of(grant)]))[0]


async def revoke_grant(uow: UnitOfWork, *, me: uuid.UUID, grant_id: uuid.UUID) -> GrantWithPeople:
    """The principal revokes a grant, or the proxy gives it up."""
    grant = await grant_for_update(uow.session, grant_id)
    if grant is None or me not in (grant.principal_id, grant.proxy_id):
        raise problems.NotFound()
    if grant.kind == GUARDIAN_ESIA and me == grant.proxy_id:
        raise problems.InvalidInput("grantId", "Связь с ребенком из Госуслуг меняется в Госуслугах.")
    at = tokens.now(uow.runtime)
    if grant.revoked_at is None:
        grant.status, grant.revoked_at = "revoked", at
        await uow.session.flush()
    uow.audit("identity.proxy_revoked", subject_id=grant.principal_id, object_type="proxy_grant", object_id=grant.id)
    return (await with_people(uow.session, [GrantView.of(grant)]))[0]


async def declare_guardianship(
    uow: UnitOfWork, *, me: uuid.UUID, child: ChildData, document: GuardianshipDocument
) -> GrantWithPeople:
    """A pending guardian grant for a child under 15, to be confirmed by staff against ``document``."""
    at = tokens.now(uow.runtime)
    policy_number = normalise_policy(child.oms_policy)
    if policy_number is None:
        raise problems.InvalidInput("child.omsPolicy", "Номер полиса ОМС — 16 цифр.")
    snils = normalise_snils(child.snils) if child.snils else None
    if child.snils and snils is None:
        raise problems.InvalidInput("child.snils", "СНИЛС — 11 цифр.")
    if child.birth_date > at.date() or guardianship_ends(child.birth_date) <= at:
        raise problems.InvalidInput("child.birthDate", "Законное представительство здесь — для детей до 15 лет.")
    if child.sex not in ("M", "F"):
        raise problems.InvalidInput("child.sex", "Пол: M или F.")
    if document.type not in DOCUMENT_TYPES or not document.number.strip() or document.issued_on > at.date():
        raise problems.InvalidInput("document", "Укажите вид, номер и дату выдачи документа.")
    if not child.last_name.strip() or not child.first_name.strip():
        raise problems.InvalidInput("child.lastName", "Укажите фамилию и имя ребенка.")
    data = PatientData(
        esia_oid=None,
        last_name=child.last_name.strip(),
        first_name=child.first_name.strip(),
        middle_name=(child.middle_name or "").strip() or None,
        birth_date=child.birth_date,
        sex=child.sex,
        snils=snils,
        oms_policy=policy_number,
    )
    child_row = await find_or_create_child(uow.session, data, at=at)
    if child_row.id == me:
        raise problems.InvalidInput("child", "Нельзя быть представителем самого себя.")
    grant = await create_pending_grant(
        uow.session,
        principal_id=child_row.id,
        proxy_id=me,
        kind=GUARDIAN_DECLARED,
        scopes=policy.GUARDIAN_SCOPES,
        expires_at=guardianship_ends(child.birth_date),
        at=at,
        document={
            "type": document.type,
            "series": (document.series or "").strip(),
            "number": document.number.strip(),
            "issued_on": document.issued_on.isoformat(),
        },
    )
    uow.audit("identity.guardianship_declared", subject_id=child_row.id, object_type="proxy_grant", object_id=grant.id)
    return (await with_people(uow.session, [GrantView.of(grant)]))[0]


async def review_guardianship(uow: UnitOfWork, *, staff_id: str, grant_id: uuid.UUID, approve: bool) -> GrantWithPeople:
    """Staff confirm (or reject) a declared guardianship."""
    grant = await grant_for_update(uow.session, grant_id)
    if grant is None or grant.kind != GUARDIAN_DECLARED:
        raise problems.NotFound()
    if grant.status != "pending":
        raise problems.InvalidInput("grantId", "Заявление уже рассмотрено.")
    at = tokens.now(uow.runtime)
    grant.status = "active" if approve else "rejected"
    grant.confirmed_at, grant.confirmed_by = at, staff_id
    await uow.session.flush()
    uow.audit(
        "identity.guardianship_confirmed" if approve else "identity.guardianship_rejected",
        subject_id=grant.principal_id,
        object_type="proxy_grant",
        object_id=grant.id,
    )
    return (await with_people(uow.session, [GrantView.of(grant)]))[0]
