"""Attachment to a clinic (прикрепление к МО): the attachment-application contract, its client and simulator.

No public federal protocol exists; the contract is modelled on the EPGU application form and the ЕРЗЛ
attachment record (see :mod:`integrations.attachment.protocol`). The patient's area in a clinic comes
from the booking hub's ``GetPatientsAreas`` (:mod:`integrations.fer.areas`).

* :mod:`~integrations.attachment.protocol` — :class:`AttachmentRegistry`, the form, results, typed errors;
* :mod:`~integrations.attachment.wire` — the JSON shapes;
* :mod:`~integrations.attachment.client` — :class:`AttachmentClient` over httpx;
* :mod:`~integrations.attachment.simulator` — :func:`create_attachment_simulator` (imported on demand).
"""

from integrations.attachment.client import DEFAULT_ERROR_MAP, AttachmentClient
from integrations.attachment.protocol import (
    REJECTION_MESSAGES,
    ApplicationForm,
    ApplicationInfo,
    ApplicationNotFound,
    ApplicationPending,
    ApplicationStatus,
    AttachmentAccessDenied,
    AttachmentBadRequest,
    AttachmentError,
    AttachmentMalformedReply,
    AttachmentMethod,
    AttachmentRecord,
    AttachmentRefusal,
    AttachmentRegistry,
    AttachmentTimeout,
    AttachmentTransportError,
    AttachmentUnavailable,
    IdentityDocument,
    OrganisationNotFound,
    PersonData,
    PersonNotInsured,
    RejectionReason,
    Representative,
    StatusStep,
)

__all__ = [
    "DEFAULT_ERROR_MAP",
    "REJECTION_MESSAGES",
    "ApplicationForm",
    "ApplicationInfo",
    "ApplicationNotFound",
    "ApplicationPending",
    "ApplicationStatus",
    "AttachmentAccessDenied",
    "AttachmentBadRequest",
    "AttachmentClient",
    "AttachmentError",
    "AttachmentMalformedReply",
    "AttachmentMethod",
    "AttachmentRecord",
    "AttachmentRefusal",
    "AttachmentRegistry",
    "AttachmentTimeout",
    "AttachmentTransportError",
    "AttachmentUnavailable",
    "IdentityDocument",
    "OrganisationNotFound",
    "PersonData",
    "PersonNotInsured",
    "RejectionReason",
    "Representative",
    "StatusStep",
]
