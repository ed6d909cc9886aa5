"""Settings from LINLI_* environment variables, with demo defaults and production checks."""

from __future__ import annotations

import logging
import secrets
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, IPvAnyNetwork, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bot.secret_rules import weak_secrets
from models.sealed import derived_key, use_keys

logger = logging.getLogger(__name__)


AES_KEY_LENGTH = 43
DEMO_WECHAT_APP_ID = "wx-demo-app"


class ConfigurationError(RuntimeError):
    """The settings cannot be used to start (e.g. a production secret is missing)."""


class Settings(BaseSettings):
    """Everything an operator can set; read from LINLI_* variables."""

    # A malformed secret must not be echoed in the start-up error (it lands in the service log).
    model_config = SettingsConfigDict(
        env_prefix="LINLI_", extra="ignore", hide_input_in_errors=True
    )

    env: Literal["demo", "production"] = "demo"
    host: str = "127.0.0.1"
    port: int = 8080
    uvloop: bool = True  # server and worker processes run on uvloop when it is installed
    database_url: str = "sqlite+aiosqlite:///var/linli.db"
    # PostgreSQL connections a process keeps per database: up to twice this (the pool plus as
    # many again in overflow); with several streets, per street (see README, several streets).
    database_pool_size: int = Field(default=10, gt=0)
    # A TOML file of [[street]] entries: one deployment serving several streets (bot/streets.py).
    streets_file: Path | None = None
    data_dir: Path = Path("data")
    state_dir: Path = Path("var")  # demo mode keeps its generated secret key here
    now: datetime | None = None
    default_lang: str = "zh-CN"
    state_timeout_minutes: int = Field(default=30, gt=0)
    log_level: str = "INFO"
    log_format: Literal["json", "text"] = "text"
    chat_body_limit: int = 16_384
    chat_text_limit: int = Field(default=1000, gt=0)
    chat_rate_limit: str = "60/minute"
    # Reverse proxies whose X-Forwarded-For is believed (IPs or CIDRs, comma-separated);
    # empty: the socket's peer is the client and X-Forwarded-For is ignored.
    trusted_proxies: Annotated[list[IPvAnyNetwork], NoDecode] = []
    metrics_token: SecretStr | None = None  # Bearer token for /metrics from other machines

    secret_key: SecretStr | None = None
    # Fernet keys that seal phone and ID numbers at rest, comma-separated, newest first (demo
    # mode derives one from the secret key). The last one also keys the lookup hashes: keep it.
    data_keys: SecretStr | None = None
    wechat_token: SecretStr | None = None
    wechat_app_id: str | None = None
    wechat_app_secret: SecretStr | None = None
    wechat_aes_key: SecretStr | None = None
    wechat_aes_key_previous: SecretStr | None = None
    # 明文/兼容/安全 = plain/compatible/safe; unset: safe with an AES key, plain without.
    wechat_mode: Literal["plain", "compatible", "safe"] | None = None
    wechat_timestamp_window_seconds: float = Field(default=300.0, gt=0)
    wechat_api_base: str = "https://api.weixin.qq.com"
    wechat_api_timeout: float = 5.0
    wechat_reply_budget: float = 4.0
    wechat_body_limit: int = 65_536
    wechat_max_pending: int = Field(default=500, gt=0)
    wechat_template_id: str | None = None
    wechat_subscribe_template_id: str | None = None
    telegram_token: SecretStr | None = None
    telegram_secret: SecretStr | None = None
    telegram_api_base: str = "https://api.telegram.org"
    telegram_api_timeout: float = 10.0
    telegram_body_limit: int = 262_144
    outbox_batch: int = Field(default=200, gt=0)
    outbox_max_attempts: int = Field(default=12, gt=0)
    outbox_claim_timeout_seconds: float = Field(default=300.0, gt=0)
    reminder_evening_at: time = time(18, 0)
    reminder_before_minutes: int = Field(default=60, gt=0)
    sla_warn_hours: float = Field(default=24.0, gt=0)
    sla_accept_working_days: int = Field(default=1, gt=0)
    follow_up_after_hours: float = Field(default=2.0, ge=0)
    follow_up_nudge_after_hours: float = Field(default=48.0, gt=0)
    digest_at: time = time(8, 0)
    kpi_weekday: int = Field(default=0, ge=0, le=6)  # Monday
    kpi_at: time = time(8, 30)
    public_url: str = "http://127.0.0.1:8080"  # how residents reach us (links in messages)
    booking_per_service: int = Field(default=1, gt=0)
    booking_in_total: int = Field(default=3, gt=0)
    booking_no_show_limit: int = Field(default=2, gt=0)
    waitlist_offer_minutes: int = Field(default=30, gt=0)
    # The duty roster's weekly pattern is repeated this many weeks ahead (more than the
    # 30 days residents can book ahead, so a bookable day is never unstaffed for want of it).
    roster_weeks_ahead: int = Field(default=6, gt=0, le=52)
    need_match_threshold: float = Field(default=0.22, ge=0, le=1)
    notice_rate: float = Field(default=20.0, gt=0)  # notice deliveries a second, all channels
    # Handled messages and their replies (kept for retries) are deleted after this many days.
    inbound_retention_days: int = Field(default=180, gt=0)
    # Retention per kind of record (issue 21; scheduler/retention_kinds.py): after this many
    # days the personal data in a finished record is removed (models/anonymise.py) and the
    # record kept for the statistics. Never 0: a typo must not empty the street's history.
    # Cases: counted from closing; three years covers appeals, petitions looked at again and
    # the yearly reviews that reread them.
    retention_cases_days: int = Field(default=1095, gt=0)
    # Appointments: from the appointment's time, which chat account booked it is forgotten
    # (its reminders are long sent); a year covers a question about a missed reminder.
    retention_appointments_days: int = Field(default=365, gt=0)
    # Needs: from submission, once their item is done or turned down; items take up to two
    # years from collecting to carried out, and residents ask what became of theirs.
    retention_needs_days: int = Field(default=730, gt=0)
    # Rating comments: from the rating; the return visit is long over, the monthly and yearly
    # scorecards are out.
    retention_ratings_days: int = Field(default=365, gt=0)
    # The access log itself: three years, the least PIPL (art. 56) asks of processing records.
    retention_access_log_days: int = Field(default=1095, gt=0)
    # Residents' chat accounts not seen for this long lose their nickname and half-finished
    # conversation (the account and its link stay, so a returning resident is known).
    retention_inactive_accounts_days: int = Field(default=730, gt=0)
    bind_code_staff_hours: float = Field(default=24.0, gt=0)
    bind_code_resident_minutes: float = Field(default=10.0, gt=0)
    # Web chat pushes: live streams per client address, per account and in all; how often a
    # server process looks in the inbox table for deliveries another process stored (while
    # pages are open); and how many days of pushes given up before the web chat took them
    # migration 0009 delivered (the migration reads the variable itself).
    web_push_streams_per_address: int = Field(default=20, gt=0)
    web_push_streams_per_account: int = Field(default=4, gt=0)
    web_push_streams_total: int = Field(default=2000, gt=0)
    web_push_poll_seconds: float = Field(default=5.0, gt=0)
    web_inbox_backfill_days: int = Field(default=30, ge=0)

    @field_validator("now")
    @classmethod
    def _now_has_zone(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("LINLI_NOW needs a UTC offset, e.g. 2026-11-28T09:30:00+08:00")
        return value

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, value: object) -> object:
        if isinstance(value, str):
            return [part for part in value.replace(",", " ").split() if part]
        return value

    @field_validator("wechat_aes_key", "wechat_aes_key_previous")
    @classmethod
    def _aes_key_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) != AES_KEY_LENGTH:
            raise ValueError("a WeChat EncodingAESKey has exactly 43 characters")
        return value

    @property
    def secret_key_value(self) -> str:
        """The secret key (always set once the settings are checked)."""
        if self.secret_key is None:
            raise ConfigurationError("LINLI_SECRET_KEY is not set")
        return self.secret_key.get_secret_value()

    @property
    def data_key_list(self) -> list[str]:
        """The Fernet keys for personal data, newest first (unset: one from the secret key)."""
        if self.data_keys is None:
            return [derived_key(self.secret_key_value)]
        return [k.strip() for k in self.data_keys.get_secret_value().split(",") if k.strip()]

    @property
    def reminder_before(self) -> timedelta:
        """How long before an appointment the second reminder goes out."""
        return timedelta(minutes=self.reminder_before_minutes)

    @property
    def wechat_enabled(self) -> bool:
        """WeChat is on once an app id is configured (demo mode fills in a demo one)."""
        return bool(self.wechat_app_id)

    @property
    def telegram_enabled(self) -> bool:
        """Telegram is on once a bot token is configured."""
        return self.telegram_token is not None


