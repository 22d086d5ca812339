"""The patient's files: streaming upload (checked while it streams), streaming download, edit, move,
soft delete and restore, the erase of what stayed deleted past the recovery period, the orphan sweep and
the re-wrap of data keys after a key rotation.

Upload order: the blob is written (encrypted) first, then the row in one unit of work; if that unit of
work fails the blob is removed at once, and if the process dies in between the orphan sweep removes it
(an object with no row, older than ``vault_orphan_grace_s``). A reader never sees a file without its blob.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import func, select, update

from backend.audit import service as audit
from backend.core.context import RequestContext
from backend.core.db import utcnow
from backend.core.uow import UnitOfWork
from backend.vault import crypto, sniff
from backend.vault import problems as p
from backend.vault.models import VaultFile
from backend.vault.service import idempotency
from backend.vault.store import BlobMissing, new_key

if TYPE_CHECKING:
    from backend.runtime import Runtime

log = structlog.get_logger(__name__)

#: The folders (categories) of the vault, with their Russian names.
FOLDERS: dict[str, str] = {
    "analyses": "Анализы",
    "discharges": "Выписки",
    "images": "Снимки",
    "certificates": "Справки",
    "other": "Прочее",
}
MAX_TITLE = 200
MAX_TAGS = 20
MAX_TAG = 40
_PATH_CHARS = re.compile(r"[/\\\x00-\x1f\x7f]")


@dataclass(frozen=True)
class FileMeta:
    folder: str
    title: str
    file_name: str
    document_date: date | None = None
    clinic: str | None = None
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class FileView:
    id: uuid.UUID
    patient_id: uuid.UUID
    folder: str
    title: str
    file_name: str
    content_type: str
    size: int
    sha256: str
    document_date: date | None
    clinic: str | None
    tags: tuple[str, ...]
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None
    restorable_until: datetime | None = None

    @classmethod
    def of(cls, row: VaultFile, recovery: timedelta) -> FileView:
        return cls(
            id=row.id,
            patient_id=row.patient_id,
            folder=row.folder,
            title=row.title,
            file_name=row.file_name,
            content_type=row.content_type,
            size=row.size,
            sha256=row.sha256,
            document_date=row.document_date,
            clinic=row.clinic,
            tags=tuple(row.tags or ()),
            created_at=row.created_at,
            updated_at=row.updated_at,
            deleted_at=row.deleted_at,
            restorable_until=row.deleted_at + recovery if row.deleted_at else None,
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "folder": self.folder,
            "title": self.title,
            "fileName": self.file_name,
            "contentType": self.content_type,
            "size": self.size,
            "sha256": self.sha256,
            "documentDate": self.document_date.isoformat() if self.document_date else None,
            "clinic": self.clinic,
            "tags": list(self.tags),
        }


def recovery_of(runtime: Runtime) -> timedelta:
    return timedelta(days=runtime.settings.vault_recovery_days)


# ---------------------------------------------------------------------------------------------- input


def clean_name(value: str, field_name: str, *, limit: int = MAX_TITLE, required: bool = True) -> str:
    """A title, file name, clinic or tag: no path characters or control characters, trimmed, bounded."""
    text = unicodedata.normalize("NFC", value or "").strip()
    if not text:
        if required:
            raise p.fail(p.InvalidInput.of(field_name, "Заполните название."))
        return ""
    if _PATH_CHARS.search(text) or text in {".", ".."} or ".." in text.split("."):
        raise p.fail(p.InvalidName(code=p.InvalidName.CODE, message=p.InvalidName.MESSAGE))
    if len(text) > limit:
        raise p.fail(p.InvalidInput.of(field_name, f"Не длиннее {limit} символов."))
    return text


def clean_folder(value: str) -> str:
    if value not in FOLDERS:
        raise p.fail(p.InvalidInput.of("folder", "Такой папки нет: анализы, выписки, снимки, справки или прочее."))
    return value


def clean_tags(tags: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    if len(tags) > MAX_TAGS:
        raise p.fail(p.InvalidInput.of("tags", f"Не больше {MAX_TAGS} меток."))
    out = [clean_name(t, "tags", limit=MAX_TAG) for t in tags]
    return tuple(dict.fromkeys(out))


def clean_meta(meta: FileMeta) -> FileMeta:
    return FileMeta(
        folder=clean_folder(meta.folder),
        title=clean_name(meta.title or meta.file_name, "title"),
        file_name=clean_name(meta.file_name, "fileName"),
        document_date=meta.document_date,
        clinic=clean_name(meta.clinic or "", "clinic", required=False) or None,
        tags=clean_tags(meta.tags),
    )


# ---------------------------------------------------------------------------------------------- upload


async def used_bytes(session: Any, patient_id: uuid.UUID) -> int:
    """What the patient's files take (those in the bin too, until erased)."""
    total = await session.scalar(
        select(func.coalesce(func.sum(VaultFile.size), 0)).where(
            VaultFile.patient_id == patient_id, VaultFile.erased_at.is_(None)
        )
    )
    return int(total or 0)


