"""The in-memory ESIA of the ESIA simulator: registered clients, pending logins, grants and tokens, the scopes and
what they show. No HTTP here: :mod:`integrations.esia.simulator` is the OAuth / REST layer and the ASGI app."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, rsa
from litestar import Request

from integrations.common.faults import FaultInjector
from integrations.demo_region.model import Person
from integrations.esia.client import TIMESTAMP_FORMAT
from integrations.esia.signer import (
    PublicKey,
    PublicKeyVerifier,
    SignatureVerifier,
    Signer,
    b64url_decode,
    b64url_encode,
    client_secret_message,
)

KNOWN_SCOPES = frozenset(
    {
        "openid", "fullname", "birthdate", "gender", "snils", "inn", "id_doc", "birthplace", "medical_doc",
        "military_doc", "foreign_passport_doc", "drivers_licence_doc", "birth_cert_doc", "residence_doc",
        "temporary_residence_doc", "contacts", "email", "mobile", "addresses", "vehicles", "usr_org",
        "usr_avt", "usr_reg_cxt", "prm_chg", "kid_fullname", "kid_birthdate", "kid_gender", "kid_snils",
        "kid_inn", "kid_birth_cert_doc", "kid_medical_doc",
    }
)  # fmt: skip
SCOPE_LABELS = {
    "openid": "Идентификатор учетной записи",
    "fullname": "Фамилия, имя и отчество",
    "birthdate": "Дата рождения",
    "gender": "Пол",
    "snils": "СНИЛС",
    "inn": "ИНН",
    "id_doc": "Паспорт гражданина РФ",
    "birthplace": "Место рождения",
    "medical_doc": "Полис ОМС",
    "birth_cert_doc": "Свидетельство о рождении",
    "contacts": "Контактные данные",
    "email": "Адрес электронной почты",
    "mobile": "Номер мобильного телефона",
    "addresses": "Адреса регистрации и проживания",
    "kid_fullname": "ФИО детей",
    "kid_birthdate": "Даты рождения детей",
    "kid_gender": "Пол детей",
    "kid_snils": "СНИЛС детей",
    "kid_medical_doc": "Полисы ОМС детей",
    "kid_birth_cert_doc": "Свидетельства о рождении детей",
}
_ROOT_FIELDS = {
    "fullname": ("lastName", "firstName", "middleName"),
    "birthdate": ("birthDate",),
    "gender": ("gender",),
    "snils": ("snils",),
    "birthplace": ("birthPlace",),
}
_CONTACT_SCOPES = {"mobile": {"MBT"}, "email": {"EML"}, "contacts": {"MBT", "EML", "PHN"}}
_DOCUMENT_SCOPES = {"id_doc": "RF_PASSPORT", "medical_doc": "MDCL_PLCY", "birth_cert_doc": "BRTH_CERT"}
_KID_FIELDS = {
    "kid_fullname": ("lastName", "firstName", "middleName"),
    "kid_birthdate": ("birthDate",),
    "kid_gender": ("gender",),
    "kid_snils": ("snils",),
}
_COLLECTIONS = ("ctts", "docs", "addrs", "kids")
_KID_DOCUMENT_SCOPES = {"kid_medical_doc": "MDCL_PLCY", "kid_birth_cert_doc": "BRTH_CERT"}
_UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$", re.IGNORECASE)
_CERT_HASH = re.compile(r"^[0-9a-fA-F]{64}$")
_AC_REQUIRED = (
    "client_secret", "client_certificate_hash", "scope", "response_type", "state", "timestamp",
)  # fmt: skip


@dataclass(frozen=True)
class RegisteredClient:
    """An information system registered in the simulator (ESIA's ``/console/tech/``)."""

    redirect_uris: tuple[str, ...]
    verification_key: PublicKey | SignatureVerifier  # checks ``client_secret``
    certificate_hash: str | None = None  # when set, ``client_certificate_hash`` must equal it
    allowed_scopes: frozenset[str] | None = None  # None: any known scope

    def verifier(self) -> SignatureVerifier:
        key = self.verification_key
        # Checked first: cryptography's keys have a ``verify`` too, with another signature.
        if isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
            return PublicKeyVerifier(key)
        return key


class EsiaProtocolError(Exception):
    """An ESIA error the simulator answers with (code from :data:`ESIA_ERRORS`)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass
class _PendingLogin:
    client_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    state: str
    access_type: str
    expires_at: datetime


@dataclass
class _Grant:
    client_id: str
    oid: str
    scopes: tuple[str, ...]
    session_id: str
    access_type: str
    redirect_uri: str
    expires_at: datetime
    used: bool = False


@dataclass
class EsiaSimulatorState:
    """The simulator's data and runtime state; tests reach it with :func:`simulator_state`."""

    people: dict[str, Person]
    clients: dict[str, RegisteredClient]
    signer: Signer
    key_id: str
    faults: FaultInjector
    clock: Callable[[], datetime]
    issuer: str
    strict: bool
    max_clock_skew: timedelta
    code_ttl: timedelta
    token_ttl: timedelta
    login_page_limit: int
    pending_logins: dict[str, _PendingLogin] = field(default_factory=dict)
    codes: dict[str, _Grant] = field(default_factory=dict)
    refresh_tokens: dict[str, _Grant] = field(default_factory=dict)
    access_tokens: dict[str, _Grant] = field(default_factory=dict)
    logouts: list[tuple[str, datetime]] = field(default_factory=list)

    def now(self) -> datetime:
        return self.clock()

    def prune(self) -> None:
        """Forget expired logins, codes and tokens (keeps a long-running demo's memory flat)."""
        now = self.now()
        for store in (self.pending_logins, self.codes, self.refresh_tokens, self.access_tokens):
            for key in [k for k, v in store.items() if v.expires_at <= now]:
                del store[key]

    def children_of(self, oid: str) -> list[Person]:
        return [p for p in self.people.values() if p.parent_oid == oid]

    # ----------------------------------------------------------------------------------- JWT

    def _jwt(self, sbt: str, claims: Mapping[str, Any]) -> str:
        header = {"ver": 1, "typ": "JWT", "sbt": sbt, "alg": self.signer.algorithm, "kid": self.key_id}
        signing_input = ".".join(
            b64url_encode(json.dumps(part, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
            for part in (header, claims)
        )
        return f"{signing_input}.{b64url_encode(self.signer.sign(signing_input.encode('ascii')))}"

    def issue_tokens(self, grant: _Grant, state: str, *, with_id_token: bool = True) -> dict[str, Any]:
        now = self.now()
        iat = int(now.timestamp())
        exp = iat + int(self.token_ttl.total_seconds())
        subject: int | str = int(grant.oid) if grant.oid.isdigit() else grant.oid
        bound_scopes = " ".join(s if s == "openid" else f"{s}?oid={grant.oid}" for s in grant.scopes)
        access = self._jwt(
            "access",
            {
                "nbf": iat,
                "iat": iat,
                "exp": exp,
                "iss": self.issuer,
                "urn:esia:sid": grant.session_id,
                "urn:esia:sbj_id": subject,
                "client_id": grant.client_id,
                "scope": bound_scopes,
            },
        )
        self.access_tokens[access] = _Grant(
            grant.client_id,
            grant.oid,
            grant.scopes,
            grant.session_id,
            grant.access_type,
            grant.redirect_uri,
            datetime.fromtimestamp(exp, UTC),
        )
        body: dict[str, Any] = {
            "access_token": access,
            "state": state,
            "token_type": "Bearer",
            "expires_in": exp - iat,
        }
        if with_id_token:
            body["id_token"] = self._jwt(
                "id",
                {
                    "nbf": iat,
                    "iat": iat,
                    "exp": exp,
                    "auth_time": iat,
                    "iss": self.issuer,
                    "aud": grant.client_id,
                    "sub": subject,
                    "urn:esia:sbj_id": subject,
                    "urn:esia:sid": grant.session_id,
                    "urn:esia:amd": "PWD",
                },
            )
        if grant.access_type == "offline":
            refresh = str(uuid.uuid4())
            self.refresh_tokens[refresh] = _Grant(
                grant.client_id,
                grant.oid,
                grant.scopes,
                grant.session_id,
                grant.access_type,
                grant.redirect_uri,
                now + timedelta(days=30),  # unconfirmed lifetime
            )
            body["refresh_token"] = refresh
        return body

    # ----------------------------------------------------------------------------------- checks

    def check_client_request(self, client_id: str, params: Mapping[str, str], *, code: str | None) -> None:
        """Certificate hash, timestamp skew and ``client_secret`` (the order ESIA reports them in)."""
        client = self.clients[client_id]
        cert_hash = params["client_certificate_hash"]
        if not _CERT_HASH.match(cert_hash):
            raise EsiaProtocolError("ESIA-007053")
        if client.certificate_hash and cert_hash.lower() != client.certificate_hash.lower():
            raise EsiaProtocolError("ESIA-007002")
        try:
            sent_at = datetime.strptime(params["timestamp"], TIMESTAMP_FORMAT)
        except ValueError as exc:
            raise EsiaProtocolError("ESIA-007015") from exc
        if abs(self.now() - sent_at) > self.max_clock_skew:
            raise EsiaProtocolError("ESIA-007015")
        if not self.strict:
            return  # lenient mode: presence of client_secret only
        message = client_secret_message(
            client_id=client_id,
            scope=params.get("scope", ""),
            scope_org=params.get("scope_org", ""),
            timestamp=params["timestamp"],
            state=params["state"],
            redirect_uri=params.get("redirect_uri", ""),
            code=code,
        )
        try:
            signature = b64url_decode(params["client_secret"])
        except ValueError as exc:
            raise EsiaProtocolError("ESIA-007053") from exc
        if not client.verifier().verify(message.encode("utf-8"), signature):
            raise EsiaProtocolError("ESIA-007053")

    def check_scopes(self, client_id: str, scope: str) -> tuple[str, ...]:
        names = tuple(dict.fromkeys(scope.split()))
        allowed = self.clients[client_id].allowed_scopes
        if not names or any(n not in KNOWN_SCOPES or (allowed and n not in allowed) for n in names):
            raise EsiaProtocolError("ESIA-007006")
        return names

    def grant_for_bearer(self, request: Request[Any, Any, Any]) -> _Grant | None:
        auth = request.headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        grant = self.access_tokens.get(token.strip()) if scheme.lower() == "bearer" else None
        if grant is None or grant.expires_at <= self.now():
            return None
        return grant
