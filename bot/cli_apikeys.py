"""`linli apikey add|revoke|list`: keys for the Open311 API (/open311/v2/). A key is printed once,
when it is made; only its SHA-256 is kept, so a lost key is revoked and replaced, never shown."""

from __future__ import annotations

import argparse
from datetime import datetime

from bot.app import Linli
from models.api_key_ops import all_keys, keys_named_by, make_key, revoke
from models.base import SHANGHAI


def add_apikey_parser(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    """The `apikey` command and its actions."""
    apikey = commands.add_parser("apikey", help="keys for the Open311 API (/open311/v2/)")
    actions = apikey.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="make a key (printed once) for a named holder")
    add.add_argument("name", help='who holds it, e.g. "温江区12345热线"')
    revoke_parser = actions.add_parser("revoke", help="revoke a key from now on")
    revoke_parser.add_argument("key", metavar="PREFIX", help="the key's prefix (or its id)")
    actions.add_parser("list", help="every key: name, prefix, made, last used, revoked")


async def apikey_command(linli: Linli, args: argparse.Namespace) -> int:
    """Run one `linli apikey` action; its exit status."""
    if args.action == "add":
        return await apikey_add(linli, args.name)
    if args.action == "revoke":
        return await apikey_revoke(linli, args.key)
    return await apikey_list(linli)


async def apikey_add(linli: Linli, name: str) -> int:
    """Make a key and print it, once, with its prefix."""
    if not name.strip():
        print("a key needs the name of who holds it")
        return 1
    async with linli.sessions() as session, session.begin():
        made = await make_key(session, name, linli.clock.now())
    print(f"API key for {made.row.name} (id {made.row.id}, prefix {made.row.prefix}):")
    print(made.key)
    print("It is shown only now: give it to its holder. Revoke with: linli apikey revoke PREFIX")
    return 0


async def apikey_revoke(linli: Linli, named: str) -> int:
    """Revoke the one key a prefix (or id) names; 1 when it names none or several."""
    async with linli.sessions() as session, session.begin():
        found = await keys_named_by(session, named)
        if len(found) != 1:
            print(
                f"no key has the prefix or id {named!r}"
                if not found
                else f"{len(found)} keys start with {named!r}: give more of the prefix, or the id"
            )
            return 1
        row = found[0]
        if not revoke(session, row, linli.clock.now()):
            print(f"key {row.prefix} ({row.name}) was revoked already, {_when(row.revoked_at)}")
            return 0
    print(f"revoked key {row.prefix} ({row.name}); it is refused from now on")
    return 0


async def apikey_list(linli: Linli) -> int:
    """Every key with its holder, prefix, dates and state (never the key itself)."""
    async with linli.sessions() as session:
        rows = await all_keys(session)
    if not rows:
        print("no API keys yet: linli apikey add NAME")
        return 0
    print("id  prefix        created           last used         revoked           name")
    for row in rows:
        print(
            f"{row.id:<3} {row.prefix:<13} {_when(row.created_at):<17} "
            f"{_when(row.last_used_at):<17} {_when(row.revoked_at):<17} {row.name}"
        )
    return 0


def _when(at: datetime | None) -> str:
    return "-" if at is None else at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
