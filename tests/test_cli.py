"""The `linli` command as an operator runs it: real subprocesses on a real database file."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import DATA, ROOT
from tests.fakes.telegram_api import FakeTelegramAPI, text_update
from tests.telegram_fixtures import telegram_platform

__all__ = ["telegram_platform"]

LINLI = [sys.executable, "-m", "bot.cli"]


def env_for(db: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINLI_")}
    env |= {"LINLI_DATABASE_URL": f"sqlite+aiosqlite:///{db}", "LINLI_DATA_DIR": str(DATA)}
    env |= {"LINLI_STATE_DIR": str(db.parent)}
    env |= {"LINLI_NOW": "2026-11-27T10:00:00+08:00", **extra}
    return env


def run(args: list[str], env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        LINLI + args, env=env, input=stdin, capture_output=True, text=True, timeout=120, cwd=ROOT
    )


@pytest.fixture
def seeded(tmp_path: Path) -> Path:
    db = tmp_path / "var" / "linli.db"
    for args in (["db", "upgrade"], ["seed"], ["seed"]):
        result = run(args, env_for(db))
        assert result.returncode == 0, result.stderr
    return db


def test_console_chat_with_numbered_options(seeded: Path) -> None:
    result = run(["chat", "--user", "console-test"], env_for(seeded), stdin="7\n菜单\n8\n")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "\n1. 预约办事" in out
    assert "\n8. 我的" in out
    assert "今天 11月27日（周五" in out  # "7" chose opening hours
    assert "我的信息" in out  # "8" chose the account page from the menu shown again
    assert out.rstrip().endswith("再见！")


@pytest.mark.parametrize("flags", [[], ["--no-worker", "--no-scheduler"]])
def test_serve_answers_health_and_stops_gracefully(seeded: Path, flags: list[str]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [*LINLI, "serve", "--port", str(port), *flags],
        env=env_for(seeded),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        body = b""
        # serve learns the understanding model before it listens: minutes on a cold cache
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and server.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                    body = r.read()
                    break
            except OSError:
                time.sleep(0.1)
        assert body == b'{"status": "ok", "database": true}'
    finally:
        server.send_signal(signal.SIGTERM)
        _, stderr = server.communicate(timeout=30)
    assert server.returncode == 0, stderr
    assert "Traceback" not in stderr
    # The model was ready before the port opened: no first message waits for a training.
    assert stderr.index("understanding ready") < stderr.index("serving on"), stderr


def test_production_without_secrets_refuses_to_start(tmp_path: Path) -> None:
    result = run(["serve"], env_for(tmp_path / "x.db", LINLI_ENV="production"))
    assert result.returncode == 2
    assert "LINLI_SECRET_KEY" in result.stderr
    assert not (tmp_path / "x.db").exists()


def test_seed_residents_option(seeded: Path) -> None:
    result = run(["seed", "--residents", "1000"], env_for(seeded))
    assert result.returncode == 0, result.stderr
    assert "added 1000 synthetic residents" in result.stderr


def test_seed_before_upgrade_says_what_to_run(tmp_path: Path) -> None:
    """An empty database gets a one-line instruction, not a traceback, and stays empty."""
    db = tmp_path / "empty.db"
    result = run(["seed"], env_for(db))
    assert result.returncode == 2
    assert "run `linli db upgrade` first" in result.stderr
    assert "Traceback" not in result.stderr


def test_console_stops_on_ctrl_c(seeded: Path) -> None:
    chat = subprocess.Popen(
        [*LINLI, "chat"],
        env=env_for(seeded),
        cwd=ROOT,
        text=True,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert chat.stdout is not None
    while "8. 我的" not in chat.stdout.readline():
        pass
    chat.send_signal(signal.SIGINT)
    chat.wait(timeout=10)
    assert chat.returncode == 130
    chat.communicate()


def test_unusable_settings_are_explained(tmp_path: Path) -> None:
    result = run(["db", "upgrade"], env_for(tmp_path / "x.db", LINLI_NOW="2026-11-28T09:30"))
    assert result.returncode == 2
    assert "the settings cannot be used" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_staff_bind_code_from_the_command_line_works_in_chat(seeded: Path) -> None:
    issued = run(["staff", "bind-code", "S001"], env_for(seeded))
    assert issued.returncode == 0, issued.stderr
    code = re.search(r"[A-Z2-9]{4}-[A-Z2-9]{4}", issued.stdout)
    assert code is not None and "王丽" in issued.stdout
    assert code.group() not in issued.stderr  # the code is shown, never logged
    chat = run(["chat", "--user", "clerk"], env_for(seeded), stdin=f"绑定 {code.group()}\n工作台\n")
    assert chat.returncode == 0, chat.stderr
    assert "绑定成功" in chat.stdout and "工作台：王丽" in chat.stdout
    unknown = run(["staff", "bind-code", "S999"], env_for(seeded))
    assert unknown.returncode == 2 and "S999" in unknown.stderr


def telegram_env(db: Path, platform: FakeTelegramAPI) -> dict[str, str]:
    return env_for(
        db,
        LINLI_TELEGRAM_TOKEN=platform.token,
        LINLI_TELEGRAM_SECRET="cli-test-secret",
        LINLI_TELEGRAM_API_BASE=platform.base_url,
    )


async def linli_async(env: dict[str, str], *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *LINLI,
        *args,
        env=env,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def test_telegram_webhook_command_registers_url_secret_and_commands(
    seeded: Path, telegram_platform: FakeTelegramAPI
) -> None:
    env = telegram_env(seeded, telegram_platform)
    process = await linli_async(
        env, "telegram", "webhook", "--url", "https://linli.example/telegram"
    )
    _, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, stderr.decode()
    assert telegram_platform.webhook is not None
    assert telegram_platform.webhook["url"] == "https://linli.example/telegram"
    assert telegram_platform.webhook["secret_token"] == "cli-test-secret"
    assert telegram_platform.commands(language_code="en")
    assert b"cli-test-secret" not in stderr
    plain = await linli_async(env, "telegram", "webhook", "--url", "http://insecure.example/x")
    _, refused = await asyncio.wait_for(plain.communicate(), 60)
    assert plain.returncode == 2 and b"https://" in refused


async def test_telegram_long_polling_answers_and_stops_on_ctrl_c(
    seeded: Path, telegram_platform: FakeTelegramAPI
) -> None:
    telegram_platform.queue_update(text_update(5150, "/start"))
    process = await linli_async(telegram_env(seeded, telegram_platform), "telegram", "poll")
    try:
        for _ in range(300):
            if len(telegram_platform.sent_messages) >= 2:
                break
            await asyncio.sleep(0.1)
        assert "便民服务中心" in telegram_platform.sent_messages[0].text
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 130, stderr.decode()
    assert b"Traceback" not in stderr


def test_roster_round_trip_and_a_bad_file_from_the_command_line(
    seeded: Path, tmp_path: Path
) -> None:
    csv_file = tmp_path / "roster.csv"
    exported = run(["roster", "export", "--out", str(csv_file)], env_for(seeded))
    assert exported.returncode == 0, exported.stderr
    assert run(["roster", "import", str(csv_file)], env_for(seeded)).returncode == 0
    csv_file.write_text(csv_file.read_text() + "2026-11-30,S999,08:00,18:00,,\n")
    refused = run(["roster", "import", str(csv_file)], env_for(seeded))
    assert refused.returncode == 1
    assert "S999" in refused.stdout and "nothing was changed" in refused.stdout
    check = run(["calendar", "check", "--years", "0"], env_for(seeded))
    assert check.returncode == 0, check.stdout
