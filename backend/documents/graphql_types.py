"""The Strawberry types of the documents' GraphQL: the problems' union members, documents, the profile,
grants, inputs and results (the resolvers are in :mod:`backend.documents.schema`)."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from enum import Enum
from typing import Annotated, ParamSpec, TypeVar

import strawberry
from strawberry import relay

from backend.api.problems import AccessDenied, InvalidInput, NotAuthenticated, Problem, ProblemError, PublicError
from backend.documents import problems, service
from backend.documents.models import MedicalDocument

P = ParamSpec("P")
R = TypeVar("R")

DOWNLOAD_PATH = "/api/v1/documents/{id}/original.zip"


# ---------------------------------------------------------------------------------------------- problems


@strawberry.type(description="Документ не найден.")
class DocumentNotFound(Problem):
    pass


@strawberry.type(description="Запись профиля не найдена.")
class ProfileEntryNotFound(Problem):
    pass


@strawberry.type(description="Доступ врача не найден, истек или отозван.")
class AccessGrantNotFound(Problem):
    pass


@strawberry.type(description="Реестр медицинских документов не отвечает.")
class DocumentsUnavailable(Problem):
    pass


_PROBLEMS: dict[type[problems.DocumentsProblem], type[Problem]] = {
    problems.DocumentNotFound: DocumentNotFound,
    problems.EntryNotFound: ProfileEntryNotFound,
    problems.GrantNotFound: AccessGrantNotFound,
    problems.DocumentsUnavailable: DocumentsUnavailable,
}


def graphql_problem(problem: problems.DocumentsProblem) -> Problem:
    if isinstance(problem, problems.InvalidInput):
        return InvalidInput.of(problem.field or "input", problem.message)
    return _PROBLEMS[type(problem)](code=problem.code, message=problem.message)


def domain_problems(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Inside ``@atomic``: a documents problem raised by the services becomes its union member."""

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await fn(*args, **kwargs)
        except problems.DocumentsError as exc:
            raise ProblemError(graphql_problem(exc.problem)) from None

    return wrapper


def _public(exc: problems.DocumentsError) -> PublicError:
    return PublicError(exc.problem.message, code=exc.problem.code)


# ---------------------------------------------------------------------------------------------- types


@strawberry.enum(description="Что удалось прочитать из документа при получении.")
class DocumentContentStatus(Enum):
    OK = "ok"
    MALFORMED = "malformed"
    PENDING = "pending"


@strawberry.enum(description="Состояние открытого документа.")
class DocumentViewState(Enum):
    OK = "ok"
    MALFORMED = "malformed"
    UNAVAILABLE = "unavailable"


@strawberry.type(description="Медицинский документ пациента (СЭМД, зарегистрированный в РЭМД).")
class MedicalDocumentItem:
    id: uuid.UUID
    registry_number: str = strawberry.field(description="Регистрационный номер в РЭМД.")
    kind: str = strawberry.field(description="Вид СЭМД (код НСИ 1.2.643.5.1.13.13.11.1520), например 119.")
    title: str
    created_at: datetime
    organisation_oid: str = strawberry.field(description="OID медицинской организации по ФРМО.")
    organisation_name: str | None
    author_name: str | None
    author_position: str | None
    content_status: DocumentContentStatus
    content_message: str | None = strawberry.field(description="Почему содержимое не прочитано, если так.")
    download_url: str = strawberry.field(description="Оригинал CDA с подписями (ZIP), с тем же токеном.")

    @classmethod
    def of(cls, row: MedicalDocument) -> MedicalDocumentItem:
        return cls(
            id=row.id,
            registry_number=row.registry_number,
            kind=row.kind,
            title=row.title,
            created_at=row.created_at,
            organisation_oid=row.org_oid,
            organisation_name=row.org_name,
            author_name=row.author_name,
            author_position=row.author_position,
            content_status=DocumentContentStatus(row.content_status),
            content_message=row.content_error,
            download_url=DOWNLOAD_PATH.format(id=row.id),
        )


@strawberry.type(description="Документ на странице выборки.")
class MedicalDocumentEdge:
    cursor: str
    node: MedicalDocumentItem


@strawberry.type(description="Страница документов пациента (сначала новые).")
class MedicalDocumentConnection:
    edges: list[MedicalDocumentEdge]
    page_info: relay.PageInfo


@strawberry.type(description="Поле структурированной части документа.")
class DocumentField:
    label: str
    value: str


@strawberry.type(description="Раздел документа: текст и поля.")
class DocumentSection:
    code: str
    title: str
    text: str
    fields: list[DocumentField]


@strawberry.type(description="Электронная подпись документа и результат ее проверки.")
class DocumentSignature:
    role: str = strawberry.field(description="doctor — подпись врача, organization — подпись организации.")
    valid: bool = strawberry.field(description="Подпись соответствует содержимому документа.")
    signer: str | None
    signer_snils: str | None
    organisation: str | None
    signed_at: datetime | None
    problem: str | None = strawberry.field(description="Почему подпись не прошла проверку.")


