"""REST for the vault's bytes (GraphQL carries the metadata), mounted under /api/v1.

* ``POST /vault/files`` — upload, ``multipart/form-data``: the text fields ``folder`` (analyses,
  discharges, images, certificates, other), ``title``, ``documentDate`` (YYYY-MM-DD), ``clinic``,
  ``tags`` (repeated or comma-separated) first, then the ``file`` part. Streamed: checked (size, quota,
  type by magic bytes), hashed and encrypted while it arrives; ``Idempotency-Key`` header; ``?actingFor=``.
* ``GET /vault/files/{id}`` — the owner's (or a proxy's) download, streamed and decrypted.
* ``GET /vault/shares/{shareId}/files/{id}`` — a doctor's download of a share addressed to their SNILS.
* ``GET /vault/shared/{code}`` and ``GET /vault/shared/{code}/files/{id}`` — the recipient holding a code
  or link: the list (JSON) and the downloads; no sign-in.

Refusals are JSON ``{"code", "message"}`` with a Russian message and a fitting status.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote

import structlog
from litestar import Request, Response, get, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPIMediaType, Operation, RequestBody, Schema
from litestar.params import Parameter
from litestar.response import Stream
from multipart import MultipartSegment, PushMultipartParser
from multipart import ParserError as MultipartParserError

from backend.api.problems import ProblemError, PublicError
from backend.core.context import Actor, RequestContext
from backend.identity.authn import actor_from_scope
from backend.identity.policy import SCOPE_DOCUMENTS, require_subject
from backend.middleware import request_id_of
from backend.vault import problems as p
from backend.vault import service, sniff
from backend.vault.service import FileMeta, FileView, Opened

if TYPE_CHECKING:
    from backend.runtime import Runtime

log = structlog.get_logger(__name__)

MAX_FIELD = 4096
FIELD_NAMES = {"folder", "title", "documentDate", "clinic", "tags"}
#: Room for the text fields and multipart framing beyond the file itself.
FRAMING = 64 * 1024


@dataclass
class ProblemBody:
    """A refusal: a stable code and the Russian text for the person."""

    code: str
    message: str


def _responses(*statuses: int) -> dict[int, ResponseSpec]:
    return {
        status: ResponseSpec(data_container=ProblemBody, description=_STATUS_TEXT[status], generate_examples=False)
        for status in statuses
    }


_STATUS_TEXT = {
    400: "Неверный запрос: пустой файл, недопустимое имя, неполная загрузка",
    401: "Нужно войти",
    403: "Нет прав (операторы 122 и инфоматы не видят хранилище)",
    404: "Файл или доступ не найден",
    410: "Срок доступа истек или пациент закрыл доступ",
    413: "Файл слишком большой или не хватает места",
    415: "Тип файла не разрешен",
    429: "Слишком много неверных кодов доступа",
    500: "Файл в хранилище поврежден",
}


def _json(status: int, code: str, message: str, **extra: Any) -> Response[Any]:
    return Response(
        content={"code": code, "message": message, **extra},
        status_code=status,
        media_type="application/json",
        headers={"Cache-Control": "no-store"},
    )


def _problem(problem: p.VaultProblem) -> Response[Any]:
    return _json(type(problem).STATUS, problem.code, problem.message)


async def _owner_context(
    request: Request[Any, Any, Any], runtime: Runtime, acting_for: uuid.UUID | None
) -> tuple[RequestContext, uuid.UUID]:
    actor = await actor_from_scope(request.scope, runtime)
    ctx = RequestContext(actor=actor, request_id=request_id_of(request.scope))
    async with runtime.sessionmaker() as session:
        patient_id = await require_subject(ctx, SCOPE_DOCUMENTS, acting_for=acting_for, session=session)
    return ctx, patient_id


def _refused(exc: Exception) -> Response[Any]:
    if isinstance(exc, ProblemError):
        status = 401 if exc.problem.code == "NOT_AUTHENTICATED" else 403
        return _json(status, exc.problem.code, exc.problem.message)
    if isinstance(exc, PublicError):
        return _json(401, exc.code, str(exc))
    raise exc


# ---------------------------------------------------------------------------------------------- upload


class _Incomplete(Exception):
    pass


@dataclass
class _Form:
    fields: dict[str, list[str]] = field(default_factory=dict)
    file: MultipartSegment | None = None


def _boundary(content_type: str) -> str | None:
    kind, _, rest = content_type.partition(";")
    if kind.strip().lower() != "multipart/form-data":
        return None
    for part in rest.split(";"):
        name, _, value = part.strip().partition("=")
        if name.lower() == "boundary" and value:
            return value.strip('"')
    return None


@dataclass
class _UploadOperation(Operation):
    """The OpenAPI of the streamed upload (its body is read by hand, so it is described here)."""

    def __post_init__(self) -> None:
        if self.request_body is not None:
            return
        text = Schema(type="string")  # type: ignore[arg-type]
        self.request_body = RequestBody(
            required=True,
            description="Поля формы (folder, title, documentDate, clinic, tags), затем файл (file).",
            content={
                "multipart/form-data": OpenAPIMediaType(
                    schema=Schema(
                        type="object",  # type: ignore[arg-type]
                        required=["folder", "file"],
                        properties={
                            "folder": Schema(
                                type="string",  # type: ignore[arg-type]
                                enum=list(service.FOLDERS),
                            ),
                            "title": text,
                            "documentDate": Schema(type="string", format="date"),  # type: ignore[arg-type]
                            "clinic": text,
                            "tags": text,
                            "file": Schema(type="string", format="binary"),  # type: ignore[arg-type]
                        },
                    )
                )
            },
        )


def _meta(form: _Form) -> FileMeta:
    def one(name: str) -> str:
        values = form.fields.get(name) or [""]
        return values[-1]

    raw_date = one("documentDate").strip()
    try:
        document_date = date.fromisoformat(raw_date) if raw_date else None
    except ValueError:
        raise p.fail(p.InvalidInput.of("documentDate", "Дата документа — в виде ГГГГ-ММ-ДД.")) from None
    tags = [t.strip() for value in form.fields.get("tags", []) for t in value.split(",") if t.strip()]
    file_name = form.file.filename if form.file is not None else ""
    if file_name and ("/" in file_name or "\\" in file_name):
        raise p.fail(p.InvalidName.default())
    return FileMeta(
        folder=one("folder") or "other",
        title=one("title") or (file_name or ""),
        file_name=file_name or "",
        document_date=document_date,
        clinic=one("clinic") or None,
        tags=tuple(tags),
    )


@post(
    "/vault/files",
    status_code=201,
    request_max_body_size=None,  # checked while streaming: the file's size limit and the patient's quota
    operation_class=_UploadOperation,
    summary="Загрузить документ в хранилище",
    responses=_responses(400, 401, 403, 413, 415),
    description=__doc__,
)
async def upload_file(  # noqa: PLR0911, PLR0912, PLR0915 - one answer per refusal
    request: Request[Any, Any, Any],
    acting_for: Annotated[uuid.UUID | None, Parameter(query="actingFor")] = None,
    idempotency_key: Annotated[str | None, Parameter(header="Idempotency-Key")] = None,
) -> Response[Any]:
    """Stream one file into the patient's vault (see the module docstring)."""
    runtime: Runtime = request.app.state.runtime
    try:
        ctx, patient_id = await _owner_context(request, runtime, acting_for)
    except (ProblemError, PublicError) as exc:
        return _refused(exc)
    boundary = _boundary(request.headers.get("content-type", ""))
    if boundary is None:
        return _json(415, "INVALID_INPUT", "Отправьте файл как multipart/form-data.")
    budget = runtime.settings.vault_max_file_bytes + FRAMING
    parser = PushMultipartParser(boundary, max_header_size=4096, max_header_count=8, strict=True)

    async def events() -> AsyncGenerator[MultipartSegment | bytes | None, None]:
        received = 0
        async for chunk in request.stream():
            received += len(chunk)
            if received > budget:
                limit = p.size_text(runtime.settings.vault_max_file_bytes)
                raise p.fail(p.FileTooLarge.default(p.FileTooLarge.MESSAGE.format(limit=limit)))
            for event in parser.parse(chunk):
                yield event
        if not parser.closed:
            raise _Incomplete

    stream = events()
    form = _Form()
    try:
        current: MultipartSegment | None = None
        value = bytearray()
        async for event in stream:
            if isinstance(event, MultipartSegment):
                current, value = event, bytearray()
                if event.filename is not None or event.name == "file":
                    form.file = event
                    break
                if event.name not in FIELD_NAMES:
                    return _json(400, "INVALID_INPUT", f"Неизвестное поле формы: {event.name}.")
            elif event is None:
                if current is not None and current.name:
                    form.fields.setdefault(current.name, []).append(value.decode("utf-8", "replace"))
                current = None
            else:
                value += event
                if len(value) > MAX_FIELD:
                    return _json(400, "INVALID_INPUT", "Поле формы слишком длинное.")
        if form.file is None:
            return _json(400, "INVALID_INPUT", "В запросе нет файла (поле file).")
        meta = _meta(form)

        async def file_bytes() -> AsyncIterator[bytes]:
            async for event in stream:
                if event is None:
                    return
                if isinstance(event, MultipartSegment):  # pragma: no cover - the parser ends a segment first
                    raise _Incomplete
                yield bytes(event)
            raise _Incomplete

        view = await service.upload(runtime, ctx, patient_id, meta, file_bytes(), idempotency_key=idempotency_key)
    except p.VaultError as exc:
        return _problem(exc.problem)
    except (_Incomplete, MultipartParserError):
        return _problem(p.UploadIncomplete.default())
    finally:
        await stream.aclose()
    return Response(content=_file_json(view), status_code=201, media_type="application/json")


