"""Issue 16, finding 3: a production start refuses demo, default and short secrets.

`linli` is started the way an operator starts it, with LINLI_* variables; one secret at a time
is made weak. Start-up must stop before any work, name the variable and never print the value.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from bot.config import Settings, check_settings
from tests.wechat_fixtures import AES_KEY

STRONG = {
    "LINLI_ENV": "production",
    "LINLI_SECRET_KEY": "9f2c4e6a8b0d1f3e5a7c9e1b3d5f7a9c2e4b6d8f0a1c3e5b7d9f1a3c5e7b9d1f",
    "LINLI_DATA_KEYS": "3QBwj4nnFm1VVgIjRq9RFSvQlrgu3BmBPWiyXyJstOo=",
    "LINLI_WECHAT_APP_ID": "wx5f3c1a9e7d2b4c6e",
    "LINLI_WECHAT_TOKEN": "Q7wE9rT2yU4iO6pA8sD0fG",
    "LINLI_WECHAT_APP_SECRET": "3e5b7d9f1a3c5e7b9d1f2c4e6a8b0d1f",
    "LINLI_WECHAT_AES_KEY": AES_KEY,
    "LINLI_TELEGRAM_TOKEN": "5550123456:AAH4kQw2-Zr9Xv7Tn5Lm3Jp1Hd8Fs6Gb0Ce",
    "LINLI_TELEGRAM_SECRET": "b7d9f1a3c5e7b9d1f2c4e6a8b0d1f3e5a7c9e1b3",
    "LINLI_METRICS_TOKEN": "c5e7b9d1f2c4e6a8b0d1f3e5a7c9e1b3d5f7a9c2",
}

WEAK = [
    ("LINLI_SECRET_KEY", "demo-insecure-0123456789abcdef0123456789abcdef", "is a demo value"),
    ("LINLI_SECRET_KEY", "s3cret-value", "is shorter than 32 characters"),
    ("LINLI_TELEGRAM_SECRET", "demo-insecure-telegram-secret", "is a demo value"),
    ("LINLI_TELEGRAM_SECRET", "hook-secret", "is shorter than 32 characters"),
    ("LINLI_TELEGRAM_TOKEN", "123:abc", "is not a bot token"),
    ("LINLI_WECHAT_TOKEN", "demo-insecure-wechat-token", "is a demo value"),
    ("LINLI_WECHAT_TOKEN", "abc", "must be 16 to 32 letters or digits"),
    ("LINLI_WECHAT_TOKEN", "token-with-dashes-longer", "must be 16 to 32 letters or digits"),
    ("LINLI_WECHAT_APP_SECRET", "demo-insecure-wechat-secret", "is a demo value"),
    ("LINLI_WECHAT_APP_SECRET", "appsecret", "is shorter than 32 characters"),
    ("LINLI_METRICS_TOKEN", "metrics", "is shorter than 32 characters"),
]


@pytest.fixture
def production(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """An operator's environment with strong secrets for every channel."""
    monkeypatch.setenv("LINLI_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'linli.db'}")
    monkeypatch.setenv("LINLI_STATE_DIR", str(tmp_path / "var"))
    for name, value in STRONG.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


def test_strong_secrets_start(production: pytest.MonkeyPatch) -> None:
    settings = check_settings(Settings())
    assert settings.telegram_enabled and settings.wechat_enabled


@pytest.mark.parametrize(("name", "value", "reason"), WEAK)
def test_serve_refuses_a_weak_secret_and_names_it(
    production: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    name: str,
    value: str,
    reason: str,
) -> None:
    production.setenv(name, value)
    assert main(["db", "upgrade"]) == 2
    error = capsys.readouterr().err
    assert f"{name} {reason}" in error
    assert value not in error


def test_demo_mode_keeps_its_demo_secrets(production: pytest.MonkeyPatch) -> None:
    production.setenv("LINLI_ENV", "demo")
    production.setenv("LINLI_SECRET_KEY", "short")
    assert check_settings(Settings()).secret_key is not None


def test_a_malformed_secret_is_refused_without_printing_it(
    production: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    production.setenv("LINLI_WECHAT_AES_KEY", "a-secret-aes-key-of-the-wrong-length")
    assert main(["db", "upgrade"]) == 2
    error = capsys.readouterr().err
    assert "wechat_aes_key" in error and "43 characters" in error
    assert "a-secret-aes-key-of-the-wrong-length" not in error
