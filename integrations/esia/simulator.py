"""An in-process ESIA (ЕСИА) for tests and demos: OAuth endpoints, a login page, person REST, logout.

Reproduces protocols.md 1.9: ``/aas/oauth2/v2/ac`` checks mandatory parameters, the registered
``redirect_uri`` (ESIA-007023), the timestamp skew (007015) and ``client_secret`` over the exact
concatenation (007053), then shows a Russian login page listing the demo people; ``/aas/oauth2/v3/te``
issues JWTs with ESIA's header fields for one-time codes (reuse → 007011) and refresh tokens;
``/rs/prns/{oid}`` serves link collections or ``?embed=``, 401 for a bad token, 403 for a scope not
granted; ``/idp/ext/Logout`` ends the session. Signatures are pluggable: RS256/ES256 keys by default,
a GOST verifier/signer if one is given. Faults (``FaultInjector``) apply to ``te`` and person REST.

Simulator-only endpoints (no ESIA counterpart): ``POST /aas/oauth2/v2/ac/login`` (the login form's
target), ``GET /esia-sim/jwks.json`` and ``GET /esia-sim/public-key.pem`` (the token-signing key).
"""

from __future__ import annotations

import hashlib
import html
import json
import secrets
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from litestar import Litestar, Request, get, post
from litestar.enums import MediaType
from litestar.response import Redirect, Response

from integrations.common.faults import Fault, FaultInjector, FaultProfile
from integrations.common.simulator import simulator_app, state_of
from integrations.demo_region.model import Person
from integrations.esia.client import TEST_ISSUER
from integrations.esia.protocol import ESIA_ERRORS, esia_error_description
from integrations.esia.signer import (
    EcSigner,
    PublicKey,
    RsaSigner,
    Signer,
)
from integrations.esia.sim_state import (
    _AC_REQUIRED,
    _COLLECTIONS,
    _CONTACT_SCOPES,
    _DOCUMENT_SCOPES,
    _KID_DOCUMENT_SCOPES,
    _KID_FIELDS,
    _ROOT_FIELDS,
    _UUID4,
    SCOPE_LABELS,
    EsiaProtocolError,
    EsiaSimulatorState,
    RegisteredClient,
    _Grant,
    _PendingLogin,
)

# ---------------------------------------------------------------------------------------------- helpers


def simulator_state(app: Litestar) -> EsiaSimulatorState:
    return state_of(app, EsiaSimulatorState)


def _single_valued(items: Iterable[tuple[str, Any]]) -> dict[str, str]:
    values: dict[str, str] = {}
    for key, value in items:
        if key in values:
            raise EsiaProtocolError("ESIA-007003")  # a parameter given several times
        values[key] = str(value)
    return values


def _with_query(url: str, params: Mapping[str, str]) -> str:
    return f"{url}{'&' if urlsplit(url).query else '?'}{urlencode(params)}"


def _error_redirect(redirect_uri: str, code: str, state: str | None) -> Response[Any]:
    params = {"error": ESIA_ERRORS[code].oauth_error, "error_description": esia_error_description(code)}
    if state:
        params["state"] = state
    return Redirect(_with_query(redirect_uri, params), status_code=302)


def _json_error(code: str, state: str | None, status_code: int = 400) -> Response[Any]:
    body: dict[str, str] = {
        "error": ESIA_ERRORS[code].oauth_error,
        "error_description": esia_error_description(code),
    }
    if state:
        body["state"] = state
    return Response(content=body, status_code=status_code, media_type=MediaType.JSON)


_PAGE_STYLE = """
body{font-family:Arial,Helvetica,sans-serif;background:#f5f7fa;color:#0b1f33;margin:0}
main{max-width:640px;margin:40px auto;background:#fff;border-radius:8px;padding:32px;box-shadow:0 2px 8px #0002}
h1{font-size:24px;margin-top:0}.muted{color:#66727f;font-size:14px}ul.scopes{padding-left:20px}
form.person{display:flex;justify-content:space-between;align-items:center;border-top:1px solid #e1e4e8;padding:12px 0}
button{background:#0d4cd3;color:#fff;border:0;border-radius:6px;padding:10px 18px;font-size:15px;cursor:pointer}
button.secondary{background:#fff;color:#0d4cd3;border:1px solid #0d4cd3}.error{color:#b00020}
"""


