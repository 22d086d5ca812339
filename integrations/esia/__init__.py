"""ESIA (ЕСИА, Gosuslugi identity): the adapter the identity domain uses and its simulator.

* :mod:`~integrations.esia.protocol` — :class:`EsiaIdentityProvider`, result dataclasses, typed errors;
* :mod:`~integrations.esia.client` — :class:`EsiaClient`, the httpx implementation;
* :mod:`~integrations.esia.signer` — ``client_secret`` signers (GOST through an external tool, RSA/EC);
* :mod:`~integrations.esia.simulator` — :func:`create_esia_simulator`, the in-process ESIA.
"""

from integrations.esia.client import EsiaClient
from integrations.esia.protocol import (
    AuthorizationRequest,
    EsiaAccessDeniedError,
    EsiaAddress,
    EsiaAuthorizationError,
    EsiaChild,
    EsiaClientSecretError,
    EsiaClockSkewError,
    EsiaContact,
    EsiaDocument,
    EsiaError,
    EsiaIdentityProvider,
    EsiaInvalidGrantError,
    EsiaInvalidRequestError,
    EsiaMalformedResponseError,
    EsiaPerson,
    EsiaRedirectUriError,
    EsiaScopeError,
    EsiaStateMismatchError,
    EsiaTimeoutError,
    EsiaTokens,
    EsiaTokenValidationError,
    EsiaUnauthorizedClientError,
    EsiaUnauthorizedError,
    EsiaUnavailableError,
    EsiaUnconfirmedAccountError,
)
from integrations.esia.signer import EcSigner, GostSigner, GostVerifier, RsaSigner, Signer

__all__ = [
    "AuthorizationRequest",
    "EcSigner",
    "EsiaAccessDeniedError",
    "EsiaAddress",
    "EsiaAuthorizationError",
    "EsiaChild",
    "EsiaClient",
    "EsiaClientSecretError",
    "EsiaClockSkewError",
    "EsiaContact",
    "EsiaDocument",
    "EsiaError",
    "EsiaIdentityProvider",
    "EsiaInvalidGrantError",
    "EsiaInvalidRequestError",
    "EsiaMalformedResponseError",
    "EsiaPerson",
    "EsiaRedirectUriError",
    "EsiaScopeError",
    "EsiaStateMismatchError",
    "EsiaTimeoutError",
    "EsiaTokenValidationError",
    "EsiaTokens",
    "EsiaUnauthorizedClientError",
    "EsiaUnauthorizedError",
    "EsiaUnavailableError",
    "EsiaUnconfirmedAccountError",
    "GostSigner",
    "GostVerifier",
    "RsaSigner",
    "Signer",
]
