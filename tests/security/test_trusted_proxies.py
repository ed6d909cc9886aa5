"""Issue 16, finding 7: behind a reverse proxy each resident has a rate limit of their own.

The test client plays the reverse proxy (it connects from 127.0.0.1) and sends X-Forwarded-For
as nginx does: whatever the client sent, then the address it saw the client connect from.
"""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bot.config import Settings
from tests.security.conftest import Client, OpenApp

LIMIT = "3/minute"  # chat messages a minute per client


async def chat(client: Client, user: str, forwarded_for: str | None) -> int:
    """One web chat message through /api/chat; the HTTP status."""
    headers = {} if forwarded_for is None else {"X-Forwarded-For": forwarded_for}
    body = {"user": user, "text": "菜单"}
    response = await client.post("/api/chat", json=body, headers=headers)
    return response.status


async def test_residents_behind_a_trusted_proxy_are_limited_one_by_one(open_app: OpenApp) -> None:
    client = await open_app(trusted_proxies=["127.0.0.1"], chat_rate_limit=LIMIT)
    assert [await chat(client, "resident-a", "203.0.113.10") for _ in range(4)] == [
        *[200] * 3,
        429,
    ]
    assert await chat(client, "resident-b", "203.0.113.20") == 200  # not blocked by A


async def test_a_forged_forwarded_for_does_not_escape_the_limit(open_app: OpenApp) -> None:
    client = await open_app(trusted_proxies=["127.0.0.1"], chat_rate_limit=LIMIT)
    # The attacker at 198.51.100.7 sends a new X-Forwarded-For each time; nginx appends the truth.
    statuses = [await chat(client, f"attacker-{i}", f"10.9.9.{i}, 198.51.100.7") for i in range(5)]
    assert statuses == [200, 200, 200, 429, 429]


async def test_trust_walks_only_through_trusted_hops(open_app: OpenApp) -> None:
    client = await open_app(trusted_proxies=["127.0.0.1", "10.0.0.0/8"], chat_rate_limit=LIMIT)
    chain = "192.0.2.66, 203.0.113.10, 10.1.2.3"  # client-sent, then two proxies of ours
    assert [await chat(client, "resident-a", chain) for _ in range(4)][-1] == 429
    assert await chat(client, "resident-b", "192.0.2.66, 203.0.113.20, 10.1.2.3") == 200


async def test_forwarded_for_split_over_several_header_lines_is_read_in_order(
    open_app: OpenApp,
) -> None:
    client = await open_app(trusted_proxies=["127.0.0.1"], chat_rate_limit=LIMIT)
    headers = [("X-Forwarded-For", "10.9.9.9"), ("X-Forwarded-For", "198.51.100.7")]
    for i in range(3):
        response = await client.post(
            "/api/chat", json={"user": f"resident-{i}", "text": "菜单"}, headers=headers
        )
        assert response.status == 200
    assert await chat(client, "resident-9", "198.51.100.7") == 429  # the same client, one bucket


@pytest.mark.parametrize("trusted", [[], ["10.0.0.0/8"]])
async def test_forwarded_for_from_an_untrusted_peer_is_ignored(
    open_app: OpenApp, trusted: list[str]
) -> None:
    client = await open_app(
        trusted_proxies=trusted, chat_rate_limit=LIMIT
    )  # the loopback peer is not a trusted proxy
    statuses = [await chat(client, f"attacker-{i}", f"203.0.113.{i}") for i in range(5)]
    assert statuses == [200, 200, 200, 429, 429]


def test_trusted_proxies_are_read_from_a_comma_separated_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LINLI_TRUSTED_PROXIES", "127.0.0.1, 10.0.0.0/8 ::1")
    assert [str(net) for net in Settings().trusted_proxies] == [
        "127.0.0.1/32",
        "10.0.0.0/8",
        "::1/128",
    ]
    monkeypatch.setenv("LINLI_TRUSTED_PROXIES", "10.0.0.1/8")  # host bits set: a typo
    with pytest.raises(ValidationError):
        Settings()
    monkeypatch.delenv("LINLI_TRUSTED_PROXIES")
    assert Settings().trusted_proxies == []