def _page(title: str, body: str, status_code: int = 200) -> Response[Any]:
    document = (
        '<!DOCTYPE html><html lang="ru"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{_PAGE_STYLE}</style></head>"
        f"<body><main>{body}</main></body></html>"
    )
    return Response(content=document, status_code=status_code, media_type=MediaType.HTML)  # Litestar adds the charset


def _error_page(code: str) -> Response[Any]:
    return _page(
        "Ошибка — Госуслуги",
        "<h1>Не удалось выполнить вход</h1>"
        f'<p class="error" id="esia-error" data-code="{code}">{html.escape(esia_error_description(code))}</p>'
        '<p class="muted">Обратитесь в службу поддержки информационной системы.</p>',
        status_code=400,
    )


def _login_page(sim: EsiaSimulatorState, tx: str, login: _PendingLogin) -> Response[Any]:
    scopes = "".join(f"<li>{html.escape(SCOPE_LABELS.get(s, s))}</li>" for s in login.scopes)
    hidden = f'<input type="hidden" name="tx" value="{html.escape(tx)}">'
    action = "ac/login"  # relative to /aas/oauth2/v2/ac, so it also works when the simulator is mounted
    people = [p for p in sim.people.values() if p.parent_oid is None][: sim.login_page_limit]
    rows = "".join(
        f'<form class="person" method="post" action="{action}">{hidden}'
        f'<input type="hidden" name="oid" value="{html.escape(p.esia_oid)}">'
        f"<div><b>{html.escape(p.full_name)}</b><br>"
        f'<span class="muted">{p.birth_date:%d.%m.%Y} · СНИЛС {html.escape(p.snils)}'
        f"{' · детей: ' + str(n) if (n := len(sim.children_of(p.esia_oid))) else ''}</span></div>"
        f'<button type="submit" name="action" value="login">Войти</button></form>'
        for p in people
    )
    body = (
        "<h1>Вход в «Мое здоровье» через Госуслуги</h1>"
        '<p class="muted">Демонстрационный стенд ЕСИА: пароль не нужен, выберите пользователя.</p>'
        f"<p>Система <b>{html.escape(login.client_id)}</b> запрашивает доступ к данным:</p>"
        f'<ul class="scopes">{scopes}</ul>{rows}'
        f'<form class="person" method="post" action="{action}">{hidden}'
        '<label>Другой пользователь (OID): <input name="oid" inputmode="numeric" required></label>'
        '<button type="submit" name="action" value="login">Войти</button></form>'
        f'<form method="post" action="{action}" style="margin-top:24px">{hidden}'
        '<button class="secondary" type="submit" name="action" value="deny">Отказаться</button></form>'
    )
    return _page("Вход — Госуслуги", body)


def _esia_date(value: Any) -> str:
    return f"{value:%d.%m.%Y}"


def _etag(person: Person) -> str:
    return hashlib.sha256(repr(person).encode("utf-8")).hexdigest()[:16].upper()


def _contacts(person: Person) -> list[dict[str, Any]]:
    items = [("MBT", person.phone), ("EML", person.email)]
    return [
        {"stateFacts": ["Identifiable"], "id": i, "type": t, "value": v, "vrfStu": "VERIFIED"}
        for i, (t, v) in enumerate(items, start=1)
        if v
    ]


def _addresses(person: Person) -> list[dict[str, Any]]:
    return [
        {"stateFacts": ["Identifiable"], "id": i, "type": t, "addressStr": person.address, "countryId": "RUS"}
        for i, t in enumerate(("PRG", "PLV"), start=1)
        if person.address
    ]


def _documents(person: Person) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    if person.passport:
        series, _, number = person.passport.rpartition(" ")
        docs.append({"id": 1, "type": "RF_PASSPORT", "series": series.replace(" ", ""), "number": number})
    if person.oms_policy:
        docs.append({"id": 2, "type": "MDCL_PLCY", "number": person.oms_policy, "medicalOrg": person.smo_name})
    if person.birth_certificate:
        series, _, number = person.birth_certificate.rpartition(" ")
        docs.append({"id": 3, "type": "BRTH_CERT", "series": series, "number": number})
    return [{"stateFacts": ["Identifiable"], "vrfStu": "VERIFIED", **d} for d in docs]


def _collection(items: list[dict[str, Any]], link: str, embedded: bool) -> dict[str, Any]:
    elements: list[Any] = items if embedded else [f"{link}/{item['id']}" for item in items]
    return {"stateFacts": ["hasSize"], "size": len(items), "elements": elements}


