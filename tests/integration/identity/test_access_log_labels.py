"""myAccessLog speaks Russian: a name for every audited action and outcome, and each mutation once."""

from __future__ import annotations

import ast
import re
from datetime import date, timedelta
from pathlib import Path

import pytest
from graphql import GraphQLObjectType

from backend.api.schema import build_schema
from backend.identity.access_labels import ACTION_LABELS, OUTCOME_LABELS
from backend.runtime import Runtime
from backend.settings import Settings
from tests.support.client import gql
from tests.support.identity import auth_headers, identity_client, make_patient, token_for

ROOT = Path(__file__).resolve().parents[3]
SOURCES = [ROOT / "backend", ROOT / "notifications"]
ACTION = re.compile(r"^[a-z_]+(\.[a-z_]+)+$")
CODE = re.compile(r"^[A-Z][A-Z_]+$")
AUDIT_CALLS = {"audit", "record", "record_now", "_audit_refusal", "_audit", "row"}
CYRILLIC = re.compile(r"[А-Яа-яЁё]")
LOG = "query { myAccessLog(first: 50) { action outcome outcomeText actor } }"
GRANT = """mutation($s: String!, $b: Date!, $e: Date!) {
  grantProxy(proxySnils: $s, proxyBirthDate: $b, scopes: ["booking"], expiresOn: $e) { __typename }
}"""


def _trees() -> list[ast.AST]:
    return [ast.parse(path.read_text()) for root in SOURCES for path in sorted(root.rglob("*.py"))]


def _audited_actions() -> set[str]:
    """Action names passed to the audit helpers anywhere in the code (and the constants they default to)."""
    found: set[str] = set()
    for tree in _trees():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
                if name in AUDIT_CALLS:
                    for arg in [*node.args, *(k.value for k in node.keywords if k.arg == "action")]:
                        found |= {c.value for c in ast.walk(arg) if isinstance(c, ast.Constant) and _is(ACTION, c)}
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name in AUDIT_CALLS:
                defaults = [*node.args.defaults, *(d for d in node.args.kw_defaults if d is not None)]
                found |= {d.value for d in defaults if isinstance(d, ast.Constant) and _is(ACTION, d)}
            if isinstance(node, ast.Assign) and any(getattr(t, "id", "").endswith("_ACTION") for t in node.targets):
                found |= (
                    {node.value.value} if isinstance(node.value, ast.Constant) and _is(ACTION, node.value) else set()
                )
    return found


def _refusal_codes() -> set[str]:
    """Every problem code: ``CODE = "…"`` on a problem class, ``code="…"`` where a problem is built."""
    found: set[str] = set()
    for tree in _trees():
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                if any(getattr(t, "id", None) == "CODE" for t in targets) and isinstance(node.value, ast.Constant):
                    found |= {node.value.value} if _is(CODE, node.value) else set()
            if isinstance(node, ast.keyword) and node.arg == "code" and isinstance(node.value, ast.Constant):
                found |= {node.value.value} if _is(CODE, node.value) else set()
    return found


def _is(pattern: re.Pattern[str], node: ast.Constant) -> bool:
    return isinstance(node.value, str) and bool(pattern.match(node.value))


def test_every_audited_action_and_mutation_has_a_russian_name(settings: Settings) -> None:
    schema = build_schema(settings)
    mutation = schema._schema.mutation_type
    assert isinstance(mutation, GraphQLObjectType)
    actions = _audited_actions() | set(mutation.fields)
    assert {"booking.appointment_booked", "access.denied", "holdSlot"} <= actions  # the scan finds them
    missing = sorted(a for a in actions if a not in ACTION_LABELS)
    assert not missing, f"add Russian names to backend/identity/access_labels.py: {missing}"
    assert all(CYRILLIC.search(label) for label in ACTION_LABELS.values())


def test_every_refusal_code_has_a_russian_name() -> None:
    codes = _refusal_codes()
    assert {"SAME_SPECIALTY_ACTIVE", "SLOT_TAKEN", "WRONG_CODE", "TOO_MANY_ATTEMPTS"} <= codes
    missing = sorted(c for c in codes | {"CODE_REPLAY"} if c not in OUTCOME_LABELS)
    assert not missing, f"add Russian names to backend/identity/access_labels.py: {missing}"
    assert all(CYRILLIC.search(label) for label in OUTCOME_LABELS.values())


@pytest.mark.dialect
async def test_the_log_shows_each_mutation_once_in_russian(runtime: Runtime) -> None:
    patient = await make_patient(runtime)
    proxy = await make_patient(runtime, birth_date=date(1970, 1, 1))
    headers = auth_headers(token_for(runtime, patient.id))
    expires = (date.today() + timedelta(days=30)).isoformat()
    async with identity_client(runtime) as client:
        done = await gql(client, GRANT, {"s": proxy.snils, "b": "1970-01-01", "e": expires}, headers=headers)
        refused = await gql(client, GRANT, {"s": proxy.snils, "b": "1970-01-02", "e": expires}, headers=headers)
        entries = (await gql(client, LOG, headers=headers))["data"]["myAccessLog"]
    assert done["data"]["grantProxy"]["__typename"] == "ProxyGrantPending"
    assert refused["data"]["grantProxy"]["__typename"] == "ProxyNotFound"
    grants = [(e["action"], e["outcomeText"]) for e in entries if e["action"] == "Запрос доверенности"]
    assert sorted(grants) == [
        ("Запрос доверенности", "Выполнено"),
        ("Запрос доверенности", "Доверенное лицо не найдено"),
    ]
    for entry in entries:
        assert CYRILLIC.search(entry["action"]) and CYRILLIC.search(entry["outcomeText"]), entry
        assert not ACTION.match(entry["action"]) and not re.search(r"[a-z][A-Z]", entry["action"]), entry
