"""`linli apikey add|list|revoke` as an operator runs them (real subprocesses, a real SQLite
file): the key is printed once, only its SHA-256 is stored, the list never shows it, and a
revoked key is marked so."""

from __future__ import annotations

import hashlib
import re
import sqlite3
from pathlib import Path

from tests.test_cli import env_for, run, seeded

__all__ = ["seeded"]

KEY = re.compile(r"^(o311_[A-Za-z0-9_-]{40,})$", re.MULTILINE)


def test_apikey_add_list_revoke(seeded: Path) -> None:
    env = env_for(seeded)
    added = run(["apikey", "add", "温江区12345热线"], env)
    assert added.returncode == 0, added.stderr
    found = KEY.search(added.stdout)
    assert found is not None, added.stdout
    key = found.group(1)
    prefix = key[:12]
    assert f"prefix {prefix}" in added.stdout
    assert key not in added.stderr  # never in the log
    with sqlite3.connect(seeded) as db:
        [(stored_prefix, stored_hash)] = db.execute(
            "SELECT prefix, key_hash FROM apikey"
        ).fetchall()
    assert stored_prefix == prefix
    assert stored_hash == hashlib.sha256(key.encode()).hexdigest()

    second = run(["apikey", "add", "成都市民服务平台"], env)
    assert second.returncode == 0, second.stderr
    listed = run(["apikey", "list"], env)
    assert listed.returncode == 0, listed.stderr
    assert key not in listed.stdout
    lines = listed.stdout.splitlines()
    assert lines[0].split() == ["id", "prefix", "created", "last", "used", "revoked", "name"]
    assert prefix in lines[1] and "温江区12345热线" in lines[1]
    assert "2026-11-27 10:00" in lines[1] and lines[1].count(" - ") == 2  # unused, standing

    revoked = run(["apikey", "revoke", prefix], env)
    assert revoked.returncode == 0, revoked.stderr
    assert f"revoked key {prefix}" in revoked.stdout
    again = run(["apikey", "revoke", "1"], env)  # by id: already revoked, says so
    assert again.returncode == 0 and "revoked already" in again.stdout
    listed = run(["apikey", "list"], env)
    first, other = listed.stdout.splitlines()[1:3]
    assert first.count("2026-11-27 10:00") == 2 and other.count(" - ") == 2

    unknown = run(["apikey", "revoke", "o311_nothing"], env)
    assert unknown.returncode == 1 and "no key" in unknown.stdout
    too_short = run(["apikey", "revoke", "o311_"], env)  # would name every key
    assert too_short.returncode == 1
