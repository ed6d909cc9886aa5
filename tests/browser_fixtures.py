"""Shared help for browser tests of the staff desk (/admin): the fixtures of
tests/test_web_browser.py (the real app on loopback, Debian's Chromium, the page's errors),
re-exported, plus one logged-in browser context per staff member, logged in through the form.

A test module uses them by importing the names it needs, e.g.

    from tests.browser_fixtures import base_url, browser, desks, page_errors, needs_chromium

and marking itself `pytestmark = needs_chromium` (skipped only when /usr/bin/chromium is
missing; `make browser` installs it).
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, ConsoleMessage, Error, Page

from bot.app import Linli
from bot.i18n import t
from tests.conftest import ROOT
from tests.test_admin_auth import PASSWORD, set_password
from tests.test_web_browser import CHROMIUM, CHROMIUM_ARGS, PHONE, base_url, browser, page_errors

__all__ = [
    "CHROMIUM",
    "CHROMIUM_ARGS",
    "PHONE",
    "DeskOpener",
    "base_url",
    "browser",
    "desks",
    "log_in",
    "needs_chromium",
    "page_errors",
    "screenshots",
    "watch",
]

needs_chromium = pytest.mark.skipif(
    not os.access(CHROMIUM, os.X_OK),
    reason=f"{CHROMIUM} is missing (`make browser` installs Debian's chromium)",
)
SCREENSHOTS = ROOT / "var" / "screenshots" / "desk"
NOT_LOGIN = re.compile(r"/admin/(?!login)")


def watch(page: Page, errors: list[str]) -> None:
    """Report the page's console errors and uncaught exceptions into `errors` (in the words
    tests/test_web_browser.py's page fixture uses)."""

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(f"console: {message.text} ({message.location.get('url', '?')})")

    def on_page_error(error: Error) -> None:
        errors.append(f"pageerror: {error.message}")

    page.on("console", on_console)
    page.on("pageerror", on_page_error)


async def log_in(page: Page, base_url: str, code: str, password: str = PASSWORD) -> None:
    """Type the staff code and password into the desk's login form and submit it."""
    await page.goto(f"{base_url}/admin/login")
    await page.get_by_label(t("zh-CN", "desk.login_code")).fill(code)
    await page.get_by_label(t("zh-CN", "desk.login_password")).fill(password)
    await page.get_by_role("button", name=t("zh-CN", "desk.login_submit")).click()
    await page.wait_for_url(NOT_LOGIN)


DeskOpener = Callable[[str], Awaitable[Page]]


@pytest.fixture
async def desks(
    browser: Browser, base_url: str, linli: Linli, page_errors: list[str]
) -> AsyncIterator[DeskOpener]:
    """`await desks("S021")`: a fresh browser context (its own cookies) with that staff member
    given a desk password and logged in through the form; its errors go to page_errors."""
    contexts: list[BrowserContext] = []

    async def open_desk(code: str) -> Page:
        await set_password(linli, code)
        context = await browser.new_context(locale="zh-CN")
        contexts.append(context)
        context.set_default_timeout(10_000)
        page = await context.new_page()
        watch(page, page_errors)
        await log_in(page, base_url, code)
        return page

    try:
        yield open_desk
    finally:
        for context in contexts:
            await context.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    """Where the desk's screenshots go: var/screenshots/desk/ (var/ is not in git)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
