"""The register's documents (IEMK/REMD, the documents domain) as the vault shows them: references beside
the uploads, never copies.

The vault depends on this Protocol only; the composition root plugs the documents domain's service in
(``runtime.adapters.vault_register``). Until it does, :class:`NoRegisterDocuments` answers an empty list.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Protocol


@dataclass(frozen=True)
class RegisterDocumentRef:
    """One document of the register, as a reference: where it is opened is the documents domain's business."""

    id: str
    title: str
    document_date: date | None
    clinic: str | None
    kind: str  # e.g. "Выписка", "Протокол исследования"


class RegisterDocuments(Protocol):
    async def list_for(self, patient_id: uuid.UUID) -> list[RegisterDocumentRef]:
        """The patient's documents in the register (newest first)."""
        ...


class NoRegisterDocuments:
    """The default: no documents domain plugged in."""

    async def list_for(self, patient_id: uuid.UUID) -> list[RegisterDocumentRef]:
        return []