def _parse_embed(raw: str | None) -> set[str]:
    return {part.strip() for part in (raw or "").strip().strip("()").split(",") if part.strip()}


# ---------------------------------------------------------------------------------------------- /ac


def _sim(request: Request[Any, Any, Any]) -> EsiaSimulatorState:
    return simulator_state(request.app)


@get("/aas/oauth2/v2/ac", sync_to_thread=False)
def _authorize(request: Request[Any, Any, Any]) -> Response[Any]:
    sim = _sim(request)
    items = list(request.query_params.multi_items())
    first = dict(reversed(items))
    client_id, redirect_uri = first.get("client_id", ""), first.get("redirect_uri", "")
    if not client_id or not redirect_uri:
        return _error_page("ESIA-007014")
    if client_id not in sim.clients:
        return _error_page("ESIA-007002")
    if redirect_uri not in sim.clients[client_id].redirect_uris:
        return _error_page("ESIA-007023")  # never redirect to an unregistered address
    try:
        params = _single_valued(items)
        if any(not params.get(name) for name in _AC_REQUIRED):
            raise EsiaProtocolError("ESIA-007014")
        if params["response_type"] != "code":
            raise EsiaProtocolError("ESIA-007012")
        if params.get("access_type", "online") not in ("online", "offline"):
            raise EsiaProtocolError("ESIA-007003")
        if not _UUID4.match(params["state"]):
            raise EsiaProtocolError("ESIA-007003")
        scopes = sim.check_scopes(client_id, params["scope"])
        sim.check_client_request(client_id, params, code=None)
    except EsiaProtocolError as exc:
        return _error_redirect(redirect_uri, exc.code, first.get("state"))
    sim.prune()
    tx = secrets.token_urlsafe(24)
    pending = _PendingLogin(
        client_id=client_id,
        redirect_uri=redirect_uri,
        scopes=scopes,
        state=params["state"],
        access_type=params.get("access_type", "online"),
        expires_at=sim.now() + timedelta(minutes=15),
    )
    sim.pending_logins[tx] = pending
    return _login_page(sim, tx, pending)


@post("/aas/oauth2/v2/ac/login", status_code=302)
async def _login(request: Request[Any, Any, Any]) -> Response[Any]:
    sim = _sim(request)
    form = await request.form()
    pending = sim.pending_logins.pop(str(form.get("tx", "")), None)
    if pending is None or pending.expires_at <= sim.now():
        return _page(
            "Сеанс входа истек — Госуслуги",
            "<h1>Сеанс входа истек</h1><p>Вернитесь в приложение и начните вход заново.</p>",
            400,
        )
    if form.get("action") == "deny":
        return _error_redirect(pending.redirect_uri, "ESIA-007004", pending.state)
    oid = str(form.get("oid", "")).strip()
    if oid not in sim.people:
        return _page("Ошибка — Госуслуги", "<h1>Пользователь не найден</h1>", 400)
    code = secrets.token_urlsafe(48)
    sim.codes[code] = _Grant(
        client_id=pending.client_id,
        oid=oid,
        scopes=pending.scopes,
        session_id=str(uuid.uuid4()),
        access_type=pending.access_type,
        redirect_uri=pending.redirect_uri,
        expires_at=sim.now() + sim.code_ttl,
    )
    return Redirect(_with_query(pending.redirect_uri, {"code": code, "state": pending.state}), status_code=302)


# ---------------------------------------------------------------------------------------------- /te


@post("/aas/oauth2/v3/te", status_code=200)
async def _token(request: Request[Any, Any, Any]) -> Response[Any]:
    sim = _sim(request)
    fault = await sim.faults.before_reply()
    if fault in (Fault.ERROR, Fault.TIMEOUT):
        return _json_error("ESIA-007008", None, status_code=503)
    if fault is Fault.MALFORMED:
        return Response(content=b'{"access_token":"eyJ2ZXIiOjEsInR5', media_type=MediaType.JSON)
    form = await request.form()
    items = list(form.multi_items())
    state = dict(items).get("state")
    try:
        return Response(content=_token_reply(sim, _single_valued(items)), media_type=MediaType.JSON)
    except EsiaProtocolError as exc:
        return _json_error(exc.code, state)


