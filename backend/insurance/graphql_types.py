"""GraphQL types of the insurance domain (the resolvers are in :mod:`backend.insurance.schema`)."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

import strawberry

from backend.api.problems import AccessDenied, InvalidInput, NotAuthenticated, Problem
from backend.booking.graphql_types import IdempotencyKeyReused, ProblemMap
from backend.insurance import problems
from backend.insurance.models import (
    InsuranceTicket,
    InsuranceTicketEvent,
    InsurerChange,
    InsurerChangeEvent,
    RepresentativeMessage,
)
from backend.insurance.service import billed, changes, messages, policy, tickets
from integrations.erzl import AppealKind, AppealStatus, BilledService, ChangeReason, ChangeStatus, Insurer

# ---------------------------------------------------------------------------------------------- problems


@strawberry.type(description="Полис ОМС не найден в едином регистре застрахованных лиц.")
class InsurancePolicyNotFound(Problem):
    pass


@strawberry.type(description="Регистр застрахованных лиц ещё ищет сведения о полисе; в сообщении — когда проверить.")
class InsurancePolicyNotReady(Problem):
    pass


@strawberry.type(description="Нет согласия на получение сведений о полисе ОМС.")
class InsuranceConsentRequired(Problem):
    pass


@strawberry.type(description="Случай оказания медицинской помощи не найден.")
class InsuranceCaseNotFound(Problem):
    pass


@strawberry.type(description="По этой услуге уже есть обращение на рассмотрении.")
class InsuranceDisputeExists(Problem):
    pass


@strawberry.type(description="Обращение не найдено.")
class InsuranceTicketNotFound(Problem):
    pass


@strawberry.type(description="Обращение можно возобновить один раз, после ответа.")
class InsuranceReopenNotAllowed(Problem):
    pass


@strawberry.type(description="Документ для приложения не найден в хранилище.")
class InsuranceAttachmentNotFound(Problem):
    pass


@strawberry.type(description="Страховая компания не найдена в реестре СМО региона.")
class InsuranceInsurerNotFound(Problem):
    pass


@strawberry.type(description="Пациент уже застрахован в этой страховой компании.")
class InsuranceSameInsurer(Problem):
    pass


@strawberry.type(description="Замена страховой компании пока невозможна (ст. 16 326-ФЗ); в сообщении — с какой даты.")
class InsuranceChangeNotAllowedYet(Problem):
    pass


@strawberry.type(description="Заявление о замене страховой компании уже рассматривается.")
class InsuranceChangePending(Problem):
    pass


@strawberry.type(description="Система ОМС не приняла запрос.")
class InsuranceRefused(Problem):
    pass


@strawberry.type(description="Сообщение страхового представителя не найдено.")
class InsuranceMessageNotFound(Problem):
    pass


@strawberry.type(description="Сервис ОМС недоступен; можно повторить.")
class InsuranceServiceUnavailable(Problem):
    pass


PROBLEMS = ProblemMap(
    {
        problems.PolicyNotFound: InsurancePolicyNotFound,
        problems.PolicyNotReady: InsurancePolicyNotReady,
        problems.ConsentRequired: InsuranceConsentRequired,
        problems.CaseNotFound: InsuranceCaseNotFound,
        problems.DisputeExists: InsuranceDisputeExists,
        problems.TicketNotFound: InsuranceTicketNotFound,
        problems.ReopenNotAllowed: InsuranceReopenNotAllowed,
        problems.AttachmentNotFound: InsuranceAttachmentNotFound,
        problems.InsurerNotFound: InsuranceInsurerNotFound,
        problems.SameInsurer: InsuranceSameInsurer,
        problems.ChangeNotAllowedYet: InsuranceChangeNotAllowedYet,
        problems.ChangePending: InsuranceChangePending,
        problems.InsuranceRefused: InsuranceRefused,
        problems.MessageNotFound: InsuranceMessageNotFound,
        problems.InsuranceServiceUnavailable: InsuranceServiceUnavailable,
    },
    transient=problems.TRANSIENT_CODES,
)
graphql_problem = PROBLEMS.member
problem_from_json = PROBLEMS.from_json


# ---------------------------------------------------------------------------------------------- policy


@strawberry.type(name="Insurer", description="Страховая медицинская организация (СМО).")
class InsurerType:
    code: str = strawberry.field(description="Код СМО (НСИ 1.2.643.5.1.13.13.99.2.183).")
    name: str
    ogrn: str | None
    phone: str | None = strawberry.field(description="Горячая линия (контакт-центр) страховой компании.")
    website: str | None
    address: str | None
    exiting_on: date | None = strawberry.field(
        default=None, description="Дата прекращения работы в ОМС региона (тогда замена возможна в любое время)."
    )

    @classmethod
    def of(cls, i: Insurer | policy.InsurerCard) -> InsurerType:
        return cls(
            code=i.code,
            name=i.name,
            ogrn=i.ogrn,
            phone=i.phone,
            website=i.website,
            address=i.address,
            exiting_on=getattr(i, "exiting_on", None),
        )


@strawberry.type(description="Период страхования в прошлом.")
class PolicyPeriodType:
    insurer_name: str
    start_date: date | None
    end_date: date | None
    status: str


@strawberry.type(name="InsurancePolicy", description="Цифровой полис ОМС: запись единого регистра застрахованных лиц.")
class InsurancePolicyType:
    enp: str = strawberry.field(description="Единый номер полиса (16 цифр).")
    status: str = strawberry.field(description="active | closed")
    status_label: str
    start_date: date | None
    end_date: date | None
    region: str | None
    insurer: InsurerType
    attachment_mo_oid: str | None = strawberry.field(description="OID поликлиники прикрепления (ФРМО).")
    history: list[PolicyPeriodType]
    esia_enp: str | None = strawberry.field(description="Номер полиса в профиле Госуслуг (MDCL_PLCY).")
    esia_matches: bool = strawberry.field(description="Номер в профиле Госуслуг совпадает с номером в регистре.")
    esia_message: str | None = strawberry.field(description="Что сделать, если номера не совпадают.")
    machine_code: str = strawberry.field(description="Содержимое QR-кода цифрового полиса (ЕНП и дата рождения).")
    fetched_at: datetime
    fresh: bool = strawberry.field(description="false: регистр недоступен, показаны последние полученные сведения.")

    @classmethod
    def of(cls, v: policy.PolicyView) -> InsurancePolicyType:
        return cls(
            enp=v.enp,
            status=v.status,
            status_label=v.status_label,
            start_date=v.start_date,
            end_date=v.end_date,
            region=v.region,
            insurer=InsurerType.of(v.insurer),
            attachment_mo_oid=v.attachment_mo_oid,
            history=[
                PolicyPeriodType(
                    insurer_name=h.insurer_name, start_date=h.start_date, end_date=h.end_date, status=h.status
                )
                for h in v.history
            ],
            esia_enp=v.esia_enp,
            esia_matches=v.esia_matches,
            esia_message=v.esia_message,
            machine_code=v.machine_code,
            fetched_at=v.fetched_at,
            fresh=v.fresh,
        )


@strawberry.type(description="Страховые компании региона.")
class InsurerList:
    items: list[InsurerType]


# ---------------------------------------------------------------------------------------------- billed care


@strawberry.enum(name="CareKind", description="Вид медицинской помощи.")
class CareKindEnum(enum.Enum):
    AMBULATORY = "ambulatory"
    DISPANSERIZATION = "dispanserization"
    DISPENSARY = "dispensary"
    DAY_HOSPITAL = "day_hospital"
    HOSPITAL = "hospital"
    EMERGENCY = "emergency"


@strawberry.type(name="BilledService", description="Оказанная услуга и ее стоимость из реестра счетов ОМС.")
class BilledServiceType:
    case_id: str
    service_date: date
    mo_oid: str
    mo_name: str
    service_code: str
    service_name: str
    diagnosis_code: str
    diagnosis_name: str
    care_kind: str
    care_kind_label: str
    cost: Decimal = strawberry.field(description="Стоимость, руб.")
    payment_status: str
    payment_status_label: str

    @classmethod
    def of(cls, s: BilledService) -> BilledServiceType:
        return cls(
            case_id=s.case_id,
            service_date=s.service_date,
            mo_oid=s.mo_oid,
            mo_name=s.mo_name,
            service_code=s.service_code,
            service_name=s.service_name,
            diagnosis_code=s.diagnosis_code,
            diagnosis_name=s.diagnosis_name,
            care_kind=s.care_kind.value,
            care_kind_label=s.care_kind.label_ru,
            cost=s.cost,
            payment_status=s.payment_status.value,
            payment_status_label=s.payment_status.label_ru,
        )


@strawberry.type(description="Итог: число случаев и стоимость.")
class BilledTotal:
    key: str
    label: str
    cases: int
    cost: Decimal


@strawberry.type(name="BilledHistory", description="История страховых случаев и их стоимость.")
class BilledHistoryType:
    date_from: date
    date_to: date
    total: Decimal
    by_year: list[BilledTotal]
    by_clinic: list[BilledTotal]
    services: list[BilledServiceType]

    @classmethod
    def of(cls, h: billed.BilledHistory) -> BilledHistoryType:
        return cls(
            date_from=h.date_from,
            date_to=h.date_to,
            total=h.total,
            by_year=[BilledTotal(key=t.key, label=t.label, cases=t.cases, cost=t.cost) for t in h.by_year],
            by_clinic=[BilledTotal(key=t.key, label=t.label, cases=t.cases, cost=t.cost) for t in h.by_clinic],
            services=[BilledServiceType.of(s) for s in h.services],
        )


# ---------------------------------------------------------------------------------------------- tickets


@strawberry.enum(description="Вид обращения: спор по оказанной услуге или жалоба.")
class TicketKind(enum.Enum):
    DISPUTE = "dispute"
    COMPLAINT = "complaint"


@strawberry.type(description="Шаг рассмотрения обращения.")
class TicketStep:
    status: str
    status_label: str
    at: datetime
    comment: str | None


@strawberry.type(description="Документ из хранилища, приложенный к обращению.")
class TicketAttachment:
    file_id: uuid.UUID
    title: str


@strawberry.type(name="InsuranceTicket", description="Обращение в страховую компанию или ТФОМС.")
class InsuranceTicketType:
    id: uuid.UUID
    kind: str
    category: str
    category_label: str
    addressee: str
    case_id: str | None
    service_name: str | None
    service_date: date | None
    service_cost: Decimal | None
    description: str
    attachments: list[TicketAttachment]
    status: str = strawberry.field(description="registered | in_review | answered | reopened | closed")
    status_label: str
    due_on: date = strawberry.field(description="Срок ответа: 30 дней с регистрации (ст. 12 59-ФЗ).")
    answer: str | None
    upheld: bool | None = strawberry.field(description="Ответ в пользу пациента.")
    can_reopen: bool
    channel: str
    created_at: datetime
    history: list[TicketStep]

    @classmethod
    def of(cls, t: InsuranceTicket, events: list[InsuranceTicketEvent]) -> InsuranceTicketType:
        return cls(
            id=t.id,
            kind=t.kind,
            category=t.category,
            category_label=tickets.category_label(t.kind, t.category),
            addressee=t.addressee,
            case_id=t.case_id,
            service_name=t.service_name,
            service_date=t.service_date,
            service_cost=t.service_cost,
            description=t.description,
            attachments=[TicketAttachment(file_id=uuid.UUID(a["id"]), title=a["title"]) for a in t.attachments or []],
            status=t.status,
            status_label=AppealStatus(t.status).label_ru,
            due_on=t.due_on,
            answer=t.answer,
            upheld=t.upheld,
            can_reopen=t.status == AppealStatus.ANSWERED.value and not t.reopened,
            channel=t.channel,
            created_at=t.created_at,
            history=[
                TicketStep(status=e.status, status_label=AppealStatus(e.status).label_ru, at=e.at, comment=e.comment)
                for e in events
            ],
        )


@strawberry.type(name="BilledCase", description="Случай оказания помощи и обращения по нему.")
class BilledCaseType:
    service: BilledServiceType
    tickets: list[InsuranceTicketType]


@strawberry.input(description="Обращение: спор по услуге («я не получал эту услугу») или жалоба.")
class InsuranceTicketInput:
    kind: TicketKind
    category: str = strawberry.field(
        description="Спор: service_not_received | wrong_details. Жалоба: waiting_time | refusal | payment_demanded | "
        "quality | other."
    )
    description: str
    case_id: str | None = strawberry.field(default=None, description="Оспариваемый случай (для спора).")
    addressee: str = strawberry.field(default="smo", description="smo (страховая компания) | tfoms")
    attachment_ids: list[uuid.UUID] = strawberry.field(
        default_factory=list, description="Документы из хранилища (myVault)."
    )

    def request(self) -> tickets.TicketRequest:
        return tickets.TicketRequest(
            kind=AppealKind(self.kind.value),
            category=self.category,
            description=self.description,
            addressee=self.addressee,
            case_id=self.case_id,
            attachment_ids=tuple(self.attachment_ids),
        )


@strawberry.type(description="Обращение отправлено.")
class InsuranceTicketOpened:
    ticket: InsuranceTicketType


@strawberry.type(description="Обращение возобновлено.")
class InsuranceTicketReopened:
    ticket: InsuranceTicketType


# ---------------------------------------------------------------------------------------------- insurer change


@strawberry.enum(name="InsurerChangeReason", description="Основание замены страховой компании (ст. 16 326-ФЗ).")
class ChangeReasonEnum(enum.Enum):
    ORDINARY = "ordinary"
    CHANGE_OF_RESIDENCE = "change_of_residence"
    INSURER_EXIT = "insurer_exit"


@strawberry.type(description="Шаг рассмотрения заявления о замене СМО.")
class InsurerChangeStep:
    status: str
    status_label: str
    at: datetime
    comment: str | None


@strawberry.type(name="InsurerChange", description="Заявление о замене страховой компании.")
class InsurerChangeType:
    id: uuid.UUID
    insurer_code: str
    insurer_name: str
    reason: str
    reason_label: str
    status: str = strawberry.field(description="submitted | accepted | completed | rejected")
    status_label: str
    certificate_number: str | None = strawberry.field(description="Временное свидетельство.")
    certificate_valid_until: date | None
    rejection: str | None
    channel: str
    created_at: datetime
    history: list[InsurerChangeStep]

    @classmethod
    def of(cls, c: InsurerChange, events: list[InsurerChangeEvent]) -> InsurerChangeType:
        return cls(
            id=c.id,
            insurer_code=c.insurer_code,
            insurer_name=c.insurer_name,
            reason=c.reason,
            reason_label=ChangeReason(c.reason).label_ru,
            status=c.status,
            status_label=ChangeStatus(c.status).label_ru,
            certificate_number=c.certificate_number,
            certificate_valid_until=c.certificate_valid_until,
            rejection=c.rejection,
            channel=c.channel,
            created_at=c.created_at,
            history=[
                InsurerChangeStep(
                    status=e.status, status_label=ChangeStatus(e.status).label_ru, at=e.at, comment=e.comment
                )
                for e in events
            ],
        )


@strawberry.type(description="Замена страховой компании: текущая СМО, когда возможна замена, СМО региона, заявления.")
class InsurerChangeOverview:
    current: InsurerType | None
    can_change_now: bool = strawberry.field(
        description="Обычная замена (раз в год не позднее 1 ноября) возможна сейчас."
    )
    possible_from: date
    rule: str = strawberry.field(description="Правило ст. 16 326-ФЗ и что из него следует сейчас.")
    insurers: list[InsurerType]
    applications: list[InsurerChangeType]

    @classmethod
    def of(
        cls, a: changes.Availability, rows: list[tuple[InsurerChange, list[InsurerChangeEvent]]]
    ) -> InsurerChangeOverview:
        return cls(
            current=InsurerType.of(a.current) if a.current else None,
            can_change_now=a.ordinary.allowed,
            possible_from=a.ordinary.possible_from,
            rule=a.ordinary.message_ru,
            insurers=[InsurerType.of(i) for i in a.insurers],
            applications=[InsurerChangeType.of(c, e) for c, e in rows],
        )


@strawberry.input(description="Заявление о замене страховой компании.")
class InsurerChangeInput:
    insurer_code: str = strawberry.field(description="Код выбранной СМО (из insurers).")
    reason: ChangeReasonEnum = ChangeReasonEnum.ORDINARY
    new_address: str | None = strawberry.field(default=None, description="Новый адрес при смене места жительства.")

    def request(self) -> changes.ChangeRequest:
        return changes.ChangeRequest(
            insurer_code=self.insurer_code, reason=ChangeReason(self.reason.value), new_address=self.new_address
        )


@strawberry.type(description="Заявление о замене страховой компании отправлено.")
class InsurerChangeApplied:
    application: InsurerChangeType


# ---------------------------------------------------------------------------------------------- representative


@strawberry.type(name="RepresentativeMessage", description="Сообщение виртуального страхового представителя.")
class RepresentativeMessageType:
    id: uuid.UUID
    rule: str
    period: str
    title: str
    text: str
    citation: str = strawberry.field(description="Норма, на которой основано сообщение.")
    created_at: datetime

    @classmethod
    def of(cls, m: RepresentativeMessage) -> RepresentativeMessageType:
        return cls(
            id=m.id,
            rule=m.rule,
            period=m.period_key,
            title=m.title,
            text=m.text,
            citation=m.citation,
            created_at=m.created_at,
        )


@strawberry.type(description="Сообщение скрыто.")
class RepresentativeMessageDismissed:
    id: uuid.UUID


@strawberry.type(description="Сообщений по одному правилу.")
class RepresentativeRuleCount:
    rule: str
    count: int


@strawberry.type(description="Охват виртуальным страховым представителем (для персонала).")
class RepresentativeKpi:
    start: datetime
    end: datetime
    insured: int = strawberry.field(description="Застрахованные, чей полис получен из регистра.")
    reached: int = strawberry.field(description="Получили хотя бы одно сообщение за период.")
    share: float
    target: float = strawberry.field(description="Цель: не менее 20 % застрахованных к 2024 году.")
    dismissed: int
    by_rule: list[RepresentativeRuleCount]

    @classmethod
    def of(cls, k: messages.Kpi) -> RepresentativeKpi:
        return cls(
            start=k.start,
            end=k.end,
            insured=k.insured,
            reached=k.reached,
            share=k.share,
            target=k.target,
            dismissed=k.dismissed,
            by_rule=[RepresentativeRuleCount(rule=r, count=n) for r, n in sorted(k.by_rule.items())],
        )


# ---------------------------------------------------------------------------------------------- unions

_POLICY_PROBLEMS = (
    InsurancePolicyNotFound | InsurancePolicyNotReady | InsuranceConsentRequired | InsuranceServiceUnavailable
)
MyInsurancePolicyResult = Annotated[InsurancePolicyType | _POLICY_PROBLEMS, strawberry.union("MyInsurancePolicyResult")]
InsurersResult = Annotated[InsurerList | InsuranceServiceUnavailable, strawberry.union("InsurersResult")]
MyBilledServicesResult = Annotated[
    BilledHistoryType | InvalidInput | _POLICY_PROBLEMS, strawberry.union("MyBilledServicesResult")
]
MyBilledCaseResult = Annotated[
    BilledCaseType | InsuranceCaseNotFound | _POLICY_PROBLEMS, strawberry.union("MyBilledCaseResult")
]
MyInsurerChangeResult = Annotated[InsurerChangeOverview | _POLICY_PROBLEMS, strawberry.union("MyInsurerChangeResult")]
_MUTATION_COMMON = IdempotencyKeyReused | NotAuthenticated | AccessDenied | InvalidInput | InsuranceRefused
OpenInsuranceTicketResult = Annotated[
    InsuranceTicketOpened
    | InsuranceCaseNotFound
    | InsuranceDisputeExists
    | InsuranceAttachmentNotFound
    | _POLICY_PROBLEMS
    | _MUTATION_COMMON,
    strawberry.union("OpenInsuranceTicketResult"),
]
ReopenInsuranceTicketResult = Annotated[
    InsuranceTicketReopened | InsuranceTicketNotFound | InsuranceReopenNotAllowed | _POLICY_PROBLEMS | _MUTATION_COMMON,
    strawberry.union("ReopenInsuranceTicketResult"),
]
ApplyForInsurerChangeResult = Annotated[
    InsurerChangeApplied
    | InsuranceInsurerNotFound
    | InsuranceSameInsurer
    | InsuranceChangeNotAllowedYet
    | InsuranceChangePending
    | _POLICY_PROBLEMS
    | _MUTATION_COMMON,
    strawberry.union("ApplyForInsurerChangeResult"),
]
DismissRepresentativeMessageResult = Annotated[
    RepresentativeMessageDismissed | InsuranceMessageNotFound | NotAuthenticated | AccessDenied,
    strawberry.union("DismissRepresentativeMessageResult"),
]
