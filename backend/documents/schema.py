"""GraphQL for medical documents and the digital medical profile (issue 17).

Patient-side fields take ``actingFor`` (a child or a principal through a proxy grant with the documents
scope) and need :data:`SCOPE_DOCUMENTS`: 122 operators and kiosks never have it. A 122 operator's
on-behalf session sees only that documents exist (``callerDocumentsSummary``). Doctors (a staff login with
``role = doctor``) read only what a patient opened to them (``doctor*`` fields).
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import ParamSpec, TypeVar

import strawberry
from strawberry import relay

from backend.api.atomic import atomic
from backend.api.context import Info
from backend.api.problems import PublicError
from backend.audit import service as audit
from backend.documents import problems, service
from backend.documents.graphql_types import (
    AddProfileEntryResult,
    ClaimDocumentAccessResult,
    DocumentAccessClaimed,
    DocumentAccessGrant,
    DocumentAccessGranted,
    DocumentAccessInput,
    DocumentAccessRevoked,
    DocumentKindCount,
    DocumentsExistence,
    DocumentsSynced,
    DocumentsUnavailable,
    EmergencyProfileInput,
    EmergencyProfileSaved,
    EmergencySettings,
    GrantDocumentAccessResult,
    MedicalDocumentConnection,
    MedicalDocumentEdge,
    MedicalDocumentItem,
    MedicalDocumentView,
    MedicalProfile,
    ProfileEntryAdded,
    ProfileEntryInput,
    ProfileEntryRemoved,
    ProfileItem,
    RemoveProfileEntryResult,
    RevokeDocumentAccessResult,
    SetEmergencyProfileResult,
    SharedPatient,
    SharedRecord,
    SyncDocumentsResult,
    _public,
    domain_problems,
)
from backend.identity.policy import SCOPE_DOCUMENTS, require_doctor, require_on_behalf_operator, require_subject

P = ParamSpec("P")
R = TypeVar("R")

DOWNLOAD_PATH = "/api/v1/documents/{id}/original.zip"


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