def _token_reply(sim: EsiaSimulatorState, params: dict[str, str]) -> dict[str, Any]:
    client_id, grant_type = params.get("client_id", ""), params.get("grant_type", "")
    required = ["client_certificate_hash", "client_secret", "state", "timestamp", "scope"]
    if grant_type == "authorization_code":
        required += ["code", "redirect_uri"]
    elif grant_type == "refresh_token":
        required += ["refresh_token", "redirect_uri"]
    elif grant_type != "client_credentials":
        raise EsiaProtocolError("ESIA-007009" if grant_type else "ESIA-007014")
    if not client_id or any(not params.get(name) for name in required):
        raise EsiaProtocolError("ESIA-007014")
    if client_id not in sim.clients:
        raise EsiaProtocolError("ESIA-007002")
    redirect_uri = params.get("redirect_uri")
    if redirect_uri and redirect_uri not in sim.clients[client_id].redirect_uris:
        raise EsiaProtocolError("ESIA-007023")
    code = params.get("code") if grant_type == "authorization_code" else None
    sim.check_client_request(client_id, params, code=code)
    now = sim.now()
    if grant_type == "client_credentials":
        # Digital Profile consent update (``prm_chg?oid=…``): no user login, no refresh token.
        names = params["scope"].split()
        oids = {n.partition("?oid=")[2] for n in names}
        if not all(n.startswith("prm_chg?oid=") for n in names) or len(oids) != 1:
            raise EsiaProtocolError("ESIA-007005")
        grant = _Grant(client_id, oids.pop(), ("prm_chg",), str(uuid.uuid4()), "online", "", now)
        return sim.issue_tokens(grant, params["state"], with_id_token=False)
    sim.prune()
    store = sim.codes if grant_type == "authorization_code" else sim.refresh_tokens
    found = store.get(params["code"] if grant_type == "authorization_code" else params["refresh_token"])
    if (
        found is None
        or found.used
        or found.expires_at <= now
        or found.client_id != client_id
        or (grant_type == "authorization_code" and found.redirect_uri != redirect_uri)
    ):
        raise EsiaProtocolError("ESIA-007011")
    found.used = True  # codes are one-time; refresh tokens rotate
    return sim.issue_tokens(found, params["state"])


# ---------------------------------------------------------------------------------------------- person REST


def _json(content: Any, status_code: int = 200) -> Response[Any]:
    return Response(content=content, status_code=status_code, media_type=MediaType.JSON)


def _forbidden() -> Response[Any]:
    return _json({"error": "access_denied"}, 403)


def _not_found() -> Response[Any]:
    return _json({"error": "not_found"}, 404)


async def _rest_guard(request: Request[Any, Any, Any], oid: str) -> _Grant | Response[Any]:
    """Faults, bearer check (401) and subject check (403); the grant when the request may proceed."""
    sim = _sim(request)
    fault = await sim.faults.before_reply()
    if fault in (Fault.ERROR, Fault.TIMEOUT):
        return _json_error("ESIA-007008", None, status_code=503)
    if fault is Fault.MALFORMED:
        return Response(content="<html><body>Bad gateway", media_type=MediaType.HTML)
    grant = sim.grant_for_bearer(request)
    if grant is None:
        return _json({"error": "invalid_token"}, 401)
    if grant.oid != oid or oid not in sim.people:
        return _forbidden()
    return grant


def _link(request: Request[Any, Any, Any], path: str) -> str:
    return f"{str(request.base_url).rstrip('/')}{path}"


def _granted_contacts(grant: _Grant, person: Person) -> list[dict[str, Any]]:
    types: set[str] = set().union(*(_CONTACT_SCOPES.get(s, set()) for s in grant.scopes))
    return [c for c in _contacts(person) if c["type"] in types]


def _granted_documents(grant: _Grant, person: Person, mapping: Mapping[str, str]) -> list[dict[str, Any]]:
    types = {mapping[s] for s in grant.scopes if s in mapping}
    return [d for d in _documents(person) if d["type"] in types]


def _granted_addresses(grant: _Grant, person: Person) -> list[dict[str, Any]]:
    return _addresses(person) if "addresses" in grant.scopes else []


