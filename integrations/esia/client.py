"""httpx client of ESIA (ЕСИА): authorization URL, token exchange/refresh, JWT checks, person REST.

Works the same against the real ESIA and the simulator: build ``http`` with
:func:`integrations.common.http.build_http_client` (``inprocess://esia`` or an https URL). Every request
runs under the adapter's own deadline (``asyncio.timeout``), since httpx timeouts do not apply to the
in-process ASGI transport.
"""

from __future__ import annotations

import asyncio
import hmac
import re
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any, Literal
from urllib.parse import urlencode, urlsplit

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from integrations.esia.protocol import (
    CHILDREN_SCOPES,
    DEFAULT_SCOPES,
    AccessType,
    AuthorizationRequest,
    EsiaAddress,
    EsiaChild,
    EsiaContact,
    EsiaDocument,
    EsiaError,
    EsiaMalformedResponseError,
    EsiaPerson,
    EsiaScopeError,
    EsiaStateMismatchError,
    EsiaTimeoutError,
    EsiaTokens,
    EsiaTokenValidationError,
    EsiaUnauthorizedError,
    EsiaUnavailableError,
    error_from_esia,
)
from integrations.esia.signer import (
    GOST_ALGORITHM,
    PublicKey,
    SignatureVerifier,
    Signer,
    b64url_decode,
    client_secret_message,
    make_client_secret,
)

PRODUCTION_PORTAL = "https://esia.gosuslugi.ru"
TEST_PORTAL = "https://esia-portal1.test.gosuslugi.ru"
PRODUCTION_ISSUER = "http://esia.gosuslugi.ru/"
TEST_ISSUER = "http://esia-portal1.test.gosuslugi.ru/"

AC_PATH = "/aas/oauth2/v2/ac"
TE_PATH = "/aas/oauth2/v3/te"
LOGOUT_PATH = "/idp/ext/Logout"
PERSON_PATH = "/rs/prns/{oid}"
CHILDREN_PATH = "/rs/prns/{oid}/kids"  # unconfirmed path, after the methodical recommendations

MSK = timezone(timedelta(hours=3), "MSK")
TIMESTAMP_FORMAT = "%Y.%m.%d %H:%M:%S %z"  # yyyy.MM.dd HH:mm:ss ±hhmm
_CERT_HASH = re.compile(r"^[0-9a-fA-F]{64}$")
_RSA_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})
_EC_ALGORITHMS = frozenset({"ES256", "ES384", "ES512"})

CONTACT_SCOPES = frozenset({"contacts", "mobile", "email"})
DOCUMENT_SCOPES = frozenset({"id_doc", "medical_doc", "birth_cert_doc", "foreign_passport_doc"})
ADDRESS_SCOPES = frozenset({"addresses"})
_MAX_LINKED_ELEMENTS = 20


def format_timestamp(moment: datetime) -> str:
    """ESIA's ``timestamp``: ``2025.03.01 10:00:00 +0300``."""
    if moment.tzinfo is None:
        raise ValueError("the ESIA timestamp needs an aware datetime")
    return moment.strftime(TIMESTAMP_FORMAT)


def parse_scopes(scope: str, *, oid: str | None = None) -> frozenset[str]:
    """Scope names of ``"openid fullname?oid=1 …"``; with ``oid``, subject-bound scopes must name it."""
    names: set[str] = set()
    for item in scope.split():
        name, _, query = item.partition("?")
        if oid is not None and query:
            bound = dict(part.partition("=")[::2] for part in query.split("&"))
            if "oid" in bound and bound["oid"] != oid:
                raise EsiaTokenValidationError(f"scope {item!r} is bound to another subject than {oid}")
        names.add(name)
    return frozenset(names)


def _parse_esia_date(value: object) -> date | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.strptime(value, "%d.%m.%Y").date()
    except ValueError:
        return None


def _opt_str(value: object) -> str | None:
    return None if value is None else str(value)


