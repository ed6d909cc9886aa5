"""What a production start demands of each secret: no demo value, long enough, the right shape."""

from __future__ import annotations

import re
from collections.abc import Mapping

DEMO_MARK = "demo-insecure"
# Secrets we make ourselves (e.g. `openssl rand -hex 32`) and the platforms' issued ones.
MIN_LENGTH = {
    "LINLI_SECRET_KEY": 32,
    "LINLI_TELEGRAM_SECRET": 32,
    "LINLI_METRICS_TOKEN": 32,
    "LINLI_WECHAT_APP_SECRET": 32,  # WeChat issues 32 hex characters
}
# The platform allows 3–32 letters or digits; under 16 a captured signature gives it away.
WECHAT_TOKEN = re.compile(r"[A-Za-z0-9]{16,32}")
TELEGRAM_TOKEN = re.compile(r"[0-9]+:[A-Za-z0-9_-]{30,}")  # @BotFather's <bot id>:<35 chars>


def weak_secrets(secrets: Mapping[str, str]) -> list[str]:
    """Why each weak secret (variable name to value) cannot be used, naming its variable."""
    reasons = []
    for name, value in secrets.items():
        reason = _weakness(name, value)
        if reason:
            reasons.append(f"{name} {reason}")
    return reasons


def _weakness(name: str, value: str) -> str | None:
    if DEMO_MARK in value.lower():
        return "is a demo value"
    if name == "LINLI_WECHAT_TOKEN" and not WECHAT_TOKEN.fullmatch(value):
        return "must be 16 to 32 letters or digits"
    if name == "LINLI_TELEGRAM_TOKEN" and not TELEGRAM_TOKEN.fullmatch(value):
        return "is not a bot token from @BotFather (<bot id>:<35 characters>)"
    minimum = MIN_LENGTH.get(name, 0)
    if len(value) < minimum:
        return f"is shorter than {minimum} characters"
    return None
