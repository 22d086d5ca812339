"""Reading documents: the list (from our copy, so a slow register never breaks it), one document opened
(the CDA fetched and read into fields by us, each signature checked), the original for download, and the
existence view a 122 operator gets (counts, kinds, dates; never content).

Every read of a patient's documents is audited with the reader and the patient.
"""

from __future__ import annotations

import base64
import io
import uuid
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING

import structlog
from sqlalchemy import and_, func, or_, select

from backend.audit import service as audit
from backend.core.context import RequestContext
from backend.documents import problems
from backend.documents.models import ContentStatus, MedicalDocument
from backend.identity.service import get_patient
from integrations.iemk import (
    CdaMalformed,
    DocumentFile,
    IemkError,
    IemkRejected,
    ParsedDocument,
    SignatureRole,
    check_detached,
    parse_cda,
)

if TYPE_CHECKING:
    from backend.runtime import Runtime

log = structlog.get_logger(__name__)

MAX_PAGE = 100
MSK_OFFSET = timedelta(hours=3)


@dataclass(frozen=True)
class DocumentFilter:
    kinds: tuple[str, ...] = ()
    date_from: date | None = None
    date_to: date | None = None
    org_oid: str | None = None


@dataclass(frozen=True)
class Cursor:
    created_at: datetime
    id: uuid.UUID

    def encode(self) -> str:
        raw = f"{self.created_at.astimezone(UTC).isoformat()}|{self.id}"
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, value: str) -> Cursor:
        try:
            raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
            moment, ident = raw.split("|")
            return cls(datetime.fromisoformat(moment), uuid.UUID(ident))
        except (ValueError, UnicodeDecodeError) as exc:
            raise ValueError("bad cursor") from exc

    @classmethod
    def of(cls, row: MedicalDocument) -> Cursor:
        return cls(row.created_at, row.id)


def _day_start(day: date) -> datetime:
    """The start of a day in the documents' own offset (the register's days are Moscow days)."""
    return datetime.combine(day, time.min, tzinfo=UTC) - MSK_OFFSET


async def list_documents(
    runtime: Runtime,
    patient_id: uuid.UUID,
    *,
    first: int,
    after: Cursor | None = None,
    filters: DocumentFilter = DocumentFilter(),
) -> list[MedicalDocument]:
    """Up to ``first`` + 1 of the patient's documents, newest first (the extra one says "there is more")."""
    query = select(MedicalDocument).where(MedicalDocument.patient_id == patient_id)
    if filters.kinds:
        query = query.where(MedicalDocument.kind.in_(filters.kinds))
    if filters.date_from is not None:
        query = query.where(MedicalDocument.created_at >= _day_start(filters.date_from))
    if filters.date_to is not None:
        query = query.where(MedicalDocument.created_at < _day_start(filters.date_to + timedelta(days=1)))
    if filters.org_oid:
        query = query.where(MedicalDocument.org_oid == filters.org_oid)
    if after is not None:
        query = query.where(
            or_(
                MedicalDocument.created_at < after.created_at,
                and_(MedicalDocument.created_at == after.created_at, MedicalDocument.id < after.id),
            )
        )
    query = query.order_by(MedicalDocument.created_at.desc(), MedicalDocument.id.desc()).limit(first + 1)
    async with runtime.sessionmaker() as session:
        return list(await session.scalars(query))


async def documents_by_ids(runtime: Runtime, patient_id: uuid.UUID, ids: Sequence[uuid.UUID]) -> list[MedicalDocument]:
    if not ids:
        return []
    async with runtime.sessionmaker() as session:
        rows = await session.scalars(
            select(MedicalDocument)
            .where(MedicalDocument.patient_id == patient_id, MedicalDocument.id.in_(list(ids)))
            .order_by(MedicalDocument.created_at.desc(), MedicalDocument.id.desc())
        )
        return list(rows)


