"""Identity's GraphQL: the profile, the access log, proxies, operator and kiosk sessions."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable
from datetime import date, datetime
from typing import Annotated, ClassVar, TypeVar

import strawberry

from backend.api.atomic import atomic
from backend.api.context import Info
from backend.api.problems import AccessDenied, InvalidInput, NotAuthenticated, Problem
from backend.identity import identification, operators, policy, problems, proxies, reads, tokens
from backend.identity.policy import require_kiosk_device, require_patient_self, require_staff, require_subject
from backend.identity.service import PatientView

# ---------------------------------------------------------------------------------------------- problems


@strawberry.type(description="Неверный логин, пароль или одноразовый код.")
class InvalidCredentials(Problem):
    CODE: ClassVar[str] = problems.InvalidCredentials.CODE
    MESSAGE: ClassVar[str] = problems.InvalidCredentials.MESSAGE


@strawberry.type(description="Учетная запись временно заблокирована.")
class AccountLocked(Problem):
    CODE: ClassVar[str] = problems.AccountLocked.CODE
    MESSAGE: ClassVar[str] = problems.AccountLocked.MESSAGE


@strawberry.type(description="Пациент с такими данными не найден.")
class PatientNotIdentified(Problem):
    CODE: ClassVar[str] = problems.PatientNotIdentified.CODE
    MESSAGE: ClassVar[str] = problems.PatientNotIdentified.MESSAGE


@strawberry.type(description="Слишком много неудачных попыток идентификации.")
class IdentificationLocked(Problem):
    CODE: ClassVar[str] = problems.IdentificationLocked.CODE
    MESSAGE: ClassVar[str] = problems.IdentificationLocked.MESSAGE


@strawberry.type(description="Неверный код из СМС.")
class WrongCode(Problem):
    CODE: ClassVar[str] = problems.WrongCode.CODE
    MESSAGE: ClassVar[str] = problems.WrongCode.MESSAGE


@strawberry.type(description="Код из СМС устарел, израсходован или попыток больше нет.")
class CodeExpired(Problem):
    CODE: ClassVar[str] = problems.CodeExpired.CODE
    MESSAGE: ClassVar[str] = problems.CodeExpired.MESSAGE


@strawberry.type(description="Объект не найден.")
class NotFound(Problem):
    CODE: ClassVar[str] = problems.NotFound.CODE
    MESSAGE: ClassVar[str] = problems.NotFound.MESSAGE


@strawberry.type(description="Доверенное лицо не найдено.")
class ProxyNotFound(Problem):
    CODE: ClassVar[str] = problems.ProxyNotFound.CODE
    MESSAGE: ClassVar[str] = problems.ProxyNotFound.MESSAGE


@strawberry.type(description="Нет подтвержденного телефона.")
class NoVerifiedPhone(Problem):
    CODE: ClassVar[str] = problems.NoVerifiedPhone.CODE
    MESSAGE: ClassVar[str] = problems.NoVerifiedPhone.MESSAGE


@strawberry.type(description="Слишком много попыток или запросов кода.")
class TooManyAttempts(Problem):
    CODE: ClassVar[str] = problems.TooManyAttempts.CODE
    MESSAGE: ClassVar[str] = problems.TooManyAttempts.MESSAGE


_TYPED: dict[type[problems.IdentityProblem], type[Problem]] = {
    problems.InvalidCredentials: InvalidCredentials,
    problems.AccountLocked: AccountLocked,
    problems.PatientNotIdentified: PatientNotIdentified,
    problems.IdentificationLocked: IdentificationLocked,
    problems.WrongCode: WrongCode,
    problems.CodeExpired: CodeExpired,
    problems.NotFound: NotFound,
    problems.ProxyNotFound: ProxyNotFound,
    problems.NoVerifiedPhone: NoVerifiedPhone,
    problems.TooManyAttempts: TooManyAttempts,
}

T = TypeVar("T")


def _typed(exc: problems.IdentityProblem) -> Problem:
    """The GraphQL union member of an identity problem (same code, same Russian message)."""
    if isinstance(exc, problems.InvalidInput):
        return InvalidInput.of(exc.field, exc.message)
    return _TYPED[type(exc)].default(exc.message)


async def _answer(work: Awaitable[T]) -> T | Problem:
    """The service's result, or its typed refusal as the union member."""
    try:
        return await work
    except problems.IdentityProblem as exc:
        return _typed(exc)


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


def _brief(view: PatientView | proxies.PersonShown) -> PersonBrief:
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


def _nodes(grants: list[proxies.GrantWithPeople], at: datetime) -> list[ProxyGrantNode]:
    return [
        ProxyGrantNode(
            id=g.grant.id,
            kind=g.grant.kind,
            status=g.grant.effective_status(at),
            scopes=list(g.grant.scopes),
            expires_at=g.grant.expires_at,
            created_at=g.grant.created_at,
            principal=_brief(g.principal),
            proxy=_brief(g.proxy),
        )
        for g in grants
    ]


def _node(info: Info, grant: proxies.GrantWithPeople) -> ProxyGrantNode:
    return _nodes([grant], tokens.now(info.context.runtime))[0]


