"""The `linli` command: serve, chat, db upgrade, seed."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from collections.abc import Sequence

from aiohttp import web
from pydantic import ValidationError

from bot.app import Linli, build_linli
from bot.clock import local_today
from bot.config import ConfigurationError, Settings, load_settings
from bot.logs import setup_logging
from models.migrate import upgrade
from models.seed import read_toml, seed_residents, seed_street

logger = logging.getLogger("linli")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="linli", description="Linli (邻里) street-office chatbot")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the web chat, API and webhooks")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    chat = commands.add_parser("chat", help="chat on this terminal")
    chat.add_argument("--user", help="console account id (default: console-<os user>)")
    chat.add_argument("--lang", default="zh-CN", choices=["zh-CN", "en"])
    db = commands.add_parser("db", help="database schema")
    db.add_argument("action", choices=["upgrade"])
    wechat = commands.add_parser("wechat", help="WeChat Official Account tools")
    wechat.add_argument("action", choices=["menu"], help="menu: push data/wechat.toml's menu")
    seed = commands.add_parser("seed", help="load data/ (idempotent) and optional synthetic data")
    seed.add_argument("--residents", type=int, default=0, help="add N synthetic residents")
    return parser


async def _with_linli(settings: Settings, work: str, args: argparse.Namespace) -> None:
    linli = build_linli(settings)
    try:
        if work == "db":
            await upgrade(linli.engine)
            logger.info("database schema is up to date")
        elif work == "seed":
            await _seed(linli, args.residents)
        elif work == "wechat":
            await _push_wechat_menu(linli)
        elif work == "chat":
            from bot.channels.console import run_console

            await run_console(linli.pipeline, user=args.user, lang=args.lang)
    finally:
        await linli.close()


async def _seed(linli: Linli, residents: int) -> None:
    async with linli.sessions() as session, session.begin():
        report = await seed_street(
            session, linli.settings.data_dir, local_today(linli.clock), linli.clock.now()
        )
    logger.info("seeded street data: %s", report.counts)
    if residents > 0:
        started = time.perf_counter()
        async with linli.sessions() as session, session.begin():
            await seed_residents(session, residents, linli.settings.data_dir, linli.clock.now())
        logger.info(
            "added %d synthetic residents in %.1f s", residents, time.perf_counter() - started
        )


async def _push_wechat_menu(linli: Linli) -> None:
    if linli.wechat_api is None:
        raise ConfigurationError("WeChat is not configured (LINLI_WECHAT_APP_ID, …_APP_SECRET)")
    data = read_toml(linli.settings.data_dir, "wechat.toml")
    menu = {"button": data["menu"]["button"]}
    await linli.wechat_api.call(lambda client: client.menu.create(menu))
    logger.info("pushed the custom menu: %d top-level buttons", len(menu["button"]))


def _serve(settings: Settings, args: argparse.Namespace) -> None:
    from bot.web.app import create_web_app

    host = args.host or settings.host
    port = args.port or settings.port
    app = create_web_app(build_linli(settings), run_worker=True)
    logger.info("serving on http://%s:%d", host, port)
    web.run_app(app, host=host, port=port, print=None, shutdown_timeout=10)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `linli` console script."""
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
    except (ConfigurationError, ValidationError) as error:
        print(f"linli: the settings cannot be used: {error}", file=sys.stderr)
        return 2
    setup_logging(settings.log_level, settings.log_format)
    if args.command == "chat":  # the terminal is the conversation: keep routine logs out of it
        logging.getLogger().setLevel(max(logging.WARNING, logging.getLogger().level))
    try:
        if args.command == "serve":
            _serve(settings, args)
        else:
            asyncio.run(_with_linli(settings, args.command, args))
    except ConfigurationError as error:
        print(f"linli: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