def _file_json(view: FileView) -> dict[str, Any]:
    return view.as_json() | {"createdAt": view.created_at.isoformat()}


# ---------------------------------------------------------------------------------------------- download


def content_disposition(view: FileView) -> str:
    """RFC 6266: an ASCII fallback name and the real one as UTF-8 ``filename*`` (RFC 8187)."""
    extension = sniff.EXTENSIONS.get(view.content_type, "bin")
    name = view.file_name or view.title
    if not name.lower().endswith(f".{extension}"):
        name = f"{name}.{extension}"
    ascii_name = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\;' else "_" for ch in name)
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"


def _stream(opened: Opened) -> Stream:
    view = opened.file
    media = view.content_type  # Litestar adds "; charset=utf-8" to text/plain
    return Stream(
        opened.body,
        media_type=media,
        headers={
            "Content-Disposition": content_disposition(view),
            "Content-Length": str(view.size),
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
            "X-Content-SHA256": view.sha256,
        },
    )


@get("/vault/files/{file_id:uuid}", summary="Скачать документ из хранилища", responses=_responses(401, 403, 404, 500))
async def download_file(
    request: Request[Any, Any, Any],
    file_id: uuid.UUID,
    acting_for: Annotated[uuid.UUID | None, Parameter(query="actingFor")] = None,
) -> Response[Any] | Stream:
    """The owner's (or a proxy's) download, decrypted as it streams."""
    runtime: Runtime = request.app.state.runtime
    try:
        ctx, patient_id = await _owner_context(request, runtime, acting_for)
    except (ProblemError, PublicError) as exc:
        return _refused(exc)
    try:
        opened = await service.open_file(runtime, ctx, patient_id, file_id)
    except p.VaultError as exc:
        return _problem(exc.problem)
    return _stream(opened)


