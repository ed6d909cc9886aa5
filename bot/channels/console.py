"""The console channel (`linli chat`): a prompt, replies as text, options numbered."""

from __future__ import annotations

import asyncio
import getpass
import sys
import threading
from typing import TextIO

from bot.i18n import t
from bot.messages import Inbound
from bot.pipeline import Pipeline
from bot.render import numbered_text

CHANNEL = "console"


def _read_lines_in_background(stdin: TextIO) -> asyncio.Queue[str]:
    """Lines from stdin ("" at the end), read by a daemon thread so Ctrl-C is never stuck on it."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str] = asyncio.Queue()

    def pump() -> None:
        while True:
            line = stdin.readline()
            loop.call_soon_threadsafe(queue.put_nowait, line)
            if not line:
                return

    threading.Thread(target=pump, name="console-stdin", daemon=True).start()
    return queue


def default_user() -> str:
    """The console account is the operating-system user, so state survives restarts."""
    return f"console-{getpass.getuser()}"


async def run_console(
    pipeline: Pipeline,
    *,
    user: str | None = None,
    lang: str = "zh-CN",
    stdin: TextIO = sys.stdin,
    stdout: TextIO = sys.stdout,
) -> None:
    """Chat on the terminal until end of input."""
    user_ref = user or default_user()
    lines = _read_lines_in_background(stdin)

    async def send(inbound: Inbound) -> None:
        stdout.write(numbered_text(await pipeline.handle(inbound)) + "\n\n")
        stdout.flush()

    await send(Inbound(CHANNEL, user_ref, payload="menu", lang=lang))
    while True:
        stdout.write(f"{t(lang, 'console.prompt')}> ")
        stdout.flush()
        line = await lines.get()
        if not line:
            stdout.write("\n" + t(lang, "console.bye") + "\n")
            return
        if line.strip():
            await send(Inbound(CHANNEL, user_ref, text=line.rstrip("\n"), lang=lang))