@dataclass
class _Checked:
    """What the upload stream found out while it passed."""

    content_type: str = ""
    size: int = 0
    sha256: str = ""
    digest: Any = field(default_factory=hashlib.sha256)


async def _sealed(  # noqa: PLR0912 - the checks in stream order
    chunks: AsyncIterator[bytes],
    file_id: uuid.UUID,
    dek: bytes,
    checked: _Checked,
    *,
    max_file: int,
    remaining: int,
) -> AsyncIterator[bytes]:
    """Check and encrypt the upload as it streams; raise (and so abort the store's write) at the first
    refusal: type by magic bytes, size per file, quota per patient, text that is not text."""
    encryptor = crypto.SegmentEncryptor(file_id, dek)
    head = bytearray()
    text: sniff.TextCheck | None = None
    limit = min(max_file, remaining)

    def over() -> p.VaultError:
        if checked.size > max_file:
            return p.fail(p.FileTooLarge.default(p.FileTooLarge.MESSAGE.format(limit=p.size_text(max_file))))
        return p.fail(p.QuotaExceeded.default(p.QuotaExceeded.MESSAGE.format(limit=p.size_text(max(remaining, 0)))))

    def decide(complete: bool) -> None:
        nonlocal text
        kind = sniff.detect(bytes(head), complete=complete)
        if kind is None:
            raise p.fail(p.TypeNotAllowed.default())
        checked.content_type = kind
        if kind == "text/plain":
            text = sniff.TextCheck()

    async for chunk in chunks:
        if not chunk:
            continue
        checked.size += len(chunk)
        if checked.size > limit:
            raise over()
        checked.digest.update(chunk)
        if not checked.content_type:
            head += chunk
            if len(head) < sniff.HEAD:
                continue
            decide(complete=False)
            if text is not None:
                text.feed(bytes(head))
            for sealed in encryptor.feed(bytes(head)):
                yield sealed
            continue
        if text is not None:
            text.feed(chunk)
            if not text.ok:
                raise p.fail(p.TypeNotAllowed.default())
        for sealed in encryptor.feed(chunk):
            yield sealed
    if checked.size == 0:
        raise p.fail(p.EmptyFile.default())
    if not checked.content_type:
        decide(complete=True)
        if text is not None:
            text.feed(bytes(head))
        for sealed in encryptor.feed(bytes(head)):
            yield sealed
    if text is not None:
        text.feed(b"", final=True)
        if not text.ok:
            raise p.fail(p.TypeNotAllowed.default())
    checked.sha256 = checked.digest.hexdigest()
    yield encryptor.finish()


