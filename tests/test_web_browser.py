"""The web chat page in a real browser: Debian's Chromium, driven by Playwright, on the real app."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Error,
    Page,
    Response,
    ViewportSize,
    async_playwright,
    expect,
)
from sqlmodel import select

from bot.app import Linli
from bot.web.app import create_web_app
from models.cases import Case
from tests.conftest import Chat
from tests.test_cases import bound_chat, open_proxy

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
MAIN_MENU = ["预约办事", "提需求", "找代办", "查进度", "评价", "咨询", "办公时间", "我的"]
HOSTILE = '<img src=x onerror="window.__xss=1">'
PHONE: ViewportSize = {"width": 390, "height": 844}


@pytest.fixture
async def base_url(linli: Linli) -> AsyncIterator[str]:
    """The real aiohttp app on loopback, in this test's event loop and database."""
    server = TestServer(create_web_app(linli), host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("/")).rstrip("/")
    finally:
        await server.close()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """The system Chromium, headless (never a downloaded browser)."""
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest.fixture
def page_errors() -> list[str]:
    """Console errors and uncaught exceptions the page reported during the test."""
    return []


@pytest.fixture
async def page(browser: Browser, page_errors: list[str]) -> AsyncIterator[Page]:
    """A blank page in a fresh browser context, reporting its errors into page_errors."""
    context: BrowserContext = await browser.new_context(locale="zh-CN")
    context.set_default_timeout(10_000)
    new_page = await context.new_page()

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            page_errors.append(f"console: {message.text} ({message.location.get('url', '?')})")

    def on_page_error(error: Error) -> None:
        page_errors.append(f"pageerror: {error.message}")

    new_page.on("console", on_console)
    new_page.on("pageerror", on_page_error)
    try:
        yield new_page
    finally:
        await context.close()


async def open_chat(page: Page, base_url: str, path: str = "/") -> Response:
    """Load the chat page and wait until the greeting with its menu has arrived."""
    response = await page.goto(base_url + path)
    assert response is not None
    assert response.status == 200
    await expect(page.locator("button.option")).to_have_count(len(MAIN_MENU))
    return response


async def test_greeting_menu_and_headers(page: Page, base_url: str, page_errors: list[str]) -> None:
    """The page greets with the eight-item main menu, sends a CSP and logs no errors."""
    response = await open_chat(page, base_url)

    csp = await response.header_value("Content-Security-Policy")
    assert csp is not None
    assert "default-src 'self'" in csp
    greeting = page.locator(".msg.bot")
    await expect(greeting).to_have_count(1)
    await expect(greeting.first).to_contain_text("柳城街道")
    options = page.locator("button.option")
    await expect(options).to_have_text(MAIN_MENU)
    await expect(options.first).to_have_text("预约办事")
    for index in range(len(MAIN_MENU)):
        await expect(options.nth(index)).to_be_enabled()
    await expect(page.locator(".msg.user")).to_have_count(0)
    assert page_errors == []


async def test_click_opening_hours(page: Page, base_url: str) -> None:
    """Clicking 办公时间 echoes the choice, answers today's hours and retires the old menu."""
    await open_chat(page, base_url)
    first_menu = page.locator(".options").first.locator("button.option")

    await first_menu.filter(has_text="办公时间").click()

    await expect(page.locator(".msg.user")).to_have_text(["办公时间"])
    answer = page.locator(".msg.bot").nth(1)
    await expect(answer).to_contain_text("08:00–18:00")
    await expect(answer).to_contain_text("11月27日")
    await expect(answer).to_contain_text("周五")
    for index in range(len(MAIN_MENU)):
        await expect(first_menu.nth(index)).to_be_disabled()
    back = page.locator(".options").nth(1).locator("button.option")
    await expect(back).to_have_text(["返回主菜单"])
    await expect(back).to_be_enabled()
    await expect(back).to_be_focused()


async def test_keyboard_only(page: Page, base_url: str) -> None:
    """Tab through the menu, Enter on 我的, then type 菜单 and Enter: all without a mouse."""
    await open_chat(page, base_url)
    options = page.locator("button.option")
    await expect(page.locator("button.option:enabled").first).to_be_focused()
    await expect(options.first).to_be_focused()

    for index in range(1, len(MAIN_MENU)):
        await page.keyboard.press("Tab")
        await expect(options.nth(index)).to_be_focused()
    await expect(options.nth(7)).to_have_text("我的")
    await page.keyboard.press("Enter")

    await expect(page.locator(".msg.user")).to_have_text(["我的"])
    account = page.locator(".msg.bot").nth(1)
    await expect(account).to_contain_text("我的信息")
    await expect(account).to_contain_text("所在社区：未设置")
    account_options = page.locator(".options").nth(1).locator("button.option")
    await expect(account_options).to_have_text(
        ["设置社区", "Switch to English", "我的数据", "返回主菜单"]
    )
    await expect(account_options.first).to_be_focused()

    for _ in range(4):  # past the account reply's four options, into the text box
        await page.keyboard.press("Tab")
    composer_text = page.locator("#text")
    await expect(composer_text).to_be_focused()
    await page.keyboard.type("菜单")
    await page.keyboard.press("Enter")

    await expect(page.locator(".msg.user")).to_have_text(["我的", "菜单"])
    await expect(page.locator(".msg.bot").filter(has_text="柳城街道")).to_have_count(2)
    await expect(page.locator(".msg.bot").last).to_contain_text("您可以随时发送这些词")
    fresh_menu = page.locator("button.option:enabled")
    await expect(fresh_menu).to_have_text(MAIN_MENU)
    await expect(fresh_menu.first).to_be_focused()
    await expect(composer_text).to_have_value("")