@strawberry.type(description="Запись журнала доступа к данным пациента.")
class AccessLogEntry:
    at: datetime
    action: str
    outcome: str
    outcome_text: str = strawberry.field(description="Итог по-русски: «Выполнено», «Отказано в доступе»…")
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


def _on_behalf(opened: operators.OnBehalf) -> OnBehalfSession:
    return OnBehalfSession(
        access_token=opened.session.access_token,
        expires_in=opened.session.expires_in,
        patient=_brief(opened.patient),
        scopes=opened.session.scopes,
        sms_code_sent=opened.sms_code_sent,
    )


# ---------------------------------------------------------------------------------------------- query


@strawberry.type
class Query:
    @strawberry.field(description="Профиль пациента (свой или того, за кого действуете: actingFor).")
    async def me(self, info: Info, acting_for: uuid.UUID | None = None) -> PatientProfile:
        patient_id = await require_subject(info, policy.SCOPE_PROFILE, acting_for=acting_for)
        return PatientProfile.of(await reads.read_profile(info.context.runtime, info.context.ctx, patient_id))

    @strawberry.field(description="Кто, когда, через какой канал и от чьего имени обращался к данным пациента.")
    async def my_access_log(
        self, info: Info, acting_for: uuid.UUID | None = None, first: int = 50
    ) -> list[AccessLogEntry]:
        patient_id = await require_subject(info, policy.SCOPE_PROFILE, acting_for=acting_for)
        lines = await reads.access_log(info.context.runtime, info.context.ctx, patient_id, first=first)
        return [
            AccessLogEntry(
                at=line.at,
                action=line.action,
                outcome=line.outcome,
                outcome_text=line.outcome_text,
                channel=line.channel,
                actor_kind=line.actor_kind,
                actor=line.actor,
                on_behalf=line.on_behalf,
            )
            for line in lines
        ]

    @strawberry.field(description="Кто может действовать за вас (доверенные лица, их статус и срок).")
    async def my_proxies(self, info: Info) -> list[ProxyGrantNode]:
        me = require_patient_self(info)
        grants = await proxies.my_proxies(info.context.sessionmaker, me)
        return _nodes(grants, tokens.now(info.context.runtime))

    @strawberry.field(description="За кого вы можете действовать (дети до 15 лет, доверители).")
    async def my_principals(self, info: Info) -> list[ProxyGrantNode]:
        me = require_patient_self(info)
        at = tokens.now(info.context.runtime)
        grants = await proxies.my_principals(info.context.sessionmaker, me, at=at)
        return _nodes(grants, tokens.now(info.context.runtime))


# ---------------------------------------------------------------------------------------------- mutations

