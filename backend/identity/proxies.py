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
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.core.uow import UnitOfWork
from backend.identity import codes, policy, problems, ratelimit, tokens
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
    from backend.runtime import Runtime
    from integrations.esia import EsiaChild

GUARDIAN_ESIA = "guardian_esia"
GUARDIAN_DECLARED = "guardian_declared"
TRUSTED_ADULT = "trusted_adult"
GUARDIANSHIP_AGE = 15  # 323-ФЗ art. 54 part 2
MAX_PROXY_DAYS = 5 * 365
#: Grant requests and guardianship declarations one patient may make per window (each is a lookup).
MAX_GRANT_REQUESTS = 10
GRANT_WINDOW_S = 3600
TOO_MANY_GRANTS = "Слишком много запросов доверенностей и заявлений о представительстве. Повторите через час."
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
    confirmed_at: datetime | None = None
    #: What the requester said of the other person (names, birth date, a shown id), for the reviewer.
    declared: dict[str, Any] | None = None

    @classmethod
    def of(cls, row: ProxyGrant) -> GrantView:
        document = row.document or {}
        return cls(
            id=row.id,
            principal_id=row.principal_id,
            proxy_id=row.proxy_id,
            kind=row.kind,
            status=row.status,
            scopes=tuple(row.scopes or ()),
            expires_at=row.expires_at,
            created_at=row.created_at,
            confirmed_at=row.confirmed_at,
            declared=document.get("declared"),
        )

    @property
    def unconfirmed(self) -> bool:
        """Never confirmed (pending, rejected, or revoked before confirmation): the person the requester
        named is shown only as the requester described them."""
        return self.confirmed_at is None or self.status == "rejected"

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
    document: dict[str, Any] | None = None,
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


async def find_or_create_child(session: AsyncSession, data: PatientData, *, at: datetime) -> tuple[Patient, bool]:
    """The declared child's patient row and whether it existed: the holder of the OMS policy (or SNILS),
    whatever the names and birth date (the reviewer compares them), else a new row (no ESIA oid).

    An existing record is never changed by what a claimant declares."""
    holder = None
    if data.oms_policy:
        holder = await session.scalar(select(Patient).where(Patient.oms_policy == data.oms_policy))
    if holder is None and data.snils:
        holder = await session.scalar(select(Patient).where(Patient.snils == data.snils))
    if holder is not None:
        return holder, True
    return await upsert_patient(session, data, at=at), False


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
class PersonShown:
    """A person as a grant shows them: who they are, or, until confirmed, how the requester described them."""

    id: uuid.UUID
    short_name: str
    birth_date: date

    @classmethod
    def of(cls, view: PatientView) -> PersonShown:
        return cls(id=view.id, short_name=view.short_name, birth_date=view.birth_date)

    @classmethod
    def declared(cls, declared: dict[str, Any]) -> PersonShown:
        return cls(
            id=uuid.UUID(declared["shown_id"]),
            short_name=declared["label"],
            birth_date=date.fromisoformat(declared["birth_date"]),
        )


@dataclass(frozen=True)
class GrantWithPeople:
    """A grant with the two people it links (what a screen shows of it)."""

    grant: GrantView
    principal: PersonShown
    proxy: PersonShown

    @classmethod
    def of(cls, grant: GrantView, principal: PatientView, proxy: PatientView) -> GrantWithPeople:
        shown_principal, shown_proxy = PersonShown.of(principal), PersonShown.of(proxy)
        if grant.unconfirmed and grant.declared:
            if grant.kind == GUARDIAN_DECLARED:
                shown_principal = PersonShown.declared(grant.declared)
            elif grant.kind == TRUSTED_ADULT:
                shown_proxy = PersonShown.declared(grant.declared)
        return cls(grant, shown_principal, shown_proxy)


def _short_name(last_name: str, first_name: str, middle_name: str | None) -> str:
    initials = " ".join(f"{p[0]}." for p in (first_name, middle_name) if p)
    return f"{last_name} {initials}".strip()


def mask_snils(snils: str) -> str:
    """``***-***-789 01``: the end of a SNILS the requester typed, to recognise it by."""
    return "***-***-" + snils[-6:]


async def _throttle(runtime: Runtime, me: uuid.UUID) -> None:
    """Count one grant request or declaration of ``me``; :class:`problems.TooManyAttempts` past the limit."""
    counter = ratelimit.failure_counter(runtime)
    if await counter.acquire([(f"grants:{me}", MAX_GRANT_REQUESTS)], window_s=GRANT_WINDOW_S):
        raise problems.TooManyAttempts(TOO_MANY_GRANTS)


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
        GrantWithPeople.of(g, people[g.principal_id], people[g.proxy_id])
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
    await _throttle(uow.runtime, me)
    # Read on the side: the code budget is counted (maybe with a warning committed on its own) before the
    # unit of work touches the database (see codes.check_code).
    async with uow.runtime.sessionmaker() as read:
        principal = PatientView.of(await read.get_one(Patient, me))
        proxy_row = await read.scalar(
            select(Patient).where(Patient.snils == snils, Patient.birth_date == proxy_birth_date)
        )
        proxy = PatientView.of(proxy_row) if proxy_row is not None else None
    if proxy is None or proxy.id == me:
        raise problems.ProxyNotFound()
    if proxy.age_on(at.date()) < 18:
        raise problems.InvalidInput("proxySnils", "Доверенным лицом может быть только совершеннолетний.")
    if not principal.phone:
        raise problems.NoVerifiedPhone()
    await codes.reserve(uow.runtime, uow.ctx, patient_id=me, phone=principal.phone, requester=f"patient:{me}")
    session = uow.session
    grant = await create_pending_grant(
        session,
        principal_id=me,
        proxy_id=proxy.id,
        kind=TRUSTED_ADULT,
        scopes=wanted,
        expires_at=end_of(expires_on),
        at=at,
        document={
            "declared": {
                "shown_id": str(uuid.uuid4()),
                "label": f"СНИЛС {mask_snils(snils)}",
                "snils": snils,
                "birth_date": proxy_birth_date.isoformat(),
            }
        },
    )
    await codes.send_code(
        uow,
        purpose="proxy_grant",
        target_id=grant.id,
        patient_id=me,
        phone=principal.phone,
        text="Код {code}: подтвердите доверенность в «Мое здоровье» для человека со СНИЛС "
        + mask_snils(snils)
        + ". Если это не вы — не сообщайте код никому.",
        at=at,
    )
    uow.audit("identity.proxy_requested", subject_id=me, object_type="proxy_grant", object_id=grant.id)
    known = [principal, proxy]
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
    await _throttle(uow.runtime, me)
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
    child_row, existed = await find_or_create_child(uow.session, data, at=at)
    if child_row.id == me:
        raise problems.InvalidInput("child", "Нельзя быть представителем самого себя.")
    # A record that existed is not revealed (its id, its names) until staff confirm the claim.
    declared = {
        "shown_id": str(uuid.uuid4() if existed else child_row.id),
        "label": _short_name(data.last_name, data.first_name, data.middle_name),
        "last_name": data.last_name,
        "first_name": data.first_name,
        "middle_name": data.middle_name,
        "birth_date": data.birth_date.isoformat(),
        "sex": data.sex,
        "oms_policy": data.oms_policy,
        "snils": data.snils,
    }
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
            "declared": declared,
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
