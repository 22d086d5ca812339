"""Issue 19: the register's documents appear in the vault beside the uploads, as references (never copies)."""

from __future__ import annotations

from backend.documents import service as documents
from tests.integration.documents.conftest import World


async def test_the_register_documents_are_the_vaults_references(world: World) -> None:
    rt = world.runtime
    refs = await rt.adapters.vault_register.list_for(world.patient.id)
    rows = await documents.list_documents(rt, world.patient.id, first=100)
    assert [r.id for r in refs] == [str(row.id) for row in rows]  # the same documents, newest first
    assert refs and all(r.kind.startswith("Документ из ЕГИСЗ") and r.title for r in refs)
