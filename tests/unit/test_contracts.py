"""The committed contracts are what the code exports: a change to the API must update them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from backend.contracts import render_contracts, stale_contracts
from tests.support import testschema

ROOT = Path(__file__).resolve().parents[2]


def test_committed_contracts_match_the_code() -> None:
    rendered = render_contracts()
    assert set(rendered) == {"graphql/schema.graphql", "openapi/openapi.json"}
    for path, text in rendered.items():
        committed = (ROOT / path).read_text(encoding="utf-8")
        assert committed == text, f"{path} is stale: run `moe-zdorovye export-contracts` and commit it"
    assert stale_contracts(ROOT, rendered) == []


def _copy_committed(to: Path) -> None:
    for path in ("graphql/schema.graphql", "openapi/openapi.json"):
        (to / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / path, to / path)


def test_contract_drift_is_detected(tmp_path: Path) -> None:
    """The check (``export-contracts --check``) reports code the contracts do not describe, and contracts
    edited by hand, each contract on its own."""
    rendered = render_contracts()
    _copy_committed(tmp_path)
    assert stale_contracts(tmp_path, rendered) == []
    # The code changes: a module adds root fields and types; the committed schema no longer describes it.
    changed = render_contracts(extra_schema_modules=[testschema])
    assert "writeOk" in changed["graphql/schema.graphql"]
    assert stale_contracts(tmp_path, changed) == ["graphql/schema.graphql"]
    # A committed contract is edited: a non-null field made nullable, a REST path removed, a file deleted.
    schema = tmp_path / "graphql/schema.graphql"
    text = schema.read_text(encoding="utf-8")
    assert "apiInfo: ApiInfo!" in text
    schema.write_text(text.replace("apiInfo: ApiInfo!", "apiInfo: ApiInfo"), encoding="utf-8")
    assert stale_contracts(tmp_path, rendered) == ["graphql/schema.graphql"]
    _copy_committed(tmp_path)
    openapi = tmp_path / "openapi/openapi.json"
    document = json.loads(openapi.read_text(encoding="utf-8"))
    document["paths"].pop(sorted(document["paths"])[0])
    openapi.write_text(json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    assert stale_contracts(tmp_path, rendered) == ["openapi/openapi.json"]
    openapi.unlink()
    assert stale_contracts(tmp_path, rendered) == ["openapi/openapi.json"]