@get(
    "/vault/shares/{share_id:uuid}/files/{file_id:uuid}",
    summary="Скачать документ, к которому пациент открыл доступ врачу (по СНИЛС)",
    responses=_responses(401, 403, 404, 410, 500),
)
async def download_shared_to_doctor(
    request: Request[Any, Any, Any], share_id: uuid.UUID, file_id: uuid.UUID
) -> Response[Any] | Stream:
    """A doctor's download of a share addressed to their SNILS (they sign in with their own account)."""
    runtime: Runtime = request.app.state.runtime
    try:
        actor = await actor_from_scope(request.scope, runtime)
    except PublicError as exc:
        return _refused(exc)
    ctx = RequestContext(actor=actor, request_id=request_id_of(request.scope))
    if not actor.is_authenticated:
        return _json(401, "NOT_AUTHENTICATED", "Войдите через Госуслуги, чтобы продолжить.")
    try:
        share = await service.share_for_doctor(runtime, ctx, share_id)
        opened = await service.open_shared_file(runtime, ctx, share, file_id)
    except p.VaultError as exc:
        if exc.problem.code in {p.ShareExpired.CODE, p.ShareRevoked.CODE}:
            await service.record_refusal(runtime, ctx, share_id, exc.problem.code)
        return _problem(exc.problem)
    return _stream(opened)