@strawberry.type(description="Открытый документ: наше прочтение CDA и проверка подписей.")
class MedicalDocumentView:
    document: MedicalDocumentItem
    state: DocumentViewState
    message: str | None
    patient_name: str | None
    author: str | None
    sections: list[DocumentSection]
    signatures: list[DocumentSignature]
    signatures_valid: bool

    @classmethod
    def of(cls, found: service.DocumentDetail) -> MedicalDocumentView:
        return cls(
            document=MedicalDocumentItem.of(found.document),
            state=DocumentViewState(found.state),
            message=found.message,
            patient_name=found.patient_name,
            author=found.author,
            sections=[
                DocumentSection(
                    code=s.code,
                    title=s.title,
                    text=s.text,
                    fields=[DocumentField(label=f.label, value=f.value) for f in s.fields],
                )
                for s in found.sections
            ],
            signatures=[
                DocumentSignature(
                    role=s.role,
                    valid=s.valid,
                    signer=s.signer,
                    signer_snils=s.signer_snils,
                    organisation=s.organisation,
                    signed_at=s.signed_at,
                    problem=s.problem,
                )
                for s in found.signatures
            ],
            signatures_valid=found.signatures_valid,
        )


def _day(value: date | datetime | None) -> date | None:
    if value is None:
        return None
    return value.date() if isinstance(value, datetime) else value


@strawberry.type(description="Сведение медицинского профиля и его источник.")
class ProfileItem:
    kind: str
    text: str
    code: str | None = strawberry.field(description="Код (МКБ-10, НСИ), если есть.")
    from_patient: bool = strawberry.field(description="Со слов пациента (а не из документа).")
    source: str = strawberry.field(description="«Со слов пациента» или документ и его дата.")
    document_id: uuid.UUID | None
    known_on: date | None
    until: date | None
    detail: str | None
    value: str | None
    unit: str | None
    entry_id: uuid.UUID | None = strawberry.field(description="Собственная запись пациента (можно удалить).")

    @classmethod
    def of(cls, item: service.ProfileItem) -> ProfileItem:
        return cls(
            kind=item.kind,
            text=item.text,
            code=item.code,
            from_patient=item.source.patient,
            source=item.source.shown,
            document_id=item.source.document_id,
            known_on=_day(item.at),
            until=_day(item.until),
            detail=item.detail,
            value=str(item.value) if item.value is not None else None,
            unit=item.unit,
            entry_id=item.entry_id,
        )


@strawberry.type(description="Что пациент показывает бригаде скорой помощи.")
class EmergencySettings:
    enabled: bool
    share_allergies: bool
    share_conditions: bool
    share_blood_group: bool
    contact_name: str | None
    contact_phone: str | None

    @classmethod
    def of(cls, s: service.EmergencySettings) -> EmergencySettings:
        return cls(
            enabled=s.enabled,
            share_allergies=s.share_allergies,
            share_conditions=s.share_conditions,
            share_blood_group=s.share_blood_group,
            contact_name=s.contact_name,
            contact_phone=s.contact_phone,
        )


@strawberry.type(description="Цифровой медицинский профиль: из документов и со слов пациента.")
class MedicalProfile:
    blood_group: ProfileItem | None
    allergies: list[ProfileItem]
    chronic_conditions: list[ProfileItem]
    medications: list[ProfileItem]
    disability: ProfileItem | None
    vitals: list[ProfileItem]
    vaccinations: list[ProfileItem]
    notes: list[ProfileItem]
    emergency: EmergencySettings
    unreadable_documents: int = strawberry.field(description="Документы, содержимое которых не прочитано.")

    @classmethod
    def of(cls, p: service.MedicalProfile) -> MedicalProfile:
        def items(values: tuple[service.ProfileItem, ...]) -> list[ProfileItem]:
            return [ProfileItem.of(i) for i in values]

        return cls(
            blood_group=ProfileItem.of(p.blood_group) if p.blood_group else None,
            allergies=items(p.allergies),
            chronic_conditions=items(p.chronic_conditions),
            medications=items(p.medications),
            disability=ProfileItem.of(p.disability) if p.disability else None,
            vitals=items(p.vitals),
            vaccinations=items(p.vaccinations),
            notes=items(p.notes),
            emergency=EmergencySettings.of(p.emergency),
            unreadable_documents=p.unreadable_documents,
        )


@strawberry.type(description="Доступ врача к профилю и документам пациента.")
class DocumentAccessGrant:
    id: uuid.UUID
    doctor_snils: str | None
    doctor_name: str | None
    include_profile: bool
    document_ids: list[uuid.UUID]
    created_at: datetime
    expires_at: datetime
    claimed_at: datetime | None
    revoked_at: datetime | None
    active: bool
    one_time_code: str | None = strawberry.field(
        description="Одноразовый код для врача: показывается только в ответе, открывшем доступ."
    )

    @classmethod
    def of(cls, view: service.GrantView, at: datetime) -> DocumentAccessGrant:
        g = view.grant
        return cls(
            id=g.id,
            doctor_snils=g.doctor_snils,
            doctor_name=view.doctor_name,
            include_profile=g.include_profile,
            document_ids=[uuid.UUID(d) for d in g.document_ids],
            created_at=g.created_at,
            expires_at=g.expires_at,
            claimed_at=g.claimed_at,
            revoked_at=g.revoked_at,
            active=view.active_at(at),
            one_time_code=view.code,
        )