async def get_document(runtime: Runtime, patient_id: uuid.UUID, document_id: uuid.UUID) -> MedicalDocument:
    async with runtime.sessionmaker() as session:
        row = await session.get(MedicalDocument, document_id)
    if row is None or row.patient_id != patient_id:
        raise problems.fail(problems.DocumentNotFound.default())
    return row


# -- one document opened ------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldLine:
    label: str
    value: str


@dataclass(frozen=True)
class SectionView:
    code: str
    title: str
    text: str
    fields: tuple[FieldLine, ...]


@dataclass(frozen=True)
class SignatureView:
    role: str  # doctor | organization
    valid: bool
    signer: str | None
    signer_snils: str | None
    organisation: str | None
    signed_at: datetime | None
    problem: str | None


class ContentState:
    OK = "ok"
    MALFORMED = "malformed"
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True)
class DocumentDetail:
    document: MedicalDocument
    state: str  # ContentState
    message: str | None
    patient_name: str | None = None
    author: str | None = None
    sections: tuple[SectionView, ...] = ()
    signatures: tuple[SignatureView, ...] = field(default=())

    @property
    def signatures_valid(self) -> bool:
        return bool(self.signatures) and all(s.valid for s in self.signatures)


def _entry_fields(parsed: ParsedDocument) -> list[SectionView]:
    sections = []
    for section in parsed.sections:
        lines = []
        for entry in section.entries:
            label = (entry.code.display_name or entry.code.code) if entry.code is not None else entry.kind
            shown = "; ".join(v.shown for v in entry.values if v.shown)
            if entry.kind == "substanceAdministration":
                shown = "; ".join(p for p in (entry.text, *(r.values[0].shown for r in entry.related if r.values)) if p)
            if entry.effective is not None and not shown:
                shown = entry.effective.isoformat()
            lines.append(FieldLine(label=label, value=shown or "—"))
        sections.append(SectionView(section.code, section.title, section.narrative, tuple(lines)))
    return sections


def _signature_views(file: DocumentFile) -> tuple[SignatureView, ...]:
    views = []
    for signature in file.signatures:
        report = check_detached(file.cda, signature.cms)
        if not report.ok:
            log.warning(
                "documents.signature_invalid",
                registry_number=file.metadata.registry_number,
                role=signature.role.value,
                reason=report.reason,
            )
        views.append(
            SignatureView(
                role=signature.role.value,
                valid=report.ok,
                signer=report.signer_name,
                signer_snils=report.signer_snils,
                organisation=report.organisation,
                signed_at=report.signing_time,
                problem=report.reason,
            )
        )
    order = {SignatureRole.DOCTOR.value: 0, SignatureRole.ORGANIZATION.value: 1}
    return tuple(sorted(views, key=lambda v: order.get(v.role, 9)))


async def _snils_of(runtime: Runtime, patient_id: uuid.UUID) -> str:
    async with runtime.sessionmaker() as session:
        patient = await get_patient(session, patient_id)
    return (patient.snils if patient else None) or ""


async def fetch_file(runtime: Runtime, document: MedicalDocument) -> DocumentFile:
    """The original from the register (CDA as signed and its signatures); :class:`IemkError` as it comes."""
    snils = await _snils_of(runtime, document.patient_id)
    return await runtime.adapters.iemk.fetch_document(document.registry_number, snils=snils)


