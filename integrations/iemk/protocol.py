"""What the documents domain needs from ИЭМК / РЭМД: the patient-side document contract (protocols.md §4.4).

No public API lets a patient application list or fetch registered documents; this adapter follows an
internal contract in the real metadata vocabulary (REMD type code from НСИ 1.2.643.5.1.13.13.11.1520,
ФРМО OID, creation time, author SNILS and position, registry number, the MIS's local id):

* ``GET  {base}/documents?snils=|oid=&kind=&from=&to=&orgOid=&page=&size=`` — metadata, newest first;
* ``GET  {base}/documents/{registryNumber}?snils=`` — one document's metadata;
* ``GET  {base}/documents/{registryNumber}/cda?snils=`` — the CDA R2 XML, byte for byte as signed;
* ``GET  {base}/documents/{registryNumber}/signatures?snils=`` — the detached CMS signatures (base64 DER);
* ``GET  {base}/documents/{registryNumber}/rendering?snils=`` — the upstream's rendering (HTML);
* ``GET  {base}/registrations/{localUid}`` — the state of an asynchronous registration.

Registration is asynchronous upstream: a submitted document is ``accepted``, later ``registered``
(with a registry number; only then does the patient see it) or ``rejected`` (with an error list).

Errors form two families: :class:`IemkRejected` (the upstream answered with an error: final for the
request) and :class:`IemkTransportError` (no usable answer: timeout, malformed reply, 5xx; retryable).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol, runtime_checkable

from integrations.common import errors as common


class RegistrationStatus(enum.StrEnum):
    ACCEPTED = "accepted"  # received, being checked
    REGISTERED = "registered"  # in РЭМД with a registry number
    REJECTED = "rejected"  # refused with an error list


class SignatureRole(enum.StrEnum):
    DOCTOR = "doctor"  # the author's УКЭП
    ORGANIZATION = "organization"  # the medical organisation's УКЭП


@dataclass(frozen=True, slots=True)
class DocumentAuthor:
    snils: str  # "123-456-789 01"
    position: str  # as the register shows it, "врач-терапевт участковый"
    name: str | None = None  # an extension of the simulator; a real register may leave it out


@dataclass(frozen=True, slots=True)
class DocumentMetadata:
    registry_number: str  # "REMD-0000001"
    local_uid: str  # the MIS's id of the document
    kind: str  # REMD type code (НСИ 1.2.643.5.1.13.13.11.1520), "119"
    org_oid: str  # ФРМО OID of the medical organisation
    created_at: datetime  # aware
    author: DocumentAuthor
    patient_snils: str
    signatures: tuple[SignatureRole, ...]
    status: RegistrationStatus
    title: str | None = None  # extensions of the simulator: the document's title, the MO's name and
    org_name: str | None = None  # the registration time; a real register may leave them out
    registered_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class DocumentPage:
    items: tuple[DocumentMetadata, ...]
    page: int  # 1-based
    size: int
    total: int

    @property
    def has_next(self) -> bool:
        return self.page * self.size < self.total


@dataclass(frozen=True, slots=True)
class DetachedSignature:
    role: SignatureRole
    cms: bytes  # DER-encoded CMS SignedData without the content


@dataclass(frozen=True, slots=True)
class DocumentRendering:
    media_type: str  # "text/html; charset=utf-8"
    content: bytes


@dataclass(frozen=True, slots=True)
class DocumentFile:
    """A document as the patient downloads it: the CDA exactly as signed, with its signatures."""

    metadata: DocumentMetadata
    cda: bytes
    signatures: tuple[DetachedSignature, ...]


@dataclass(frozen=True, slots=True)
class RegistrationError:
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class Registration:
    local_uid: str
    kind: str
    status: RegistrationStatus
    accepted_at: datetime
    registry_number: str | None = None
    registered_at: datetime | None = None
    errors: tuple[RegistrationError, ...] = ()


# -- errors --------------------------------------------------------------------------------------


class IemkError(common.UpstreamError):
    """Base of everything the ИЭМК adapter raises (a rejection's ``code`` is the register's)."""


class IemkRejected(IemkError):
    """The upstream answered with an error."""

    def __init__(self, code: str, message: str, *, status_code: int | None = None) -> None:
        super().__init__(f"[{code}] {message}")
        self.code = code
        self.message = message
        self.status_code = status_code


class IemkAccessDenied(IemkRejected):
    """The client's credentials were refused."""


class PatientNotFound(IemkRejected):
    """No person with this SNILS / ESIA oid is known to the register."""


class DocumentNotFound(IemkRejected):
    """No such document, or it is not this patient's (the register does not say which)."""


class RegistrationNotFound(IemkRejected):
    """No registration with this local id."""


class IemkBadRequest(IemkRejected):
    """The request was malformed (bad date, page, size, both or neither of snils / oid)."""


class IemkTransportError(IemkError, common.UpstreamTransportError):
    """The register gave no usable answer; the call may be retried."""


class IemkTimeout(IemkTransportError, common.UpstreamTimeout):
    """No reply within the client's deadline."""


class IemkMalformedReply(IemkTransportError, common.UpstreamMalformedReply):
    """The reply cannot be read as the contract's JSON (or the CDA / signature payload is unusable)."""


class IemkUnavailable(IemkTransportError, common.UpstreamUnavailable):
    """HTTP error status without the contract's error body, or connection failure."""


# -- the port ------------------------------------------------------------------------------------


@runtime_checkable
class MedicalDocuments(Protocol):
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
        """Registered documents of one patient (exactly one of ``snils`` / ``esia_oid``), newest first.

        ``kinds`` filters by REMD type codes; ``created_from`` / ``created_to`` are inclusive days in
        the document's own offset; ``org_oid`` filters by the ФРМО OID of the organisation.
        """
        ...

    async def get_metadata(self, registry_number: str, *, snils: str) -> DocumentMetadata:
        """One registered document of the patient ``snils``; :class:`DocumentNotFound` otherwise."""
        ...

    async def get_cda(self, registry_number: str, *, snils: str) -> bytes:
        """The CDA R2 XML, byte for byte as signed."""
        ...

    async def get_signatures(self, registry_number: str, *, snils: str) -> list[DetachedSignature]:
        """The detached CMS signatures (the doctor's, the organisation's where the type has one)."""
        ...

    async def get_rendering(self, registry_number: str, *, snils: str) -> DocumentRendering:
        """The upstream's human-readable rendering."""
        ...

    async def fetch_document(self, registry_number: str, *, snils: str) -> DocumentFile:
        """Metadata, CDA and signatures (three requests)."""
        ...

    async def get_registration(self, local_uid: str) -> Registration:
        """The state of an asynchronous registration by the MIS's local id."""
        ...
