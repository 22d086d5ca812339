"""What the identity domain knows about ESIA (ЕСИА): the adapter Protocol, its results and its errors.

The domain depends on :class:`EsiaIdentityProvider` only; :class:`integrations.esia.client.EsiaClient`
implements it against the real ESIA or its simulator. Error codes and their Russian texts follow
``ofstudio/go-api-epgu : esia/aas/errors.go`` (protocols.md 1.7); the simulator answers with the same
catalogue, so both sides agree on ``code`` → exception type.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal, Protocol, runtime_checkable

AccessType = Literal["online", "offline"]

# ---------------------------------------------------------------------------------------------- scopes

#: Person scopes the backend asks for by default (OMS policy comes with ``medical_doc``).
DEFAULT_SCOPES: tuple[str, ...] = (
    "openid",
    "fullname",
    "birthdate",
    "gender",
    "snils",
    "id_doc",
    "medical_doc",
    "mobile",
    "email",
    "addresses",
)
#: Extra scopes for acting on behalf of children (unconfirmed names, after the methodical recommendations).
CHILDREN_SCOPES: tuple[str, ...] = (
    "kid_fullname",
    "kid_birthdate",
    "kid_gender",
    "kid_snils",
    "kid_medical_doc",
    "kid_birth_cert_doc",
)


# ---------------------------------------------------------------------------------------------- results


@dataclass(frozen=True)
class AuthorizationRequest:
    """A signed ``/aas/oauth2/v2/ac`` URL and what the caller must keep to check the callback."""

    url: str
    state: str  # UUID4; compare with the callback's ``state``
    timestamp: str  # ``yyyy.MM.dd HH:mm:ss ±hhmm`` exactly as signed
    redirect_uri: str
    scopes: tuple[str, ...]
    access_type: AccessType


@dataclass(frozen=True)
class EsiaTokens:
    access_token: str
    refresh_token: str | None  # only with ``access_type=offline``
    id_token: str | None
    token_type: str
    expires_in: int
    expires_at: datetime
    oid: str  # ``urn:esia:sbj_id`` of the verified access token
    scopes: frozenset[str]  # granted scope names with the ``?oid=…`` suffix stripped
    session_id: str | None  # ``urn:esia:sid``
    claims: Mapping[str, object] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class EsiaContact:
    id: str
    type: str  # "MBT" mobile, "PHN" phone, "EML" e-mail, "CEM" corporate e-mail
    value: str
    verified: bool  # ``vrfStu == "VERIFIED"``


@dataclass(frozen=True)
class EsiaAddress:
    id: str
    type: str  # "PRG" registration, "PLV" residence
    text: str  # ``addressStr``
    zip_code: str | None = None
    fias_code: str | None = None
    country: str | None = None


@dataclass(frozen=True)
class EsiaDocument:
    id: str
    type: str  # "RF_PASSPORT", "MDCL_PLCY" (OMS policy), "BRTH_CERT", "FRGN_PASS", ...
    series: str | None
    number: str
    verified: bool
    issue_date: date | None = None
    issued_by: str | None = None
    medical_org: str | None = None  # the insurer (СМО) for ``MDCL_PLCY``


@dataclass(frozen=True)
class EsiaChild:
    id: str
    last_name: str | None
    first_name: str | None
    middle_name: str | None
    birth_date: date | None
    sex: str | None
    snils: str | None
    documents: tuple[EsiaDocument, ...] = ()

    @property
    def oms_policy(self) -> EsiaDocument | None:
        return _first_document(self.documents, "MDCL_PLCY")

    @property
    def birth_certificate(self) -> EsiaDocument | None:
        return _first_document(self.documents, "BRTH_CERT")


@dataclass(frozen=True)
class EsiaPerson:
    oid: str
    last_name: str | None
    first_name: str | None
    middle_name: str | None
    birth_date: date | None
    sex: str | None  # "M" | "F"
    snils: str | None
    inn: str | None
    trusted: bool  # a confirmed (подтвержденная) account
    status: str | None  # "REGISTERED" | "DELETED"
    etag: str | None
    contacts: tuple[EsiaContact, ...] = ()
    addresses: tuple[EsiaAddress, ...] = ()
    documents: tuple[EsiaDocument, ...] = ()
    children: tuple[EsiaChild, ...] = ()

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.last_name, self.first_name, self.middle_name) if p)

    @property
    def oms_policy(self) -> EsiaDocument | None:
        return _first_document(self.documents, "MDCL_PLCY")

    @property
    def passport(self) -> EsiaDocument | None:
        return _first_document(self.documents, "RF_PASSPORT")

    @property
    def verified_phone(self) -> str | None:
        return next((c.value for c in self.contacts if c.type == "MBT" and c.verified), None)

    @property
    def verified_email(self) -> str | None:
        return next((c.value for c in self.contacts if c.type == "EML" and c.verified), None)


def _first_document(documents: Sequence[EsiaDocument], doc_type: str) -> EsiaDocument | None:
    return next((d for d in documents if d.type == doc_type), None)


# ---------------------------------------------------------------------------------------------- errors


@dataclass(frozen=True)
class EsiaErrorInfo:
    oauth_error: str  # the ``error`` field ESIA sends with this code
    text: str  # Russian text after ``ESIA-0070xx: ``


#: ESIA codes this project meets; texts from ``ofstudio/go-api-epgu : esia/aas/errors.go``.
#: ``oauth_error`` for 007004, 007005, 007014, 007053 is seen in public issues, the rest is inferred.
ESIA_ERRORS: Mapping[str, EsiaErrorInfo] = {
    "ESIA-007002": EsiaErrorInfo(
        "unauthorized_client",
        "Несоответствие сертификата и мнемоники информационной системы или отсутствие сертификата "
        "для данной системы в ЕСИА",
    ),
    "ESIA-007003": EsiaErrorInfo(
        "invalid_request",
        "В запросе отсутствует обязательный параметр, запрос включает в себя неверное значение "
        "параметра или включает параметр несколько раз",
    ),
    "ESIA-007004": EsiaErrorInfo("access_denied", "Владелец ресурса или сервис авторизации отклонил запрос"),
    "ESIA-007005": EsiaErrorInfo(
        "unauthorized_client",
        "Система-клиент не имеет права запрашивать получение маркера доступа таким методом",
    ),
    "ESIA-007006": EsiaErrorInfo(
        "invalid_scope",
        "Запрошенная область доступа (scope) указана неверно, неизвестно или сформирована некорректно",
    ),
    "ESIA-007007": EsiaErrorInfo(
        "server_error",
        "Возникла неожиданная ошибка в работе сервиса авторизации, которая привела к невозможности выполнить запрос",
    ),
    "ESIA-007008": EsiaErrorInfo(
        "temporarily_unavailable",
        "Сервис авторизации в настоящее время не может выполнить запрос из-за большой нагрузки "
        "или технических работ на сервере",
    ),
    "ESIA-007009": EsiaErrorInfo(
        "unsupported_grant_type",
        "Сервис авторизации не поддерживает получение маркера доступа этим методом",
    ),
    "ESIA-007011": EsiaErrorInfo(
        "invalid_grant",
        "Авторизационный код или маркер обновления недействителен, просрочен, отозван или не "
        "соответствует адресу ресурса, указанному в запросе на авторизацию, или был выдан другой "
        "системе-клиенту",
    ),
    "ESIA-007012": EsiaErrorInfo(
        "unsupported_response_type", "Тип авторизационного кода не поддерживается сервисом авторизации"
    ),
    "ESIA-007013": EsiaErrorInfo("invalid_request", "Запрос не содержит указания на область доступа (scope)"),
    "ESIA-007014": EsiaErrorInfo("invalid_request", "Запрос не содержит обязательного параметра"),
    "ESIA-007015": EsiaErrorInfo("invalid_request", "Неверное время запроса"),
    "ESIA-007019": EsiaErrorInfo("access_denied", "Отсутствует разрешение на доступ"),
    "ESIA-007023": EsiaErrorInfo(
        "invalid_request", "Указанный в запросе <redirect_uri> отсутствует среди разрешенных для ИС"
    ),
    "ESIA-007053": EsiaErrorInfo(
        "access_denied",
        "client_secret сформирован некорректно. client_secret не соответствует строке-сертификату, "
        "информационной системе или используемый сертификат не активен",
    ),
    "ESIA-007055": EsiaErrorInfo("access_denied", "Вход в систему осуществляется с неподтвержденной учетной записью"),
}


def esia_error_description(code: str) -> str:
    """``"ESIA-0070xx: <Russian text>"`` as ESIA puts it in ``error_description``."""
    return f"{code}: {ESIA_ERRORS[code].text}"


class EsiaError(Exception):
    """Base of every error the ESIA adapter raises. ``code`` is ``ESIA-0070xx`` when ESIA named one."""

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        error: str | None = None,
        state: str | None = None,
        status_code: int | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.error = error
        self.state = state
        self.status_code = status_code


class EsiaAuthorizationError(EsiaError):
    """ESIA answered with an OAuth error (callback query or ``te`` JSON) not covered by a subclass."""


class EsiaAccessDeniedError(EsiaAuthorizationError):
    """The user refused (ESIA-007004) or has no permission (ESIA-007019)."""


class EsiaUnconfirmedAccountError(EsiaAuthorizationError):
    """ESIA-007055: the account is not confirmed (неподтвержденная учетная запись)."""


class EsiaClientSecretError(EsiaAuthorizationError):
    """ESIA-007053 / 007002: our signature, certificate hash or certificate is not accepted."""


class EsiaClockSkewError(EsiaAuthorizationError):
    """ESIA-007015: our ``timestamp`` is too far from ESIA's clock."""