StaffLoginResult = Annotated[
    StaffSession | InvalidCredentials | AccountLocked | InvalidInput, strawberry.union("StaffLoginResult")
]
OnBehalfResult = Annotated[
    OnBehalfSession
    | PatientNotIdentified
    | IdentificationLocked
    | InvalidInput
    | NotAuthenticated
    | AccessDenied
    | TooManyAttempts,
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
    ProxyGrantPending
    | ProxyNotFound
    | NoVerifiedPhone
    | InvalidInput
    | NotAuthenticated
    | AccessDenied
    | TooManyAttempts,
    strawberry.union("GrantProxyResult"),
]
GrantChangeResult = Annotated[
    ProxyGrantNode
    | WrongCode
    | CodeExpired
    | NotFound
    | InvalidInput
    | NotAuthenticated
    | AccessDenied
    | TooManyAttempts,
    strawberry.union("GrantChangeResult"),
]


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Вход оператора 122: логин, пароль и код из приложения-аутентификатора.")
    @atomic
    async def staff_login(self, info: Info, login: str, password: str, totp_code: str) -> StaffLoginResult:
        try:
            issued, staff = await operators.staff_login(
                info.context.uow, login=login, password=password, totp_code=totp_code
            )
        except problems.IdentityProblem as exc:
            return _typed(exc)  # type: ignore[return-value]
        return StaffSession(
            access_token=issued.access_token,
            expires_in=issued.expires_in,
            operator=StaffMember(id=staff.id, full_name=staff.full_name, role=staff.role),
        )

    @strawberry.mutation(
        description="Оператор 122 идентифицирует позвонившего (полис ОМС или СНИЛС + дата рождения; или patientId "
        "человека, найденного по номеру звонка (callerCandidates), + дата рождения) и получает сеанс от его имени. "
        "sendSmsCode: код на телефон пациента для чувствительных действий."
    )
    @atomic
    async def open_on_behalf_session(
        self,
        info: Info,
        birth_date: date,
        *,
        oms_policy: str | None = None,
        snils: str | None = None,
        send_sms_code: bool = False,
        patient_id: uuid.UUID | None = None,
    ) -> OnBehalfResult:
        staff_id = require_staff(info)
        opened = await _answer(
            operators.open_on_behalf_session(
                info.context.uow,
                staff_id=staff_id,
                staff_session_id=getattr(info.context, "session_id", None),
                birth_date=birth_date,
                oms_policy=oms_policy,
                snils=snils,
                send_sms_code=send_sms_code,
                patient_id=patient_id,
            )
        )
        return opened if isinstance(opened, Problem) else _on_behalf(opened)  # type: ignore[return-value]

    @strawberry.mutation(
        description="Код из СМС, который пациент продиктовал оператору: "
        "сеанс получает право на чувствительные действия."
    )
    @atomic
    async def confirm_on_behalf_code(self, info: Info, code: str) -> ConfirmOnBehalfResult:
        patient_id = policy.require_on_behalf_operator(info)
        confirmed = await _answer(
            operators.confirm_on_behalf_code(
                info.context.uow, session_id=_current_session(info), patient_id=patient_id, code=code
            )
        )
        return confirmed if isinstance(confirmed, Problem) else _on_behalf(confirmed)  # type: ignore[return-value]

    @strawberry.mutation(description="Инфомат: пациент вводит или сканирует полис ОМС и дату рождения.")
    @atomic
    async def identify_at_kiosk(self, info: Info, oms_policy: str, birth_date: date) -> KioskIdentifyResult:
        kiosk_id = require_kiosk_device(info)
        try:
            issued, patient = await identification.open_kiosk_session(
                info.context.uow, kiosk_id=kiosk_id, oms_policy=oms_policy, birth_date=birth_date
            )
        except problems.IdentityProblem as exc:
            return _typed(exc)  # type: ignore[return-value]
        return KioskSession(
            access_token=issued.access_token,
            expires_in=issued.expires_in,
            idle_timeout_seconds=info.context.runtime.settings.kiosk_idle_timeout_s,
            patient=_brief(patient),
            scopes=issued.scopes,
        )

    @strawberry.mutation(
        description="Назначить доверенное лицо (СНИЛС и дата рождения) с выбранными правами и сроком; "
        "вступает в силу после кода из СМС."
    )
    @atomic
    async def grant_proxy(
        self, info: Info, proxy_snils: str, proxy_birth_date: date, scopes: list[str], expires_on: date
    ) -> GrantProxyResult:
        me = require_patient_self(info)
        try:
            grant, sent_to = await proxies.request_grant(
                info.context.uow,
                me=me,
                proxy_snils=proxy_snils,
                proxy_birth_date=proxy_birth_date,
                scopes=scopes,
                expires_on=expires_on,
            )
        except problems.IdentityProblem as exc:
            return _typed(exc)  # type: ignore[return-value]
        return ProxyGrantPending(grant=_node(info, grant), sms_sent_to=sent_to)

    @strawberry.mutation(description="Подтвердить доверенность кодом из СМС.")
    @atomic
    async def confirm_proxy_grant(self, info: Info, grant_id: uuid.UUID, code: str) -> GrantChangeResult:
        me = require_patient_self(info)
        work = proxies.confirm_grant(info.context.uow, me=me, grant_id=grant_id, code=code)
        return await _grant_change(info, work)

    @strawberry.mutation(description="Отозвать доверенность (доверитель) или отказаться от нее (доверенное лицо).")
    @atomic
    async def revoke_proxy_grant(self, info: Info, grant_id: uuid.UUID) -> GrantChangeResult:
        me = require_patient_self(info)
        return await _grant_change(info, proxies.revoke_grant(info.context.uow, me=me, grant_id=grant_id))

    @strawberry.mutation(
        description="Заявить о законном представительстве ребенка по документу; действует после проверки сотрудником."
    )
    @atomic
    async def declare_guardianship(self, info: Info, child: ChildInput, document: DocumentInput) -> GrantChangeResult:
        me = require_patient_self(info)
        work = proxies.declare_guardianship(
            info.context.uow,
            me=me,
            child=proxies.ChildData(
                last_name=child.last_name,
                first_name=child.first_name,
                middle_name=child.middle_name,
                birth_date=child.birth_date,
                sex=child.sex,
                oms_policy=child.oms_policy,
                snils=child.snils,
            ),
            document=proxies.GuardianshipDocument(
                type=document.type, series=document.series, number=document.number, issued_on=document.issued_on
            ),
        )
        return await _grant_change(info, work)

    @strawberry.mutation(description="Сотрудник подтверждает (или отклоняет) заявленное законное представительство.")
    @atomic
    async def confirm_guardianship(self, info: Info, grant_id: uuid.UUID, approve: bool = True) -> GrantChangeResult:
        staff_id = require_staff(info, policy.SCOPE_GUARDIANSHIP_REVIEW)
        work = proxies.review_guardianship(info.context.uow, staff_id=staff_id, grant_id=grant_id, approve=approve)
        return await _grant_change(info, work)


async def _grant_change(info: Info, work: Awaitable[proxies.GrantWithPeople]) -> GrantChangeResult:
    changed = await _answer(work)
    return changed if isinstance(changed, Problem) else _node(info, changed)  # type: ignore[return-value]


def _current_session(info: Info) -> uuid.UUID:
    """The ``sid`` of the request's bearer token (verified by authn)."""
    sid = getattr(info.context, "session_id", None)
    if not isinstance(sid, uuid.UUID):
        raise policy.access_denied()
    return sid


TYPES: tuple[type, ...] = ()
