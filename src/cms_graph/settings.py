"""Settings read from ``CMS_*`` environment variables and an optional ``.env`` file."""

from __future__ import annotations

import secrets
from enum import StrEnum
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


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
    demo_data: bool = Field(default=True, description="lodge demo complaints on an empty store")

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
    def sqlite_path(self) -> Path:
        return self.data_dir / "cms-graph.sqlite3"

    def signing_secret(self) -> str:
        """Return the JWT secret, creating a development one under the data directory."""
        return self.jwt_secret or self._development_secret("dev-jwt-secret")

    def audit_signing_key(self) -> bytes:
        """Return the checkpoint key, creating a development one under the data directory."""
        return (self.audit_key or self._development_secret("dev-audit-key")).encode()

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