class EsiaRedirectUriError(EsiaAuthorizationError):
    """ESIA-007023: ``redirect_uri`` is not registered for this information system."""


class EsiaInvalidGrantError(EsiaAuthorizationError):
    """ESIA-007011: the code or refresh token is expired, used, revoked or someone else's."""


class EsiaInvalidRequestError(EsiaAuthorizationError):
    """ESIA-007003 / 007013 / 007014: a missing or wrong parameter (a bug on our side)."""


class EsiaScopeError(EsiaAuthorizationError):
    """ESIA-007006: an unknown or malformed scope; also a REST 403 for a scope that was not granted."""


class EsiaUnauthorizedClientError(EsiaAuthorizationError):
    """ESIA-007005 / 007009: this IS may not use this grant."""


class EsiaUnavailableError(EsiaError):
    """ESIA cannot answer now: ESIA-007007/007008, 5xx, a transport error."""


class EsiaTimeoutError(EsiaUnavailableError):
    """ESIA did not answer within the adapter's deadline."""


class EsiaMalformedResponseError(EsiaError):
    """ESIA answered with a body the adapter cannot parse."""


class EsiaStateMismatchError(EsiaError):
    """The ``state`` ESIA echoed is not the one we sent (possible CSRF or a mixed-up reply)."""


