"""The ceiling of Linli's chosen stack, for bench/wechat_peer.py: what aiohttp on uvloop does
with a WeChat callback when nothing of Linli's pipeline runs.

    .venv/bin/python -m bench.stack_floor PORT                 # verify, parse, echo
    .venv/bin/python -m bench.stack_floor PORT --sqlite FILE   # … and one committed row each

The same checks as Linli's webhook (signature, timestamp window, size and DTD checks, XML
parse) through Linli's own WeChat adapter, then the text back as a passive reply: WeRoBot's
echo, done by aiohttp. With --sqlite, each message also writes one row to a SQLite file (WAL,
synchronous=NORMAL, as Linli's database) and commits before answering: the least a durable
answer costs. No router, no state, no ORM, no middlewares. If this is slower than the WeRoBot
echo, no pipeline on aiohttp can be faster.
"""

from __future__ import annotations

import argparse
import sqlite3

from aiohttp import web

from bench.wrk_load import APP_ID, TOKEN
from bot.channels.wechat import WeChatGatekeeper, WeChatRejectedError, parse, render_text
from bot.serve_processes import new_event_loop


def open_store(path: str) -> sqlite3.Connection:
    """A SQLite file set up as Linli's: WAL journal, synchronous=NORMAL."""
    store = sqlite3.connect(path, isolation_level=None)
    store.execute("PRAGMA journal_mode=WAL")
    store.execute("PRAGMA synchronous=NORMAL")
    store.execute(
        "CREATE TABLE IF NOT EXISTS inbound (sender TEXT, message_id TEXT, text TEXT,"
        " PRIMARY KEY (sender, message_id))"
    )
    return store


def make_app(gate: WeChatGatekeeper, store: sqlite3.Connection | None = None) -> web.Application:
    """One POST route: verify, parse, (store,) echo; also bench/wechat_webhook.py's floor."""

    async def receive(request: web.Request) -> web.Response:
        try:
            opened = gate.open(dict(request.query), await request.read())
            message = parse(opened.xml)
        except WeChatRejectedError as rejected:
            return web.Response(status=rejected.status)
        text = str(getattr(message, "content", "") or "")
        if store is not None:
            store.execute("BEGIN IMMEDIATE")
            store.execute(
                "INSERT OR IGNORE INTO inbound VALUES (?, ?, ?)",
                (message.source, str(message.id), text),
            )
            store.execute("COMMIT")
        xml = render_text(message, text or "收到")
        return web.Response(text=gate.seal(xml, opened), content_type="application/xml")

    app = web.Application()
    app.router.add_post("/wechat", receive)
    app.router.add_get("/healthz", lambda _request: _ok())
    return app


async def _ok() -> web.Response:
    return web.Response(text="ok")


def main() -> None:
    """Serve on 127.0.0.1:PORT until terminated."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("port", type=int)
    parser.add_argument("--sqlite", help="commit one row per message to this file")
    args = parser.parse_args()
    store = open_store(args.sqlite) if args.sqlite else None
    app = make_app(WeChatGatekeeper(TOKEN, APP_ID, (), mode="plain"), store)
    web.run_app(
        app,
        host="127.0.0.1",
        port=args.port,
        print=None,
        access_log=None,
        loop=new_event_loop(True),
    )


if __name__ == "__main__":
    main()
