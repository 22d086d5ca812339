"""Identity helpers for every domain's tests: patients, valid tokens for each kind of caller, headers.

    patient = await make_patient(runtime)
    headers = auth_headers(token_for(runtime, patient.id))
    operator = auth_headers(await operator_on_behalf_token(runtime, patient.id))
    kiosk = auth_headers(await kiosk_session_token(runtime, patient.id))

``token_for`` mints a session-less token (no database round trip); the on-behalf and kiosk helpers open
real sessions, so idle timeouts and revocation apply to them as in production.
"""

from __future__ import annotations

import datetime
import itertools
import os
import uuid
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from types import ModuleType
from typing import Any

import httpx
from litestar import Litestar, Router

from backend.api.schema import DOMAIN_MODULES
from backend.app import API_V1, REST_MODULES, create_app
from backend.core.context import ActorKind, Channel
from backend.identity import policy, routes, schema, sessions, tokens
from backend.identity.models import Patient, ProxyGrant
from backend.identity.policy import ALL_PATIENT_SCOPES, KIOSK_SCOPES, OPERATOR_SCOPES
from backend.identity.service import PatientView
from backend.runtime import Runtime

_counter = itertools.count(1)
_RUN = os.getpid() % 10_000


def _unique() -> int:
    return _RUN * 1_000_000 + next(_counter)


def _snils(n: int) -> str:
    digits = f"{n:09d}"[-9:]
    total = sum(int(d) * (9 - i) for i, d in enumerate(digits))
    check = total % 101 % 100
    return f"{digits[0:3]}-{digits[3:6]}-{digits[6:9]} {check:02d}"


async def make_patient(runtime: Runtime, **overrides: Any) -> PatientView:
    """A patient row with plausible defaults and a unique OMS policy, SNILS and ESIA oid."""
    n = _unique()
    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "esia_oid": f"9{n:010d}",
        "last_name": "Тестова",
        "first_name": "Анна",
        "middle_name": "Сергеевна",
        "birth_date": datetime.date(1985, 4, 12),
        "sex": "F",
        "snils": _snils(n),
        "oms_policy": f"26{n:014d}",
        "phone": f"+7928{n % 10_000_000:07d}",
        "email": f"patient{n}@example.ru",
    }
    values |= overrides
    async with runtime.sessionmaker() as session, session.begin():
        row = Patient(**values)
        session.add(row)
        await session.flush()
        view = PatientView.of(row)
    return view


def token_for(
    runtime: Runtime,
    patient_id: uuid.UUID,
    *,
    channel: Channel = Channel.MOBILE,
    scopes: Iterable[str] = ALL_PATIENT_SCOPES,
    actor: str | None = None,
    kind: ActorKind = ActorKind.PATIENT,
    ttl_s: int | None = None,
    audience: str | None = None,
) -> str:
    """A valid access token about ``patient_id`` (session-less: it is not bound to a revocable session).

    ``kind=OPERATOR`` / ``KIOSK`` with ``actor`` (the staff or kiosk id) makes an ``act`` token.
    """
    token, _ = tokens.issue_access_token(
        runtime,
        subject=str(patient_id),
        kind=kind,
        channel=channel,
        scopes=scopes,
        actor_id=actor if kind is not ActorKind.PATIENT else None,
        ttl_s=ttl_s,
        audience=audience,
    )
    return token


def auth_headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _session_token(runtime: Runtime, **kwargs: Any) -> str:
    at = tokens.now(runtime)
    async with runtime.sessionmaker() as session, session.begin():
        row = await sessions.open_session(session, at=at, **kwargs)
        token, _ = sessions.access_token(runtime, row)
    return token


async def operator_on_behalf_token(
    runtime: Runtime,
    patient_id: uuid.UUID,
    *,
    operator_id: str | None = None,
    scopes: Iterable[str] = OPERATOR_SCOPES,
    sensitive: bool = False,
) -> str:
    """An operator's on-behalf session token for ``patient_id`` (``sensitive``: the SMS code was confirmed)."""
    granted = set(scopes) | ({policy.SCOPE_SENSITIVE} if sensitive else set())
    return await _session_token(
        runtime,
        kind=sessions.SessionKind.ON_BEHALF,
        channel=Channel.CALLCENTRE,
        ttl_s=runtime.settings.operator_session_ttl_s,
        scopes=granted,
        patient_id=patient_id,
        actor_id=operator_id or str(uuid.uuid4()),
    )


