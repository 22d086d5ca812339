"""A wrong or missing setting fails at start with one clear line naming it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from backend.settings import ConfigError, Profile, load_settings


def test_embedded_defaults() -> None:
    settings = load_settings()
    assert settings.profile is Profile.EMBEDDED
    assert settings.database_url.startswith("sqlite+aiosqlite:///")
    assert settings.celery_eager is True
    assert settings.graphiql is True
    assert settings.fer_url == "inprocess://fer"


PRODUCTION = {
    "profile": "production",
    "database_url": "postgresql+asyncpg://u@db/mz",
    "redis_url": "redis://cache:6379/0",
    "esia_url": "https://esia.gosuslugi.ru",
    "fer_url": "https://hub.example/HubService.svc",
    "sms_url": "https://sms.example",
    "iemk_url": "https://iemk.example/iemk/api/v1",
    "nsi_url": "https://nsi.rosminzdrav.ru",
    "nsi_user_key": "nsi-production-key",
    "jwt_private_key_pem": "-----BEGIN PRIVATE KEY-----…",
    "esia_certificate_hash": "ab" * 32,
    "public_url": "https://api.moe-zdorovye.example",
    "fer_guid": "5b1e0c7a-1111-4a2b-9c3d-000000000042",
    "homecall_url": "https://hub.example/HomeCallService.svc",
    "homecall_guid": "5b1e0c7a-1111-4a2b-9c3d-000000000043",
    "attachment_url": "https://attachment.example",
    "attachment_token": "a-real-token",
    "smp_url": "https://smp.example/smp",
    "smp_webhook_secret": "a-real-smp-secret",
    "erzl_url": "https://erzl.example",
    "erzl_token": "a-real-erzl-token",
    "llo_url": "https://llo.example",
    "llo_token": "a-real-llo-token",
    "clinic_requests_url": "https://mis.example",
    "clinic_requests_token": "a-real-mis-token",
    "vault_keys": "kek-2026:" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE=",
    "immunization_url": "https://immunization.example/fhir",
    "vaccination_certificate_key_pem": "-----BEGIN PRIVATE KEY-----…",
}


def test_production_is_strict_by_default() -> None:
    settings = load_settings(**PRODUCTION)
    assert settings.graphiql is False
    assert settings.introspection is False
    assert settings.celery_eager is False
    assert settings.celery_broker_url == "redis://cache:6379/0"


@pytest.mark.parametrize(
    ("overrides", "names"),
    [
        ({"profile": "production"}, "DATABASE_URL"),
        ({"profile": "production", "database_url": "postgresql+asyncpg://u@db/mz"}, "REDIS_URL"),
        (
            {"profile": "production", "database_url": "sqlite+aiosqlite:///x.db", "redis_url": "redis://r"},
            "DATABASE_URL",
        ),
        (
            {"profile": "production", "database_url": "postgresql+asyncpg://u@db/mz", "redis_url": "redis://r"},
            "MZ_ESIA_URL",
        ),
        ({"database_url": "mysql://x/y"}, "DATABASE_URL"),
        ({"redis_url": "http://x"}, "REDIS_URL"),
        ({"port": 0}, "MZ_PORT"),
        ({"profile": "staging"}, "MZ_PROFILE"),
        ({"demo_scale": "huge"}, "MZ_DEMO_SCALE"),
        ({**PRODUCTION, "jwt_private_key_pem": ""}, "MZ_JWT_PRIVATE_KEY_PEM"),
        ({**PRODUCTION, "esia_certificate_hash": ""}, "MZ_ESIA_CERTIFICATE_HASH"),
        ({**PRODUCTION, "public_url": "http://api.example"}, "MZ_PUBLIC_URL"),
        ({**PRODUCTION, "fer_guid": "demo-guid"}, "MZ_FER_GUID"),
        ({**PRODUCTION, "iemk_url": "inprocess://iemk"}, "MZ_IEMK_URL"),
        ({**PRODUCTION, "nsi_url": "inprocess://nsi"}, "MZ_NSI_URL"),
        ({**PRODUCTION, "nsi_user_key": "nsi-demo-key"}, "MZ_NSI_USER_KEY"),
        ({**PRODUCTION, "homecall_url": "inprocess://homecall"}, "MZ_HOMECALL_URL"),
        ({**PRODUCTION, "homecall_guid": "demo-homecall-guid"}, "MZ_HOMECALL_GUID"),
        ({**PRODUCTION, "attachment_url": "inprocess://attachment"}, "MZ_ATTACHMENT_URL"),
        ({**PRODUCTION, "attachment_token": "demo-attachment-token"}, "MZ_ATTACHMENT_TOKEN"),
        ({**PRODUCTION, "smp_url": "inprocess://smp"}, "MZ_SMP_URL"),
        ({**PRODUCTION, "smp_webhook_secret": "demo-smp-secret"}, "MZ_SMP_WEBHOOK_SECRET"),
        ({**PRODUCTION, "immunization_url": "inprocess://immunization"}, "MZ_IMMUNIZATION_URL"),
        ({**PRODUCTION, "vaccination_certificate_key_pem": ""}, "MZ_VACCINATION_CERTIFICATE_KEY_PEM"),
        ({**PRODUCTION, "erzl_url": "inprocess://erzl"}, "MZ_ERZL_URL"),
        ({**PRODUCTION, "erzl_token": "demo-erzl-token"}, "MZ_ERZL_TOKEN"),
        ({**PRODUCTION, "llo_token": "demo-llo-token"}, "MZ_LLO_TOKEN"),
        ({**PRODUCTION, "llo_url": "inprocess://llo"}, "MZ_LLO_URL"),
        ({"esia_signer": "pkcs7"}, "MZ_ESIA_SIGNER"),
    ],
)
def test_bad_setting_is_one_line_naming_it(overrides: dict[str, object], names: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(**overrides)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("configuration error: ")
    assert names in message


def test_cli_fails_at_start_with_one_line() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "backend", "migrate"],
        env={"MZ_PROFILE": "production", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == "configuration error: DATABASE_URL: required in production (postgresql+asyncpg://…)"
