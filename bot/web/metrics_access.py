"""GET /metrics: served to this machine, and to others only with the metrics bearer token."""

from __future__ import annotations

import hmac
import json
from functools import partial

from aiohttp import web
from aiohttp.typedefs import Handler
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import SecretStr

from bot.config import Settings
from bot.i18n import normalize_lang, t
from bot.web.client import TRUSTED_PROXIES, is_local


def metrics_endpoint(token: SecretStr | None) -> Handler:
    """The /metrics handler; without a token only this machine (loopback, not proxied) gets in."""
    expected = None if token is None else token.get_secret_value().encode()

    async def metrics(request: web.Request) -> web.StreamResponse:
        if not is_local(request):
            if expected is None:
                return _refusal(request, 403, "error.metrics_forbidden")
            if not _bearer_matches(request, expected):
                return _refusal(request, 401, "error.metrics_token")
        response = web.Response(body=generate_latest())
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response

    return metrics


async def serve_metrics(settings: Settings, port: int) -> web.AppRunner:
    """A server of /metrics alone (for `linli worker`), with the same access rules as `serve`."""
    app = web.Application()
    app[TRUSTED_PROXIES] = tuple(settings.trusted_proxies)
    app.router.add_get("/metrics", metrics_endpoint(settings.metrics_token))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, settings.host, port).start()
    return runner


def _bearer_matches(request: web.Request, expected: bytes) -> bool:
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    # Constant time, so the token cannot be guessed a character at a time from response times.
    return hmac.compare_digest(presented.strip().encode(), expected)


def _refusal(request: web.Request, status: int, key: str) -> web.Response:
    asked = request.headers.get("Accept-Language", "").split(",")[0].split(";")[0]
    response = web.json_response(
        {"error": t(normalize_lang(asked) or "zh-CN", key)},
        status=status,
        dumps=partial(json.dumps, ensure_ascii=False),
    )
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
    return response