async def operator_token(runtime: Runtime, *, operator_id: str | None = None) -> str:
    """A staff login token (no caller identified yet)."""
    return await _session_token(
        runtime,
        kind=sessions.SessionKind.STAFF,
        channel=Channel.CALLCENTRE,
        ttl_s=runtime.settings.operator_session_ttl_s,
        scopes={policy.SCOPE_STAFF, policy.SCOPE_GUARDIANSHIP_REVIEW},
        actor_id=operator_id or str(uuid.uuid4()),
    )


async def kiosk_session_token(
    runtime: Runtime, patient_id: uuid.UUID, *, kiosk_id: str = "kiosk-test-1", scopes: Iterable[str] = KIOSK_SCOPES
) -> str:
    """A kiosk session for ``patient_id`` (idle timeout from the settings, sliding)."""
    return await _session_token(
        runtime,
        kind=sessions.SessionKind.KIOSK,
        channel=Channel.KIOSK,
        ttl_s=runtime.settings.kiosk_idle_timeout_s * 10,
        idle_timeout_s=runtime.settings.kiosk_idle_timeout_s,
        scopes=scopes,
        patient_id=patient_id,
        actor_id=kiosk_id,
        client_id=kiosk_id,
    )


async def kiosk_device_token(runtime: Runtime, *, kiosk_id: str = "kiosk-test-1") -> str:
    """A kiosk device's own token (it may identify patients)."""
    return await _session_token(
        runtime,
        kind=sessions.SessionKind.KIOSK_DEVICE,
        channel=Channel.KIOSK,
        ttl_s=3600,
        scopes={policy.SCOPE_KIOSK_IDENTIFY},
        actor_id=kiosk_id,
        client_id=kiosk_id,
    )


async def grant_proxy(
    runtime: Runtime,
    principal_id: uuid.UUID,
    proxy_id: uuid.UUID,
    *,
    scopes: Iterable[str] = ALL_PATIENT_SCOPES,
    expires_at: datetime.datetime | None = None,
    kind: str = "trusted_adult",
) -> uuid.UUID:
    """An active proxy grant (as if confirmed): ``proxy_id`` may act for ``principal_id``."""
    at = tokens.now(runtime)
    grant = ProxyGrant(
        id=uuid.uuid4(),
        principal_id=principal_id,
        proxy_id=proxy_id,
        kind=kind,
        status="active",
        scopes=sorted(set(scopes)),
        expires_at=expires_at,
        document={},
        created_at=at,
        confirmed_at=at,
        confirmed_by="test",
    )
    async with runtime.sessionmaker() as session, session.begin():
        session.add(grant)
    return grant.id


def identity_schema_modules() -> list[ModuleType]:
    """Identity's schema module unless the schema already includes it (DOMAIN_MODULES)."""
    return [] if schema.__name__ in DOMAIN_MODULES else [schema]


def identity_app(runtime: Runtime, modules: Iterable[ModuleType] = ()) -> Litestar:
    """The app with identity's schema, REST routes (/api/v1) and JWKS (root) mounted."""
    app = create_app(runtime=runtime, extra_schema_modules=[*identity_schema_modules(), *modules])
    paths = {route.path for route in app.routes}
    if routes.__name__ not in REST_MODULES:
        app.register(Router(path=API_V1, route_handlers=routes.ROUTES))
    if "/.well-known/jwks.json" not in paths:
        app.register(routes.jwks)
    return app


@asynccontextmanager
async def identity_client(
    runtime: Runtime, modules: Iterable[ModuleType] = (), *, base_url: str = "http://testserver"
) -> AsyncIterator[httpx.AsyncClient]:
    """:func:`identity_app` over ASGI."""
    app = identity_app(runtime, modules)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
        yield client