@strawberry.type(description="Документы пациента одного вида: сколько и когда (без содержания).")
class DocumentKindCount:
    kind: str
    title: str
    count: int
    latest_at: datetime


@strawberry.type(description="Что оператор 122 может сообщить: есть ли документы, каких видов и когда.")
class DocumentsExistence:
    total: int
    latest_at: datetime | None
    kinds: list[DocumentKindCount]


@strawberry.type(description="Пациент, открывший доступ врачу.")
class SharedPatient:
    grant_id: uuid.UUID
    patient_name: str
    birth_date: date
    expires_at: datetime
    include_profile: bool
    document_count: int

    @classmethod
    def of(cls, shared: service.SharedPatient) -> SharedPatient:
        return cls(
            grant_id=shared.grant.id,
            patient_name=shared.patient.full_name,
            birth_date=shared.patient.birth_date,
            expires_at=shared.grant.expires_at,
            include_profile=shared.grant.include_profile,
            document_count=len(shared.grant.document_ids),
        )


@strawberry.type(description="Что пациент открыл врачу: профиль (если открыт) и выбранные документы.")
class SharedRecord:
    grant_id: uuid.UUID
    patient_name: str
    birth_date: date
    expires_at: datetime
    profile: MedicalProfile | None
    documents: list[MedicalDocumentItem]


# ---------------------------------------------------------------------------------------------- inputs, results


@strawberry.enum(description="Вид собственной записи пациента в профиле.")
class ProfileEntryKind(Enum):
    ALLERGY = "allergy"
    CHRONIC_CONDITION = "chronic_condition"
    MEDICATION = "medication"
    BLOOD_GROUP = "blood_group"
    DISABILITY = "disability"
    NOTE = "note"


@strawberry.input(description="Запись профиля со слов пациента.")
class ProfileEntryInput:
    kind: ProfileEntryKind
    text: str
    code: str | None = strawberry.field(default=None, description="Код МКБ-10, если известен.")


@strawberry.input(description="Экстренный профиль: что показывать бригаде скорой помощи.")
class EmergencyProfileInput:
    enabled: bool
    share_allergies: bool = True
    share_conditions: bool = True
    share_blood_group: bool = True
    contact_name: str | None = None
    contact_phone: str | None = None


@strawberry.input(description="Открыть профиль и документы врачу на время.")
class DocumentAccessInput:
    hours: int = strawberry.field(description="Срок доступа в часах (1–720).")
    doctor_snils: str | None = strawberry.field(
        default=None, description="СНИЛС врача; без него выдается одноразовый код для врача."
    )
    include_profile: bool = True
    document_ids: list[uuid.UUID] = strawberry.field(default_factory=list)


@strawberry.type(description="Документы сверены с реестром.")
class DocumentsSynced:
    added: int


@strawberry.type(description="Запись добавлена в профиль.")
class ProfileEntryAdded:
    entry: ProfileItem


@strawberry.type(description="Запись удалена из профиля.")
class ProfileEntryRemoved:
    entry_id: uuid.UUID


@strawberry.type(description="Экстренный профиль сохранен.")
class EmergencyProfileSaved:
    emergency: EmergencySettings


@strawberry.type(description="Доступ врачу открыт.")
class DocumentAccessGranted:
    grant: DocumentAccessGrant


@strawberry.type(description="Доступ врача отозван.")
class DocumentAccessRevoked:
    grant: DocumentAccessGrant


@strawberry.type(description="Врач принял доступ по коду.")
class DocumentAccessClaimed:
    patient: SharedPatient


SyncDocumentsResult = Annotated[
    DocumentsSynced | DocumentsUnavailable | NotAuthenticated | AccessDenied, strawberry.union("SyncDocumentsResult")
]
AddProfileEntryResult = Annotated[
    ProfileEntryAdded | InvalidInput | NotAuthenticated | AccessDenied, strawberry.union("AddProfileEntryResult")
]
RemoveProfileEntryResult = Annotated[
    ProfileEntryRemoved | ProfileEntryNotFound | NotAuthenticated | AccessDenied,
    strawberry.union("RemoveProfileEntryResult"),
]
SetEmergencyProfileResult = Annotated[
    EmergencyProfileSaved | InvalidInput | NotAuthenticated | AccessDenied,
    strawberry.union("SetEmergencyProfileResult"),
]
GrantDocumentAccessResult = Annotated[
    DocumentAccessGranted | InvalidInput | DocumentNotFound | NotAuthenticated | AccessDenied,
    strawberry.union("GrantDocumentAccessResult"),
]
RevokeDocumentAccessResult = Annotated[
    DocumentAccessRevoked | AccessGrantNotFound | NotAuthenticated | AccessDenied,
    strawberry.union("RevokeDocumentAccessResult"),
]
ClaimDocumentAccessResult = Annotated[
    DocumentAccessClaimed | AccessGrantNotFound | NotAuthenticated | AccessDenied,
    strawberry.union("ClaimDocumentAccessResult"),
]