def _kid(grant: _Grant, child: Person, base: str, embed_documents: bool) -> dict[str, Any]:
    data = {
        "lastName": child.last_name,
        "firstName": child.first_name,
        "middleName": child.middle_name,
        "birthDate": _esia_date(child.birth_date),
        "gender": child.sex,
        "snils": child.snils,
    }
    allowed = {f for s in grant.scopes for f in _KID_FIELDS.get(s, ())}
    kid: dict[str, Any] = {"stateFacts": ["Identifiable"], "id": child.esia_oid, "eTag": _etag(child)}
    kid |= {k: v for k, v in data.items() if k in allowed and v}
    docs = _granted_documents(grant, child, _KID_DOCUMENT_SCOPES)
    kid["documents"] = _collection(docs, f"{base}/{child.esia_oid}/docs", embed_documents)
    return kid


@get("/rs/prns/{oid:str}")
async def _person_root(request: Request[Any, Any, Any]) -> Response[Any]:
    oid = request.path_params["oid"]
    grant = await _rest_guard(request, oid)
    if isinstance(grant, Response):
        return grant
    person = _sim(request).people[oid]
    fields = {f for s in grant.scopes for f in _ROOT_FIELDS.get(s, ())}
    if not fields:
        return _forbidden()
    data = {
        "lastName": person.last_name,
        "firstName": person.first_name,
        "middleName": person.middle_name,
        "birthDate": _esia_date(person.birth_date),
        "gender": person.sex,
        "snils": person.snils,
    }
    body: dict[str, Any] = {"stateFacts": ["EntityRoot"], "eTag": _etag(person)}
    body |= {k: v for k, v in data.items() if k in fields and v}
    body |= {"trusted": True, "status": "REGISTERED", "citizenship": "RUS", "verifying": False}
    if "id_doc" in grant.scopes and person.passport:
        body["rIdDoc"] = 1
    embed = _parse_embed(request.query_params.get("embed"))
    base = _link(request, f"/rs/prns/{oid}")
    for name, path, items in (
        ("contacts", "ctts", _granted_contacts(grant, person)),
        ("documents", "docs", _granted_documents(grant, person, _DOCUMENT_SCOPES)),
        ("addresses", "addrs", _granted_addresses(grant, person)),
    ):
        if items:
            body[name] = _collection(items, f"{base}/{path}", f"{name}.elements" in embed)
    return _json(body)


def _collection_items(
    sim: EsiaSimulatorState, grant: _Grant, *, oid: str, kind: str, base: str, with_docs: bool
) -> list[dict[str, Any]] | None:
    """Granted items of ``/rs/prns/{oid}/{kind}``; None for an unknown collection."""
    person = sim.people[oid]
    if kind == "ctts":
        return _granted_contacts(grant, person)
    if kind == "docs":
        return _granted_documents(grant, person, _DOCUMENT_SCOPES)
    if kind == "addrs":
        return _granted_addresses(grant, person)
    if kind == "kids":
        return [_kid(grant, c, base, with_docs) for c in sim.children_of(oid)]
    return None


@get([f"/rs/prns/{{oid:str}}/{kind}{item}" for kind in _COLLECTIONS for item in ("", "/{item_id:str}")])
async def _person_collection(request: Request[Any, Any, Any]) -> Response[Any]:
    oid, item_id = request.path_params["oid"], request.path_params.get("item_id")
    kind = request.url.path.split("/")[4]
    grant = await _rest_guard(request, oid)
    if isinstance(grant, Response):
        return grant
    if kind == "kids" and not any(s.startswith("kid_") for s in grant.scopes):
        return _forbidden()
    base = _link(request, f"/rs/prns/{oid}/{kind}")
    embed = _parse_embed(request.query_params.get("embed"))
    with_docs = "elements.documents" in embed or item_id is not None
    items = _collection_items(_sim(request), grant, oid=oid, kind=kind, base=base, with_docs=with_docs)
    if items is None:
        return _not_found()
    if not items and kind != "kids":
        return _forbidden()  # the scope for this collection was not granted
    if item_id is None:
        return _json(_collection(items, base, bool(embed & {"elements", "elements.documents"})))
    found = next((i for i in items if str(i["id"]) == item_id), None)
    return _not_found() if found is None else _json(found)


