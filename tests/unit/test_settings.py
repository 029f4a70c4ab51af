"""Settings are validated at start, with one readable line per bad value."""

from __future__ import annotations

from pathlib import Path

import pytest

from cms_graph.settings import SettingsError, load_settings


def test_defaults_use_sqlite(tmp_path: Path) -> None:
    settings = load_settings(_env_file=None, data_dir=tmp_path)
    assert settings.database_url is None
    assert settings.sqlite_path == tmp_path / "cms-graph.sqlite3"


def test_bad_values_listed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CMS_DATABASE_URL", "mysql://db/cms")
    monkeypatch.setenv("CMS_PORT", "99999")
    monkeypatch.setenv("CMS_BROKER_URL", "kafka://broker")
    with pytest.raises(SettingsError) as raised:
        load_settings(_env_file=None)
    message = str(raised.value)
    assert (
        "CMS_DATABASE_URL: Value error, must start with postgresql://, got scheme 'mysql'"
        in message
    )
    assert "CMS_PORT: Input should be less than or equal to 65535" in message
    assert "CMS_BROKER_URL: Value error, must start with redis:// or amqp://" in message


def test_production_needs_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CMS_ENV", "production")
    monkeypatch.setenv("CMS_DATABASE_URL", "postgresql://db/cms")
    with pytest.raises(SettingsError) as raised:
        load_settings(_env_file=None)
    assert str(raised.value) == (
        "invalid settings:\n  settings: Value error, required in production:"
        " CMS_JWT_SECRET (32+ characters); CMS_AUDIT_KEY (32+ characters);"
        " CMS_INTEGRATION_KEY (32+ characters); CMS_LOOKUP_KEY (32+ characters);"
        " CMS_SMS_GATEWAY_URL (an http:// or https:// URL)"
    )


def test_missing_policy_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CMS_SLA_POLICY", str(tmp_path / "absent.toml"))
    with pytest.raises(SettingsError, match=r"CMS_SLA_POLICY: Value error, file .* does not exist"):
        load_settings(_env_file=None)


def test_development_secret_persists(tmp_path: Path) -> None:
    settings = load_settings(_env_file=None, data_dir=tmp_path)
    first = settings.signing_secret()
    assert first == settings.signing_secret()
    assert len(first) >= 32
    assert (tmp_path / "dev-jwt-secret").stat().st_mode & 0o077 == 0


def test_export_fields_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CMS_EXPORT_FIELDS", "status, complainantName,category")
    settings = load_settings(_env_file=None)
    assert settings.export_fields == ("status", "category", "complainantName")


def test_export_fields_unknown_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CMS_EXPORT_FIELDS", "status,officerName")
    with pytest.raises(SettingsError) as raised:
        load_settings(_env_file=None)
    assert (
        "CMS_EXPORT_FIELDS: Value error, CMS_EXPORT_FIELDS has unknown field 'officerName'"
        in str(raised.value)
    )


def test_development_integration_key_persists(tmp_path: Path) -> None:
    settings = load_settings(_env_file=None, data_dir=tmp_path)
    first = settings.integration_signing_key()
    assert first == settings.integration_signing_key()
    assert len(first) >= 32
    assert (tmp_path / "dev-integration-key").stat().st_mode & 0o077 == 0


def test_production_whatsapp_needs_gateway(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CMS_ENV", "production")
    monkeypatch.setenv("CMS_DATABASE_URL", "postgresql://db/cms")
    for name in ("JWT_SECRET", "AUDIT_KEY", "INTEGRATION_KEY", "LOOKUP_KEY"):
        monkeypatch.setenv(f"CMS_{name}", "k" * 32)
    monkeypatch.setenv("CMS_SMS_GATEWAY_URL", "https://sms.example.org/send")
    monkeypatch.setenv("CMS_WHATSAPP_ENABLED", "true")
    with pytest.raises(SettingsError) as raised:
        load_settings(_env_file=None)
    assert str(raised.value) == (
        "invalid settings:\n  settings: Value error, required in production:"
        " CMS_WHATSAPP_GATEWAY_URL (CMS_WHATSAPP_ENABLED is true)"
    )


def test_probe_and_lag_limits_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CMS_PROBE_TIMEOUT_SECONDS", "1")
    monkeypatch.setenv("CMS_READY_MAX_LAG_SECONDS", "-5")
    with pytest.raises(SettingsError) as raised:
        load_settings(_env_file=None)
    message = str(raised.value)
    assert "CMS_PROBE_TIMEOUT_SECONDS: Input should be greater than or equal to 2" in message
    assert "CMS_READY_MAX_LAG_SECONDS: Input should be greater than or equal to 0" in message


def test_probe_and_lag_defaults(tmp_path: Path) -> None:
    settings = load_settings(_env_file=None, data_dir=tmp_path)
    assert settings.probe_timeout_seconds == 3
    assert settings.ready_max_lag_seconds == 300.0
