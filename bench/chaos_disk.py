"""Fault: the disk under the SQLite file fills up while residents submit needs on the web chat.

The file sits on a small tmpfs mounted for the run (root only). Residents write, the rest of the
disk is filled with a file of zeros, more residents try, the file is deleted, more write. Every
answer must be a polite one (HTTP 200 with Linli's apology, not a 500 or a trace), every need
acknowledged must be in the file exactly once, and the file must pass `PRAGMA integrity_check`.
"""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from bench.chaos_report import FaultResult, duplicates
from bot.app import build_linli
from bot.clock import ManualClock
from bot.config import Settings
from bot.i18n import t
from bot.web.app import create_web_app
from tests.conftest import DATA, START

HEADROOM = 6 * 1024 * 1024  # bytes of the tmpfs beyond the database file
CHUNK = 64 * 1024
PER_PHASE = 8
# Different enough that none is offered as another's "+1".
WISHES = (
    "希望小区里装一个快递柜，取件方便",
    "路灯坏了好几盏，晚上走路看不清",
    "想在社区开一个老年书法班",
    "楼下的篮球架需要修一修",
    "希望周末有儿童托管服务",
    "小区门口的垃圾桶太少了",
    "想要一个社区菜园种点菜",
    "希望增加到地铁站的公交车",
)


@contextlib.contextmanager
def small_disk(where: Path, size: int) -> Iterator[Path]:
    """A tmpfs of size bytes mounted at where for the block (unmounted after, even on error)."""
    where.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], check=True)
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(directory: Path) -> Path:
    """Write zeros until the disk is full; returns the file to delete to free it."""
    filler = directory / "filler"
    with filler.open("wb") as out:
        try:
            while True:
                out.write(b"\0" * CHUNK)
                out.flush()
        except OSError:
            pass
    return filler


def _size(path: Path) -> int:
    return path.stat().st_size


async def disk_full(template: Path, workdir: Path) -> FaultResult:
    """Run the fault on a copy of template (a migrated, seeded SQLite file)."""
    result = FaultResult("SQLite disk full", "tmpfs filled while residents submit needs")
    with small_disk(workdir / "disk", _size(template) + HEADROOM) as disk:
        db = disk / "linli.db"
        shutil.copy(template, db)
        settings = Settings(
            database_url=f"sqlite+aiosqlite:///{db}",
            data_dir=DATA,
            secret_key="chaos",
            chat_rate_limit="1000000/minute",
        )
        linli = build_linli(settings, clock=ManualClock(START))
        acked: list[str] = []
        try:
            async with TestClient(TestServer(create_web_app(linli), host="127.0.0.1")) as client:
                acked += await _phase(client, "before", result)
                filler = fill(disk)
                full = await _phase(client, "full", result)
                filler.unlink()
                freed = time.monotonic()
                after = await _phase(client, "after", result)
                result.recovery_seconds = time.monotonic() - freed
                acked += full + after
                if len(after) < PER_PHASE:
                    result.lost.append(f"only {len(after)} of {PER_PHASE} needs after space freed")
        finally:
            await linli.close()
        _judge(db, acked, result)
    return result


async def _phase(client: TestClient[Any, Any], label: str, result: FaultResult) -> list[str]:
    """PER_PHASE residents each submit a need; returns the texts acknowledged."""
    acked = []
    for n, wish in enumerate(WISHES[:PER_PHASE]):
        text = f"{wish}（{label}-{n}）"
        if await _submit(client, f"disk-{label}-{n}", text, result):
            acked.append(text)
    return acked


async def _submit(client: TestClient[Any, Any], user: str, text: str, result: FaultResult) -> bool:
    """One resident's need through the web chat; True if it was acknowledged."""
    said: dict[str, Any] = {"text": "需求"}
    for _ in range(5):
        response = await client.post("/api/chat", json={"user": user, **said})
        if response.status != 200:
            result.lost.append(f"{user}: HTTP {response.status}")
            return False
        replies = (await response.json())["replies"]
        first = replies[0]["text"] if replies else ""
        if first == t("zh-CN", "error.polite"):
            result.polite_errors += 1
            return False
        if "已记录您的需求" in first:
            result.acknowledged += 1
            return True
        buttons = [b["payload"] for r in replies for b in r.get("buttons", [])]
        fresh = [p for p in buttons if p.startswith("need:new:")]
        said = {"text": text} if said == {"text": "需求"} else {"payload": (fresh or buttons)[0]}
    result.lost.append(f"{user}: the need flow did not end ({first[:40]})")
    return False


def _judge(db: Path, acked: list[str], result: FaultResult) -> None:
    """Integrity, and every acknowledged need in the file exactly once."""
    with contextlib.closing(sqlite3.connect(db)) as connection:
        verdict = connection.execute("PRAGMA integrity_check").fetchone()[0]
        texts = [row[0] for row in connection.execute("SELECT text FROM need")]
    if verdict != "ok":
        result.lost.append(f"integrity_check: {verdict}")
    result.notes.append(f"PRAGMA integrity_check: {verdict}")
    result.lost += [text for text in acked if text not in texts]
    result.duplicated += duplicates(texts)
