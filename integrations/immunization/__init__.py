"""The immunization register (history before СЭМД 170, medical exemptions): port, FHIR-modelled client,
simulator. See :mod:`integrations.immunization.protocol` for what the contract is modelled on."""

from integrations.immunization.client import ImmunizationClient
from integrations.immunization.protocol import (
    ImmunizationRegister,
    RegisterAccessDenied,
    RegisterBadRequest,
    RegisterError,
    RegisterExemption,
    RegisterImmunization,
    RegisterMalformedReply,
    RegisterPersonNotFound,
    RegisterRejected,
    RegisterTimeout,
    RegisterTransportError,
    RegisterUnavailable,
)

__all__ = [
    "ImmunizationClient",
    "ImmunizationRegister",
    "RegisterAccessDenied",
    "RegisterBadRequest",
    "RegisterError",
    "RegisterExemption",
    "RegisterImmunization",
    "RegisterMalformedReply",
    "RegisterPersonNotFound",
    "RegisterRejected",
    "RegisterTimeout",
    "RegisterTransportError",
    "RegisterUnavailable",
]
