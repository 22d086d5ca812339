"""What the vaccination domain needs from the immunization register: a person's vaccination history and
medical exemptions (медотводы), for the years before the register's СЭМД 170 documents.

No public API of the federal register of preventive vaccinations (федеральный регистр профилактических
прививок, named by seed 000 as the data source) or of a regional immunization system (the «АИС
Иммунопрофилактика» kind) is published. The contract is therefore **modelled on HL7 FHIR R4**
(https://hl7.org/fhir/R4/immunization.html), a published standard such registers are built on:

* ``GET {base}/persons/{snils}/immunizations`` — a ``Bundle`` of ``Immunization`` resources
  (``status`` completed, ``vaccineCode`` from НСИ 1.2.643.5.1.13.13.11.1078, ``occurrenceDateTime``,
  ``lotNumber``, ``performer[].actor.display``, ``location.display``, ``protocolApplied[].doseNumber
  PositiveInt`` and ``targetDisease`` coded in ICD-10);
* ``GET {base}/persons/{snils}/exemptions`` — the person's медотводы. FHIR has no resource of this kind;
  they are ``Immunization`` resources with ``status`` ``not-done`` and ``statusReason`` ``MEDPREC``
  (v3 ActReason «medical precaution»), their period in the extension
  ``urn:mz:immunization-exemption-period`` (``valuePeriod``: start, end or open).

Errors are an ``OperationOutcome`` with an HTTP status: 401 (bad token), 404 (unknown person), 400 (bad
SNILS). :class:`RegisterRejected` is final; :class:`RegisterTransportError` (timeout, 5xx, unreadable
reply) may be retried.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Protocol, runtime_checkable

from integrations.common import errors as common

VACCINES_OID = "1.2.643.5.1.13.13.11.1078"
ICD10_OID = "1.2.643.5.1.13.13.11.1005"
EXEMPTION_PERIOD_URL = "urn:mz:immunization-exemption-period"


@dataclass(frozen=True, slots=True)
class RegisterImmunization:
    """One vaccination as the register holds it."""

    id: str
    given_on: date
    vaccine_code: str | None  # НСИ 1078
    vaccine_name: str | None  # the trade name or the book's name
    target_diseases: tuple[str, ...]  # ICD-10 codes
    dose_number: int | None
    lot: str | None
    clinic: str | None
    performer: str | None


@dataclass(frozen=True, slots=True)
class RegisterExemption:
    """A medical exemption (медотвод): from ``start`` to ``end`` inclusive (``end`` None: permanent)."""

    id: str
    start: date
    end: date | None
    target_diseases: tuple[str, ...]  # ICD-10 codes; empty: every vaccination
    reason: str | None


class RegisterError(common.UpstreamError):
    """Base of everything the immunization register adapter raises (a rejection's ``code`` is the register's)."""


class RegisterRejected(RegisterError):
    def __init__(self, code: str, message: str, *, status_code: int | None = None) -> None:
        super().__init__(f"[{code}] {message}")
        self.code = code
        self.message = message
        self.status_code = status_code


class RegisterAccessDenied(RegisterRejected):
    """The client's token was refused."""


class RegisterPersonNotFound(RegisterRejected):
    """The register knows no person with this SNILS."""


class RegisterBadRequest(RegisterRejected):
    """The request was malformed (a SNILS that is not 11 digits)."""


class RegisterTransportError(RegisterError, common.UpstreamTransportError):
    """The register gave no usable answer; the call may be retried."""


class RegisterTimeout(RegisterTransportError, common.UpstreamTimeout):
    """No reply within the client's deadline."""


class RegisterUnavailable(RegisterTransportError, common.UpstreamUnavailable):
    """HTTP 5xx or a failed connection."""


class RegisterMalformedReply(RegisterTransportError, common.UpstreamMalformedReply):
    """The reply is not the contract's FHIR JSON."""


@runtime_checkable
class ImmunizationRegister(Protocol):
    async def immunizations(self, snils: str) -> list[RegisterImmunization]:
        """Every vaccination of the person, oldest first; :class:`RegisterPersonNotFound` if unknown."""
        ...

    async def exemptions(self, snils: str) -> list[RegisterExemption]:
        """The person's medical exemptions, current and past."""
        ...
