"""The committed contracts, rendered from the code: the GraphQL schema and the OpenAPI document."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from strawberry.printer import print_schema

from backend.api.schema import build_schema
from backend.app import create_app
from backend.settings import load_settings

GRAPHQL_SCHEMA = "graphql/schema.graphql"
OPENAPI = "openapi/openapi.json"


def render_contracts(extra_schema_modules: Sequence[ModuleType] = ()) -> dict[str, str]:
    """Path → text of each contract as the code defines it (``extra_schema_modules``: as with
    ``create_app``, for a test that changes the code)."""
    # The contract is the production surface: render it with production-independent defaults.
    settings = load_settings(profile="embedded")
    schema_text = print_schema(build_schema(settings, extra_schema_modules)) + "\n"
    openapi = create_app(settings, extra_schema_modules=extra_schema_modules).openapi_schema.to_schema()
    return {
        GRAPHQL_SCHEMA: schema_text,
        OPENAPI: json.dumps(openapi, ensure_ascii=False, indent=2, sort_keys=True) + "\n",
    }


def stale_contracts(root: Path, rendered: dict[str, str] | None = None) -> list[str]:
    """The contracts under ``root`` that are missing or differ from ``rendered`` (default: the code's)."""
    rendered = render_contracts() if rendered is None else rendered
    stale = []
    for path, text in rendered.items():
        target = root / path
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            stale.append(path)
    return stale
