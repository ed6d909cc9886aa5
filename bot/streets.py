"""Several streets in one deployment: the streets file (LINLI_STREETS_FILE) read and checked.

Each street is a whole Linli of its own (database, data directory, chat accounts, worker and
scheduler); only the host name a request arrives on decides which street answers it. A street's
settings are the deployment's settings with the street's entry laid over them, except the ones
that identify the street, which are never inherited (two streets must not share them).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from aiohttp.web_urldispatcher import Domain
from pydantic import SecretStr, ValidationError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bot.config import ConfigurationError, Settings, check_settings, secret_values

# Set in each street's entry and never taken from the environment: they make the street itself.
OWN = frozenset(
    {
        "secret_key",
        "public_url",
        "wechat_token",
        "wechat_app_id",
        "wechat_app_secret",
        "wechat_aes_key",
        "wechat_aes_key_previous",
        "wechat_template_id",
        "wechat_subscribe_template_id",
        "telegram_token",
        "telegram_secret",
    }
)
REQUIRED = ("code", "hosts", "database_url", "data_dir")
# One for the whole deployment: the process, its log, and the one keyring that seals phone and
# ID numbers (models/sealed.py keeps a single keyring per process).
DISTRICT_WIDE = frozenset(
    {"env", "host", "port", "streets_file", "data_keys", "log_level", "log_format"}
)
# No two streets may share one of these: a callback or webhook would reach the wrong street.
CHANNEL_IDS = ("wechat_app_id", "wechat_token", "wechat_aes_key", "telegram_token")
CODE = re.compile(r"[A-Z][A-Z0-9]{0,7}")


@dataclass(frozen=True)
class Street:
    """One street of the deployment: its code, the host names it answers on, its settings."""

    code: str
    hosts: tuple[str, ...]
    settings: Settings


def load_streets(base: Settings) -> list[Street]:
    """The streets of LINLI_STREETS_FILE, each with checked settings; refuses a bad file."""
    if base.streets_file is None:
        raise ConfigurationError("LINLI_STREETS_FILE is not set")
    entries = _entries(base.streets_file)
    _check_codes_apart(entries)
    streets = [_street(base, entry, n) for n, entry in enumerate(entries, 1)]
    _check_distinct(streets)
    return streets


def all_secret_values(streets: Iterable[Street]) -> dict[str, str]:
    """Every secret of every street, by street and variable (for the log filter)."""
    return {
        f"{street.code} {name}": value
        for street in streets
        for name, value in secret_values(street.settings).items()
    }


def _entries(path: Path) -> list[dict[str, Any]]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigurationError(f"LINLI_STREETS_FILE {path}: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigurationError(f"LINLI_STREETS_FILE {path} is not valid TOML: {error}") from None
    entries = data.get("street")
    if not isinstance(entries, list) or not entries:
        raise ConfigurationError(f"LINLI_STREETS_FILE {path} has no [[street]] entries")
    unknown = sorted(set(data) - {"street"})
    if unknown:
        raise ConfigurationError(f"LINLI_STREETS_FILE {path}: unknown tables {unknown}")
    return entries


def _street(base: Settings, entry: dict[str, Any], number: int) -> Street:
    code = entry.get("code")
    where = f"street {code}" if isinstance(code, str) else f"[[street]] number {number}"
    missing = [key for key in REQUIRED if key not in entry]
    if missing:
        raise ConfigurationError(f"{where}: missing {', '.join(missing)}")
    if not isinstance(code, str) or not CODE.fullmatch(code):
        raise ConfigurationError(f"{where}: code must be 1-8 capital letters or digits")
    hosts = _hosts(where, entry["hosts"])
    settings = _settings(base, code, hosts, _overrides(where, entry))
    _check_data_dir(where, code, settings.data_dir)
    return Street(code, hosts, settings)


def _hosts(where: str, hosts: object) -> tuple[str, ...]:
    if isinstance(hosts, str) or not isinstance(hosts, list) or not hosts:
        raise ConfigurationError(f"{where}: hosts must be a list of host names")
    names = []
    for host in hosts:
        if not isinstance(host, str) or "*" in host:
            raise ConfigurationError(f"{where}: {host!r} is not a host name")
        try:
            names.append(Domain(host).canonical)
        except ValueError:
            raise ConfigurationError(f"{where}: {host!r} is not a host name") from None
    return tuple(names)


def _overrides(where: str, entry: dict[str, Any]) -> dict[str, Any]:
    overrides = {key: value for key, value in entry.items() if key not in ("code", "hosts")}
    unknown = sorted(set(overrides) - set(Settings.model_fields))
    if unknown:
        raise ConfigurationError(f"{where}: unknown settings {unknown}")
    shared = sorted(set(overrides) & DISTRICT_WIDE)
    if shared:
        raise ConfigurationError(
            f"{where}: {', '.join(shared)} is one for the whole deployment, "
            "set it in the environment instead"
        )
    return overrides


def _settings(
    base: Settings, code: str, hosts: tuple[str, ...], overrides: dict[str, Any]
) -> Settings:
    values: dict[str, Any] = {
        name: getattr(base, name) for name in Settings.model_fields if name not in OWN
    }
    values.update({name: None for name in OWN})  # explicit: the environment's must not leak in
    values["public_url"] = f"https://{hosts[0]}"
    values["secret_key"] = SecretStr(street_secret(base.secret_key_value, code))
    values.update(overrides)
    values["streets_file"] = None
    try:
        settings = Settings(**values)
    except ValidationError as error:
        raise ConfigurationError(f"street {code}: {error}") from None
    if settings.env == "demo":
        _demo_channels(settings, code.lower())
    try:
        return check_settings(settings)
    except ConfigurationError as error:
        raise ConfigurationError(f"street {code}: {error}") from None


def street_secret(secret: str, code: str) -> str:
    """A street's own secret key from the deployment's, so that a signed cookie, link or token
    of one street (staff and resident ids repeat across streets' databases) is worthless on
    another."""
    return hmac.new(secret.encode(), f"linli-street:{code}".encode(), hashlib.sha256).hexdigest()


def _demo_channels(settings: Settings, code: str) -> None:
    """Demo credentials of the street's own, where check_settings would give every street the
    same ones (and the streets then refuse each other)."""
    if settings.wechat_app_id is None:
        settings.wechat_app_id = f"wx-demo-{code}"
        if settings.wechat_token is None:
            settings.wechat_token = SecretStr(f"demo-insecure-wechat-token-{code}")
    if settings.telegram_token is not None and settings.telegram_secret is None:
        settings.telegram_secret = SecretStr(f"demo-insecure-telegram-secret-{code}")


def street_table(data_dir: Path) -> dict[str, Any]:
    """The [street] table of a data directory's street.toml (OSError or TOMLDecodeError when it
    cannot be read)."""
    street = tomllib.loads((data_dir / "street.toml").read_text(encoding="utf-8")).get("street")
    return street if isinstance(street, dict) else {}


def _check_data_dir(where: str, code: str, data_dir: Path) -> None:
    path = data_dir / "street.toml"
    try:
        street = street_table(data_dir)
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ConfigurationError(f"{where}: cannot read {path}: {error}") from None
    if street.get("code") != code:
        raise ConfigurationError(
            f"{where}: {path} is the street {street.get('code')!r}; reference numbers carry "
            "that code, so the streets file must use the same one"
        )


def _check_codes_apart(entries: list[dict[str, Any]]) -> None:
    """Refuse two codes that differ only by case: `linli --street` matches codes without case."""
    seen: dict[str, str] = {}
    for code in (entry.get("code") for entry in entries):
        if not isinstance(code, str):
            continue
        other = seen.setdefault(code.upper(), code)
        if other != code:
            raise ConfigurationError(
                f"streets {other!r} and {code!r} differ only by case; `linli --street` "
                "matches codes without case, so each street needs a code of its own"
            )


def find_street(streets: Iterable[Street], code: str) -> Street | None:
    """The street with this code, in any case (`--street yn` is YN), or None."""
    wanted = code.strip().upper()
    return next((street for street in streets if street.code == wanted), None)


def _check_distinct(streets: list[Street]) -> None:
    _distinct(streets, "code", lambda street: [street.code])
    _distinct(streets, "host", lambda street: list(street.hosts))
    _distinct(
        streets,
        "database (two streets on one database would share its tables and its locks)",
        lambda street: [_database_key(street.settings.database_url)],
    )
    _distinct(streets, "data_dir", lambda street: [str(street.settings.data_dir.resolve())])
    for name in CHANNEL_IDS:
        _distinct(streets, name, partial(_secret, name=name))


def _distinct(streets: list[Street], what: str, keys: Callable[[Street], list[str]]) -> None:
    seen: dict[str, str] = {}
    for street in streets:
        for key in keys(street):
            if key in seen:
                raise ConfigurationError(
                    f"streets {seen[key]} and {street.code} have the same {what}"
                )
            seen[key] = street.code


def _secret(street: Street, name: str) -> list[str]:
    value = getattr(street.settings, name)
    if value is None:
        return []
    return [value.get_secret_value() if isinstance(value, SecretStr) else str(value)]


def _database_key(url: str) -> str:
    """What makes two database URLs the same database."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigurationError("a street's database_url is not a database URL") from None
    if parsed.get_backend_name() == "sqlite":
        return "sqlite:" + str(Path(parsed.database or ":memory:").resolve())
    port = parsed.port or (5432 if parsed.get_backend_name() == "postgresql" else 0)
    host = (parsed.host or "localhost").lower()
    return f"{parsed.get_backend_name()}://{host}:{port}/{parsed.database}"
