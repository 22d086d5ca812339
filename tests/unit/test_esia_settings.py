"""Switching to the real ESIA is a settings change: the signer and the token verifier come from them."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from backend.adapters import build_esia, real_gost_verifier, real_signer
from backend.settings import load_settings
from integrations.esia import EcSigner
from integrations.esia.signer import GostSigner, GostVerifier

REAL = {
    "esia_url": "https://esia-portal1.test.gosuslugi.ru",
    "esia_certificate_hash": "ab" * 32,
    "esia_gost_public_key_path": "/etc/moe-zdorovye/esia-test.pem",
}


def test_cryptopro_signer_and_gost_verifier_from_settings() -> None:
    settings = load_settings(**REAL, esia_signer="csptest", esia_gost_container="\\\\.\\HDIMAGE\\mz")
    signer = real_signer(settings)
    assert isinstance(signer, GostSigner)
    assert (signer.tool, signer.tool_path, signer.container) == ("csptest", "csptest", "\\\\.\\HDIMAGE\\mz")
    assert signer.reverses_output  # CryptoPro writes the signature little-endian
    verifier = real_gost_verifier(settings)
    assert isinstance(verifier, GostVerifier)
    assert verifier.public_key_path == "/etc/moe-zdorovye/esia-test.pem"
    client, simulator = build_esia(settings)
    assert simulator is None
    assert client is not None


def test_openssl_gost_signer_needs_its_key() -> None:
    settings = load_settings(
        **REAL, esia_signer="openssl", esia_gost_key_path="/keys/mz.pem", esia_gost_password_env="PIN"
    )
    signer = real_signer(settings)
    assert isinstance(signer, GostSigner)
    assert (signer.tool, signer.key_path, signer.engine, signer.password_env) == (
        "openssl",
        "/keys/mz.pem",
        "gost",
        "PIN",
    )
    assert not signer.reverses_output
    with pytest.raises(ValueError, match="key"):
        real_signer(load_settings(**REAL, esia_signer="openssl"))


def test_key_signer_and_missing_settings_are_refused_clearly() -> None:
    pem = (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        .decode()
    )
    assert isinstance(real_signer(load_settings(**REAL, esia_client_key_pem=pem)), EcSigner)
    with pytest.raises(RuntimeError, match="MZ_ESIA_CLIENT_KEY_PEM"):
        real_signer(load_settings(**REAL))
    with pytest.raises(RuntimeError, match="MZ_ESIA_CERTIFICATE_HASH"):
        build_esia(load_settings(esia_url=REAL["esia_url"], esia_signer="csptest", esia_gost_container="c"))
    with pytest.raises(RuntimeError, match="MZ_ESIA_PUBLIC_KEYS_PEM"):
        build_esia(
            load_settings(
                esia_url=REAL["esia_url"],
                esia_certificate_hash="ab" * 32,
                esia_signer="csptest",
                esia_gost_container="c",
            )
        )
