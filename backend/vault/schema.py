"""The vault's GraphQL: metadata only (the bytes go over REST, see routes.py).

Patients and their proxies with the documents scope manage a vault; 122 operators and kiosks have no
documents scope, so every field here refuses them. A doctor sees what is shared with their SNILS
(``sharedWithMe``) and downloads over REST.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta
from typing import Annotated, Any, ClassVar, ParamSpec, TypeVar

import strawberry

from backend.api.atomic import atomic
from backend.api.context import Info
from backend.api.problems import AccessDenied, InvalidInput, NotAuthenticated, Problem, PublicError
from backend.audit import service as audit
from backend.core.context import ActorKind
from backend.identity.policy import SCOPE_DOCUMENTS, access_denied, not_authenticated, require_subject
from backend.vault import problems as p
from backend.vault import service
from backend.vault.register import RegisterDocumentRef
from backend.vault.service import FileView, ShareView

P = ParamSpec("P")
R = TypeVar("R")

# ---------------------------------------------------------------------------------------------- problems


@strawberry.type(description="В названии есть символы пути или управляющие символы.")
class InvalidName(Problem):
    CODE: ClassVar[str] = p.InvalidName.CODE
    MESSAGE: ClassVar[str] = p.InvalidName.MESSAGE


@strawberry.type(description="Файл не найден.")
class VaultFileNotFound(Problem):
    CODE: ClassVar[str] = p.FileNotFound.CODE
    MESSAGE: ClassVar[str] = p.FileNotFound.MESSAGE


@strawberry.type(description="Доступ не найден.")
class ShareNotFound(Problem):
    CODE: ClassVar[str] = p.ShareNotFound.CODE
    MESSAGE: ClassVar[str] = p.ShareNotFound.MESSAGE


@strawberry.type(description="Нельзя открыть доступ самому себе.")
class ShareToSelf(Problem):
    CODE: ClassVar[str] = p.ShareToSelf.CODE
    MESSAGE: ClassVar[str] = p.ShareToSelf.MESSAGE


@strawberry.type(description="Срок доступа вне пределов от 1 часа до 30 дней.")
class BadSharePeriod(Problem):
    CODE: ClassVar[str] = p.BadSharePeriod.CODE
    MESSAGE: ClassVar[str] = p.BadSharePeriod.MESSAGE


@strawberry.type(description="Не выбраны ни файлы, ни папки.")
class NothingToShare(Problem):
    CODE: ClassVar[str] = p.NothingToShare.CODE
    MESSAGE: ClassVar[str] = p.NothingToShare.MESSAGE


@strawberry.type(description="Срок восстановления прошел.")
class NotRestorable(Problem):
    CODE: ClassVar[str] = p.NotRestorable.CODE
    MESSAGE: ClassVar[str] = p.NotRestorable.MESSAGE


@strawberry.type(description="Ключ запроса уже использован для другого запроса.")
class VaultIdempotencyKeyReused(Problem):
    CODE: ClassVar[str] = p.IdempotencyKeyReused.CODE
    MESSAGE: ClassVar[str] = p.IdempotencyKeyReused.MESSAGE


_TYPED: dict[str, type[Problem]] = {
    p.InvalidName.CODE: InvalidName,
    p.FileNotFound.CODE: VaultFileNotFound,
    p.ShareNotFound.CODE: ShareNotFound,
    p.ShareToSelf.CODE: ShareToSelf,
    p.BadSharePeriod.CODE: BadSharePeriod,
    p.NothingToShare.CODE: NothingToShare,
    p.NotRestorable.CODE: NotRestorable,
    p.IdempotencyKeyReused.CODE: VaultIdempotencyKeyReused,
    p.AccessDenied.CODE: AccessDenied,
}


def vault_problems(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """A vault refusal raised by the service becomes the union member of the same code."""

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await fn(*args, **kwargs)
        except p.VaultError as exc:
            problem = exc.problem
            if isinstance(problem, p.InvalidInput):
                out: Any = InvalidInput.of(problem.field or "input", problem.message)
                return out
            member = _TYPED.get(problem.code)
            if member is None:
                raise
            out = member(code=problem.code, message=problem.message)
            return out

    return wrapper


# ---------------------------------------------------------------------------------------------- types


@strawberry.type(description="Папка хранилища.")
class VaultFolder:
    code: str = strawberry.field(description="analyses, discharges, images, certificates, other")
    name: str
    count: int


@strawberry.type(name="VaultFile", description="Документ, загруженный в личное хранилище.")
class VaultFileType:
    id: uuid.UUID
    folder: str
    folder_name: str
    title: str
    file_name: str
    content_type: str
    size: int
    sha256: str
    document_date: date | None
    clinic: str | None
    tags: list[str]
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None = strawberry.field(description="В корзине с этого времени.")
    restorable_until: datetime | None = strawberry.field(description="До когда файл можно восстановить.")
    download_path: str = strawberry.field(description="REST-адрес для скачивания (GET, с токеном).")

    @classmethod
    def of(cls, view: FileView, *, download_path: str | None = None) -> VaultFileType:
        return cls(
            id=view.id,
            folder=view.folder,
            folder_name=service.FOLDERS.get(view.folder, view.folder),
            title=view.title,
            file_name=view.file_name,
            content_type=view.content_type,
            size=view.size,
            sha256=view.sha256,
            document_date=view.document_date,
            clinic=view.clinic,
            tags=list(view.tags),
            created_at=view.created_at,
            updated_at=view.updated_at,
            deleted_at=view.deleted_at,
            restorable_until=view.restorable_until,
            download_path=download_path or f"/api/v1/vault/files/{view.id}",
        )


@strawberry.type(description="Документ из реестра (ЕГИСЗ/РЭМД): ссылка, не копия.")
class RegisterDocument:
    id: str
    title: str
    document_date: date | None
    clinic: str | None
    kind: str

    @classmethod
    def of(cls, ref: RegisterDocumentRef) -> RegisterDocument:
        return cls(id=ref.id, title=ref.title, document_date=ref.document_date, clinic=ref.clinic, kind=ref.kind)


@strawberry.type(description="Личное хранилище: свои документы и документы из реестра.")
class Vault:
    files: list[VaultFileType]
    register_documents: list[RegisterDocument]
    folders: list[VaultFolder]
    used_bytes: int
    quota_bytes: int
    max_file_bytes: int


@strawberry.type(name="VaultShare", description="Доступ к документам, открытый врачу.")
class VaultShareType:
    id: uuid.UUID
    file_ids: list[uuid.UUID]
    folders: list[str]
    recipient_snils: str | None
    by_code: bool
    note: str | None
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    first_opened_at: datetime | None
    status: str = strawberry.field(description="active, expired или revoked")

    @classmethod
    def of(cls, view: ShareView, now: datetime) -> VaultShareType:
        return cls(
            id=view.id,
            file_ids=list(view.file_ids),
            folders=list(view.folders),
            recipient_snils=view.recipient_snils,
            by_code=view.by_code,
            note=view.note,
            created_at=view.created_at,
            expires_at=view.expires_at,
            revoked_at=view.revoked_at,
            first_opened_at=view.first_opened_at,
            status=view.status(now),
        )


@strawberry.type(description="Документы, которые пациент открыл вам (по вашему СНИЛС), только для чтения.")
class IncomingVaultShare:
    id: uuid.UUID
    patient: str = strawberry.field(description="Фамилия и инициалы пациента.")
    expires_at: datetime
    files: list[VaultFileType]


@strawberry.type(description="Файл изменен (или перемещен).")
class VaultFileChanged:
    file: VaultFileType


@strawberry.type(description="Доступ открыт. Код и ссылка показываются один раз.")
class VaultShared:
    share: VaultShareType
    share_code: str | None = strawberry.field(description="Код для врача (продиктуйте его), если доступ по коду.")
    link: str | None


@strawberry.type(description="Доступ закрыт.")
class VaultShareRevoked:
    share: VaultShareType


VaultFileResult = Annotated[
    VaultFileChanged
    | VaultFileNotFound
    | NotRestorable
    | InvalidName
    | InvalidInput
    | VaultIdempotencyKeyReused
    | NotAuthenticated
    | AccessDenied,
    strawberry.union("VaultFileResult"),
]
ShareVaultResult = Annotated[
    VaultShared
    | VaultFileNotFound
    | ShareToSelf
    | BadSharePeriod
    | NothingToShare
    | InvalidName
    | InvalidInput
    | VaultIdempotencyKeyReused
    | NotAuthenticated
    | AccessDenied,
    strawberry.union("ShareVaultResult"),
]
RevokeShareResult = Annotated[
    VaultShareRevoked | ShareNotFound | InvalidInput | VaultIdempotencyKeyReused | NotAuthenticated | AccessDenied,
    strawberry.union("RevokeVaultShareResult"),
]


@strawberry.input(description="Изменение документа: название, папка, дата, клиника, метки (пустое — не менять).")
class UpdateVaultFileInput:
    file_id: uuid.UUID
    title: str | None = None
    folder: str | None = None
    document_date: date | None = None
    clinic: str | None = None
    tags: list[str] | None = None


@strawberry.input(description="Открыть доступ: файлы и/или папки, срок в часах (1–720), получатель.")
class ShareVaultInput:
    file_ids: list[uuid.UUID] = strawberry.field(default_factory=list)
    folders: list[str] = strawberry.field(default_factory=list)
    hours: int = strawberry.field(description="Срок доступа в часах: от 1 до 720 (30 дней).")
    recipient_snils: str | None = strawberry.field(
        default=None, description="СНИЛС врача; без него — доступ по коду или ссылке."
    )
    note: str | None = None


# ---------------------------------------------------------------------------------------------- query


@strawberry.type
class Query:
    @strawberry.field(description="Личное хранилище документов (свое или того, за кого действуете: actingFor).")
    async def my_vault(
        self, info: Info, acting_for: uuid.UUID | None = None, folder: str | None = None, deleted: bool = False
    ) -> Vault:
        patient_id = await require_subject(info, SCOPE_DOCUMENTS, acting_for=acting_for)
        runtime = info.context.runtime
        try:
            files = await service.list_files(runtime, patient_id, folder=folder, deleted=deleted)
        except p.VaultError as exc:
            raise PublicError(exc.problem.message, code=exc.problem.code) from None
        everything = files if folder is None and not deleted else await service.list_files(runtime, patient_id)
        register = [] if deleted else await runtime.adapters.vault_register.list_for(patient_id)
        async with info.context.read_sessionmaker() as session:
            used = await service.used_bytes(session, patient_id)
        await audit.record_now(info.context.sessionmaker, info.context.ctx, "vault.listed", subject_id=patient_id)
        counts = dict.fromkeys(service.FOLDERS, 0)
        for f in everything:
            counts[f.folder] = counts.get(f.folder, 0) + 1
        settings = runtime.settings
        return Vault(
            files=[VaultFileType.of(f) for f in files],
            register_documents=[RegisterDocument.of(r) for r in register],
            folders=[VaultFolder(code=c, name=n, count=counts[c]) for c, n in service.FOLDERS.items()],
            used_bytes=used,
            quota_bytes=settings.vault_quota_bytes,
            max_file_bytes=settings.vault_max_file_bytes,
        )

    @strawberry.field(description="Кому и к каким документам открыт доступ.")
    async def my_vault_shares(self, info: Info, acting_for: uuid.UUID | None = None) -> list[VaultShareType]:
        patient_id = await require_subject(info, SCOPE_DOCUMENTS, acting_for=acting_for)
        shares = await service.list_shares(info.context.runtime, patient_id)
        now = info.context.runtime.now()
        return [VaultShareType.of(s, now) for s in shares]

    @strawberry.field(description="Документы, которые пациенты открыли вам как врачу (по вашему СНИЛС).")
    async def shared_with_me(self, info: Info) -> list[IncomingVaultShare]:
        ctx = info.context.ctx
        if not ctx.actor.is_authenticated:
            raise not_authenticated()
        if ctx.actor.kind is not ActorKind.PATIENT or SCOPE_DOCUMENTS not in ctx.actor.scopes:
            raise access_denied()  # a doctor signs in as a person; operators and kiosks never see vaults
        incoming = await service.shares_for_doctor(info.context.runtime, ctx)
        return [
            IncomingVaultShare(
                id=s.share.id,
                patient=s.owner_name,
                expires_at=s.share.expires_at,
                files=[
                    VaultFileType.of(f, download_path=f"/api/v1/vault/shares/{s.share.id}/files/{f.id}")
                    for f in s.files
                ],
            )
            for s in incoming
        ]


# ---------------------------------------------------------------------------------------------- mutations


async def _begin(
    info: Info, operation: str, key: str, acting_for: uuid.UUID | None, request: dict[str, Any]
) -> tuple[uuid.UUID, service.Claim | dict[str, Any]]:
    patient_id = await require_subject(info, SCOPE_DOCUMENTS, acting_for=acting_for)
    claim = await service.claim(info.context.uow, operation, key, request | {"patient": str(patient_id)})
    return patient_id, claim


async def _file_of(info: Info, patient_id: uuid.UUID, file_id: uuid.UUID) -> VaultFileChanged:
    files = await service.list_files(info.context.runtime, patient_id) + await service.list_files(
        info.context.runtime, patient_id, deleted=True
    )
    for f in files:
        if f.id == file_id:
            return VaultFileChanged(file=VaultFileType.of(f))
    raise p.fail(p.FileNotFound.default())


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Изменить документ хранилища или переместить его в другую папку.")
    @atomic
    @vault_problems
    async def update_vault_file(
        self, info: Info, input: UpdateVaultFileInput, idempotency_key: str, acting_for: uuid.UUID | None = None
    ) -> VaultFileResult:
        request = {k: str(v) if v is not None else None for k, v in vars(input).items()}
        patient_id, claim = await _begin(info, "updateVaultFile", idempotency_key, acting_for, request)
        if isinstance(claim, dict):
            return await _file_of(info, patient_id, input.file_id)
        view = await service.update_file(
            info.context.uow,
            patient_id,
            input.file_id,
            title=input.title,
            folder=input.folder,
            document_date=input.document_date,
            clinic=input.clinic,
            tags=input.tags,
        )
        claim.remember({"fileId": str(view.id)})
        return VaultFileChanged(file=VaultFileType.of(view))

    @strawberry.mutation(description="Удалить документ в корзину (восстановить можно 30 дней).")
    @atomic
    @vault_problems
    async def delete_vault_file(
        self, info: Info, file_id: uuid.UUID, idempotency_key: str, acting_for: uuid.UUID | None = None
    ) -> VaultFileResult:
        patient_id, claim = await _begin(info, "deleteVaultFile", idempotency_key, acting_for, {"file": str(file_id)})
        if isinstance(claim, dict):
            return await _file_of(info, patient_id, file_id)
        view = await service.delete_file(info.context.uow, patient_id, file_id)
        claim.remember({"fileId": str(view.id)})
        return VaultFileChanged(file=VaultFileType.of(view))

    @strawberry.mutation(description="Восстановить документ из корзины.")
    @atomic
    @vault_problems
    async def restore_vault_file(
        self, info: Info, file_id: uuid.UUID, idempotency_key: str, acting_for: uuid.UUID | None = None
    ) -> VaultFileResult:
        patient_id, claim = await _begin(info, "restoreVaultFile", idempotency_key, acting_for, {"file": str(file_id)})
        if isinstance(claim, dict):
            return await _file_of(info, patient_id, file_id)
        view = await service.restore_file(info.context.uow, patient_id, file_id)
        claim.remember({"fileId": str(view.id)})
        return VaultFileChanged(file=VaultFileType.of(view))

    @strawberry.mutation(description="Открыть врачу доступ к файлам или папкам на срок (по СНИЛС или по коду).")
    @atomic
    @vault_problems
    async def share_vault(
        self, info: Info, input: ShareVaultInput, idempotency_key: str, acting_for: uuid.UUID | None = None
    ) -> ShareVaultResult:
        request = {
            "files": sorted(str(f) for f in input.file_ids),
            "folders": sorted(input.folders),
            "hours": input.hours,
            "snils": input.recipient_snils,
            "note": input.note,
        }
        patient_id, claim = await _begin(info, "shareVault", idempotency_key, acting_for, request)
        now = info.context.runtime.now()
        if isinstance(claim, dict):
            for s in await service.list_shares(info.context.runtime, patient_id):
                if str(s.id) == claim.get("shareId"):
                    return VaultShared(share=VaultShareType.of(s, now), share_code=None, link=None)
            raise p.fail(p.ShareNotFound.default())
        created = await service.create_share(
            info.context.uow,
            patient_id,
            file_ids=input.file_ids,
            folders=input.folders,
            period=timedelta(hours=input.hours),
            recipient_snils=input.recipient_snils,
            note=input.note,
        )
        claim.remember({"shareId": str(created.share.id)})
        return VaultShared(share=VaultShareType.of(created.share, now), share_code=created.code, link=created.link)

    @strawberry.mutation(description="Закрыть доступ: врач сразу перестает видеть документы.")
    @atomic
    @vault_problems
    async def revoke_vault_share(
        self, info: Info, share_id: uuid.UUID, idempotency_key: str, acting_for: uuid.UUID | None = None
    ) -> RevokeShareResult:
        patient_id, claim = await _begin(
            info, "revokeVaultShare", idempotency_key, acting_for, {"share": str(share_id)}
        )
        now = info.context.runtime.now()
        if isinstance(claim, dict):
            for s in await service.list_shares(info.context.runtime, patient_id):
                if s.id == share_id:
                    return VaultShareRevoked(share=VaultShareType.of(s, now))
            raise p.fail(p.ShareNotFound.default())
        view = await service.revoke_share(info.context.uow, patient_id, share_id)
        claim.remember({"shareId": str(view.id)})
        return VaultShareRevoked(share=VaultShareType.of(view, now))


TYPES: tuple[type, ...] = ()