def missing_secrets(settings: Settings) -> list[str]:
    """The variables a production start needs but does not have."""
    missing = [] if settings.secret_key else ["LINLI_SECRET_KEY"]
    if settings.data_keys is None:
        missing.append("LINLI_DATA_KEYS")
    if settings.wechat_enabled:
        for name in ("wechat_token", "wechat_app_secret"):
            if getattr(settings, name) is None:
                missing.append(f"LINLI_{name.upper()}")
    if settings.telegram_enabled and settings.telegram_secret is None:
        missing.append("LINLI_TELEGRAM_SECRET")
    return missing


def secret_values(settings: Settings) -> dict[str, str]:
    """Every secret that is set, by the name of its variable (for the log filter and checks)."""
    values = {
        f"LINLI_{name.upper()}": value.get_secret_value()
        for name in type(settings).model_fields
        if isinstance(value := getattr(settings, name), SecretStr) and value.get_secret_value()
    }
    try:
        password = make_url(settings.database_url).password
    except ArgumentError:  # not a URL at all: the engine will say so
        password = None
    if password:
        values["LINLI_DATABASE_URL"] = str(password)
    return values


def check_settings(settings: Settings) -> Settings:
    """Refuse a production start without its secrets; give demo mode clearly-demo defaults."""
    if settings.wechat_mode in ("safe", "compatible") and settings.wechat_aes_key is None:
        raise ConfigurationError(
            f"LINLI_WECHAT_MODE={settings.wechat_mode} needs LINLI_WECHAT_AES_KEY "
            "(the EncodingAESKey of the Official Account)"
        )
    missing = missing_secrets(settings)
    if settings.env == "production" and missing:
        raise ConfigurationError(
            "LINLI_ENV=production but these secrets are not set: " + ", ".join(missing)
        )
    _check_data_keys(settings)
    if settings.env == "production" and (weak := weak_secrets(secret_values(settings))):
        raise ConfigurationError("LINLI_ENV=production refuses weak secrets: " + "; ".join(weak))
    if settings.secret_key is None:
        settings.secret_key = SecretStr(_demo_secret_key(settings.state_dir))
    if settings.data_keys is None:
        logger.warning("demo mode: LINLI_DATA_KEYS not set, sealing with a key from the secret key")
        settings.data_keys = SecretStr(derived_key(settings.secret_key.get_secret_value()))
    if settings.env == "demo":
        _demo_wechat(settings)
        if settings.telegram_enabled and settings.telegram_secret is None:
            logger.warning("demo mode: LINLI_TELEGRAM_SECRET not set, /telegram uses a demo secret")
            settings.telegram_secret = SecretStr("demo-insecure-telegram-secret")
    return settings


