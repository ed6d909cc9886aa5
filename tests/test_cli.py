"""The `linli` command as an operator runs it: real subprocesses on a real database file."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import DATA, ROOT

LINLI = [sys.executable, "-m", "bot.cli"]


def env_for(db: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINLI_")}
    env |= {"LINLI_DATABASE_URL": f"sqlite+aiosqlite:///{db}", "LINLI_DATA_DIR": str(DATA)}
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


def test_serve_answers_health_and_stops_gracefully(seeded: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [*LINLI, "serve", "--port", str(port)],
        env=env_for(seeded),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        body = b""
        for _ in range(100):
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


def test_production_without_secrets_refuses_to_start(tmp_path: Path) -> None:
    result = run(["serve"], env_for(tmp_path / "x.db", LINLI_ENV="production"))
    assert result.returncode == 2
    assert "LINLI_SECRET_KEY" in result.stderr
    assert not (tmp_path / "x.db").exists()


def test_seed_residents_option(seeded: Path) -> None:
    result = run(["seed", "--residents", "1000"], env_for(seeded))
    assert result.returncode == 0, result.stderr
    assert "added 1000 synthetic residents" in result.stderr


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
