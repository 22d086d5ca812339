"""НСИ Минздрава (ФНСИ): the port, the REST client, the offline snapshot and terminology; the simulator
(``integrations.nsi.simulator``) is imported on demand, so the client does not pull in Litestar."""

from integrations.nsi.build import build_nsi_client
from integrations.nsi.client import NsiClient, fetch_all_rows
from integrations.nsi.protocol import (
    NsiAccessDenied,
    NsiBookNotFound,
    NsiError,
    NsiKey,
    NsiMalformedReply,
    NsiPage,
    NsiPassport,
    NsiRejected,
    NsiTimeout,
    NsiTransportError,
    NsiUnavailable,
    NsiVersion,
    ReferenceBooks,
)
from integrations.nsi.snapshot import Book, Concept, Terminology, UnknownCode, default_terminology, load_books

__all__ = [
    "Book",
    "Concept",
    "NsiAccessDenied",
    "NsiBookNotFound",
    "NsiClient",
    "NsiError",
    "NsiKey",
    "NsiMalformedReply",
    "NsiPage",
    "NsiPassport",
    "NsiRejected",
    "NsiTimeout",
    "NsiTransportError",
    "NsiUnavailable",
    "NsiVersion",
    "ReferenceBooks",
    "Terminology",
    "UnknownCode",
    "build_nsi_client",
    "default_terminology",
    "fetch_all_rows",
    "load_books",
]
