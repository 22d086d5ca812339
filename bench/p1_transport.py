"""P1: the GraphQL path vs a plain Litestar endpoint serving the same rows from the same process.

Both sides run in one Granian worker (``create_bench_app``: the real app plus one plain route) and are
loaded by wrk from another process. The GraphQL side sends the mobile client's trusted ``Organisations``
document by hash (20 items with their district), the plain side answers the same JSON shape from the
same service functions. Printed: requests/s of each, p50/p99, and the ratio (target ≥ 50 %).
"""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import Litestar, post
from litestar.datastructures import State
from strawberry.relay import to_base64

from bench.common import ROOT, bench_database, check_graphql, run_wrk, served, show

ITEMS = 20


@post("/bench/plain/organisations")
async def plain_organisations(state: State) -> dict[str, Any]:
    from backend.directory import service as directory

    runtime = state.runtime
    async with runtime.sessionmaker() as session:
        rows = await directory.list_organisations(session, limit=ITEMS)
        districts = await directory.districts_by_ids(session, list({r.district_id for r in rows}))
    edges = []
    for row in rows:
        district = districts[row.district_id]
        edges.append(
            {
                "cursor": "",
                "node": {
                    "id": to_base64("MedicalOrganisation", str(row.id)),
                    "oid": row.oid,
                    "name": row.name,
                    "shortName": row.short_name,
                    "kind": row.kind,
                    "address": row.address,
                    "phone": row.phone,
                    "location": None
                    if row.latitude is None
                    else {"latitude": row.latitude, "longitude": row.longitude},
                    "district": {"id": to_base64("District", district.upstream_id), "name": district.name},
                },
            }
        )
    return {"data": {"organisations": {"edges": edges, "pageInfo": {"hasNextPage": True, "endCursor": None}}}}


def create_bench_app() -> Litestar:
    from backend.app import create_app

    app = create_app()
    app.register(plain_organisations)
    return app


async def _prepare(env: dict[str, str]) -> None:
    from backend.cli import alembic_config
    from backend.demo.seed import seed_demo_region
    from backend.settings import load_settings

    settings = load_settings(**{k.removeprefix("MZ_").lower(): v for k, v in env.items() if k.startswith("MZ_")})
    from alembic import command

    await asyncio.to_thread(command.upgrade, alembic_config(settings.database_url), "head")  # type: ignore[arg-type]
    await seed_demo_region(settings, scale="full", seed=26)


def main(seconds: int = 10, connections: int = 32) -> dict[str, float]:
    from backend.api.trusted import document_hash

    db = bench_database("p1")
    env = {
        "MZ_PROFILE": "test",
        "MZ_DATABASE_URL": db,
        "MZ_LOG_LEVEL": "WARNING",
        "MZ_TRUSTED_DOCUMENTS_ONLY": "true",
    }
    asyncio.run(_prepare(env))
    text = (ROOT / "graphql" / "mobile" / "Organisations.graphql").read_text(encoding="utf-8")
    graphql_body = {
        "variables": {"first": ITEMS},
        "extensions": {"persistedQuery": {"version": 1, "sha256Hash": document_hash(text)}},
    }
    with served("bench.p1_transport:create_bench_app", env) as base:
        check_graphql(f"{base}/graphql", graphql_body, "organisations")
        run_wrk(f"{base}/bench/plain/organisations", body={}, seconds=2, connections=connections)  # warm-up
        plain = run_wrk(f"{base}/bench/plain/organisations", body={}, seconds=seconds, connections=connections)
        run_wrk(f"{base}/graphql", body=graphql_body, seconds=2, connections=connections)
        graph = run_wrk(f"{base}/graphql", body=graphql_body, seconds=seconds, connections=connections)
    figures = {
        "plain_rps": round(plain.requests_per_s, 1),
        "graphql_rps": round(graph.requests_per_s, 1),
        "ratio_pct": round(100 * graph.requests_per_s / plain.requests_per_s, 1),
        "plain_p50_ms": plain.p50_ms,
        "plain_p99_ms": plain.p99_ms,
        "graphql_p50_ms": graph.p50_ms,
        "graphql_p99_ms": graph.p99_ms,
        "errors": plain.non_2xx + plain.errors + graph.non_2xx + graph.errors,
    }
    show(f"P1 trusted query of {ITEMS} organisations vs plain Litestar (target ratio ≥ 50 %)", figures)
    return figures


if __name__ == "__main__":
    main()
