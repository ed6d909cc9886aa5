"""The `linli` command: serve, worker, chat, db, seed, wechat, telegram, staff, roster, calendar."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import date, timedelta
from functools import partial
from pathlib import Path

from pydantic import ValidationError
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.app import Linli, build_linli
from bot.cli_access_log import add_access_log_parser, run_access_log
from bot.cli_apikeys import add_apikey_parser, apikey_command
from bot.cli_export import add_export_parser, run_export
from bot.cli_needs import (
    needs_export,
    needs_merge,
    needs_rename,
    needs_split,
    needs_stage,
    needs_top,
)
from bot.cli_roster import (
    calendar_check,
    roster_export,
    roster_extend,
    roster_gaps,
    roster_import,
)
from bot.cli_staff import (
    DESK_ACCOUNTS,
    NewStaff,
    new_password_hash,
    staff_add,
    staff_deactivate,
    staff_feed_address,
    staff_passwd,
    staff_unbind,
)
from bot.cli_streets import chosen_settings
from bot.clock import local_today
from bot.config import ConfigurationError, Settings, load_settings
from bot.logs import setup_logging
from bot.router import Router
from models.base import SHANGHAI
from models.binding import find_staff, format_code, issue_bind_code
from models.migrate import schema_is_current, upgrade
from models.org import StaffRole
from models.people import seal_stored_numbers
from models.seed import read_toml, seed_residents, seed_street
from models.synthetic_cases import seed_cases

logger = logging.getLogger("linli")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="linli", description="Linli (邻里) street-office chatbot")
    parser.add_argument(
        "--street", metavar="CODE", help="the street to act on (with LINLI_STREETS_FILE)"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the web chat, API and webhooks")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument(
        "--processes",
        type=int,
        default=1,
        help="server processes sharing the port (SO_REUSEPORT); SQLite: only the first "
        "delivers and runs the scheduler",
    )
    serve.add_argument("--no-worker", action="store_true", help="do not deliver the outbox here")
    serve.add_argument("--no-scheduler", action="store_true", help="do not run periodic jobs here")
    worker = commands.add_parser("worker", help="outbox delivery and the scheduler, no web server")
    worker.add_argument("--no-delivery", action="store_true", help="only the scheduler")
    worker.add_argument("--no-scheduler", action="store_true", help="only the delivery worker")
    worker.add_argument("--metrics-port", type=int, help="serve Prometheus metrics on this port")
    chat = commands.add_parser("chat", help="chat on this terminal")
    chat.add_argument("--user", help="console account id (default: console-<os user>)")
    chat.add_argument("--lang", default="zh-CN", choices=["zh-CN", "en"])
    db = commands.add_parser("db", help="database schema")
    db.add_argument("action", choices=["upgrade"])
    wechat = commands.add_parser("wechat", help="WeChat Official Account tools")
    wechat.add_argument("action", choices=["menu"], help="menu: push data/wechat.toml's menu")
    telegram = commands.add_parser("telegram", help="Telegram bot tools")
    telegram_actions = telegram.add_subparsers(dest="action", required=True)
    webhook = telegram_actions.add_parser("webhook", help="register /telegram with the secret")
    webhook.add_argument("--url", required=True, help="public https URL ending in /telegram")
    telegram_actions.add_parser("poll", help="long polling, for a machine without a public URL")
    telegram_actions.add_parser("commands", help="register the command menu in zh and en")
    roster = commands.add_parser("roster", help="the duty roster as CSV")
    roster_actions = roster.add_subparsers(dest="action", required=True)
    roster_in = roster_actions.add_parser("import", help="replace shifts and skills from a CSV")
    roster_in.add_argument("file", type=Path)
    roster_out = roster_actions.add_parser("export", help="shifts and skills as CSV")
    roster_out.add_argument("--from", dest="start", type=date.fromisoformat, help="YYYY-MM-DD")
    roster_out.add_argument("--to", dest="end", type=date.fromisoformat, help="YYYY-MM-DD")
    roster_out.add_argument("--out", type=Path, help="file to write (default: stdout)")
    extend = roster_actions.add_parser("extend", help="repeat the weekly pattern weeks ahead now")
    extend.add_argument("--weeks", type=int, help="default: LINLI_ROSTER_WEEKS_AHEAD")
    gaps = roster_actions.add_parser("gaps", help="services with no staffed slot soon")
    gaps.add_argument("--days", type=int, default=14, help="days ahead to look (default 14)")
    calendar = commands.add_parser("calendar", help="the holiday calendar")
    calendar_actions = calendar.add_subparsers(dest="action", required=True)
    check = calendar_actions.add_parser("check", help="warn about unpublished holiday years")
    check.add_argument("--years", type=int, default=1, help="years ahead to check")
    needs = commands.add_parser("needs", help="residents' needs")
    needs_actions = needs.add_subparsers(dest="action", required=True)
    top = needs_actions.add_parser("top", help="items with the most new supporters")
    top.add_argument("--days", type=int, default=7)
    stage = needs_actions.add_parser("stage", help="move an item on (its supporters are told)")
    stage.add_argument("item", type=int)
    stage.add_argument("stage", help="approved, planning, review, implementing, done, rejected")
    stage.add_argument("--reason", help="required for rejected")
    merge = needs_actions.add_parser("merge", help="fold the second item into the first")
    merge.add_argument("keep", type=int)
    merge.add_argument("absorb", type=int)
    rename = needs_actions.add_parser("rename", help="give an item a new title")
    rename.add_argument("item", type=int)
    rename.add_argument("title")
    split = needs_actions.add_parser("split", help="move some needs of an item to a new item")
    split.add_argument("item", type=int)
    split.add_argument(
        "needs", type=int, nargs="+", help="need ids (`linli needs export --needs` lists them)"
    )
    export = needs_actions.add_parser("export", help="items as CSV")
    export.add_argument("--out", type=Path)
    export.add_argument("--needs", action="store_true", help="every need instead of the items")
    staff = commands.add_parser("staff", help="staff accounts")
    staff_actions = staff.add_subparsers(dest="action", required=True)
    bind_code = staff_actions.add_parser("bind-code", help="a one-time code to bind a chat account")
    bind_code.add_argument("staff", help="staff code (e.g. S001) or numeric id")
    unbind = staff_actions.add_parser("unbind", help="unbind every chat account of a staff member")
    unbind.add_argument("staff", help="staff code (e.g. S001) or numeric id")
    deactivate = staff_actions.add_parser(
        "deactivate", help="mark a staff member inactive and unbind all their chat accounts"
    )
    deactivate.add_argument("staff", help="staff code (e.g. S001) or numeric id")
    feed = staff_actions.add_parser("feed", help="the address of a staff member's calendar feed")
    feed.add_argument("staff", help="staff code (e.g. S001) or numeric id")
    feed.add_argument("--revoke", action="store_true", help="end the old address, print a new one")
    _staff_desk_parsers(staff_actions)
    add_export_parser(commands)
    add_apikey_parser(commands)
    add_access_log_parser(commands)
    seed = commands.add_parser("seed", help="load data/ (idempotent) and optional synthetic data")
    seed.add_argument("--residents", type=int, default=0, help="add N synthetic residents")
    seed.add_argument(
        "--cases", type=int, default=0, help="add N synthetic cases (needs residents)"
    )
    return parser


def _staff_desk_parsers(staff_actions: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """linli staff add | passwd: desk accounts (the password from LINLI_STAFF_PASSWORD, else
    asked on the terminal)."""
    add = staff_actions.add_parser("add", help="a new staff member with a desk (/admin) password")
    add.add_argument("staff", metavar="CODE", help="staff code, e.g. S045")
    add.add_argument("--name", required=True)
    add.add_argument("--role", required=True, choices=[role.value for role in StaffRole])
    add.add_argument("--department", help="department code, e.g. civil_affairs")
    add.add_argument("--community", help="community code, e.g. C01")
    add.add_argument("--grid", type=int, help="grid number within --community")
    add.add_argument("--window", type=int, help="hall window number")
    passwd = staff_actions.add_parser("passwd", help="set a staff member's desk password")
    passwd.add_argument("staff", help="staff code (e.g. S001) or numeric id")


async def _with_linli(settings: Settings, work: str, args: argparse.Namespace) -> int:
    """Run one command against a built system; its exit status."""
    polling = work == "telegram" and args.action == "poll"
    # Desk accounts need the database only, not the conversation's router (and its models).
    light = work in ("export", "apikey", "access-log") or (
        work == "staff" and args.action in {*DESK_ACCOUNTS, "feed"}
    )
    accounts = Router("desk accounts") if light else None
    linli = build_linli(settings, telegram_polling=polling, router=accounts)
    status = 0
    try:
        if work == "db":
            await upgrade(linli.engine)
            async with linli.sessions() as session, session.begin():
                if sealed := await seal_stored_numbers(session):
                    logger.info("sealed %d phone numbers kept before sealing began", sealed)
            logger.info("database schema is up to date")
        elif work == "seed":
            if not await schema_is_current(linli.engine):
                raise ConfigurationError(
                    f"the database is not up to date: run `{_upgrade_hint(args)}` first"
                )
            await _seed(linli, args.residents, args.cases)
        elif work == "wechat":
            await _push_wechat_menu(linli)
        elif work == "telegram":
            await run_telegram_action(linli, args)
        elif work == "staff":
            await _staff(linli, args)
        elif work == "worker":
            await run_worker(linli, args)
        elif work == "roster" and args.action == "import":
            status = await roster_import(linli, args.file)
        elif work == "roster" and args.action == "extend":
            status = await roster_extend(linli, args.weeks)
        elif work == "roster" and args.action == "gaps":
            status = await roster_gaps(linli, args.days)
        elif work == "roster":
            status = await roster_export(linli, args.start, args.end, args.out)
        elif work == "calendar":
            status = await calendar_check(linli, args.years)
        elif work == "export":
            status = await run_export(linli, args)
        elif work == "needs":
            status = await _needs(linli, args)
        elif work == "access-log":
            status = await run_access_log(linli, args)
        elif work == "apikey":
            status = await apikey_command(linli, args)
        elif work == "chat":
            from bot.channels.console import run_console

            await run_console(linli.pipeline, user=args.user, lang=args.lang)
    finally:
        await linli.close()
    return status


def _upgrade_hint(args: argparse.Namespace) -> str:
    street = getattr(args, "street", None)
    return f"linli --street {street} db upgrade" if street else "linli db upgrade"


async def _seed(linli: Linli, residents: int, cases: int = 0) -> None:
    async with linli.sessions() as session, session.begin():
        report = await seed_street(
            session, linli.settings.data_dir, local_today(linli.clock), linli.clock.now()
        )
    logger.info("seeded street data: %s", report.counts)
    await roster_extend(linli)  # a fresh demo is staffed as far ahead as the scheduler keeps it
    now, data_dir = linli.clock.now(), linli.settings.data_dir
    if residents > 0:
        await _timed(
            linli,
            residents,
            "residents",
            partial(seed_residents, count=residents, data_dir=data_dir, now=now),
        )
    if cases > 0:
        await _timed(linli, cases, "cases", partial(seed_cases, count=cases, now=now))


async def _timed(
    linli: Linli, count: int, what: str, add: Callable[[AsyncSession], Awaitable[object]]
) -> None:
    started = time.perf_counter()
    async with linli.sessions() as session, session.begin():
        await add(session)
    logger.info("added %d synthetic %s in %.1f s", count, what, time.perf_counter() - started)


async def _push_wechat_menu(linli: Linli) -> None:
    if linli.wechat_api is None:
        raise ConfigurationError("WeChat is not configured (LINLI_WECHAT_APP_ID, …_APP_SECRET)")
    data = read_toml(linli.settings.data_dir, "wechat.toml")
    menu = {"button": data["menu"]["button"]}
    await linli.wechat_api.call(lambda client: client.menu.create(menu))
    logger.info("pushed the custom menu: %d top-level buttons", len(menu["button"]))


async def run_telegram_action(linli: Linli, args: argparse.Namespace) -> None:
    """linli telegram webhook|poll|commands."""
    bot, secret = linli.telegram, linli.settings.telegram_secret
    if bot is None or secret is None:
        raise ConfigurationError("Telegram is not configured (LINLI_TELEGRAM_TOKEN)")
    lists = await bot.register_commands()
    logger.info("registered the command menu in %d languages", lists)
    if args.action == "webhook":
        if not args.url.startswith("https://"):
            raise ConfigurationError("Telegram only calls https:// webhook URLs")
        await bot.set_webhook(args.url, secret.get_secret_value())
        logger.info("webhook set to %s", args.url)
    elif args.action == "poll":
        await poll_telegram(linli)


async def poll_telegram(linli: Linli, stop: asyncio.Event | None = None) -> None:
    """Long polling with the outbox worker beside it, until stop is set or Ctrl-C."""
    assert linli.telegram is not None
    stop = stop or asyncio.Event()
    worker = asyncio.create_task(linli.worker.run())
    logger.info("polling Telegram for updates; Ctrl-C stops")
    try:
        await linli.telegram.run_polling(stop)
    finally:
        await linli.worker.stop_and_wait(worker)


async def _staff(linli: Linli, args: argparse.Namespace) -> None:
    action, key = args.action, args.staff
    if action == "unbind":
        await staff_unbind(linli, key)
    elif action == "deactivate":
        await staff_deactivate(linli, key)
    elif action == "add":
        new = NewStaff(
            key,
            args.name,
            StaffRole(args.role),
            department=args.department,
            community=args.community,
            grid=args.grid,
            window=args.window,
        )
        await staff_add(linli, new, args.password_hash)
    elif action == "passwd":
        await staff_passwd(linli, key, args.password_hash)
    elif action == "feed":
        await staff_feed_address(linli, key, revoke=args.revoke)
    else:
        await print_staff_bind_code(linli, key)


async def _needs(linli: Linli, args: argparse.Namespace) -> int:
    if args.action == "top":
        return await needs_top(linli, args.days)
    if args.action == "stage":
        return await needs_stage(linli, args.item, args.stage, args.reason)
    if args.action == "merge":
        return await needs_merge(linli, args.keep, args.absorb)
    if args.action == "rename":
        return await needs_rename(linli, args.item, args.title)
    if args.action == "split":
        return await needs_split(linli, args.item, args.needs)
    return await needs_export(linli, args.out, args.needs)


async def run_worker(linli: Linli, args: argparse.Namespace) -> None:
    """linli worker: delivery and scheduler until SIGTERM or Ctrl-C, then a graceful stop."""
    from bot.web.app import Background
    from bot.web.metrics_access import serve_metrics

    metrics = await serve_metrics(linli.settings, args.metrics_port) if args.metrics_port else None
    background = Background(linli, not args.no_delivery, not args.no_scheduler)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await background.start()
    logger.info(
        "worker running: delivery=%s scheduler=%s", not args.no_delivery, not args.no_scheduler
    )
    try:
        await stop.wait()
    finally:
        await background.stop()
        if metrics is not None:
            await metrics.cleanup()
    logger.info("worker stopped")


async def print_staff_bind_code(linli: Linli, key: str) -> None:
    """linli staff bind-code STAFF: print a fresh one-time code for that staff member."""
    settings = linli.settings
    assert settings.secret_key is not None
    async with linli.sessions() as session, session.begin():
        staff = await find_staff(session, key)
        if staff is None or not staff.active:
            raise ConfigurationError(f"no active staff member {key!r}")
        issued = await issue_bind_code(
            session,
            secret=settings.secret_key.get_secret_value(),
            now=linli.clock.now(),
            ttl=timedelta(hours=settings.bind_code_staff_hours),
            staff_id=staff.id,
        )
    expires = issued.expires_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
    code = format_code(issued.code)
    print(f"{staff.code} {staff.name}: {code} (single use, until {expires} Beijing time)")
    print(f"send in WeChat or Telegram: 绑定 {code}   or   /bind {code}")


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    from bot.serve_processes import ServePlan, serve

    if args.processes < 1:
        raise ConfigurationError("--processes must be at least 1")
    plan = ServePlan(
        host=args.host or settings.host,
        port=args.port if args.port is not None else settings.port,
        processes=args.processes,
        run_worker=not args.no_worker,
        run_scheduler=not args.no_scheduler,
    )
    return serve(settings, plan)


def _run(settings: Settings, args: argparse.Namespace) -> int:
    """Run a command other than serve on its own event loop (uvloop for the worker)."""
    from bot.serve_processes import new_event_loop

    uvloop = args.command == "worker" and settings.uvloop
    with asyncio.Runner(loop_factory=lambda: new_event_loop(uvloop)) as runner:
        return runner.run(_with_linli(settings, args.command, args))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `linli` console script."""
    args = _parser().parse_args(argv)
    try:
        base = load_settings()
        targets, secrets = chosen_settings(base, args.street, args.command)
    except (ConfigurationError, ValidationError) as error:
        print(f"linli: the settings cannot be used: {error}", file=sys.stderr)
        return 2
    settings = targets[0]
    setup_logging(base.log_level, base.log_format, secrets)
    if args.command == "chat":  # the terminal is the conversation: keep routine logs out of it
        logging.getLogger().setLevel(max(logging.WARNING, logging.getLogger().level))
    try:
        if args.command == "serve":
            return _serve(settings, args)
        if args.command == "staff" and args.action in DESK_ACCOUNTS:
            args.password_hash = new_password_hash()  # asked first, checked before anything
        return max(_run(target, args) for target in targets)  # db upgrade: every street
    except ConfigurationError as error:
        print(f"linli: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
