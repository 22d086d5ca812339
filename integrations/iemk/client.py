"""The HTTP client of the patient-side ИЭМК contract; implements :class:`~integrations.iemk.protocol.MedicalDocuments`.

One HTTP request per call (``fetch_document`` makes three), no retries (the caller decides), the
deadline enforced with :func:`asyncio.timeout` (httpx's own timeouts do not apply to an in-process
``ASGITransport``). Error bodies ``{"result": "ERROR", "errors": [{"code", "message"}]}`` become typed
:class:`IemkRejected` subclasses; anything else that is not the contract is
:class:`IemkMalformedReply` or :class:`IemkUnavailable`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

import httpx

from integrations.iemk.protocol import (
    DetachedSignature,
    DocumentAuthor,
    DocumentFile,
    DocumentMetadata,
    DocumentNotFound,
    DocumentPage,
    DocumentRendering,
    IemkAccessDenied,
    IemkBadRequest,
    IemkMalformedReply,
    IemkRejected,
    IemkTimeout,
    IemkUnavailable,
    PatientNotFound,
    Registration,
    RegistrationError,
    RegistrationNotFound,
    RegistrationStatus,
    SignatureRole,
)

DEFAULT_BASE_PATH = "/iemk/api/v1"
MAX_PAGE_SIZE = 100

DEFAULT_ERROR_MAP: Mapping[str, type[IemkRejected]] = {
    "ACCESS_DENIED": IemkAccessDenied,
    "PATIENT_NOT_FOUND": PatientNotFound,
    "DOCUMENT_NOT_FOUND": DocumentNotFound,
    "REGISTRATION_NOT_FOUND": RegistrationNotFound,
    "BAD_REQUEST": IemkBadRequest,
}
XML_TYPES = ("application/xml", "text/xml", "application/hl7-cda+xml")
Params = Mapping[str, str | int | Sequence[str] | None]


class IemkClient:
    """``IemkClient(http, timeout_s=..., api_key=...)``; ``http`` carries the register's base URL."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        timeout_s: float,
        api_key: str | None = None,
        base_path: str = DEFAULT_BASE_PATH,
        error_map: Mapping[str, type[IemkRejected]] | None = None,
    ) -> None:
        if timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        self._http = http
        self._timeout_s = timeout_s
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._base = base_path.rstrip("/")
        self._error_map = DEFAULT_ERROR_MAP if error_map is None else error_map

    # -- the port --------------------------------------------------------------------------------

    async def list_documents(
        self,
        *,
        snils: str | None = None,
        esia_oid: str | None = None,
        kinds: Sequence[str] = (),
        created_from: date | None = None,
        created_to: date | None = None,
        org_oid: str | None = None,
        page: int = 1,
        size: int = 20,
    ) -> DocumentPage:
        if (snils is None) == (esia_oid is None):
            raise ValueError("exactly one of snils and esia_oid must be given")
        if page < 1 or not 1 <= size <= MAX_PAGE_SIZE:
            raise ValueError(f"page must be ≥ 1 and size within [1, {MAX_PAGE_SIZE}]")
        body = await self._json(
            "GET",
            "/documents",
            {
                "snils": snils,
                "oid": esia_oid,
                "kind": list(kinds),
                "from": created_from.isoformat() if created_from else None,
                "to": created_to.isoformat() if created_to else None,
                "orgOid": org_oid,
                "page": page,
                "size": size,
            },
        )
        try:
            items = tuple(_metadata(item) for item in body["items"])
            return DocumentPage(items=items, page=int(body.get("page", page)), size=size, total=int(body["total"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise IemkMalformedReply(f"Некорректный список документов: {exc!r}") from exc

    async def get_metadata(self, registry_number: str, *, snils: str) -> DocumentMetadata:
        body = await self._json("GET", f"/documents/{_segment(registry_number)}", {"snils": snils})
        try:
            return _metadata(body)
        except (KeyError, TypeError, ValueError) as exc:
            raise IemkMalformedReply(f"Некорректные метаданные документа: {exc!r}") from exc

    async def get_cda(self, registry_number: str, *, snils: str) -> bytes:
        response = await self._send("GET", f"/documents/{_segment(registry_number)}/cda", {"snils": snils})
        if _media_type(response) not in XML_TYPES or not response.content:
            raise IemkMalformedReply(f"Вместо CDA получен ответ типа {_media_type(response) or 'без типа'}")
        return response.content

    async def get_signatures(self, registry_number: str, *, snils: str) -> list[DetachedSignature]:
        body = await self._json("GET", f"/documents/{_segment(registry_number)}/signatures", {"snils": snils})
        try:
            return [
                DetachedSignature(SignatureRole(item["role"]), base64.b64decode(item["value"], validate=True))
                for item in body["items"]
            ]
        except (KeyError, TypeError, ValueError, binascii.Error) as exc:
            raise IemkMalformedReply(f"Некорректный список подписей: {exc!r}") from exc

    async def get_rendering(self, registry_number: str, *, snils: str) -> DocumentRendering:
        response = await self._send("GET", f"/documents/{_segment(registry_number)}/rendering", {"snils": snils})
        media_type = response.headers.get("content-type", "")
        if _media_type(response) not in {"text/html", "application/pdf"} or not response.content:
            raise IemkMalformedReply(f"Вместо отображения получен ответ типа {media_type or 'без типа'}")
        return DocumentRendering(media_type=media_type, content=response.content)

    async def fetch_document(self, registry_number: str, *, snils: str) -> DocumentFile:
        metadata = await self.get_metadata(registry_number, snils=snils)
        cda = await self.get_cda(registry_number, snils=snils)
        signatures = await self.get_signatures(registry_number, snils=snils)
        return DocumentFile(metadata=metadata, cda=cda, signatures=tuple(signatures))

    async def get_registration(self, local_uid: str) -> Registration:
        body = await self._json("GET", f"/registrations/{_segment(local_uid)}", {})
        return _registration(body)

    # -- the MIS side (scenarios and demos; not part of the patient-side port) ----------------------

    async def submit_registration(
        self,
        *,
        local_uid: str,
        kind: str,
        patient_snils: str,
        cda: bytes,
        signatures: Sequence[DetachedSignature],
    ) -> Registration:
        """Submit a signed document for registration; the answer is ``accepted`` (the outcome comes later)."""
        payload = {
            "localUid": local_uid,
            "kind": kind,
            "patientSnils": patient_snils,
            "cda": base64.b64encode(cda).decode("ascii"),
            "signatures": [
                {"role": s.role.value, "value": base64.b64encode(s.cms).decode("ascii")} for s in signatures
            ],
        }
        return _registration(await self._json("POST", "/registrations", {}, payload))

    # -- transport -------------------------------------------------------------------------------

    async def _send(
        self, method: str, path: str, params: Params, payload: Mapping[str, Any] | None = None
    ) -> httpx.Response:
        query: list[tuple[str, str | int | float | bool | None]] = [
            (key, str(item))
            for key, value in params.items()
            if value is not None
            for item in (value if isinstance(value, list | tuple) else [value])
        ]
        try:
            async with asyncio.timeout(self._timeout_s):
                response = await self._http.request(
                    method, f"{self._base}{path}", params=query, json=payload, headers=self._headers
                )
        except (TimeoutError, httpx.TimeoutException) as exc:
            raise IemkTimeout(f"ИЭМК не ответила за {self._timeout_s:g} с ({method} {path})") from exc
        except httpx.HTTPError as exc:
            raise IemkUnavailable(f"ИЭМК недоступна ({method} {path}): {exc}") from exc
        if response.status_code >= 400:
            raise self._failure(response, path)
        return response

    async def _json(
        self, method: str, path: str, params: Params, payload: Mapping[str, Any] | None = None
    ) -> Mapping[str, Any]:
        response = await self._send(method, path, params, payload)
        try:
            body = response.json()
        except ValueError as exc:
            raise IemkMalformedReply(f"Ответ ИЭМК не является JSON ({path})") from exc
        if not isinstance(body, dict) or body.get("result") != "OK":
            raise IemkMalformedReply(f"В ответе ИЭМК нет result=OK ({path})")
        return body

    def _failure(self, response: httpx.Response, path: str) -> Exception:
        status = response.status_code
        try:
            body = response.json()
            first = body["errors"][0]
            code, message = str(first["code"]), str(first["message"])
        except (ValueError, KeyError, IndexError, TypeError):
            return IemkUnavailable(f"ИЭМК ответила HTTP {status} ({path})", status_code=status)
        if status in {401, 403}:
            return IemkAccessDenied(code, message, status_code=status)
        return self._error_map.get(code, IemkRejected)(code, message, status_code=status)


def _segment(value: str) -> str:
    if not value or "/" in value or value in {".", ".."}:
        raise ValueError(f"недопустимый идентификатор {value!r}")
    return value


def _media_type(response: httpx.Response) -> str:
    return response.headers.get("content-type", "").split(";")[0].strip().lower()


def _moment(value: Any) -> datetime:
    moment = datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        raise ValueError(f"время без смещения: {value!r}")
    return moment


def _metadata(item: Mapping[str, Any]) -> DocumentMetadata:
    author = item["author"]
    registered = item.get("registeredAt")
    return DocumentMetadata(
        registry_number=str(item["registryNumber"]),
        local_uid=str(item["localUid"]),
        kind=str(item["kind"]),
        org_oid=str(item["orgOid"]),
        created_at=_moment(item["createdAt"]),
        author=DocumentAuthor(
            snils=str(author["snils"]), position=str(author.get("position") or ""), name=author.get("name")
        ),
        patient_snils=str(item["patientSnils"]),
        signatures=tuple(SignatureRole(s) for s in item.get("signatures") or ()),
        status=RegistrationStatus(item.get("status", "registered")),
        title=item.get("title"),
        org_name=item.get("orgName"),
        registered_at=_moment(registered) if registered else None,
    )


def _registration(body: Mapping[str, Any]) -> Registration:
    try:
        registered = body.get("registeredAt")
        return Registration(
            local_uid=str(body["localUid"]),
            kind=str(body["kind"]),
            status=RegistrationStatus(body["status"]),
            accepted_at=_moment(body["acceptedAt"]),
            registry_number=body.get("registryNumber"),
            registered_at=_moment(registered) if registered else None,
            errors=tuple(RegistrationError(str(e["code"]), str(e["message"])) for e in body.get("errors") or ()),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise IemkMalformedReply(f"Некорректное состояние регистрации: {exc!r}") from exc
