"""The committed contracts, rendered from the code: the GraphQL schema and the OpenAPI document."""

from __future__ import annotations

import json

from strawberry.printer import print_schema

from backend.api.schema import build_schema
from backend.app import create_app
from backend.settings import load_settings

GRAPHQL_SCHEMA = "graphql/schema.graphql"
OPENAPI = "openapi/openapi.json"


def render_contracts() -> dict[str, str]:
    # The contract is the production surface: render it with production-independent defaults.
    settings = load_settings(profile="embedded")
    schema_text = print_schema(build_schema(settings)) + "\n"
    openapi = create_app(settings).openapi_schema.to_schema()
    return {
        GRAPHQL_SCHEMA: schema_text,
        OPENAPI: json.dumps(openapi, ensure_ascii=False, indent=2, sort_keys=True) + "\n",
    }