async def test_hostile_text_is_shown_literally(
    page: Page, base_url: str, page_errors: list[str]
) -> None:
    """Typed markup is shown as text, never run, and the bot says it cannot answer it."""
    await open_chat(page, base_url)

    await page.locator("#text").fill(HOSTILE)
    await page.locator("#text").press("Enter")

    mine = page.locator(".msg.user")
    await expect(mine).to_have_count(1)
    assert await mine.first.text_content() == HOSTILE
    await expect(page.locator(".msg.bot").nth(1)).to_contain_text(re.compile("没有听懂|回答不了"))
    await expect(page.locator("#log img")).to_have_count(0)
    assert await page.evaluate("() => typeof window.__xss") == "undefined"
    assert [e for e in page_errors if e.startswith("pageerror") or "Security Policy" in e] == []


async def test_english_page(page: Page, base_url: str) -> None:
    """?lang=en serves an English page whose greeting and menu are in English."""
    await open_chat(page, base_url, "/?lang=en")

    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await expect(page.locator(".msg.bot").first).to_contain_text("Hello!")
    await expect(page.locator("button.option").first).to_have_text("Book a service")
    await expect(page.locator("#text")).to_have_attribute(
        "placeholder", "Type a message or choose an option above"
    )


async def test_usable_at_phone_width(page: Page, base_url: str) -> None:
    """At 390x844 the composer stays fully on screen, before and after a conversation."""
    await page.set_viewport_size(PHONE)
    await open_chat(page, base_url)
    composer = page.locator("#composer")

    await expect(composer).to_be_visible()
    await expect(composer).to_be_in_viewport(ratio=1)
    for _ in range(3):
        count = await page.locator(".msg.bot").count()
        await page.locator("button.option:enabled").filter(has_text="办公时间").click()
        await expect(page.locator(".msg.bot")).to_have_count(count + 1)
        await page.locator("button.option:enabled").filter(has_text="返回主菜单").click()
        await expect(page.locator(".msg.bot")).to_have_count(count + 2)

    await expect(composer).to_be_in_viewport(ratio=1)
    await expect(page.locator("#send")).to_be_in_viewport(ratio=1)
    width = await page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE["width"]
    sideways = await page.evaluate(
        "() => { const l = document.getElementById('log'); return l.scrollWidth - l.clientWidth; }"
    )
    assert sideways <= 0


@pytest.fixture
async def pushing_url(linli: Linli) -> AsyncIterator[str]:
    """The real app with its delivery worker running, as `linli serve` runs it."""
    server = TestServer(create_web_app(linli, run_worker=True), host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("/")).rstrip("/")
    finally:
        await server.close()


async def test_case_news_appears_in_the_open_page(
    page: Page, pushing_url: str, linli: Linli, page_errors: list[str]
) -> None:
    """A clerk accepts and resolves the page's case: the news shows up marked, without a
    reload, and the resolution's options come once and work like any other."""
    await open_chat(page, pushing_url)
    user = await page.evaluate("() => localStorage.getItem('linli-user')")
    ref = await open_proxy(Chat(linli, user=user))  # the same web account, as the resident
    clerk = await bound_chat(linli, "S021", "clerk-web-0001")  # 民政科
    async with linli.sessions() as session:
        case = (await session.exec(select(Case).where(Case.ref == ref))).one()

    await clerk.press(f"case:accept:{case.id}")
    pushed = page.locator(".msg.bot.push")
    await expect(pushed).to_have_count(1)
    await expect(pushed.first).to_contain_text("已由民政科受理")
    await expect(pushed.first.locator(".push-marker")).to_have_text("新消息")

    await clerk.press(f"case:step:{case.id}:resolved")
    await expect(pushed).to_have_count(2)
    await expect(pushed.nth(1)).to_contain_text(f"{ref}")
    await expect(pushed.nth(1)).to_contain_text("已办结")
    options = page.locator("button.option:enabled")
    await expect(options).to_have_text(["已解决", "没解决", "评价服务"])
    await expect(page.locator(f'button[data-payload="case:confirm:{case.id}"]')).to_have_count(1)
    await page.reload()  # shown once, and reported seen: not offered again
    await expect(page.locator("button.option")).to_have_count(len(MAIN_MENU))
    await page.wait_for_timeout(500)
    await expect(page.locator(".msg.bot.push")).to_have_count(0)
    assert page_errors == []