class EsiaClient:
    """Implements :class:`integrations.esia.protocol.EsiaIdentityProvider`.

    ``http`` talks to ESIA's API host; ``portal_url`` is the browser-facing host used in the
    authorization and logout URLs (defaults to ``http``'s base URL). ``esia_public_keys`` verify ESIA's
    RS*/ES* tokens (several keys while ESIA rotates its certificate); ``gost_verifier`` verifies
    ``GOST3410_2012_256`` tokens (production).
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        client_id: str,
        redirect_uri: str,
        signer: Signer,
        certificate_hash: str,
        esia_public_keys: Sequence[PublicKey] = (),
        gost_verifier: SignatureVerifier | None = None,
        issuer: str = PRODUCTION_ISSUER,
        portal_url: str | None = None,
        scopes: Sequence[str] = DEFAULT_SCOPES,
        scope_org: Sequence[str] = (),
        required_scopes: Sequence[str] = ("openid",),
        deadline_s: float = 10.0,
        leeway_s: float = 60.0,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        if not _CERT_HASH.match(certificate_hash):
            raise ValueError("client_certificate_hash must be 64 hex characters (GOST R 34.11-2012/256)")
        if not esia_public_keys and gost_verifier is None:
            raise ValueError("give ESIA's public key(s) or a GOST verifier: tokens must be verified")
        self._http = http
        self.client_id = client_id
        self.redirect_uri = redirect_uri
        self._signer = signer
        self._certificate_hash = certificate_hash.lower()
        self._keys = tuple(esia_public_keys)
        self._gost_verifier = gost_verifier
        self._issuer = issuer.rstrip("/")
        self._portal_url = (portal_url or str(http.base_url)).rstrip("/")
        self.scopes = tuple(scopes)
        self._scope_org = tuple(scope_org)
        self._required_scopes = frozenset(required_scopes)
        self._deadline_s = deadline_s
        self._leeway_s = leeway_s
        self._clock = clock or (lambda: datetime.now(UTC))

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> EsiaClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # ------------------------------------------------------------------------------------- authorization

    def _timestamp(self) -> str:
        return format_timestamp(self._clock().astimezone(MSK))

    async def _secret(self, message: str) -> str:
        # An external GOST tool blocks; keep it off the event loop.
        return await asyncio.to_thread(make_client_secret, self._signer, message)

    async def build_authorization_url(
        self,
        *,
        scopes: Sequence[str] | None = None,
        access_type: AccessType = "offline",
        state: str | None = None,
    ) -> AuthorizationRequest:
        scope_list = tuple(scopes) if scopes is not None else self.scopes
        scope, scope_org = " ".join(scope_list), " ".join(self._scope_org)
        state = state or str(uuid.uuid4())
        timestamp = self._timestamp()
        secret = await self._secret(
            client_secret_message(
                client_id=self.client_id,
                scope=scope,
                scope_org=scope_org,
                timestamp=timestamp,
                state=state,
                redirect_uri=self.redirect_uri,
            )
        )
        params: dict[str, str] = {
            "client_id": self.client_id,
            "client_certificate_hash": self._certificate_hash,
            "client_secret": secret,
            "redirect_uri": self.redirect_uri,
            "scope": scope,
        }
        if scope_org:
            params["scope_org"] = scope_org
        params |= {"response_type": "code", "state": state, "access_type": access_type, "timestamp": timestamp}
        return AuthorizationRequest(
            url=f"{self._portal_url}{AC_PATH}?{urlencode(params)}",
            state=state,
            timestamp=timestamp,
            redirect_uri=self.redirect_uri,
            scopes=scope_list,
            access_type=access_type,
        )

    def parse_callback(self, params: Mapping[str, str], *, expected_state: str) -> str:
        state = params.get("state")
        if params.get("error") or params.get("error_description"):
            raise error_from_esia(params.get("error"), params.get("error_description"), state=state)
        if not state or not hmac.compare_digest(state, expected_state):
            raise EsiaStateMismatchError("state в ответе ЕСИА не совпадает с отправленным", state=state)
        code = params.get("code")
        if not code:
            raise EsiaMalformedResponseError("ЕСИА вернула ответ без кода авторизации", state=state)
        return code

    def logout_url(self, redirect_url: str | None = None) -> str:
        params = {"client_id": self.client_id}
        if redirect_url:
            params["redirect_url"] = redirect_url
        return f"{self._portal_url}{LOGOUT_PATH}?{urlencode(params)}"

    # ------------------------------------------------------------------------------------- tokens

    async def exchange_code(self, code: str, *, scopes: Sequence[str] | None = None) -> EsiaTokens:
        return await self._token_request("authorization_code", scopes, code=code)

    async def refresh(self, refresh_token: str, *, scopes: Sequence[str] | None = None) -> EsiaTokens:
        return await self._token_request("refresh_token", scopes, refresh_token=refresh_token)

    async def _token_request(
        self,
        grant_type: Literal["authorization_code", "refresh_token"],
        scopes: Sequence[str] | None,
        *,
        code: str | None = None,
        refresh_token: str | None = None,
    ) -> EsiaTokens:
        scope = " ".join(scopes if scopes is not None else self.scopes)
        scope_org = " ".join(self._scope_org)
        state = str(uuid.uuid4())  # a new state for te, never the one of ac
        timestamp = self._timestamp()
        secret = await self._secret(
            client_secret_message(
                client_id=self.client_id,
                scope=scope,
                scope_org=scope_org,
                timestamp=timestamp,
                state=state,
                redirect_uri=self.redirect_uri,
                code=code,
            )
        )
        form = {
            "client_id": self.client_id,
            "grant_type": grant_type,
            "client_certificate_hash": self._certificate_hash,
            "client_secret": secret,
            "state": state,
            "redirect_uri": self.redirect_uri,
            "scope": scope,
            "timestamp": timestamp,
            "token_type": "Bearer",
        }
        if scope_org:
            form["scope_org"] = scope_org
        if code is not None:
            form["code"] = code
        if refresh_token is not None:
            form["refresh_token"] = refresh_token
        response = await self._send("POST", TE_PATH, data=form, headers={"Accept": "application/json"})
        body = self._json_or_error(response)
        if not isinstance(body, dict):
            raise EsiaMalformedResponseError("ответ ЕСИА на запрос маркера не является объектом JSON")
        access_token, echoed = body.get("access_token"), body.get("state")
        if not isinstance(access_token, str) or not isinstance(echoed, str):
            raise EsiaMalformedResponseError("в ответе ЕСИА нет access_token или state")
        if not hmac.compare_digest(echoed, state):
            raise EsiaStateMismatchError("state в ответе ЕСИА не совпадает с отправленным", state=echoed)
        claims = await self.verify_access_token(access_token)
        oid = str(claims["urn:esia:sbj_id"])
        id_token = body.get("id_token")
        if isinstance(id_token, str):
            await self.verify_id_token(id_token, oid=oid)
        refresh = body.get("refresh_token")
        try:
            expires_in = int(body.get("expires_in", 3600))
        except (TypeError, ValueError) as exc:
            raise EsiaMalformedResponseError("expires_in в ответе ЕСИА не является числом") from exc
        sid = claims.get("urn:esia:sid")
        return EsiaTokens(
            access_token=access_token,
            refresh_token=refresh if isinstance(refresh, str) else None,
            id_token=id_token if isinstance(id_token, str) else None,
            token_type=str(body.get("token_type", "Bearer")),
            expires_in=expires_in,
            expires_at=datetime.fromtimestamp(float(claims["exp"]), UTC),
            oid=oid,
            scopes=parse_scopes(str(claims.get("scope", ""))),
            session_id=_opt_str(sid),
            claims=claims,
        )

    # ------------------------------------------------------------------------------------- JWT checks

    async def verify_access_token(self, token: str) -> dict[str, Any]:
        """Verify an ESIA access token; return its claims. Raises :class:`EsiaTokenValidationError`."""
        header, claims = await self._verify_jwt(token)
        if header.get("sbt", "access") != "access":
            raise EsiaTokenValidationError(f"not an access token (sbt={header.get('sbt')!r})")
        self._check_common_claims(claims)
        if claims.get("client_id", claims.get("aud")) != self.client_id:
            raise EsiaTokenValidationError("the access token was issued to another system")
        sbj = claims.get("urn:esia:sbj_id")
        if sbj is None or str(sbj) == "":
            raise EsiaTokenValidationError("the access token has no urn:esia:sbj_id")
        scope = claims.get("scope")
        if not isinstance(scope, str):
            raise EsiaTokenValidationError("the access token has no scope")
        missing = self._required_scopes - parse_scopes(scope, oid=str(sbj))
        if missing:
            raise EsiaTokenValidationError(f"required scopes not granted: {', '.join(sorted(missing))}")
        return claims

    async def verify_id_token(self, token: str, *, oid: str) -> dict[str, Any]:
        _, claims = await self._verify_jwt(token)
        self._check_common_claims(claims)
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if self.client_id not in audiences:
            raise EsiaTokenValidationError("the id token was issued to another system")
        legacy = claims.get("urn:esia:sbj")
        subject = (
            claims.get("urn:esia:sbj_id")
            or (legacy.get("urn:esia:sbj:oid") if isinstance(legacy, dict) else None)
            or claims.get("sub")
        )
        if subject is None or str(subject) != oid:
            raise EsiaTokenValidationError("the id token names another subject than the access token")
        return claims

    async def _verify_jwt(self, token: str) -> tuple[dict[str, Any], dict[str, Any]]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise EsiaTokenValidationError(f"not a JWT: {exc}") from exc
        alg = header.get("alg")
        if alg == GOST_ALGORITHM:
            if self._gost_verifier is None:
                raise EsiaTokenValidationError("a GOST-signed token, but no GOST verifier is configured")
            signing_input, _, signature = token.rpartition(".")
            try:
                raw = b64url_decode(signature)
            except ValueError as exc:
                raise EsiaTokenValidationError("the token signature is not base64url") from exc
            ok = await asyncio.to_thread(self._gost_verifier.verify, signing_input.encode("ascii"), raw)
            if not ok:
                raise EsiaTokenValidationError("the token signature does not verify")
            try:
                return header, jwt.decode(token, options={"verify_signature": False, "verify_sub": False})
            except jwt.PyJWTError as exc:
                raise EsiaTokenValidationError(f"bad token payload: {exc}") from exc
        if alg in _RSA_ALGORITHMS:
            keys: Iterable[PublicKey] = (k for k in self._keys if isinstance(k, rsa.RSAPublicKey))
        elif alg in _EC_ALGORITHMS:
            keys = (k for k in self._keys if isinstance(k, ec.EllipticCurvePublicKey))
        else:
            raise EsiaTokenValidationError(f"token algorithm {alg!r} is not accepted")
        # Only the signature here; the claims are checked against our own clock below.
        options: dict[str, Any] = {
            "verify_exp": False,
            "verify_nbf": False,
            "verify_iat": False,
            "verify_aud": False,
            "verify_iss": False,
            "verify_sub": False,  # ESIA puts the numeric oid in ``sub``, which PyJWT would refuse
            "verify_jti": False,
        }
        for key in keys:
            try:
                return header, jwt.decode(token, key=key, algorithms=[str(alg)], options=options)  # type: ignore[arg-type]
            except jwt.InvalidSignatureError:
                continue
            except jwt.PyJWTError as exc:
                raise EsiaTokenValidationError(f"bad token: {exc}") from exc
        raise EsiaTokenValidationError("the token signature does not verify with ESIA's keys")

    def _check_common_claims(self, claims: Mapping[str, Any]) -> None:
        if str(claims.get("iss", "")).rstrip("/") != self._issuer:
            raise EsiaTokenValidationError(f"unexpected issuer {claims.get('iss')!r}")
        now = self._clock().timestamp()
        exp = claims.get("exp")
        if not isinstance(exp, int | float):
            raise EsiaTokenValidationError("the token has no exp")
        if now > exp + self._leeway_s:
            raise EsiaTokenValidationError("the token has expired")
        for name in ("nbf", "iat"):
            value = claims.get(name)
            if value is not None and (not isinstance(value, int | float) or value > now + self._leeway_s):
                raise EsiaTokenValidationError(f"the token is not valid yet ({name})")

    # ------------------------------------------------------------------------------------- person REST

    async def fetch_person(self, tokens: EsiaTokens, *, include_children: bool = False) -> EsiaPerson:
        embed = [
            name
            for name, needed in (
                ("contacts.elements", CONTACT_SCOPES),
                ("documents.elements", DOCUMENT_SCOPES),
                ("addresses.elements", ADDRESS_SCOPES),
            )
            if tokens.scopes & needed
        ]
        params = {"embed": f"({','.join(embed)})"} if embed else None
        root = await self._rest_get(PERSON_PATH.format(oid=tokens.oid), tokens, params=params)
        if not isinstance(root, dict):
            raise EsiaMalformedResponseError("ответ ЕСИА о пользователе не является объектом JSON")
        # Only granted collections: following links of the others would end in 403.
        contacts = await self._elements(root.get("contacts"), tokens) if "contacts.elements" in embed else []
        documents = await self._elements(root.get("documents"), tokens) if "documents.elements" in embed else []
        addresses = await self._elements(root.get("addresses"), tokens) if "addresses.elements" in embed else []
        children: tuple[EsiaChild, ...] = ()
        if include_children and tokens.scopes & set(CHILDREN_SCOPES):
            kids = await self._rest_get(
                CHILDREN_PATH.format(oid=tokens.oid), tokens, params={"embed": "(elements.documents)"}
            )
            children = tuple(
                await asyncio.gather(*(self._child(k, tokens) for k in await self._elements(kids, tokens)))
            )
        return EsiaPerson(
            oid=tokens.oid,
            last_name=_opt_str(root.get("lastName")),
            first_name=_opt_str(root.get("firstName")),
            middle_name=_opt_str(root.get("middleName")),
            birth_date=_parse_esia_date(root.get("birthDate")),
            sex=_opt_str(root.get("gender")),
            snils=_opt_str(root.get("snils")),
            inn=_opt_str(root.get("inn")),
            trusted=root.get("trusted") is True,
            status=_opt_str(root.get("status")),
            etag=_opt_str(root.get("eTag")),
            contacts=tuple(_contact(c) for c in contacts),
            addresses=tuple(_address(a) for a in addresses),
            documents=tuple(_document(d) for d in documents),
            children=children,
        )

    async def _child(self, raw: Mapping[str, Any], tokens: EsiaTokens) -> EsiaChild:
        documents = await self._elements(raw.get("documents"), tokens)
        return EsiaChild(
            id=str(raw.get("id", "")),
            last_name=_opt_str(raw.get("lastName")),
            first_name=_opt_str(raw.get("firstName")),
            middle_name=_opt_str(raw.get("middleName")),
            birth_date=_parse_esia_date(raw.get("birthDate")),
            sex=_opt_str(raw.get("gender")),
            snils=_opt_str(raw.get("snils")),
            documents=tuple(_document(d) for d in documents),
        )

    async def _elements(self, collection: object, tokens: EsiaTokens) -> list[dict[str, Any]]:
        """Items of an ESIA collection: embedded objects, or links (followed, a bounded number)."""
        if collection is None:
            return []
        if not isinstance(collection, dict) or not isinstance(collection.get("elements", []), list):
            raise EsiaMalformedResponseError("коллекция ЕСИА имеет неожиданный формат")
        items: list[dict[str, Any]] = []
        for element in collection.get("elements", [])[:_MAX_LINKED_ELEMENTS]:
            item = element
            if isinstance(element, str):
                link = urlsplit(element)
                item = await self._rest_get(link.path + (f"?{link.query}" if link.query else ""), tokens)
            if not isinstance(item, dict):
                raise EsiaMalformedResponseError("элемент коллекции ЕСИА не является объектом")
            items.append(item)
        return items

    async def _rest_get(self, path: str, tokens: EsiaTokens, *, params: Mapping[str, str] | None = None) -> Any:
        response = await self._send(
            "GET",
            path,
            params=params,
            headers={"Authorization": f"Bearer {tokens.access_token}", "Accept": "application/json"},
        )
        if response.status_code == 401:
            raise EsiaUnauthorizedError("ЕСИА не приняла маркер доступа", status_code=401)
        if response.status_code == 403:
            raise EsiaScopeError("нет разрешения (scope) на запрошенные данные ЕСИА", status_code=403)
        return self._json_or_error(response)

    # ------------------------------------------------------------------------------------- transport

    async def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            async with asyncio.timeout(self._deadline_s):
                return await self._http.request(method, path, **kwargs)
        except (TimeoutError, httpx.TimeoutException) as exc:
            raise EsiaTimeoutError(f"ЕСИА не ответила за {self._deadline_s:g} с") from exc
        except httpx.HTTPError as exc:
            raise EsiaUnavailableError(f"ЕСИА недоступна: {exc}") from exc

    @staticmethod
    def _json_or_error(response: httpx.Response) -> Any:
        try:
            body = response.json()
        except ValueError:
            body = None
        status = response.status_code
        if isinstance(body, dict) and ("error" in body or "error_description" in body) and status >= 400:
            raise error_from_esia(
                _opt_str(body.get("error")),
                _opt_str(body.get("error_description")),
                state=_opt_str(body.get("state")),
                status_code=status,
            )
        if status >= 500:
            raise EsiaUnavailableError(f"ЕСИА ответила HTTP {status}", status_code=status)
        if status >= 400:
            raise EsiaError(f"ЕСИА ответила HTTP {status}", status_code=status)
        if body is None:
            raise EsiaMalformedResponseError(f"ЕСИА ответила не JSON (HTTP {status})", status_code=status)
        return body


def _contact(raw: Mapping[str, Any]) -> EsiaContact:
    return EsiaContact(
        id=str(raw.get("id", "")),
        type=str(raw.get("type", "")),
        value=str(raw.get("value", "")),
        verified=raw.get("vrfStu") == "VERIFIED",
    )


def _address(raw: Mapping[str, Any]) -> EsiaAddress:
    return EsiaAddress(
        id=str(raw.get("id", "")),
        type=str(raw.get("type", "")),
        text=str(raw.get("addressStr", "")),
        zip_code=_opt_str(raw.get("zipCode")),
        fias_code=_opt_str(raw.get("fiasCode")),
        country=_opt_str(raw.get("countryId")),
    )


def _document(raw: Mapping[str, Any]) -> EsiaDocument:
    return EsiaDocument(
        id=str(raw.get("id", "")),
        type=str(raw.get("type", "")),
        series=_opt_str(raw.get("series")),
        number=str(raw.get("number", "")),
        verified=raw.get("vrfStu") == "VERIFIED",
        issue_date=_parse_esia_date(raw.get("issueDate")),
        issued_by=_opt_str(raw.get("issuedBy")),
        medical_org=_opt_str(raw.get("medicalOrg")),
    )
