"""Settings: demo defaults, production refusal, LINLI_NOW and the clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from pydantic import ValidationError

from bot.clock import ManualClock, SystemClock, local_today
from bot.config import ConfigurationError, Settings, check_settings, missing_secrets


def test_demo_mode_gets_a_clearly_demo_secret_kept_for_the_next_command(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("LINLI_SECRET_KEY", raising=False)
    monkeypatch.delenv("LINLI_ENV", raising=False)
    monkeypatch.setenv("LINLI_STATE_DIR", str(tmp_path / "var"))
    settings = check_settings(Settings())
    assert settings.secret_key is not None
    key = settings.secret_key.get_secret_value()
    assert key.startswith("demo-insecure-")
    assert "demo mode" in caplog.text
    assert key not in caplog.text
    kept = tmp_path / "var" / "demo-secret-key"
    assert kept.stat().st_mode & 0o077 == 0  # readable by the owner only
    again = check_settings(Settings()).secret_key
    assert again is not None and again.get_secret_value() == key


def test_production_refuses_to_start_without_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINLI_ENV", "production")
    monkeypatch.setenv("LINLI_WECHAT_APP_ID", "wx123")
    with pytest.raises(ConfigurationError) as refused:
        check_settings(Settings())
    message = str(refused.value)
    for name in (
        "LINLI_SECRET_KEY",
        "LINLI_DATA_KEYS",
        "LINLI_WECHAT_TOKEN",
        "LINLI_WECHAT_APP_SECRET",
    ):
        assert name in message


def test_production_starts_with_its_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINLI_ENV", "production")
    key = "s3cret-value-" + "7c1e" * 8
    monkeypatch.setenv("LINLI_SECRET_KEY", key)
    monkeypatch.setenv("LINLI_TELEGRAM_TOKEN", "5550123456:AAH4kQw2-Zr9Xv7Tn5Lm3Jp1Hd8Fs6Gb0Ce")
    assert missing_secrets(Settings()) == ["LINLI_DATA_KEYS", "LINLI_TELEGRAM_SECRET"]
    monkeypatch.setenv("LINLI_TELEGRAM_SECRET", "hook-secret-" + "a9" * 16)
    monkeypatch.setenv("LINLI_DATA_KEYS", "not-a-fernet-key")
    with pytest.raises(ConfigurationError, match="LINLI_DATA_KEYS must be Fernet keys"):
        check_settings(Settings())
    data_key = Fernet.generate_key().decode()
    monkeypatch.setenv("LINLI_DATA_KEYS", f"{data_key}, {Fernet.generate_key().decode()}")
    settings = check_settings(Settings())
    assert settings.data_key_list[0] == data_key
    assert data_key not in repr(settings)
    assert settings.telegram_enabled
    assert not settings.wechat_enabled
    assert key not in repr(settings)  # secrets never print


def test_now_needs_an_offset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINLI_NOW", "2026-11-28T09:30:00")
    with pytest.raises(ValidationError):
        Settings()
    monkeypatch.setenv("LINLI_NOW", "2026-11-28T09:30:00+08:00")
    assert Settings().now == datetime(2026, 11, 28, 1, 30, tzinfo=UTC)


def test_system_clock_starts_at_now_and_runs() -> None:
    start = datetime(2026, 11, 28, 1, 30, tzinfo=UTC)
    clock = SystemClock(start)
    first = clock.now()
    assert timedelta(0) <= first - start < timedelta(seconds=5)
    assert local_today(clock).isoformat() == "2026-11-28"
    assert clock.now() >= first


def test_manual_clock_moves_only_when_told() -> None:
    clock = ManualClock(datetime(2026, 11, 27, 15, 59, tzinfo=UTC))
    assert local_today(clock).isoformat() == "2026-11-27"
    clock.advance(timedelta(minutes=1))  # 16:00 UTC is midnight in Shanghai
    assert local_today(clock).isoformat() == "2026-11-28"
    with pytest.raises(ValueError, match="aware"):
        ManualClock(datetime(2026, 1, 1))
