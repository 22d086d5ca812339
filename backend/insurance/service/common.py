"""What the insurance services share: the upstream's errors as typed problems, the patient, the region's day."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from backend.identity import service as identity
from backend.identity.service import PatientView
from backend.insurance import problems as p
from integrations.erzl import (
    CaseNotFound,
    ChangeNotAllowed,
    ChangePending,
    ConsentRequired,
    DisputeExists,
    ErzlError,
    ErzlRefusal,
    ErzlTransportError,
    InsuranceRegister,
    InsurerNotFound,
    PersonNotFound,
    ReopenNotAllowed,
)

if TYPE_CHECKING:
    from backend.runtime import Runtime

#: How long a stored policy answer is shown without asking the register again.
POLICY_FRESH_S = 6 * 3600


def register(runtime: Runtime) -> InsuranceRegister:
    return runtime.adapters.erzl


def local_today(runtime: Runtime) -> date:
    return runtime.now().astimezone(ZoneInfo(runtime.settings.region_timezone)).date()


def aware(runtime: Runtime, local: datetime) -> datetime:
    """A naive local moment of the upstream as an aware one (the region's time zone)."""
    if local.tzinfo is not None:
        return local
    return local.replace(tzinfo=ZoneInfo(runtime.settings.region_timezone))


def problem_of(exc: ErzlError) -> p.InsuranceProblem:
    """The typed problem an upstream error becomes (a transport error: "unavailable, nothing was sent")."""
    if isinstance(exc, ErzlTransportError):
        return p.InsuranceServiceUnavailable.default(exc.user_message)
    mapped: dict[type[ErzlRefusal], p.InsuranceProblem] = {
        PersonNotFound: p.PolicyNotFound.default(),
        ConsentRequired: p.ConsentRequired.default(),
        CaseNotFound: p.CaseNotFound.default(),
        DisputeExists: p.DisputeExists.default(),
        ReopenNotAllowed: p.ReopenNotAllowed.default(),
        InsurerNotFound: p.InsurerNotFound.default(),
        ChangePending: p.ChangePending.default(),
        ChangeNotAllowed: p.ChangeNotAllowedYet.default(
            f"{p.ChangeNotAllowedYet.MESSAGE} Ответ регистра: {exc.message}." if isinstance(exc, ErzlRefusal) else None
        ),
    }
    for kind, problem in mapped.items():
        if isinstance(exc, kind):
            return problem
    return p.InsuranceRefused.default(exc.user_message)


async def patient_of(session: AsyncSession, patient_id: uuid.UUID) -> PatientView:
    patient = await identity.get_patient(session, patient_id)
    if patient is None:  # pragma: no cover - the policy let an actor act for a patient that exists
        raise p.fail(p.InvalidInput.of("actingFor", "Пациент не найден."))
    return patient


def consent_id(patient: PatientView) -> str:
    """The consent reference sent with a register search.

    The person consents to the Минцифры–ФФОМС exchange when they log in with ESIA and allow the
    ``medical_doc`` scope (EPGU asks the same consent before «Получите данные о своём полисе ОМС»); we send
    that login's reference. A person we know only by SNILS (an operator's caller) is searched under the
    consent the operator takes on the call, named by the patient id.
    """
    return f"esia:{patient.esia_oid}" if patient.esia_oid else f"mz:{patient.id}"