async def upload(
    runtime: Runtime,
    ctx: RequestContext,
    patient_id: uuid.UUID,
    meta: FileMeta,
    chunks: AsyncIterator[bytes],
    *,
    idempotency_key: str | None = None,
) -> FileView:
    """Store one file: checked and encrypted while it streams, then its row; nothing is left on refusal."""
    meta = clean_meta(meta)
    settings = runtime.settings
    request = {"patient": str(patient_id), "meta": meta.__dict__}
    if idempotency_key is not None:
        async with UnitOfWork(runtime, ctx) as probe:
            stored = await idempotency.claim(probe, "vault.upload", idempotency_key, request)
            probe.fail()  # only a look: the claim is made with the row below
        if isinstance(stored, dict):
            return await _stored_file(runtime, stored)
    async with runtime.sessionmaker() as session:
        used = await used_bytes(session, patient_id)
    remaining = settings.vault_quota_bytes - used
    file_id = uuid.uuid4()
    dek = crypto.new_data_key()
    keys = runtime.adapters.vault_keys
    wrapped = keys.wrap(file_id, dek)
    store = runtime.adapters.vault_store
    key = new_key()
    checked = _Checked()
    await store.put(
        key, _sealed(chunks, file_id, dek, checked, max_file=settings.vault_max_file_bytes, remaining=remaining)
    )
    try:
        view = await _commit_row(runtime, ctx, patient_id, meta, file_id, key, wrapped, checked, idempotency_key)
    except _Duplicate as twin:
        await _discard_blob(runtime, key)
        return await _stored_file(runtime, twin.stored)
    except BaseException:
        await _discard_blob(runtime, key)
        raise
    return view


async def _commit_row(  # noqa: PLR0917
    runtime: Runtime,
    ctx: RequestContext,
    patient_id: uuid.UUID,
    meta: FileMeta,
    file_id: uuid.UUID,
    key: str,
    wrapped: crypto.WrappedKey,
    checked: _Checked,
    idempotency_key: str | None,
) -> FileView:
    now = runtime.now()
    async with UnitOfWork(runtime, ctx) as uow:
        claim: idempotency.Claim | dict[str, Any] | None = None
        if idempotency_key is not None:
            claim = await idempotency.claim(
                uow, "vault.upload", idempotency_key, {"patient": str(patient_id), "meta": meta.__dict__}
            )
            if isinstance(claim, dict):  # a concurrent twin committed first: this blob is not needed
                raise _Duplicate(claim)
        if await used_bytes(uow.session, patient_id) + checked.size > runtime.settings.vault_quota_bytes:
            limit = p.size_text(runtime.settings.vault_quota_bytes)
            raise p.fail(p.QuotaExceeded.default(p.QuotaExceeded.MESSAGE.format(limit=limit)))
        row = VaultFile(
            id=file_id,
            patient_id=patient_id,
            folder=meta.folder,
            title=meta.title,
            file_name=meta.file_name,
            content_type=checked.content_type,
            size=checked.size,
            sha256=checked.sha256,
            document_date=meta.document_date,
            clinic=meta.clinic,
            tags=list(meta.tags),
            blob_key=key,
            key_id=wrapped.key_id,
            wrapped_key=wrapped.wrapped,
            uploaded_by=f"{ctx.actor.kind.value}:{ctx.actor.id or '-'}",
            created_at=now,
            updated_at=now,
        )
        uow.session.add(row)
        await uow.session.flush()
        view = FileView.of(row, recovery_of(runtime))
        uow.audit(
            "vault.file_uploaded",
            object_type="vault_file",
            object_id=file_id,
            subject_id=patient_id,
            details={"size": checked.size, "type": checked.content_type},
        )
        if isinstance(claim, idempotency.Claim):
            claim.remember({"fileId": str(file_id)})
    return view


class _Duplicate(Exception):
    def __init__(self, stored: dict[str, Any]) -> None:
        super().__init__("duplicate upload")
        self.stored = stored


async def _stored_file(runtime: Runtime, stored: dict[str, Any]) -> FileView:
    if "fileId" not in stored:
        raise p.fail(p.FileNotFound.default())
    async with runtime.sessionmaker() as session:
        row = await session.get(VaultFile, uuid.UUID(stored["fileId"]))
    if row is None:
        raise p.fail(p.FileNotFound.default())
    return FileView.of(row, recovery_of(runtime))


async def _discard_blob(runtime: Runtime, key: str) -> None:
    try:
        await runtime.adapters.vault_store.delete(key)
    except Exception:  # the sweep removes it later
        log.exception("vault.discard_failed", key=key)


# ---------------------------------------------------------------------------------------------- reads