def _check_data_keys(settings: Settings) -> None:
    """LINLI_DATA_KEYS, when set, must be Fernet keys (32 url-safe base64-encoded bytes)."""
    if settings.data_keys is None:
        return
    try:
        use_keys(settings.data_key_list)
    except ValueError:
        raise ConfigurationError(
            "LINLI_DATA_KEYS must be Fernet keys, comma-separated, newest first "
            '(make one with: python -c "from cryptography.fernet import Fernet; '
            'print(Fernet.generate_key().decode())")'
        ) from None


def _demo_secret_key(state_dir: Path) -> str:
    """A demo key made once and kept in state_dir, so that `linli serve` and the other `linli`
    commands (e.g. staff bind codes) agree on it; random for this process if it cannot be kept."""
    path = state_dir / "demo-secret-key"
    try:
        if path.exists():
            key = path.read_text(encoding="ascii").strip()
            if key.startswith("demo-insecure-"):
                logger.warning(
                    "demo mode: LINLI_SECRET_KEY not set, using the demo key in %s", path
                )
                return key
        key = "demo-insecure-" + secrets.token_hex(16)
        state_dir.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(key + "\n", encoding="ascii")
    except OSError:
        logger.warning("demo mode: LINLI_SECRET_KEY not set, using a random demo key")
        return "demo-insecure-" + secrets.token_hex(16)
    logger.warning("demo mode: LINLI_SECRET_KEY not set, made a demo key in %s", path)
    return key


def _demo_wechat(settings: Settings) -> None:
    """Demo mode answers /wechat with clearly-demo credentials unless real ones are set."""
    if settings.wechat_app_id is None:
        settings.wechat_app_id = DEMO_WECHAT_APP_ID
    if settings.wechat_token is None:
        if settings.streets_file is None:  # with streets, each street has its own (or a demo)
            logger.warning("demo mode: LINLI_WECHAT_TOKEN not set, /wechat uses the demo token")
        settings.wechat_token = SecretStr("demo-insecure-wechat-token")
    if settings.wechat_app_secret is None:
        settings.wechat_app_secret = SecretStr("demo-insecure-wechat-secret")


def load_settings() -> Settings:
    """Read and check the settings from the environment."""
    return check_settings(Settings())
