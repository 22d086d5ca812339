"""The committed contracts are what the code exports: a change to the API must update them."""

from __future__ import annotations

from pathlib import Path

from backend.contracts import render_contracts

ROOT = Path(__file__).resolve().parents[2]


def test_committed_contracts_match_the_code() -> None:
    rendered = render_contracts()
    assert set(rendered) == {"graphql/schema.graphql", "openapi/openapi.json"}
    for path, text in rendered.items():
        committed = (ROOT / path).read_text(encoding="utf-8")
        assert committed == text, f"{path} is stale: run `moe-zdorovye export-contracts` and commit it"


def test_contract_drift_is_detected(tmp_path: Path) -> None:
    rendered = render_contracts()
    schema = rendered["graphql/schema.graphql"]
    assert "type Query" in schema
    assert "interface Node" in schema
    tampered = schema.replace("apiInfo: ApiInfo!", "apiInfo: ApiInfo")
    assert tampered != schema
