"""Settings read from ``CMS_*`` environment variables and an optional ``.env`` file."""

from __future__ import annotations

import secrets
from enum import StrEnum
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from cms_graph.application.field_limits import COMPLAINT_FIELDS, validate_fields
from cms_graph.domain.errors import InvalidInput


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class LogFormat(StrEnum):
    JSON = "json"
    CONSOLE = "console"


class SettingsError(Exception):
    """Raised at start when one or more settings are invalid; the message lists each."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CMS_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    env: Environment = Environment.DEVELOPMENT
    data_dir: Path = Field(default=Path("var"), description="SQLite file and local state")
    database_url: str | None = Field(default=None, description="postgresql://user@host/db")
    broker_url: str | None = Field(default=None, description="redis://… or amqp://…")
    sla_policy: Path | None = None
    units_file: Path | None = Field(default=None, description="unit hierarchy CSV; demo if unset")
    jwt_secret: str | None = Field(default=None, min_length=32)
    audit_key: str | None = Field(
        default=None, min_length=32, description="HMAC key that signs hash-chain checkpoints"
    )
    integration_key: str | None = Field(
        default=None,
        min_length=32,
        description="HMAC key from which integrations' webhook signing secrets are derived",
    )
    export_fields: Annotated[tuple[str, ...], NoDecode] = Field(
        default=COMPLAINT_FIELDS,
        description="comma-separated complaint fields that staff may export",
    )
    export_max_rows: int = Field(default=10_000, ge=1, le=1_000_000)
    lookup_key: str | None = Field(
        default=None,
        min_length=32,
        description="HMAC key of the CNIC and phone lookup index; generated in development",
    )
    psrms_url: str | None = Field(
        default=None,
        description="base URL of PSRMS, which registers FIRs; unset means the in-process"
        " stand-in in development and no FIR registration in production",
    )
    psrms_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    jwt_issuer: str = "cms-graph"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    log_level: str = "INFO"
    log_format: LogFormat | None = Field(
        default=None,
        description="json or console; unset means json in production, console in development",
    )
    projection_batch_size: int = Field(default=500, ge=1, le=100_000)
    projection_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    sweep_seconds: float = Field(
        default=30.0, gt=0, le=3600, description="how often workers sweep for passed deadlines"
    )
    webhook_timeout_seconds: float = Field(
        default=10.0, gt=0, le=60, description="how long one webhook POST may take, in seconds"
    )
    webhook_max_retries: int = Field(
        default=12,
        ge=0,
        le=30,
        description="retries of a failing webhook before it is FAILED; with the default"
        " backoffs, 12 retries span an estimated 2.5 to 4.5 hours",
    )
    webhook_min_backoff_ms: int = Field(
        default=5_000, ge=1, description="delay before the first webhook retry, in ms"
    )
    webhook_max_backoff_ms: int = Field(
        default=3_600_000, ge=1, description="maximum delay between webhook retries, in ms"
    )
    webhook_sweep_seconds: float = Field(
        default=30.0, gt=0, le=3600, description="how often workers sweep for unsent webhooks"
    )
    migrate_on_start: bool = Field(
        default=True,
        description="create and migrate tables at start; off when the service runs as a"
        " role without CREATE, after 'cms-graph migrate' ran as the owner",
    )
    subscription_queue_size: int = Field(
        default=1000,
        ge=1,
        le=1_000_000,
        description="events a subscriber may fall behind before its subscription ends",
    )
    demo_data: bool = Field(default=True, description="lodge demo complaints on an empty store")
    probe_timeout_seconds: int = Field(
        default=3,
        ge=2,
        le=60,
        description="how long /readyz and /metrics wait for the database or the broker to"
        " connect or answer one request, in whole seconds (libpq's minimum is 2)",
    )
    ready_max_lag_seconds: float = Field(
        default=300.0,
        ge=0,
        le=86_400,
        description="/readyz returns 503 when a projection has not applied an event recorded"
        " this many seconds ago, or never when set to 0",
    )
    # Complainant notifications. Without a gateway URL, messages of that channel are
    # appended to CMS_DATA_DIR/sent_messages.jsonl instead (the embedded default).
    sms_gateway_url: str | None = Field(default=None, description="HTTP(S) SMS gateway")
    sms_gateway_token: SecretStr | None = Field(default=None, description="bearer token")
    whatsapp_enabled: bool = Field(default=False, description="also send by WhatsApp")
    whatsapp_gateway_url: str | None = Field(default=None, description="HTTP(S) WhatsApp gateway")
    whatsapp_gateway_token: SecretStr | None = Field(default=None, description="bearer token")
    notification_max_attempts: int = Field(default=8, ge=1, le=100)
    notification_min_backoff_seconds: float = Field(default=5.0, gt=0, le=3600)
    notification_max_backoff_seconds: float = Field(default=900.0, gt=0, le=86_400)
    notification_claim_timeout_seconds: float = Field(
        default=300.0, gt=0, le=86_400, description="when a SENDING claim may be taken over"
    )
    notification_max_age_hours: float = Field(
        default=48.0, gt=0, description="older steps are skipped, not sent late"
    )

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        assert value is not None
        scheme = urlsplit(value).scheme
        if scheme not in ("postgresql", "postgres"):
            raise ValueError(f"must start with postgresql://, got scheme {scheme!r}")
        return value

    @field_validator("broker_url")
    @classmethod
    def _check_broker_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        assert value is not None
        scheme = urlsplit(value).scheme
        if scheme not in ("redis", "rediss", "amqp", "amqps"):
            raise ValueError(f"must start with redis:// or amqp://, got scheme {scheme!r}")
        return value

    @field_validator("export_fields", mode="before")
    @classmethod
    def _check_export_fields(cls, value: object) -> tuple[str, ...]:
        names = value.split(",") if isinstance(value, str) else value
        if not isinstance(names, list | tuple):
            raise ValueError(f"must be a comma-separated list of fields, got {value!r}")
        try:
            return validate_fields(
                [str(name).strip() for name in names if str(name).strip()],
                field=("CMS_EXPORT_FIELDS",),
            )
        except InvalidInput as error:
            raise ValueError(error.message) from None

    @field_validator("psrms_url")
    @classmethod
    def _check_psrms_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        assert value is not None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"must be an http:// or https:// URL with a host, got {value!r}")
        return value

    @field_validator("sms_gateway_url", "whatsapp_gateway_url")
    @classmethod
    def _check_gateway_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        assert value is not None
        scheme = urlsplit(value).scheme
        if scheme not in ("http", "https"):
            raise ValueError(f"must start with http:// or https://, got scheme {scheme!r}")
        return value

    @field_validator("log_level")
    @classmethod
    def _check_log_level(cls, value: str) -> str:
        levels = ("DEBUG", "INFO", "WARNING", "ERROR")
        if value.upper() not in levels:
            raise ValueError(f"must be one of {', '.join(levels)}, got {value!r}")
        return value.upper()

    @field_validator("log_format", mode="before")
    @classmethod
    def _normalise_log_format(cls, value: object) -> object:
        if value == "":
            return None
        return value.lower() if isinstance(value, str) else value

    @field_validator("sla_policy", "units_file")
    @classmethod
    def _check_file_exists(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"file {str(value)!r} does not exist")
        return value

    @model_validator(mode="after")
    def _check_production(self) -> Settings:
        if self.env is Environment.PRODUCTION:
            missing = []
            if not self.database_url:
                missing.append("CMS_DATABASE_URL (a postgresql:// URL)")
            if not self.jwt_secret:
                missing.append("CMS_JWT_SECRET (32+ characters)")
            if not self.audit_key:
                missing.append("CMS_AUDIT_KEY (32+ characters)")
            if not self.integration_key:
                missing.append("CMS_INTEGRATION_KEY (32+ characters)")
            if not self.lookup_key:
                missing.append("CMS_LOOKUP_KEY (32+ characters)")
            if not self.sms_gateway_url:
                # Without a gateway, no message would reach a complainant.
                missing.append("CMS_SMS_GATEWAY_URL (an http:// or https:// URL)")
            if self.whatsapp_enabled and not self.whatsapp_gateway_url:
                missing.append("CMS_WHATSAPP_GATEWAY_URL (CMS_WHATSAPP_ENABLED is true)")
            if missing:
                raise ValueError("required in production: " + "; ".join(missing))
        return self

    @property
    def is_production(self) -> bool:
        return self.env is Environment.PRODUCTION

    @property
    def resolved_log_format(self) -> LogFormat:
        """The log format in force: CMS_LOG_FORMAT, or the default of the environment."""
        if self.log_format is not None:
            return self.log_format
        return LogFormat.JSON if self.is_production else LogFormat.CONSOLE

    @property
    def sent_messages_path(self) -> Path:
        """The file the file gateway appends messages to, one JSON object a line."""
        return self.data_dir / "sent_messages.jsonl"

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "cms-graph.sqlite3"

    def signing_secret(self) -> str:
        """Return the JWT secret, creating a development one under the data directory."""
        return self.jwt_secret or self._development_secret("dev-jwt-secret")

    def audit_signing_key(self) -> bytes:
        """Return the checkpoint key, creating a development one under the data directory."""
        return (self.audit_key or self._development_secret("dev-audit-key")).encode()

    def integration_signing_key(self) -> bytes:
        """Return the integration key, creating a development one under the data directory."""
        return (self.integration_key or self._development_secret("dev-integration-key")).encode()

    def lookup_index_key(self) -> bytes:
        """Return the lookup index key, creating a development one under the data directory.

        Changing it makes every indexed complaint unfindable until the index is rebuilt.
        """
        return (self.lookup_key or self._development_secret("dev-lookup-key")).encode()

    def _development_secret(self, name: str) -> str:
        path = self.data_dir / name
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()


def load_settings(**overrides: object) -> Settings:
    """Read settings, turning validation failures into one readable SettingsError."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]  # pydantic validates them
    except ValidationError as error:
        lines = []
        for problem in error.errors():
            name = "_".join(str(part) for part in problem["loc"]).upper()
            setting = f"CMS_{name}" if name else "settings"
            lines.append(f"  {setting}: {problem['msg']}")
        raise SettingsError("invalid settings:\n" + "\n".join(lines)) from None
