"""ИЭМК / РЭМД: the patient-side port of the documents domain, its HTTP client, СЭМД (CDA R2, Russian
profile) building, parsing and XSD validation, detached CMS signatures; the simulator
(``integrations.iemk.simulator``) is imported on demand, so the client does not pull in Litestar.
"""

from integrations.iemk.build import build_iemk_client
from integrations.iemk.cda import CdaBuilder, CdaMalformed, ParsedDocument, parse_cda
from integrations.iemk.client import DEFAULT_BASE_PATH, IemkClient
from integrations.iemk.cms import (
    CmsSigner,
    CommandCmsSigner,
    RsaCmsSigner,
    SignatureCheck,
    SignatureReport,
    check_detached,
    openssl_gost_verifier,
    verify_detached,
)
from integrations.iemk.facts import HealthFact, document_facts
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
    IemkError,
    IemkMalformedReply,
    IemkRejected,
    IemkTimeout,
    IemkTransportError,
    IemkUnavailable,
    MedicalDocuments,
    PatientNotFound,
    Registration,
    RegistrationError,
    RegistrationNotFound,
    RegistrationStatus,
    SignatureRole,
)
from integrations.iemk.types import SEMD_TYPES, SemdType
from integrations.iemk.validation import ValidationReport, validate_cda

__all__ = [
    "DEFAULT_BASE_PATH",
    "SEMD_TYPES",
    "CdaBuilder",
    "CdaMalformed",
    "CmsSigner",
    "CommandCmsSigner",
    "DetachedSignature",
    "DocumentAuthor",
    "DocumentFile",
    "DocumentMetadata",
    "DocumentNotFound",
    "DocumentPage",
    "DocumentRendering",
    "HealthFact",
    "IemkAccessDenied",
    "IemkBadRequest",
    "IemkClient",
    "IemkError",
    "IemkMalformedReply",
    "IemkRejected",
    "IemkTimeout",
    "IemkTransportError",
    "IemkUnavailable",
    "MedicalDocuments",
    "ParsedDocument",
    "PatientNotFound",
    "Registration",
    "RegistrationError",
    "RegistrationNotFound",
    "RegistrationStatus",
    "RsaCmsSigner",
    "SemdType",
    "SignatureCheck",
    "SignatureReport",
    "SignatureRole",
    "ValidationReport",
    "build_iemk_client",
    "check_detached",
    "document_facts",
    "openssl_gost_verifier",
    "parse_cda",
    "validate_cda",
    "verify_detached",
]