@get("/rs/prns/{oid:str}/kids/{item_id:str}/docs")
async def _kid_documents(request: Request[Any, Any, Any]) -> Response[Any]:
    oid, kid_id = request.path_params["oid"], request.path_params["item_id"]
    grant = await _rest_guard(request, oid)
    if isinstance(grant, Response):
        return grant
    child = next((c for c in _sim(request).children_of(oid) if c.esia_oid == kid_id), None)
    if child is None:
        return _not_found()
    docs = _granted_documents(grant, child, _KID_DOCUMENT_SCOPES)
    if not docs:
        return _forbidden()
    base = _link(request, f"/rs/prns/{oid}/kids/{kid_id}/docs")
    return _json(_collection(docs, base, "elements" in _parse_embed(request.query_params.get("embed"))))


# ---------------------------------------------------------------------------------------------- logout, keys


@get("/idp/ext/Logout", sync_to_thread=False)
def _logout(request: Request[Any, Any, Any]) -> Response[Any]:
    sim = _sim(request)
    client_id, redirect_url = request.query_params.get("client_id"), request.query_params.get("redirect_url")
    client = sim.clients.get(client_id or "")
    if client is not None:
        sim.logouts.append((client_id or "", sim.now()))
    origins = {urlsplit(u)[:2] for u in (client.redirect_uris if client else ())}
    if redirect_url and urlsplit(redirect_url)[:2] in origins:
        return Redirect(redirect_url, status_code=302)
    return _page("Выход — Госуслуги", "<h1>Вы вышли из учетной записи Госуслуг</h1>")


def _public_key(sim: EsiaSimulatorState) -> PublicKey | None:
    signer = sim.signer
    return signer.public_key() if isinstance(signer, RsaSigner | EcSigner) else None


@get("/esia-sim/jwks.json", sync_to_thread=False)
def _jwks(request: Request[Any, Any, Any]) -> Response[Any]:
    sim = _sim(request)
    key = _public_key(sim)
    if key is None:
        return _json({"keys": []})
    raw = RSAAlgorithm.to_jwk(key) if isinstance(key, rsa.RSAPublicKey) else ECAlgorithm.to_jwk(key)
    jwk = json.loads(raw) | {"kid": sim.key_id, "alg": sim.signer.algorithm, "use": "sig"}
    return _json({"keys": [jwk]})


@get("/esia-sim/public-key.pem", sync_to_thread=False)
def _public_key_pem(request: Request[Any, Any, Any]) -> Response[Any]:
    key = _public_key(_sim(request))
    if key is None:
        return Response(content="", status_code=404, media_type=MediaType.TEXT)
    pem = key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return Response(content=pem, media_type="application/x-pem-file")


# ---------------------------------------------------------------------------------------------- factory


def create_esia_simulator(
    people: Sequence[Person],
    *,
    clients: Mapping[str, RegisteredClient],
    signer: Signer | None = None,
    key_id: str | None = None,
    faults: FaultProfile | None = None,
    clock: Callable[[], datetime] | None = None,
    issuer: str = TEST_ISSUER,
    strict: bool = True,
    max_clock_skew_s: float = 300.0,
    code_ttl_s: float = 300.0,
    token_ttl_s: int = 3600,
    login_page_limit: int = 100,
) -> Litestar:
    """The simulator's ASGI app.

    ``people`` are the ESIA accounts (children are the ones with ``parent_oid``); ``clients`` maps a
    client id (IS mnemonic) to its registration; ``signer`` signs the simulator's own JWTs (a fresh
    P-256 key when omitted — read it back with :func:`simulator_state` or the JWKS endpoint);
    ``strict=False`` only checks that ``client_secret`` is present. ``clock`` returns an aware
    datetime and drives the timestamp check, code and token lifetimes.
    """
    sim = EsiaSimulatorState(
        people={p.esia_oid: p for p in people},
        clients=dict(clients),
        signer=signer or EcSigner.generate(),
        key_id=key_id or uuid.uuid4().hex[:16],
        faults=FaultInjector(faults or FaultProfile()),
        clock=clock or (lambda: datetime.now(UTC)),
        issuer=issuer,
        strict=strict,
        max_clock_skew=timedelta(seconds=max_clock_skew_s),
        code_ttl=timedelta(seconds=code_ttl_s),
        token_ttl=timedelta(seconds=token_ttl_s),
        login_page_limit=login_page_limit,
    )
    return simulator_app(
        [_authorize, _login, _token, _person_root, _person_collection, _kid_documents, _logout, _jwks, _public_key_pem],
        sim,
    )


__all__ = ["RegisteredClient", "create_esia_simulator", "simulator_state"]