async def list_files(
    runtime: Runtime, patient_id: uuid.UUID, *, folder: str | None = None, deleted: bool = False
) -> list[FileView]:
    """The patient's files (or those in the bin), newest document first."""
    query = select(VaultFile).where(VaultFile.patient_id == patient_id, VaultFile.erased_at.is_(None))
    query = query.where(VaultFile.deleted_at.is_not(None) if deleted else VaultFile.deleted_at.is_(None))
    if folder is not None:
        query = query.where(VaultFile.folder == clean_folder(folder))
    query = query.order_by(VaultFile.document_date.desc().nulls_last(), VaultFile.created_at.desc())
    async with runtime.sessionmaker() as session:
        rows = list(await session.scalars(query))
    recovery = recovery_of(runtime)
    return [FileView.of(r, recovery) for r in rows]


async def get_row(session: Any, patient_id: uuid.UUID, file_id: uuid.UUID) -> VaultFile:
    row = await session.get(VaultFile, file_id)
    if row is None or row.patient_id != patient_id or row.erased_at is not None:
        raise p.fail(p.FileNotFound.default())
    return row


@dataclass(frozen=True)
class Opened:
    file: FileView
    body: AsyncIterator[bytes]


async def open_blob(runtime: Runtime, row: VaultFile) -> AsyncIterator[bytes]:
    """The plaintext of a file, decrypted a segment at a time. The first segment is decrypted before this
    returns, so a file corrupted at its start is refused before any answer is sent."""
    keys = runtime.adapters.vault_keys
    try:
        dek = keys.unwrap(row.id, crypto.WrappedKey(row.key_id, row.wrapped_key))
    except (crypto.BlobCorrupted, crypto.UnknownKey) as exc:
        log.error("vault.key_unwrap_failed", file_id=str(row.id), key_id=row.key_id, error=str(exc))
        raise p.fail(p.BlobCorrupted.default()) from exc
    stream = crypto.decrypt_stream(row.id, dek, runtime.adapters.vault_store.get(row.blob_key))
    try:
        first = await anext(stream)
    except (crypto.BlobCorrupted, BlobMissing) as exc:
        log.error("vault.blob_corrupted", file_id=str(row.id), error=str(exc))
        raise p.fail(p.BlobCorrupted.default()) from exc

    async def body() -> AsyncIterator[bytes]:
        yield first
        try:
            async for piece in stream:
                yield piece
        except crypto.BlobCorrupted:
            log.error("vault.blob_corrupted_midstream", file_id=str(row.id))
            raise

    return body()


async def open_file(runtime: Runtime, ctx: RequestContext, patient_id: uuid.UUID, file_id: uuid.UUID) -> Opened:
    """The owner's (or their proxy's) download: an audited read."""
    async with runtime.sessionmaker() as session:
        row = await get_row(session, patient_id, file_id)
    if row.deleted_at is not None:
        raise p.fail(p.FileNotFound.default())
    body = await open_blob(runtime, row)
    await audit.record_now(
        runtime.sessionmaker,
        ctx,
        "vault.file_downloaded",
        object_type="vault_file",
        object_id=row.id,
        subject_id=patient_id,
    )
    return Opened(FileView.of(row, recovery_of(runtime)), body)


# ---------------------------------------------------------------------------------------------- changes


async def update_file(
    uow: UnitOfWork,
    patient_id: uuid.UUID,
    file_id: uuid.UUID,
    *,
    title: str | None = None,
    folder: str | None = None,
    document_date: date | None = None,
    clinic: str | None = None,
    tags: list[str] | None = None,
    clear_date: bool = False,
) -> FileView:
    """Edit a file's metadata or move it to another folder."""
    row = await get_row(uow.session, patient_id, file_id)
    if row.deleted_at is not None:
        raise p.fail(p.FileNotFound.default())
    if title is not None:
        row.title = clean_name(title, "title")
    if folder is not None:
        row.folder = clean_folder(folder)
    if document_date is not None or clear_date:
        row.document_date = document_date
    if clinic is not None:
        row.clinic = clean_name(clinic, "clinic", required=False) or None
    if tags is not None:
        row.tags = list(clean_tags(tags))
    row.updated_at = uow.runtime.now()
    await uow.session.flush()
    uow.audit("vault.file_updated", object_type="vault_file", object_id=file_id, subject_id=patient_id)
    return FileView.of(row, recovery_of(uow.runtime))