@get("/vault/shared/{code:str}", summary="Документы, открытые по коду доступа", responses=_responses(404, 410, 429))
async def shared_by_code(request: Request[Any, Any, Any], code: str) -> Response[Any]:
    """What a code or link opens: the owner's short name, the period, the files (read-only)."""
    runtime: Runtime = request.app.state.runtime
    ctx = RequestContext(actor=await _anonymous(request, runtime), request_id=request_id_of(request.scope))
    try:
        share = await service.share_by_code(runtime, code, client=request.client.host if request.client else None)
        incoming = await service.view_share(runtime, ctx, share)
    except p.VaultError as exc:
        if exc.problem.code in {p.ShareExpired.CODE, p.ShareRevoked.CODE}:
            await service.record_refusal(runtime, ctx, None, exc.problem.code)
        return _problem(exc.problem)
    return Response(
        content={
            "patient": incoming.owner_name,
            "expiresAt": incoming.share.expires_at.isoformat(),
            "files": [_file_json(f) for f in incoming.files],
        },
        media_type="application/json",
        headers={"Cache-Control": "no-store"},
    )


@get(
    "/vault/shared/{code:str}/files/{file_id:uuid}",
    summary="Скачать документ по коду доступа",
    responses=_responses(404, 410, 429, 500),
)
async def download_by_code(request: Request[Any, Any, Any], code: str, file_id: uuid.UUID) -> Response[Any] | Stream:
    """A download by whoever holds the code: logged about the owner."""
    runtime: Runtime = request.app.state.runtime
    ctx = RequestContext(actor=await _anonymous(request, runtime), request_id=request_id_of(request.scope))
    try:
        share = await service.share_by_code(runtime, code, client=request.client.host if request.client else None)
        opened = await service.open_shared_file(runtime, ctx, share, file_id)
    except p.VaultError as exc:
        if exc.problem.code in {p.ShareExpired.CODE, p.ShareRevoked.CODE}:
            await service.record_refusal(runtime, ctx, None, exc.problem.code)
        return _problem(exc.problem)
    return _stream(opened)


async def _anonymous(request: Request[Any, Any, Any], runtime: Runtime) -> Actor:
    """The code holder: whoever they are signed in as (if at all) is recorded; the code decides."""
    try:
        return await actor_from_scope(request.scope, runtime)
    except PublicError:
        return Actor.anonymous()


ROUTES = [upload_file, download_file, download_shared_to_doctor, shared_by_code, download_by_code]