class EsiaTokenValidationError(EsiaError):
    """A token from ESIA failed verification (signature, issuer, lifetime, subject, scopes)."""


class EsiaUnauthorizedError(EsiaError):
    """Person REST rejected the bearer token (401)."""


_ERROR_TYPES: Mapping[str, type[EsiaAuthorizationError]] = {
    "ESIA-007002": EsiaClientSecretError,
    "ESIA-007003": EsiaInvalidRequestError,
    "ESIA-007004": EsiaAccessDeniedError,
    "ESIA-007005": EsiaUnauthorizedClientError,
    "ESIA-007006": EsiaScopeError,
    "ESIA-007009": EsiaUnauthorizedClientError,
    "ESIA-007011": EsiaInvalidGrantError,
    "ESIA-007013": EsiaInvalidRequestError,
    "ESIA-007014": EsiaInvalidRequestError,
    "ESIA-007015": EsiaClockSkewError,
    "ESIA-007019": EsiaAccessDeniedError,
    "ESIA-007023": EsiaRedirectUriError,
    "ESIA-007053": EsiaClientSecretError,
    "ESIA-007055": EsiaUnconfirmedAccountError,
}
_UNAVAILABLE_CODES = frozenset({"ESIA-007007", "ESIA-007008"})


def error_from_esia(
    error: str | None, description: str | None, *, state: str | None = None, status_code: int | None = None
) -> EsiaError:
    """Map ESIA's ``error`` / ``error_description`` (``"ESIA-0070xx: …"``) to a typed exception."""
    description = description or ""
    head = description.split(":", 1)[0].strip()
    code = head if head.startswith("ESIA-") else None
    message = description or error or "ошибка ЕСИА без описания"
    cls: type[EsiaError]
    if code in _UNAVAILABLE_CODES:
        cls = EsiaUnavailableError
    elif code is not None and code in _ERROR_TYPES:
        cls = _ERROR_TYPES[code]
    elif error == "access_denied":
        cls = EsiaAccessDeniedError
    else:
        cls = EsiaAuthorizationError
    return cls(message, code=code, error=error, state=state, status_code=status_code)


# ---------------------------------------------------------------------------------------------- protocol


@runtime_checkable
class EsiaIdentityProvider(Protocol):
    """The ESIA operations the identity domain uses. All network methods raise :class:`EsiaError`."""

    async def build_authorization_url(
        self,
        *,
        scopes: Sequence[str] | None = None,
        access_type: AccessType = "offline",
        state: str | None = None,
    ) -> AuthorizationRequest:
        """Sign and return the ``/aas/oauth2/v2/ac`` URL to send the user's browser to."""
        ...

    def parse_callback(self, params: Mapping[str, str], *, expected_state: str) -> str:
        """Check the ``redirect_uri`` callback and return its code; raise the mapped error otherwise."""
        ...

    async def exchange_code(self, code: str, *, scopes: Sequence[str] | None = None) -> EsiaTokens:
        """``POST /aas/oauth2/v3/te`` with ``grant_type=authorization_code``; tokens are verified."""
        ...

    async def refresh(self, refresh_token: str, *, scopes: Sequence[str] | None = None) -> EsiaTokens:
        """``POST /aas/oauth2/v3/te`` with ``grant_type=refresh_token``; tokens are verified."""
        ...

    async def fetch_person(self, tokens: EsiaTokens, *, include_children: bool = False) -> EsiaPerson:
        """``GET /rs/prns/{oid}`` with the granted collections embedded (and the children if asked)."""
        ...

    def logout_url(self, redirect_url: str | None = None) -> str:
        """``/idp/ext/Logout?client_id=…&redirect_url=…`` for the user's browser."""
        ...