async def detail(runtime: Runtime, document: MedicalDocument) -> DocumentDetail:
    """The document read from its CDA; a register that fails or a CDA that does not read gives a state and
    a Russian message instead (logged), never an error."""
    try:
        file = await fetch_file(runtime, document)
    except IemkRejected as exc:
        log.warning("documents.open_refused", registry_number=document.registry_number, code=exc.code)
        return DocumentDetail(document, ContentState.UNAVAILABLE, "Реестр не выдал документ. Повторите позже.")
    except IemkError as exc:
        log.warning("documents.open_unavailable", registry_number=document.registry_number, error=type(exc).__name__)
        return DocumentDetail(
            document,
            ContentState.UNAVAILABLE,
            "Реестр медицинских документов не ответил вовремя. Повторите попытку через несколько минут.",
        )
    signatures = _signature_views(file)
    try:
        parsed = parse_cda(file.cda)
    except CdaMalformed as exc:
        log.warning("documents.open_malformed", registry_number=document.registry_number, error=str(exc))
        return DocumentDetail(
            document,
            ContentState.MALFORMED,
            "Документ поврежден и не может быть показан. Оригинал можно скачать; обратитесь в медицинскую организацию.",
            signatures=signatures,
        )
    message = (
        None if all(s.valid for s in signatures) else "Подпись документа не прошла проверку: документ мог быть изменен."
    )
    return DocumentDetail(
        document,
        ContentState.OK,
        message,
        patient_name=parsed.patient.name,
        author=parsed.author.name,
        sections=tuple(_entry_fields(parsed)),
        signatures=signatures,
    )


async def open_document(
    runtime: Runtime,
    ctx: RequestContext,
    patient_id: uuid.UUID,
    document_id: uuid.UUID,
    *,
    action: str = "documents.document_read",
) -> DocumentDetail:
    """One of the patient's documents, opened (an audited medical read)."""
    document = await get_document(runtime, patient_id, document_id)
    result = await detail(runtime, document)
    await audit.record_now(
        runtime.sessionmaker,
        ctx,
        action,
        subject_id=patient_id,
        object_type="medical_document",
        object_id=document.id,
        outcome="ok" if result.state == ContentState.OK else result.state,
    )
    if result.state == ContentState.MALFORMED and document.content_status != ContentStatus.MALFORMED:
        log.warning("documents.content_changed", registry_number=document.registry_number)
    return result


def original_zip(file: DocumentFile) -> bytes:
    """The CDA exactly as signed and each detached signature (DER CMS, ``.sig``), in one ZIP."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("document.xml", file.cda)
        for signature in file.signatures:
            archive.writestr(f"document.xml.{signature.role.value}.sig", signature.cms)
    return buffer.getvalue()


async def download_original(
    runtime: Runtime, ctx: RequestContext, patient_id: uuid.UUID, document_id: uuid.UUID
) -> tuple[MedicalDocument, bytes]:
    """The original as a ZIP; :class:`problems.DocumentsError` if absent, :class:`IemkError` if the register fails."""
    document = await get_document(runtime, patient_id, document_id)
    file = await fetch_file(runtime, document)
    await audit.record_now(
        runtime.sessionmaker,
        ctx,
        "documents.document_downloaded",
        subject_id=patient_id,
        object_type="medical_document",
        object_id=document.id,
    )
    return document, original_zip(file)


# -- what a 122 operator sees: that documents exist -----------------------------------------------------


@dataclass(frozen=True)
class KindCount:
    kind: str
    title: str
    count: int
    latest: datetime


@dataclass(frozen=True)
class ExistenceSummary:
    total: int
    kinds: tuple[KindCount, ...]
    latest: datetime | None


async def existence_summary(runtime: Runtime, ctx: RequestContext, patient_id: uuid.UUID) -> ExistenceSummary:
    """How many documents of which kinds and when, with no content (what the 122 operator may tell a caller)."""
    async with runtime.sessionmaker() as session:
        rows = await session.execute(
            select(
                MedicalDocument.kind,
                func.min(MedicalDocument.title),
                func.count(),
                func.max(MedicalDocument.created_at),
            )
            .where(MedicalDocument.patient_id == patient_id)
            .group_by(MedicalDocument.kind)
            .order_by(func.max(MedicalDocument.created_at).desc())
        )
        kinds = tuple(KindCount(kind, title, count, latest) for kind, title, count, latest in rows)
    await audit.record_now(runtime.sessionmaker, ctx, "documents.existence_read", subject_id=patient_id)
    latest = max((k.latest for k in kinds), default=None)
    return ExistenceSummary(total=sum(k.count for k in kinds), kinds=kinds, latest=latest)
