"""Identity's GraphQL: the profile, the access log, proxies, operator and kiosk sessions."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, ClassVar

import strawberry
from sqlalchemy import select

from backend.api.atomic import atomic
from backend.api.context import Info
from backend.api.problems import AccessDenied, InvalidInput, NotAuthenticated, Problem, ProblemError
from backend.audit import service as audit
from backend.audit.models import AuditEvent
from backend.core.context import Channel
from backend.identity import codes, policy, proxies, sessions, tokens
from backend.identity.identification import IdentificationOutcome, identify
from backend.identity.models import AuthSession, Patient, ProxyGrant
from backend.identity.policy import require_kiosk_device, require_patient_self, require_staff, require_subject
from backend.identity.service import PatientData, PatientView, get_patients, normalise_policy, normalise_snils
from backend.identity.staff import StaffAuthError, staff_provider

# ---------------------------------------------------------------------------------------------- problems


@strawberry.type(description="Неверный логин, пароль или одноразовый код.")
class InvalidCredentials(Problem):
    CODE: ClassVar[str] = "INVALID_CREDENTIALS"
    MESSAGE: ClassVar[str] = "Неверный логин, пароль или одноразовый код."


@strawberry.type(description="Учетная запись временно заблокирована.")
class AccountLocked(Problem):
    CODE: ClassVar[str] = "ACCOUNT_LOCKED"
    MESSAGE: ClassVar[str] = (
        "Учетная запись временно заблокирована после нескольких неудачных попыток. Повторите через 15 минут."
    )


@strawberry.type(description="Пациент с такими данными не найден.")
class PatientNotIdentified(Problem):
    CODE: ClassVar[str] = "PATIENT_NOT_IDENTIFIED"
    MESSAGE: ClassVar[str] = "Пациент не найден. Проверьте номер полиса ОМС (или СНИЛС) и дату рождения."


@strawberry.type(description="Слишком много неудачных попыток идентификации.")
class IdentificationLocked(Problem):
    CODE: ClassVar[str] = "IDENTIFICATION_LOCKED"
    MESSAGE: ClassVar[str] = "Слишком много неудачных попыток. Повторите через 15 минут или обратитесь в регистратуру."


@strawberry.type(description="Неверный код из СМС.")
class WrongCode(Problem):
    CODE: ClassVar[str] = "WRONG_CODE"
    MESSAGE: ClassVar[str] = "Неверный код из СМС. Проверьте код и попробуйте еще раз."


@strawberry.type(description="Код из СМС устарел, израсходован или попыток больше нет.")
class CodeExpired(Problem):
    CODE: ClassVar[str] = "CODE_EXPIRED"
    MESSAGE: ClassVar[str] = "Код из СМС больше не действует. Запросите новый код."


@strawberry.type(description="Объект не найден.")
class NotFound(Problem):
    CODE: ClassVar[str] = "NOT_FOUND"
    MESSAGE: ClassVar[str] = "Не найдено."


@strawberry.type(description="Доверенное лицо не найдено.")
class ProxyNotFound(Problem):
    CODE: ClassVar[str] = "PROXY_NOT_FOUND"
    MESSAGE: ClassVar[str] = (
        "Человек с такими СНИЛС и датой рождения не найден: он должен хотя бы раз войти "
        "в «Мое здоровье» через Госуслуги."
    )


@strawberry.type(description="Нет подтвержденного телефона.")
class NoVerifiedPhone(Problem):
    CODE: ClassVar[str] = "NO_VERIFIED_PHONE"
    MESSAGE: ClassVar[str] = "В учетной записи Госуслуг нет подтвержденного номера мобильного телефона."


def _fail(problem: Problem) -> ProblemError:
    return ProblemError(problem)


# ---------------------------------------------------------------------------------------------- types


@strawberry.type(description="Пациент: данные из Госуслуг.")
class PatientProfile:
    id: uuid.UUID
    last_name: str
    first_name: str
    middle_name: str | None
    full_name: str
    birth_date: date
    sex: str
    snils: str | None
    oms_policy: str | None
    phone: str | None
    email: str | None

    @classmethod
    def of(cls, view: PatientView) -> PatientProfile:
        return cls(
            id=view.id,
            last_name=view.last_name,
            first_name=view.first_name,
            middle_name=view.middle_name,
            full_name=view.full_name,
            birth_date=view.birth_date,
            sex=view.sex,
            snils=view.snils,
            oms_policy=view.oms_policy,
            phone=view.phone,
            email=view.email,
        )


@strawberry.type(description="Человек кратко: фамилия и инициалы.")
class PersonBrief:
    id: uuid.UUID
    short_name: str
    birth_date: date


def _brief(view: PatientView) -> PersonBrief:
    return PersonBrief(id=view.id, short_name=view.short_name, birth_date=view.birth_date)


@strawberry.type(description="Право действовать за другого человека.")
class ProxyGrantNode:
    id: uuid.UUID
    kind: str = strawberry.field(description="guardian_esia | guardian_declared | trusted_adult")
    status: str = strawberry.field(description="pending | active | expired | revoked | rejected")
    scopes: list[str]
    expires_at: datetime | None
    created_at: datetime
    principal: PersonBrief = strawberry.field(description="За кого действуют.")
    proxy: PersonBrief = strawberry.field(description="Кто действует.")


async def _grant_nodes(info: Info, grants: list[proxies.GrantView]) -> list[ProxyGrantNode]:
    ids = {g.principal_id for g in grants} | {g.proxy_id for g in grants}
    async with info.context.sessionmaker() as session:
        people = await get_patients(session, list(ids))
    at = tokens.now(info.context.runtime)
    return [
        ProxyGrantNode(
            id=g.id,
            kind=g.kind,
            status=g.effective_status(at),
            scopes=list(g.scopes),
            expires_at=g.expires_at,
            created_at=g.created_at,
            principal=_brief(people[g.principal_id]),
            proxy=_brief(people[g.proxy_id]),
        )
        for g in grants
        if g.principal_id in people and g.proxy_id in people
    ]


@strawberry.type(description="Запись журнала доступа к данным пациента.")
class AccessLogEntry:
    at: datetime
    action: str
    outcome: str
    channel: str
    actor_kind: str
    actor: str = strawberry.field(description="Кто: «Вы», доверенное лицо, оператор 122, инфомат.")
    on_behalf: bool = strawberry.field(description="Действие выполнено за пациента другим лицом.")


@strawberry.type
class StaffMember:
    id: str
    full_name: str
    role: str


@strawberry.type(description="Сеанс оператора 122.")
class StaffSession:
    access_token: str
    expires_in: int
    operator: StaffMember


@strawberry.type(description="Сеанс оператора от имени позвонившего пациента.")
class OnBehalfSession:
    access_token: str
    expires_in: int
    patient: PersonBrief
    scopes: list[str]
    sms_code_sent: bool


@strawberry.type(description="Сеанс пациента на инфомате.")
class KioskSession:
    access_token: str
    expires_in: int
    idle_timeout_seconds: int
    patient: PersonBrief
    scopes: list[str]


@strawberry.type(description="Доверенность создана: ждет кода из СМС.")
class ProxyGrantPending:
    grant: ProxyGrantNode
    sms_sent_to: str


@strawberry.input
class ChildInput:
    last_name: str
    first_name: str
    middle_name: str | None = None
    birth_date: date
    sex: str
    oms_policy: str
    snils: str | None = None


@strawberry.input
class DocumentInput:
    type: str = strawberry.field(description="BIRTH_CERTIFICATE | GUARDIANSHIP_ACT | ADOPTION_DECISION")
    series: str | None = None
    number: str
    issued_on: date


DOCUMENT_TYPES = frozenset({"BIRTH_CERTIFICATE", "GUARDIANSHIP_ACT", "ADOPTION_DECISION"})


# ---------------------------------------------------------------------------------------------- helpers


def _mask_phone(phone: str) -> str:
    return phone[:-7] + "***" + phone[-4:] if len(phone) > 7 else "***"


async def _patient(info: Info, patient_id: uuid.UUID) -> PatientView:
    async with info.context.sessionmaker() as session:
        found = await get_patients(session, [patient_id])
    if patient_id not in found:
        raise policy.access_denied()
    return found[patient_id]


_ACTION_NAMES = {
    "identity.login": "Вход через Госуслуги",
    "identity.token_refresh": "Продление сеанса",
    "identity.logout": "Выход",
    "identity.on_behalf_opened": "Оператор 122 открыл сеанс от вашего имени",
    "identity.kiosk_identified": "Идентификация на инфомате",
    "identity.identification_failed": "Неудачная попытка идентификации",
    "patient.profile.read": "Просмотр профиля",
    "patient.access_log.read": "Просмотр журнала доступа",
}


async def _actor_names(info: Info, rows: list[AuditEvent], me: uuid.UUID) -> dict[tuple[str, str | None], str]:
    from backend.identity.kiosks import kiosk_names
    from backend.identity.staff import staff_names

    staff_ids = {r.actor_id for r in rows if r.actor_kind == "operator" and r.actor_id}
    kiosk_ids = {r.actor_id for r in rows if r.actor_kind == "kiosk" and r.actor_id}
    patient_ids = set()
    for r in rows:
        if r.actor_kind == "patient" and r.actor_id:
            try:
                patient_ids.add(uuid.UUID(r.actor_id))
            except ValueError:
                continue
    async with info.context.sessionmaker() as session:
        staff = await staff_names(session, staff_ids)
        kiosks = await kiosk_names(session, kiosk_ids)
        people = await get_patients(session, list(patient_ids))
    names: dict[tuple[str, str | None], str] = {}
    for r in rows:
        key = (r.actor_kind, r.actor_id)
        if r.actor_kind == "patient" and r.actor_id == str(me):
            names[key] = "Вы"
        elif r.actor_kind == "patient" and r.actor_id:
            person = people.get(uuid.UUID(r.actor_id)) if r.actor_id in {str(p) for p in patient_ids} else None
            names[key] = f"Доверенное лицо: {person.short_name}" if person else "Доверенное лицо"
        elif r.actor_kind == "operator":
            names[key] = f"Оператор 122: {staff.get(r.actor_id or '', 'сотрудник')}"
        elif r.actor_kind == "kiosk":
            names[key] = f"Инфомат: {kiosks.get(r.actor_id or '', r.actor_id or '')}"
        elif r.actor_kind == "system":
            names[key] = "Система"
        else:
            names[key] = "Неизвестный"
    return names


# ---------------------------------------------------------------------------------------------- query


@strawberry.type
class Query:
    @strawberry.field(description="Профиль пациента (свой или того, за кого действуете: actingFor).")
    async def me(self, info: Info, acting_for: uuid.UUID | None = None) -> PatientProfile:
        patient_id = await require_subject(info, policy.SCOPE_PROFILE, acting_for=acting_for)
        view = await _patient(info, patient_id)
        await audit.record_now(
            info.context.sessionmaker,
            info.context.ctx,
            "patient.profile.read",
            subject_id=patient_id,
            object_type="patient",
            object_id=patient_id,
        )
        return PatientProfile.of(view)

    @strawberry.field(description="Кто, когда, через какой канал и от чьего имени обращался к данным пациента.")
    async def my_access_log(
        self, info: Info, acting_for: uuid.UUID | None = None, first: int = 50
    ) -> list[AccessLogEntry]:
        patient_id = await require_subject(info, policy.SCOPE_PROFILE, acting_for=acting_for)
        if info.context.actor.kind.value != "patient":
            raise policy.access_denied()  # the log is the patient's (or their proxy's), not an operator's
        limit = min(max(first, 1), 200)
        async with info.context.sessionmaker() as session:
            rows = list(
                await session.scalars(
                    select(AuditEvent)
                    .where(AuditEvent.subject_id == patient_id)
                    .order_by(AuditEvent.at.desc(), AuditEvent.id)
                    .limit(limit)
                )
            )
        await audit.record_now(
            info.context.sessionmaker, info.context.ctx, "patient.access_log.read", subject_id=patient_id
        )
        names = await _actor_names(info, rows, patient_id)
        return [
            AccessLogEntry(
                at=r.at,
                action=_ACTION_NAMES.get(r.action, r.action),
                outcome=r.outcome,
                channel=r.channel,
                actor_kind=r.actor_kind,
                actor=names[(r.actor_kind, r.actor_id)],
                on_behalf=not (r.actor_kind == "patient" and r.actor_id == str(patient_id)),
            )
            for r in rows
        ]

    @strawberry.field(description="Кто может действовать за вас (доверенные лица, их статус и срок).")
    async def my_proxies(self, info: Info) -> list[ProxyGrantNode]:
        me = require_patient_self(info)
        async with info.context.sessionmaker() as session:
            grants = await proxies.grants_of_principal(session, me)
        return await _grant_nodes(info, grants)

    @strawberry.field(description="За кого вы можете действовать (дети до 15 лет, доверители).")
    async def my_principals(self, info: Info) -> list[ProxyGrantNode]:
        me = require_patient_self(info)
        async with info.context.sessionmaker() as session:
            grants = await proxies.grants_of_proxy(session, me)
        at = tokens.now(info.context.runtime)
        return await _grant_nodes(info, [g for g in grants if g.effective_status(at) in ("active", "pending")])


# ---------------------------------------------------------------------------------------------- mutations

StaffLoginResult = Annotated[
    StaffSession | InvalidCredentials | AccountLocked | InvalidInput, strawberry.union("StaffLoginResult")
]
OnBehalfResult = Annotated[
    OnBehalfSession | PatientNotIdentified | IdentificationLocked | InvalidInput | NotAuthenticated | AccessDenied,
    strawberry.union("OnBehalfResult"),
]
ConfirmOnBehalfResult = Annotated[
    OnBehalfSession | WrongCode | CodeExpired | NotAuthenticated | AccessDenied,
    strawberry.union("ConfirmOnBehalfResult"),
]
KioskIdentifyResult = Annotated[
    KioskSession | PatientNotIdentified | IdentificationLocked | InvalidInput | NotAuthenticated | AccessDenied,
    strawberry.union("KioskIdentifyResult"),
]
GrantProxyResult = Annotated[
    ProxyGrantPending | ProxyNotFound | NoVerifiedPhone | InvalidInput | NotAuthenticated | AccessDenied,
    strawberry.union("GrantProxyResult"),
]
GrantChangeResult = Annotated[
    ProxyGrantNode | WrongCode | CodeExpired | NotFound | InvalidInput | NotAuthenticated | AccessDenied,
    strawberry.union("GrantChangeResult"),
]

MAX_PROXY_DAYS = 5 * 365


def _identification_input(
    oms_policy: str | None, snils: str | None, birth_date: date, today: date
) -> tuple[str | None, str | None]:
    if birth_date > today or birth_date.year < 1900:
        raise _fail(InvalidInput.of("birthDate", "Дата рождения указана неверно."))
    if oms_policy:
        policy_number = normalise_policy(oms_policy)
        if policy_number is None:
            raise _fail(InvalidInput.of("omsPolicy", "Номер полиса ОМС — 16 цифр."))
        return policy_number, None
    if snils:
        snils_value = normalise_snils(snils)
        if snils_value is None:
            raise _fail(InvalidInput.of("snils", "СНИЛС — 11 цифр."))
        return None, snils_value
    raise _fail(InvalidInput.of("omsPolicy", "Укажите номер полиса ОМС или СНИЛС."))


async def _identified_patient(
    info: Info, *, channel_key: str, at: datetime, birth_date: date, oms_policy: str | None, snils: str | None
) -> PatientView:
    """The caller identified by policy or SNILS + birth date (rate-limited per channel key), or a typed failure."""
    policy_number, snils_value = _identification_input(oms_policy, snils, birth_date, at.date())
    outcome, patient = await identify(
        info, channel_key=channel_key, oms_policy=policy_number, snils=snils_value, birth_date=birth_date
    )
    if outcome is IdentificationOutcome.LOCKED:
        raise _fail(IdentificationLocked.default())
    if outcome is IdentificationOutcome.NOT_FOUND or patient is None:
        raise _fail(PatientNotIdentified.default())
    return patient


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Вход оператора 122: логин, пароль и код из приложения-аутентификатора.")
    @atomic
    async def staff_login(self, info: Info, login: str, password: str, totp_code: str) -> StaffLoginResult:
        if not login.strip() or not password or not totp_code.strip():
            return InvalidInput.of("login", "Укажите логин, пароль и одноразовый код.")
        rt = info.context.runtime
        at = tokens.now(rt)
        # Failure counters must survive the rollback of a refused login: their own transaction.
        async with rt.sessionmaker() as session, session.begin():
            failed: StaffAuthError | None = None
            try:
                staff = await staff_provider(rt).authenticate(
                    session, login=login.strip(), password=password, totp_code=totp_code, at=at
                )
            except StaffAuthError as exc:
                failed = exc
        if failed is not None:
            return AccountLocked.default() if failed.reason == "locked" else InvalidCredentials.default()
        uow = info.context.uow
        row = await sessions.open_session(
            uow.session,
            kind=sessions.SessionKind.STAFF,
            channel=Channel.CALLCENTRE,
            at=at,
            ttl_s=rt.settings.operator_session_ttl_s,
            scopes={policy.SCOPE_STAFF}
            | ({policy.SCOPE_GUARDIANSHIP_REVIEW} if staff.role in ("registrar", "operator") else set()),
            actor_id=staff.id,
        )
        token, expires_in = sessions.access_token(rt, row)
        uow.audit("identity.staff_login", object_type="staff", object_id=staff.id)
        return StaffSession(
            access_token=token,
            expires_in=expires_in,
            operator=StaffMember(id=staff.id, full_name=staff.full_name, role=staff.role),
        )

    @strawberry.mutation(
        description="Оператор 122 идентифицирует позвонившего (полис ОМС или СНИЛС + дата рождения) "
        "и получает сеанс от его имени. sendSmsCode: код на телефон пациента для чувствительных действий."
    )
    @atomic
    async def open_on_behalf_session(
        self,
        info: Info,
        birth_date: date,
        oms_policy: str | None = None,
        snils: str | None = None,
        send_sms_code: bool = False,
    ) -> OnBehalfResult:
        staff_id = require_staff(info)
        rt = info.context.runtime
        at = tokens.now(rt)
        patient = await _identified_patient(
            info, channel_key=f"operator:{staff_id}", at=at, birth_date=birth_date, oms_policy=oms_policy, snils=snils
        )
        uow = info.context.uow
        row = await sessions.open_session(
            uow.session,
            kind=sessions.SessionKind.ON_BEHALF,
            channel=Channel.CALLCENTRE,
            at=at,
            ttl_s=rt.settings.operator_session_ttl_s,
            scopes=policy.OPERATOR_SCOPES,
            patient_id=patient.id,
            actor_id=staff_id,
        )
        sent = False
        if send_sms_code and patient.phone:
            await codes.send_code(
                uow,
                purpose="on_behalf",
                target_id=row.id,
                patient_id=patient.id,
                phone=patient.phone,
                text="Код {code}: подтвердите оператору 122 действия от вашего имени. Никому больше не сообщайте.",
                at=at,
            )
            sent = True
        token, expires_in = sessions.access_token(rt, row)
        uow.audit("identity.on_behalf_opened", subject_id=patient.id, object_type="session", object_id=row.id)
        return OnBehalfSession(
            access_token=token,
            expires_in=expires_in,
            patient=_brief(patient),
            scopes=sorted(row.scopes),
            sms_code_sent=sent,
        )

    @strawberry.mutation(
        description="Код из СМС, который пациент продиктовал оператору: "
        "сеанс получает право на чувствительные действия."
    )
    @atomic
    async def confirm_on_behalf_code(self, info: Info, code: str) -> ConfirmOnBehalfResult:
        actor = info.context.actor
        if not actor.is_authenticated:
            raise policy.not_authenticated()
        if actor.kind.value != "operator" or actor.subject_id is None:
            raise policy.access_denied()
        rt = info.context.runtime
        uow = info.context.uow
        token_sid = await _current_session(info)
        # The code first (its own transaction), then the unit of work's reads: see codes.check_code.
        checked = await codes.check_code(
            rt, purpose="on_behalf", target_id=token_sid, code=code, patient_id=actor.subject_id
        )
        if checked is codes.CodeCheck.WRONG:
            return WrongCode.default()
        if checked is not codes.CodeCheck.OK:
            return CodeExpired.default()
        row = await uow.session.get(AuthSession, token_sid, with_for_update=True)
        if row is None or row.kind != sessions.SessionKind.ON_BEHALF.value or row.revoked_at is not None:
            raise policy.access_denied()
        row.elevated_at = tokens.now(rt)
        row.scopes = sorted({*row.scopes, policy.SCOPE_SENSITIVE})
        await uow.session.flush()
        token, expires_in = sessions.access_token(rt, row)
        uow.audit("identity.on_behalf_elevated", subject_id=row.patient_id, object_type="session", object_id=row.id)
        patient = await _patient(info, actor.subject_id)
        return OnBehalfSession(
            access_token=token,
            expires_in=expires_in,
            patient=_brief(patient),
            scopes=sorted(row.scopes),
            sms_code_sent=False,
        )

    @strawberry.mutation(description="Инфомат: пациент вводит или сканирует полис ОМС и дату рождения.")
    @atomic
    async def identify_at_kiosk(self, info: Info, oms_policy: str, birth_date: date) -> KioskIdentifyResult:
        kiosk_id = require_kiosk_device(info)
        rt = info.context.runtime
        at = tokens.now(rt)
        patient = await _identified_patient(
            info, channel_key=f"kiosk:{kiosk_id}", at=at, birth_date=birth_date, oms_policy=oms_policy, snils=None
        )
        uow = info.context.uow
        idle = rt.settings.kiosk_idle_timeout_s
        row = await sessions.open_session(
            uow.session,
            kind=sessions.SessionKind.KIOSK,
            channel=Channel.KIOSK,
            at=at,
            ttl_s=idle * 10,
            idle_timeout_s=idle,
            scopes=policy.KIOSK_SCOPES,
            patient_id=patient.id,
            actor_id=kiosk_id,
            client_id=kiosk_id,
        )
        token, expires_in = sessions.access_token(rt, row)
        uow.audit("identity.kiosk_identified", subject_id=patient.id, object_type="session", object_id=row.id)
        return KioskSession(
            access_token=token,
            expires_in=expires_in,
            idle_timeout_seconds=idle,
            patient=_brief(patient),
            scopes=sorted(row.scopes),
        )

    @strawberry.mutation(
        description="Назначить доверенное лицо (СНИЛС и дата рождения) с выбранными правами и сроком; "
        "вступает в силу после кода из СМС."
    )
    @atomic
    async def grant_proxy(  # noqa: PLR0911 - one typed answer per refusal
        self, info: Info, proxy_snils: str, proxy_birth_date: date, scopes: list[str], expires_on: date
    ) -> GrantProxyResult:
        me = require_patient_self(info)
        rt = info.context.runtime
        at = tokens.now(rt)
        snils = normalise_snils(proxy_snils)
        if snils is None:
            return InvalidInput.of("proxySnils", "СНИЛС — 11 цифр.")
        wanted = set(scopes)
        if not wanted or not wanted <= policy.GRANTABLE_SCOPES:
            return InvalidInput.of("scopes", "Выберите права из списка: " + ", ".join(sorted(policy.GRANTABLE_SCOPES)))
        if expires_on <= at.date() or expires_on > at.date() + timedelta(days=MAX_PROXY_DAYS):
            return InvalidInput.of("expiresOn", "Срок доверенности — от завтрашнего дня и не более 5 лет.")
        uow = info.context.uow
        session = uow.session
        principal = await session.get_one(Patient, me)
        proxy_row = await session.scalar(
            select(Patient).where(Patient.snils == snils, Patient.birth_date == proxy_birth_date)
        )
        if proxy_row is None or proxy_row.id == me:
            return ProxyNotFound.default()
        if PatientView.of(proxy_row).age_on(at.date()) < 18:
            return InvalidInput.of("proxySnils", "Доверенным лицом может быть только совершеннолетний.")
        if not principal.phone:
            return NoVerifiedPhone.default()
        grant = await proxies.create_pending_grant(
            session,
            principal_id=me,
            proxy_id=proxy_row.id,
            kind=proxies.TRUSTED_ADULT,
            scopes=wanted,
            expires_at=_end_of(expires_on),
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
        nodes = await _nodes_in(
            info, [proxies.GrantView.of(grant)], [PatientView.of(principal), PatientView.of(proxy_row)]
        )
        return ProxyGrantPending(grant=nodes[0], sms_sent_to=_mask_phone(principal.phone))

    @strawberry.mutation(description="Подтвердить доверенность кодом из СМС.")
    @atomic
    async def confirm_proxy_grant(self, info: Info, grant_id: uuid.UUID, code: str) -> GrantChangeResult:
        me = require_patient_self(info)
        uow = info.context.uow
        # Ownership is checked by the code itself (sent to ``me`` for this grant), before any read of the
        # unit of work: see codes.check_code. A grant that is not ours has no code of ours: NOT_FOUND.
        async with info.context.sessionmaker() as session:
            owned = await session.get(ProxyGrant, grant_id)
            if owned is None or owned.principal_id != me or owned.kind != proxies.TRUSTED_ADULT:
                return NotFound.default()
        checked = await codes.check_code(
            info.context.runtime, purpose="proxy_grant", target_id=grant_id, code=code, patient_id=me
        )
        if checked is codes.CodeCheck.WRONG:
            return WrongCode.default()
        if checked is not codes.CodeCheck.OK:
            return CodeExpired.default()
        grant = await proxies.grant_for_update(uow.session, grant_id)
        if grant is None or grant.status != "pending":
            return CodeExpired.default()
        at = tokens.now(info.context.runtime)
        grant.status, grant.confirmed_at, grant.confirmed_by = "active", at, "sms"
        await uow.session.flush()
        uow.audit("identity.proxy_granted", subject_id=me, object_type="proxy_grant", object_id=grant.id)
        return (await _nodes_in(info, [proxies.GrantView.of(grant)]))[0]

    @strawberry.mutation(description="Отозвать доверенность (доверитель) или отказаться от нее (доверенное лицо).")
    @atomic
    async def revoke_proxy_grant(self, info: Info, grant_id: uuid.UUID) -> GrantChangeResult:
        me = require_patient_self(info)
        uow = info.context.uow
        grant = await proxies.grant_for_update(uow.session, grant_id)
        if grant is None or me not in (grant.principal_id, grant.proxy_id):
            return NotFound.default()
        if grant.kind == proxies.GUARDIAN_ESIA and me == grant.proxy_id:
            return InvalidInput.of("grantId", "Связь с ребенком из Госуслуг меняется в Госуслугах.")
        at = tokens.now(info.context.runtime)
        if grant.revoked_at is None:
            grant.status, grant.revoked_at = "revoked", at
            await uow.session.flush()
        uow.audit(
            "identity.proxy_revoked", subject_id=grant.principal_id, object_type="proxy_grant", object_id=grant.id
        )
        return (await _nodes_in(info, [proxies.GrantView.of(grant)]))[0]

    @strawberry.mutation(
        description="Заявить о законном представительстве ребенка по документу; действует после проверки сотрудником."
    )
    @atomic
    async def declare_guardianship(  # noqa: PLR0911 - one typed answer per refusal
        self, info: Info, child: ChildInput, document: DocumentInput
    ) -> GrantChangeResult:
        me = require_patient_self(info)
        rt = info.context.runtime
        at = tokens.now(rt)
        policy_number = normalise_policy(child.oms_policy)
        if policy_number is None:
            return InvalidInput.of("child.omsPolicy", "Номер полиса ОМС — 16 цифр.")
        snils = normalise_snils(child.snils) if child.snils else None
        if child.snils and snils is None:
            return InvalidInput.of("child.snils", "СНИЛС — 11 цифр.")
        if child.birth_date > at.date() or proxies.guardianship_ends(child.birth_date) <= at:
            return InvalidInput.of("child.birthDate", "Законное представительство здесь — для детей до 15 лет.")
        if child.sex not in ("M", "F"):
            return InvalidInput.of("child.sex", "Пол: M или F.")
        if document.type not in DOCUMENT_TYPES or not document.number.strip() or document.issued_on > at.date():
            return InvalidInput.of("document", "Укажите вид, номер и дату выдачи документа.")
        if not child.last_name.strip() or not child.first_name.strip():
            return InvalidInput.of("child.lastName", "Укажите фамилию и имя ребенка.")
        uow = info.context.uow
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
        child_row = await proxies.find_or_create_child(uow.session, data, at=at)
        if child_row.id == me:
            return InvalidInput.of("child", "Нельзя быть представителем самого себя.")
        grant = await proxies.create_pending_grant(
            uow.session,
            principal_id=child_row.id,
            proxy_id=me,
            kind=proxies.GUARDIAN_DECLARED,
            scopes=policy.GUARDIAN_SCOPES,
            expires_at=proxies.guardianship_ends(child.birth_date),
            at=at,
            document={
                "type": document.type,
                "series": (document.series or "").strip(),
                "number": document.number.strip(),
                "issued_on": document.issued_on.isoformat(),
            },
        )
        uow.audit(
            "identity.guardianship_declared", subject_id=child_row.id, object_type="proxy_grant", object_id=grant.id
        )
        return (await _nodes_in(info, [proxies.GrantView.of(grant)]))[0]

    @strawberry.mutation(description="Сотрудник подтверждает (или отклоняет) заявленное законное представительство.")
    @atomic
    async def confirm_guardianship(self, info: Info, grant_id: uuid.UUID, approve: bool = True) -> GrantChangeResult:
        staff_id = require_staff(info, policy.SCOPE_GUARDIANSHIP_REVIEW)
        uow = info.context.uow
        grant = await proxies.grant_for_update(uow.session, grant_id)
        if grant is None or grant.kind != proxies.GUARDIAN_DECLARED:
            return NotFound.default()
        if grant.status != "pending":
            return InvalidInput.of("grantId", "Заявление уже рассмотрено.")
        at = tokens.now(info.context.runtime)
        grant.status = "active" if approve else "rejected"
        grant.confirmed_at, grant.confirmed_by = at, staff_id
        await uow.session.flush()
        uow.audit(
            "identity.guardianship_confirmed" if approve else "identity.guardianship_rejected",
            subject_id=grant.principal_id,
            object_type="proxy_grant",
            object_id=grant.id,
        )
        return (await _nodes_in(info, [proxies.GrantView.of(grant)]))[0]


def _end_of(day: date) -> datetime:
    """The end of ``day`` in UTC: a grant "until 31.12" is valid through that day."""
    return datetime.combine(day, time.min, tzinfo=UTC) + timedelta(days=1)


async def _nodes_in(
    info: Info, grants: list[proxies.GrantView], known: list[PatientView] | None = None
) -> list[ProxyGrantNode]:
    """Grant nodes for grants written in the open unit of work (read through its session)."""
    people = {p.id: p for p in known or []}
    missing = [i for g in grants for i in (g.principal_id, g.proxy_id) if i not in people]
    if missing:
        people |= await get_patients(info.context.uow.session, missing)
    at = tokens.now(info.context.runtime)
    return [
        ProxyGrantNode(
            id=g.id,
            kind=g.kind,
            status=g.effective_status(at),
            scopes=list(g.scopes),
            expires_at=g.expires_at,
            created_at=g.created_at,
            principal=_brief(people[g.principal_id]),
            proxy=_brief(people[g.proxy_id]),
        )
        for g in grants
    ]


async def _current_session(info: Info) -> uuid.UUID:
    """The ``sid`` of the request's bearer token (verified by authn)."""
    sid = getattr(info.context, "session_id", None)
    if not isinstance(sid, uuid.UUID):
        raise policy.access_denied()
    return sid


TYPES: tuple[type, ...] = ()
