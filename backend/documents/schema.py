"""GraphQL for medical documents and the digital medical profile (issue 17).

Patient-side fields take ``actingFor`` (a child or a principal through a proxy grant with the documents
scope) and need :data:`SCOPE_DOCUMENTS`: 122 operators and kiosks never have it. A 122 operator's
on-behalf session sees only that documents exist (``callerDocumentsSummary``). Doctors (a staff login with
``role = doctor``) read only what a patient opened to them (``doctor*`` fields).
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from enum import Enum
from typing import Annotated, ParamSpec, TypeVar

import strawberry
from strawberry import relay

from backend.api.atomic import atomic
from backend.api.context import Info
from backend.api.problems import AccessDenied, InvalidInput, NotAuthenticated, Problem, ProblemError, PublicError
from backend.audit import service as audit
from backend.documents import problems, service
from backend.documents.models import MedicalDocument
from backend.identity.policy import SCOPE_DOCUMENTS, require_doctor, require_on_behalf_operator, require_subject

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


# ---------------------------------------------------------------------------------------------- queries


def _filters(
    kinds: list[str] | None, date_from: date | None, date_to: date | None, org: str | None
) -> service.DocumentFilter:
    if date_from is not None and date_to is not None and date_from > date_to:
        raise PublicError("Начало периода позже его конца.", code="INVALID_ARGUMENT")
    if kinds is not None and len(kinds) > 20:
        raise PublicError("Не больше 20 видов документов в фильтре.", code="INVALID_ARGUMENT")
    return service.DocumentFilter(tuple(kinds or ()), date_from, date_to, org or None)


@strawberry.type
class Query:
    @strawberry.field(
        description=(
            "Медицинские документы пациента, сначала новые, постранично (first ≤ 100, after — курсор). "
            "Фильтры: виды СЭМД (НСИ 1520), период, OID медицинской организации."
        )
    )
    async def my_documents(
        self,
        info: Info,
        *,
        first: int = 20,
        after: str | None = None,
        kinds: list[str] | None = None,
        date_from: date | None = None,
        date_to: date | None = None,
        organisation_oid: str | None = None,
        acting_for: uuid.UUID | None = None,
    ) -> MedicalDocumentConnection:
        patient_id = await require_subject(info, SCOPE_DOCUMENTS, acting_for=acting_for)
        if not 1 <= first <= service.MAX_PAGE:
            raise PublicError(f"Параметр first: от 1 до {service.MAX_PAGE}.", code="INVALID_ARGUMENT")
        cursor = None
        if after is not None:
            try:
                cursor = service.Cursor.decode(after)
            except ValueError:
                raise PublicError("Некорректный курсор after.", code="INVALID_CURSOR") from None
        rt = info.context.runtime
        rows = await service.list_documents(
            rt, patient_id, first=first, after=cursor, filters=_filters(kinds, date_from, date_to, organisation_oid)
        )
        await audit.record_now(
            info.context.sessionmaker,
            info.context.ctx,
            "documents.list_read",
            subject_id=patient_id,
            object_type="medical_document",
            details={"count": min(len(rows), first)},
        )
        page = rows[:first]
        edges = [
            MedicalDocumentEdge(cursor=service.Cursor.of(r).encode(), node=MedicalDocumentItem.of(r)) for r in page
        ]
        return MedicalDocumentConnection(
            edges=edges,
            page_info=relay.PageInfo(
                has_next_page=len(rows) > first,
                has_previous_page=after is not None,
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=edges[-1].cursor if edges else None,
            ),
        )

    @strawberry.field(description="Открыть документ: поля из CDA, проверка каждой подписи (подписант, время).")
    async def medical_document(
        self, info: Info, id: uuid.UUID, acting_for: uuid.UUID | None = None
    ) -> MedicalDocumentView:
        patient_id = await require_subject(info, SCOPE_DOCUMENTS, acting_for=acting_for)
        try:
            found = await service.open_document(info.context.runtime, info.context.ctx, patient_id, id)
        except problems.DocumentsError as exc:
            raise _public(exc) from None
        return MedicalDocumentView.of(found)

    @strawberry.field(description="Цифровой медицинский профиль пациента.")
    async def medical_profile(self, info: Info, acting_for: uuid.UUID | None = None) -> MedicalProfile:
        patient_id = await require_subject(info, SCOPE_DOCUMENTS, acting_for=acting_for)
        return MedicalProfile.of(await service.medical_profile(info.context.runtime, info.context.ctx, patient_id))

    @strawberry.field(description="Доступы, открытые врачам (действующие, истекшие и отозванные).")
    async def my_document_access_grants(
        self, info: Info, acting_for: uuid.UUID | None = None
    ) -> list[DocumentAccessGrant]:
        patient_id = await require_subject(info, SCOPE_DOCUMENTS, acting_for=acting_for)
        rt = info.context.runtime
        now = rt.now()
        return [DocumentAccessGrant.of(v, now) for v in await service.patient_grants(rt, patient_id)]

    @strawberry.field(description="Оператор 122: есть ли у звонящего документы, каких видов и когда (без содержания).")
    async def caller_documents_summary(self, info: Info) -> DocumentsExistence:
        patient_id = require_on_behalf_operator(info)
        found = await service.existence_summary(info.context.runtime, info.context.ctx, patient_id)
        return DocumentsExistence(
            total=found.total,
            latest_at=found.latest,
            kinds=[
                DocumentKindCount(kind=k.kind, title=k.title, count=k.count, latest_at=k.latest) for k in found.kinds
            ],
        )

    @strawberry.field(description="Врач: пациенты, открывшие ему доступ сейчас.")
    async def doctor_shared_patients(self, info: Info) -> list[SharedPatient]:
        staff_id = require_doctor(info)
        try:
            shared = await service.doctor_patients(info.context.runtime, staff_id)
        except problems.DocumentsError as exc:
            raise _public(exc) from None
        return [SharedPatient.of(s) for s in shared]

    @strawberry.field(description="Врач: открытый ему профиль и список документов пациента (только чтение).")
    async def doctor_shared_record(self, info: Info, grant_id: uuid.UUID) -> SharedRecord:
        staff_id = require_doctor(info)
        try:
            view = await service.shared_view(info.context.runtime, info.context.ctx, staff_id, grant_id)
        except problems.DocumentsError as exc:
            raise _public(exc) from None
        return SharedRecord(
            grant_id=view.grant.id,
            patient_name=view.patient.full_name,
            birth_date=view.patient.birth_date,
            expires_at=view.grant.expires_at,
            profile=MedicalProfile.of(view.profile) if view.profile is not None else None,
            documents=[MedicalDocumentItem.of(d) for d in view.documents],
        )

    @strawberry.field(description="Врач: открыть документ, который пациент ему открыл.")
    async def doctor_shared_document(
        self, info: Info, grant_id: uuid.UUID, document_id: uuid.UUID
    ) -> MedicalDocumentView:
        staff_id = require_doctor(info)
        try:
            found = await service.shared_document(
                info.context.runtime, info.context.ctx, staff_id, grant_id, document_id
            )
        except problems.DocumentsError as exc:
            raise _public(exc) from None
        return MedicalDocumentView.of(found)


# ---------------------------------------------------------------------------------------------- mutations


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Сверить документы с реестром сейчас (новые придут и уведомлением).")
    @atomic
    @domain_problems
    async def sync_my_documents(self, info: Info, acting_for: uuid.UUID | None = None) -> SyncDocumentsResult:
        patient_id = await require_subject(info, SCOPE_DOCUMENTS, acting_for=acting_for)
        report = await service.sync_patient(info.context.runtime, patient_id, ctx=info.context.ctx)
        if not report.ok:
            return DocumentsUnavailable(
                code=problems.DocumentsUnavailable.CODE, message=problems.DocumentsUnavailable.MESSAGE
            )
        return DocumentsSynced(added=report.added)

    @strawberry.mutation(description="Добавить в профиль запись со слов пациента (аллергия, заболевание…).")
    @atomic
    @domain_problems
    async def add_profile_entry(
        self, info: Info, input: ProfileEntryInput, idempotency_key: str, acting_for: uuid.UUID | None = None
    ) -> AddProfileEntryResult:
        patient_id = await require_subject(info, SCOPE_DOCUMENTS, acting_for=acting_for)
        entry = await service.add_entry(
            info.context.uow,
            patient_id,
            kind=input.kind.value,
            text=input.text,
            code=input.code,
            idempotency_key=idempotency_key,
        )
        item = service.ProfileItem(
            kind=entry.kind,
            text=entry.text,
            code=entry.code,
            source=service.patient_source(entry.created_at),
            at=entry.created_at,
            entry_id=entry.id,
        )
        return ProfileEntryAdded(entry=ProfileItem.of(item))

    @strawberry.mutation(description="Удалить свою запись из профиля.")
    @atomic
    @domain_problems
    async def remove_profile_entry(
        self, info: Info, entry_id: uuid.UUID, acting_for: uuid.UUID | None = None
    ) -> RemoveProfileEntryResult:
        patient_id = await require_subject(info, SCOPE_DOCUMENTS, acting_for=acting_for)
        entry = await service.remove_entry(info.context.uow, patient_id, entry_id)
        return ProfileEntryRemoved(entry_id=entry.id)

    @strawberry.mutation(description="Что показывать бригаде скорой помощи и кому звонить.")
    @atomic
    @domain_problems
    async def set_emergency_profile(
        self, info: Info, input: EmergencyProfileInput, acting_for: uuid.UUID | None = None
    ) -> SetEmergencyProfileResult:
        patient_id = await require_subject(info, SCOPE_DOCUMENTS, acting_for=acting_for)
        saved = await service.set_emergency(
            info.context.uow,
            patient_id,
            service.EmergencySettings(
                input.enabled,
                input.share_allergies,
                input.share_conditions,
                input.share_blood_group,
                input.contact_name,
                input.contact_phone,
            ),
        )
        return EmergencyProfileSaved(emergency=EmergencySettings.of(saved))

    @strawberry.mutation(description="Открыть врачу профиль и выбранные документы на время (по СНИЛС или коду).")
    @atomic
    @domain_problems
    async def grant_document_access(
        self, info: Info, input: DocumentAccessInput, idempotency_key: str, acting_for: uuid.UUID | None = None
    ) -> GrantDocumentAccessResult:
        patient_id = await require_subject(info, SCOPE_DOCUMENTS, acting_for=acting_for)
        view = await service.grant_access(
            info.context.uow,
            patient_id,
            doctor_snils=input.doctor_snils,
            hours=input.hours,
            include_profile=input.include_profile,
            document_ids=list(input.document_ids),
            idempotency_key=idempotency_key,
        )
        return DocumentAccessGranted(grant=DocumentAccessGrant.of(view, info.context.runtime.now()))

    @strawberry.mutation(description="Отозвать доступ врача.")
    @atomic
    @domain_problems
    async def revoke_document_access(
        self, info: Info, grant_id: uuid.UUID, acting_for: uuid.UUID | None = None
    ) -> RevokeDocumentAccessResult:
        patient_id = await require_subject(info, SCOPE_DOCUMENTS, acting_for=acting_for)
        view = await service.revoke_access(info.context.uow, patient_id, grant_id)
        return DocumentAccessRevoked(grant=DocumentAccessGrant.of(view, info.context.runtime.now()))

    @strawberry.mutation(description="Врач: принять доступ по одноразовому коду пациента.")
    @atomic
    @domain_problems
    async def claim_document_access(self, info: Info, code: str) -> ClaimDocumentAccessResult:
        staff_id = require_doctor(info)
        shared = await service.claim_code(info.context.uow, staff_id, code)
        return DocumentAccessClaimed(patient=SharedPatient.of(shared))