async def delete_file(uow: UnitOfWork, patient_id: uuid.UUID, file_id: uuid.UUID) -> FileView:
    """Move a file to the bin: restorable for ``vault_recovery_days``, then erased."""
    row = await get_row(uow.session, patient_id, file_id)
    if row.deleted_at is None:
        row.deleted_at = row.updated_at = uow.runtime.now()
        await uow.session.flush()
        uow.audit("vault.file_deleted", object_type="vault_file", object_id=file_id, subject_id=patient_id)
    return FileView.of(row, recovery_of(uow.runtime))


async def restore_file(uow: UnitOfWork, patient_id: uuid.UUID, file_id: uuid.UUID) -> FileView:
    row = await get_row(uow.session, patient_id, file_id)
    if row.deleted_at is not None:
        if row.deleted_at + recovery_of(uow.runtime) <= uow.runtime.now():
            raise p.fail(p.NotRestorable.default())
        row.deleted_at = None
        row.updated_at = uow.runtime.now()
        await uow.session.flush()
        uow.audit("vault.file_restored", object_type="vault_file", object_id=file_id, subject_id=patient_id)
    return FileView.of(row, recovery_of(uow.runtime))


# ---------------------------------------------------------------------------------------------- housekeeping


async def erase_expired(runtime: Runtime, *, batch: int = 200) -> int:
    """Erase the blobs of files deleted more than the recovery period ago; each erase audited."""
    cutoff = runtime.now() - recovery_of(runtime)
    async with runtime.sessionmaker() as session:
        rows = list(
            await session.scalars(
                select(VaultFile)
                .where(VaultFile.deleted_at.is_not(None), VaultFile.deleted_at <= cutoff, VaultFile.erased_at.is_(None))
                .limit(batch)
            )
        )
    ctx = RequestContext.for_system("vault.erase")
    erased = 0
    for row in rows:
        await runtime.adapters.vault_store.delete(row.blob_key)
        async with UnitOfWork(runtime, ctx) as uow:
            await uow.session.execute(
                update(VaultFile).where(VaultFile.id == row.id).values(erased_at=runtime.now(), wrapped_key=b"")
            )
            uow.audit("vault.file_erased", object_type="vault_file", object_id=row.id, subject_id=row.patient_id)
        erased += 1
    return erased


async def sweep_orphans(runtime: Runtime, *, grace: timedelta | None = None) -> int:
    """Remove stored objects that no live row names, older than the grace period (an upload still
    streaming or committing is younger): what a crash between the blob write and the commit left."""
    grace = timedelta(seconds=runtime.settings.vault_orphan_grace_s) if grace is None else grace
    store = runtime.adapters.vault_store
    objects = await store.list()
    if not objects:
        return 0
    async with runtime.sessionmaker() as session:
        live = set(await session.scalars(select(VaultFile.blob_key).where(VaultFile.erased_at.is_(None))))
    cutoff = utcnow() - grace
    removed = 0
    for obj in objects:
        if obj.key not in live and obj.modified_at <= cutoff:
            await store.delete(obj.key)
            removed += 1
            log.info("vault.orphan_removed", key=obj.key)
    return removed


async def rewrap_all(runtime: Runtime, *, everything: bool = False, batch: int = 500) -> int:
    """Re-wrap the data keys under the active key-encryption key (those under an older key, or all of them
    with ``everything``); the blobs are not touched. Returns how many were re-wrapped."""
    keys = runtime.adapters.vault_keys
    done = 0
    last: uuid.UUID | None = None
    while True:
        query = select(VaultFile.id, VaultFile.key_id, VaultFile.wrapped_key).where(VaultFile.erased_at.is_(None))
        if not everything:
            query = query.where(VaultFile.key_id != keys.active_id)
        if last is not None:
            query = query.where(VaultFile.id > last)
        async with runtime.sessionmaker() as session, session.begin():
            rows = list(await session.execute(query.order_by(VaultFile.id).limit(batch)))
            for file_id, key_id, wrapped in rows:
                fresh = keys.rewrap(file_id, crypto.WrappedKey(key_id, wrapped))
                await session.execute(
                    update(VaultFile)
                    .where(VaultFile.id == file_id, VaultFile.key_id == key_id)
                    .values(key_id=fresh.key_id, wrapped_key=fresh.wrapped)
                )
        done += len(rows)
        if len(rows) < batch:
            return done
        last = rows[-1][0]
