"""One typed settings object, read from the environment.

Three profiles:

* ``embedded`` (the default): SQLite file under ``./var``, in-memory channels, Celery eager, in-process
  upstream simulators, the seeded demo region. Runs on a fresh machine with nothing else installed.
* ``production``: PostgreSQL (``DATABASE_URL`` postgresql+asyncpg), ``REDIS_URL``, Celery on Redis, real
  upstream URLs, GraphiQL and introspection off, only trusted GraphQL documents.
* ``test``: like embedded, but pointed by the test suite at real PostgreSQL and Redis.

A wrong or missing setting fails at start with one line naming it (:class:`ConfigError`).
"""

from __future__ import annotations

import enum
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from integrations.common.http import is_inprocess


class Profile(enum.StrEnum):
    EMBEDDED = "embedded"
    PRODUCTION = "production"
    TEST = "test"


class ConfigError(Exception):
    """A setting is wrong or missing; the message is one line that names it."""


def _env(name: str) -> Any:
    # Every setting is MZ_<NAME>; the two universal ones also answer to their bare names.
    return AliasChoices(f"MZ_{name}", name) if name in {"DATABASE_URL", "REDIS_URL"} else f"MZ_{name}"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", populate_by_name=True)

    profile: Profile = Field(Profile.EMBEDDED, validation_alias=_env("PROFILE"))
    var_dir: Path = Field(Path("var"), validation_alias=_env("VAR_DIR"))

    database_url: str = Field("", validation_alias=_env("DATABASE_URL"))
    database_pool_size: int = Field(10, ge=1, le=200, validation_alias=_env("DATABASE_POOL_SIZE"))
    database_echo: bool = Field(False, validation_alias=_env("DATABASE_ECHO"))
    redis_url: str = Field("", validation_alias=_env("REDIS_URL"))

    celery_broker_url: str = Field("", validation_alias=_env("CELERY_BROKER_URL"))
    celery_eager: bool | None = Field(None, validation_alias=_env("CELERY_EAGER"))

    host: str = Field("127.0.0.1", validation_alias=_env("HOST"))
    port: int = Field(8000, ge=1, le=65535, validation_alias=_env("PORT"))
    public_url: str = Field("", validation_alias=_env("PUBLIC_URL"))
    workers: int = Field(1, ge=1, le=64, validation_alias=_env("WORKERS"))

    graphiql: bool | None = Field(None, validation_alias=_env("GRAPHIQL"))
    introspection: bool | None = Field(None, validation_alias=_env("INTROSPECTION"))
    # The REST documentation page and its OpenAPI document (/api/docs): on in embedded/test, off in production.
    api_docs: bool | None = Field(None, validation_alias=_env("API_DOCS"))
    # A bearer token /metrics asks for; without one, /metrics is open except in production, where it is closed.
    metrics_token: str = Field("", validation_alias=_env("METRICS_TOKEN"))
    query_depth_limit: int = Field(12, ge=2, le=50, validation_alias=_env("QUERY_DEPTH_LIMIT"))
    query_max_tokens: int = Field(4000, ge=100, validation_alias=_env("QUERY_MAX_TOKENS"))
    query_max_aliases: int = Field(30, ge=1, validation_alias=_env("QUERY_MAX_ALIASES"))
    # The estimated cost of one operation (backend/api/cost.py) and the size of its answer.
    query_max_cost: int = Field(200_000, ge=100, validation_alias=_env("QUERY_MAX_COST"))
    query_max_result_bytes: int = Field(8_388_608, ge=65_536, validation_alias=_env("QUERY_MAX_RESULT_BYTES"))
    trusted_documents_only: bool | None = Field(None, validation_alias=_env("TRUSTED_DOCUMENTS_ONLY"))
    trusted_documents_dir: Path = Field(
        Path(__file__).resolve().parent.parent / "graphql", validation_alias=_env("TRUSTED_DOCUMENTS_DIR")
    )
    max_request_body_bytes: int = Field(1_048_576, ge=1024, validation_alias=_env("MAX_REQUEST_BODY_BYTES"))

    log_level: str = Field("INFO", validation_alias=_env("LOG_LEVEL"))
    log_json: bool = Field(True, validation_alias=_env("LOG_JSON"))

    region_code: str = Field("26", validation_alias=_env("REGION_CODE"))
    region_name: str = Field("Ставропольский край", validation_alias=_env("REGION_NAME"))
    region_timezone: str = Field("Europe/Moscow", validation_alias=_env("REGION_TIMEZONE"))
    demo_seed: int = Field(26, validation_alias=_env("DEMO_SEED"))
    demo_scale: str = Field("small", pattern="^(small|full)$", validation_alias=_env("DEMO_SCALE"))

    # Upstreams: inprocess://<name> uses the in-process simulator; http(s):// the real system or a
    # served simulator. Production refuses inprocess:// URLs.
    esia_url: str = Field("inprocess://esia", validation_alias=_env("ESIA_URL"))
    fer_url: str = Field("inprocess://fer", validation_alias=_env("FER_URL"))
    fer_guid: str = Field("demo-guid", validation_alias=_env("FER_GUID"))
    sms_url: str = Field("inprocess://sms", validation_alias=_env("SMS_URL"))
    # Medical documents (backend/documents/): ИЭМК / РЭМД and НСИ (ФНСИ).
    iemk_url: str = Field("inprocess://iemk", validation_alias=_env("IEMK_URL"))
    iemk_api_key: str = Field("", validation_alias=_env("IEMK_API_KEY"))
    nsi_url: str = Field("inprocess://nsi", validation_alias=_env("NSI_URL"))
    nsi_user_key: str = Field("nsi-demo-key", validation_alias=_env("NSI_USER_KEY"))
    # Home visits (N3 HomeCallService) and attachment (our contract, integrations/attachment).
    homecall_url: str = Field("inprocess://homecall", validation_alias=_env("HOMECALL_URL"))
    homecall_guid: str = Field("demo-homecall-guid", validation_alias=_env("HOMECALL_GUID"))
    # The guid the MIS sends in its pushes to our endpoint (empty: the same as HOMECALL_GUID).
    homecall_push_guid: str = Field("", validation_alias=_env("HOMECALL_PUSH_GUID"))
    attachment_url: str = Field("inprocess://attachment", validation_alias=_env("ATTACHMENT_URL"))
    attachment_token: str = Field("demo-attachment-token", validation_alias=_env("ATTACHMENT_TOKEN"))
    # Preferential drugs: the regional ЛЛО system and the clinic MIS's requests (our contracts, integrations/llo).
    llo_url: str = Field("inprocess://llo", validation_alias=_env("LLO_URL"))
    llo_token: str = Field("demo-llo-token", validation_alias=_env("LLO_TOKEN"))
    clinic_requests_url: str = Field("inprocess://llo", validation_alias=_env("CLINIC_REQUESTS_URL"))
    clinic_requests_token: str = Field("demo-llo-token", validation_alias=_env("CLINIC_REQUESTS_TOKEN"))
    # How long a pharmacy stock answer is served as fresh, then stale while one refresh runs (seconds).
    llo_stock_fresh_s: float = Field(60.0, gt=0, le=3600, validation_alias=_env("LLO_STOCK_FRESH_S"))
    llo_stock_stale_s: float = Field(600.0, ge=0, le=86400, validation_alias=_env("LLO_STOCK_STALE_S"))
    upstream_timeout_s: float = Field(10.0, gt=0, le=120, validation_alias=_env("UPSTREAM_TIMEOUT_S"))
    # Ambulance tracking (backend/ambulance/): the regional СМП dispatch feed (integrations/smp): its pull
    # API and token, and the secret its webhook pushes are signed with.
    smp_url: str = Field("inprocess://smp", validation_alias=_env("SMP_URL"))
    smp_token: str = Field("demo-smp-token", validation_alias=_env("SMP_TOKEN"))
    smp_webhook_secret: str = Field("demo-smp-secret", validation_alias=_env("SMP_WEBHOOK_SECRET"))
    # A brigade position's transaction commits without waiting for the WAL flush on PostgreSQL (positions are
    # superseded within 5–30 s; a crash loses at most the last ~0.6 s of them; statuses stay durable).
    ambulance_position_async_commit: bool = Field(True, validation_alias=_env("AMBULANCE_POSITION_ASYNC_COMMIT"))
    # Vaccination (backend/vaccination): the immunization register (integrations/immunization), the key the
    # certificates' QR payloads are signed with (EC P-256 PEM; empty: embedded keeps a generated key under
    # var_dir/vaccination, tests one per process; production refuses to start without it), and the public
    # verification endpoint's limit per client address and minute.
    immunization_url: str = Field("inprocess://immunization", validation_alias=_env("IMMUNIZATION_URL"))
    immunization_token: str = Field("demo-immunization-token", validation_alias=_env("IMMUNIZATION_TOKEN"))
    vaccination_certificate_key_pem: str = Field("", validation_alias=_env("VACCINATION_CERTIFICATE_KEY_PEM"))
    vaccination_verify_per_minute: int = Field(
        30, ge=1, le=10_000, validation_alias=_env("VACCINATION_VERIFY_PER_MINUTE")
    )
    # Insurance (issue 22): the ЕРЗЛ / insurer upstream (our contract, integrations/erzl).
    erzl_url: str = Field("inprocess://erzl", validation_alias=_env("ERZL_URL"))
    erzl_token: str = Field("demo-erzl-token", validation_alias=_env("ERZL_TOKEN"))

    # Notifications (notifications/): SMS provider behind sms_url (smsc or twilio), push, e-mail, timing.
    sms_provider: str = Field("smsc", pattern="^(smsc|twilio)$", validation_alias=_env("SMS_PROVIDER"))
    smsc_login: str = Field("demo", validation_alias=_env("SMSC_LOGIN"))
    smsc_password: str = Field("smsc-demo", validation_alias=_env("SMSC_PASSWORD"))
    smsc_sender: str = Field("", validation_alias=_env("SMSC_SENDER"))
    twilio_account_sid: str = Field("AC" + "0" * 32, validation_alias=_env("TWILIO_ACCOUNT_SID"))
    twilio_auth_token: str = Field("twilio-demo-token", validation_alias=_env("TWILIO_AUTH_TOKEN"))
    twilio_from_number: str = Field("", validation_alias=_env("TWILIO_FROM_NUMBER"))
    twilio_messaging_service_sid: str = Field("MG" + "0" * 32, validation_alias=_env("TWILIO_MESSAGING_SERVICE_SID"))
    push_fcm_url: str = Field("inprocess://fcm", validation_alias=_env("PUSH_FCM_URL"))
    push_fcm_service_account_json: str = Field("", validation_alias=_env("PUSH_FCM_SERVICE_ACCOUNT_JSON"))
    push_apns_url: str = Field("inprocess://apns", validation_alias=_env("PUSH_APNS_URL"))
    push_apns_team_id: str = Field("MZDEMOTEAM", validation_alias=_env("PUSH_APNS_TEAM_ID"))
    push_apns_key_id: str = Field("MZDEMOKEY1", validation_alias=_env("PUSH_APNS_KEY_ID"))
    push_apns_private_key_pem: str = Field("", validation_alias=_env("PUSH_APNS_PRIVATE_KEY_PEM"))
    push_apns_topic: str = Field("ru.gosuslugi.health", validation_alias=_env("PUSH_APNS_TOPIC"))
    # smtps://user:pass@host:465, smtp://…:587 (STARTTLS required), ?starttls=off for a local relay only;
    # empty: .eml files under var_dir/mail
    smtp_url: str = Field("", validation_alias=_env("SMTP_URL"))
    email_from: str = Field("«Мое здоровье» <no-reply@moe-zdorovye.ru>", validation_alias=_env("EMAIL_FROM"))
    notify_quiet_start_hour: int = Field(22, ge=0, le=23, validation_alias=_env("NOTIFY_QUIET_START_HOUR"))
    notify_quiet_end_hour: int = Field(8, ge=0, le=23, validation_alias=_env("NOTIFY_QUIET_END_HOUR"))
    notify_push_fallback_s: int = Field(900, ge=10, validation_alias=_env("NOTIFY_PUSH_FALLBACK_S"))
    notify_max_attempts: int = Field(6, ge=1, le=30, validation_alias=_env("NOTIFY_MAX_ATTEMPTS"))
    notify_retry_base_s: float = Field(30.0, gt=0, validation_alias=_env("NOTIFY_RETRY_BASE_S"))
    notify_send_lease_s: float = Field(120.0, gt=0, validation_alias=_env("NOTIFY_SEND_LEASE_S"))
    notify_reconcile_grace_s: float = Field(120.0, ge=0, validation_alias=_env("NOTIFY_RECONCILE_GRACE_S"))
    notify_status_poll_s: float = Field(60.0, gt=0, validation_alias=_env("NOTIFY_STATUS_POLL_S"))

    # Identity (backend/identity): our own tokens, OAuth clients, ESIA registration, operators, kiosks.
    # Empty key: embedded keeps a generated key under var_dir/identity, tests one in memory; production
    # refuses to issue tokens without it (backend.identity.tokens).
    jwt_private_key_pem: str = Field("", validation_alias=_env("JWT_PRIVATE_KEY_PEM"))
    jwt_previous_public_keys_pem: str = Field("", validation_alias=_env("JWT_PREVIOUS_PUBLIC_KEYS_PEM"))
    jwt_issuer: str = Field("", validation_alias=_env("JWT_ISSUER"))  # default: public_url
    jwt_audience: str = Field("moe-zdorovye-api", validation_alias=_env("JWT_AUDIENCE"))
    jwt_access_ttl_s: int = Field(900, ge=60, le=3600, validation_alias=_env("JWT_ACCESS_TTL_S"))
    refresh_ttl_s: int = Field(30 * 86400, ge=3600, validation_alias=_env("REFRESH_TTL_S"))
    oauth_clients: str = Field(
        '{"mz-mobile": {"redirect_uris": ["ru.gosuslugi.health://oauth/callback"], "channel": "mobile"},'
        ' "mz-epgu": {"redirect_uris": ["http://127.0.0.1:8000/oauth/callback"], "channel": "epgu"}}',
        validation_alias=_env("OAUTH_CLIENTS"),
    )
    esia_client_id: str = Field("MZDEMO01", validation_alias=_env("ESIA_CLIENT_ID"))
    esia_certificate_hash: str = Field("", validation_alias=_env("ESIA_CERTIFICATE_HASH"))
    esia_client_key_pem: str = Field("", validation_alias=_env("ESIA_CLIENT_KEY_PEM"))  # RSA/EC; GOST: a tool
    esia_public_keys_pem: str = Field("", validation_alias=_env("ESIA_PUBLIC_KEYS_PEM"))  # ESIA's token keys
    esia_portal_url: str = Field("", validation_alias=_env("ESIA_PORTAL_URL"))
    # How our client_secret is signed for a real ESIA: "key" (the RSA/EC PEM above, test contours and
    # simulators) or GOST R 34.10-2012 through CryptoPro ("csptest") or OpenSSL with the GOST engine.
    esia_signer: str = Field("key", pattern="^(key|csptest|openssl)$", validation_alias=_env("ESIA_SIGNER"))
    esia_gost_tool_path: str = Field("", validation_alias=_env("ESIA_GOST_TOOL_PATH"))  # default: the tool's name
    esia_gost_container: str = Field("", validation_alias=_env("ESIA_GOST_CONTAINER"))  # csptest key container
    esia_gost_key_path: str = Field("", validation_alias=_env("ESIA_GOST_KEY_PATH"))  # openssl: private key PEM
    esia_gost_engine: str = Field("gost", validation_alias=_env("ESIA_GOST_ENGINE"))  # openssl; empty: provider
    esia_gost_password_env: str = Field("", validation_alias=_env("ESIA_GOST_PASSWORD_ENV"))  # env var with the PIN
    # ESIA's GOST token-signing public key (PEM file), verified with openssl; instead of ESIA_PUBLIC_KEYS_PEM.
    esia_gost_public_key_path: str = Field("", validation_alias=_env("ESIA_GOST_PUBLIC_KEY_PATH"))
    operator_session_ttl_s: int = Field(1800, ge=60, le=14400, validation_alias=_env("OPERATOR_SESSION_TTL_S"))
    kiosk_idle_timeout_s: int = Field(180, ge=30, le=1800, validation_alias=_env("KIOSK_IDLE_TIMEOUT_S"))
    kiosk_identify_max_attempts: int = Field(5, ge=1, le=100, validation_alias=_env("KIOSK_IDENTIFY_MAX_ATTEMPTS"))
    kiosk_identify_window_s: int = Field(900, ge=10, validation_alias=_env("KIOSK_IDENTIFY_WINDOW_S"))
    sms_code_ttl_s: int = Field(300, ge=30, le=3600, validation_alias=_env("SMS_CODE_TTL_S"))
    demo_operator_password: str = Field("operator-demo", validation_alias=_env("DEMO_OPERATOR_PASSWORD"))

    # The document vault (backend/vault): where the encrypted blobs live, the key-encryption keys, limits.
    # "file" keeps blobs under var_dir/vault/blobs; "s3" uses an S3-compatible object store.
    vault_store: str = Field("file", pattern="^(file|s3)$", validation_alias=_env("VAULT_STORE"))
    vault_s3_endpoint: str = Field("", validation_alias=_env("VAULT_S3_ENDPOINT"))
    vault_s3_bucket: str = Field("moe-zdorovye-vault", validation_alias=_env("VAULT_S3_BUCKET"))
    vault_s3_region: str = Field("ru-central1", validation_alias=_env("VAULT_S3_REGION"))
    vault_s3_access_key: str = Field("", validation_alias=_env("VAULT_S3_ACCESS_KEY"))
    vault_s3_secret_key: str = Field("", validation_alias=_env("VAULT_S3_SECRET_KEY"))
    # Key-encryption keys "kid:base64(32 bytes)" separated by commas; the first is the active one (new
    # files and vault-rewrap), the others only unwrap. Empty: embedded keeps a generated key under
    # var_dir/vault, tests one in memory; production refuses to start without it.
    vault_keys: str = Field("", validation_alias=_env("VAULT_KEYS"))
    vault_max_file_bytes: int = Field(50 * 1024 * 1024, ge=1024, validation_alias=_env("VAULT_MAX_FILE_BYTES"))
    vault_quota_bytes: int = Field(1024 * 1024 * 1024, ge=1024, validation_alias=_env("VAULT_QUOTA_BYTES"))
    vault_recovery_days: int = Field(30, ge=1, le=365, validation_alias=_env("VAULT_RECOVERY_DAYS"))
    vault_orphan_grace_s: int = Field(3600, ge=0, validation_alias=_env("VAULT_ORPHAN_GRACE_S"))

    @model_validator(mode="after")
    def _apply_profile(self) -> Settings:  # noqa: PLR0912, PLR0915 - one branch per rule keeps it readable
        embedded = self.profile is not Profile.PRODUCTION
        if not self.database_url:
            if self.profile is Profile.PRODUCTION:
                raise ValueError("DATABASE_URL: required in production (postgresql+asyncpg://…)")
            self.database_url = f"sqlite+aiosqlite:///{(self.var_dir / 'moe-zdorovye.db').as_posix()}"
        if not self.database_url.startswith(("postgresql+asyncpg://", "sqlite+aiosqlite://")):
            raise ValueError(
                "DATABASE_URL: must start with postgresql+asyncpg:// or sqlite+aiosqlite://, "
                f"got {self.database_url.split(':', 1)[0]}://…"
            )
        if self.redis_url and not self.redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("REDIS_URL: must start with redis://, rediss:// or unix://")
        if self.celery_eager is None:
            self.celery_eager = embedded
        if self.graphiql is None:
            self.graphiql = embedded
        if self.introspection is None:
            self.introspection = embedded
        if self.api_docs is None:
            self.api_docs = embedded
        if self.trusted_documents_only is None:
            self.trusted_documents_only = not embedded
        if not self.celery_broker_url:
            self.celery_broker_url = self.redis_url or "memory://"
        if not self.public_url and embedded:
            self.public_url = f"http://{self.host}:{self.port}"
        if self.profile is Profile.PRODUCTION:
            if not self.database_url.startswith("postgresql+asyncpg://"):
                raise ValueError("DATABASE_URL: production runs on PostgreSQL (postgresql+asyncpg://…)")
            if not self.redis_url:
                raise ValueError("REDIS_URL: required in production (redis://…)")
            if self.celery_eager:
                raise ValueError("MZ_CELERY_EAGER: must be false in production (tasks run on workers)")
            upstreams = ("esia_url", "fer_url", "sms_url", "iemk_url", "nsi_url", "homecall_url", "attachment_url")
            for name in (*upstreams, "llo_url", "clinic_requests_url"):
                if is_inprocess(getattr(self, name)):
                    raise ValueError(f"MZ_{name.upper()}: production needs the real upstream URL")
            for name, why in (
                ("jwt_private_key_pem", "the key our access tokens are signed with (EC P-256 PEM)"),
                ("esia_certificate_hash", "the 64-hex hash of our ESIA certificate"),
                ("public_url", "the public https:// address (OAuth redirects, webhook signatures)"),
            ):
                if not getattr(self, name) or (name == "public_url" and not self.public_url.startswith("https://")):
                    raise ValueError(f"MZ_{name.upper()}: required in production: {why}")
            if not self.vault_keys:
                raise ValueError("MZ_VAULT_KEYS: required in production: the vault's key-encryption keys")
            if self.fer_guid == "demo-guid":
                raise ValueError("MZ_FER_GUID: production needs the booking hub's client GUID")
            if self.nsi_user_key == "nsi-demo-key":
                raise ValueError("MZ_NSI_USER_KEY: production needs the НСИ (ФНСИ) user key")
            if is_inprocess(self.immunization_url):
                raise ValueError("MZ_IMMUNIZATION_URL: production needs the real upstream URL")
            if not self.vaccination_certificate_key_pem:
                raise ValueError("MZ_VACCINATION_CERTIFICATE_KEY_PEM: required in production (EC P-256 PEM)")
            if self.homecall_guid == "demo-homecall-guid":
                raise ValueError("MZ_HOMECALL_GUID: production needs the home-call service's client GUID")
            if self.attachment_token == "demo-attachment-token":
                raise ValueError("MZ_ATTACHMENT_TOKEN: production needs the attachment service's token")
            if is_inprocess(self.smp_url) or self.smp_webhook_secret == "demo-smp-secret":
                raise ValueError("MZ_SMP_URL, MZ_SMP_WEBHOOK_SECRET: production needs the СМП feed and its secret")
            if is_inprocess(self.erzl_url) or self.erzl_token == "demo-erzl-token":
                raise ValueError("MZ_ERZL_URL, MZ_ERZL_TOKEN: production needs the real ЕРЗЛ / insurer upstream")
            if "demo-llo-token" in (self.llo_token, self.clinic_requests_token):
                raise ValueError("MZ_LLO_TOKEN / MZ_CLINIC_REQUESTS_TOKEN: production needs the services' tokens")
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def is_production(self) -> bool:
        return self.profile is Profile.PRODUCTION


def _one_line(error: ValidationError) -> str:
    first = error.errors()[0]
    loc = ".".join(str(part) for part in first.get("loc", ()))
    message = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
    name = f"MZ_{loc.upper()}" if loc else ""
    if message.split(":", 1)[0].isupper() or not name:
        return f"configuration error: {message}"
    return f"configuration error: {name}: {message}"


def load_settings(**overrides: Any) -> Settings:
    """Read the settings (environment first, then ``overrides``); raise ConfigError with one line."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(_one_line(exc)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
