"""wrk as the one load generator of bench/wechat_peer.py: signed WeChat callbacks, made in
Python before the clock starts, walked in order by a Lua script.

Every request has its own nonce and MsgId and the current timestamp, so none is a replay or a
redelivery; a list that runs out is counted (``wrapped``), never silently reused.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.fakes.wechat_sender import WeChatAccount, WeChatServer

WRK = "/usr/bin/wrk"
TOKEN = "bench-token"
APP_ID = "wx-bench-app"
FOLLOWERS = 2000
NEW_EVERY = 10  # one message in ten is a new follower's first 菜单
# A returning follower's walk: the menu, an option by its number, a question, another number,
# back. Every one of them runs the whole pipeline and commits a transaction.
WORDS = ("菜单", "7", "办公时间", "8", "返回")
TEXT_REPLY = "<MsgType><![CDATA[text]]></MsgType>"

LUA = """
local data = dofile(%(data)s)
local total = #data
local n = 0
bad = 0
wrapped = 0
local threads = {}

setup = function(thread) table.insert(threads, thread) end

request = function()
  n = n + 1
  if n > total then n = 1; wrapped = wrapped + 1 end
  local item = data[n]
  return wrk.format("POST", item[1], {["Content-Type"] = "text/xml"}, item[2])
end

response = function(status, headers, body)
  if status == 200 and not string.find(body, %(expected)s, 1, true) then bad = bad + 1 end
end

done = function(summary, latency, requests)
  local b, w = 0, 0
  for _, t in ipairs(threads) do b = b + t:get("bad"); w = w + t:get("wrapped") end
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %%d, "seconds": %%f, "connect": %%d, "read": %%d, "write": %%d, ' ..
    '"status": %%d, "timeout": %%d, "p50_ms": %%f, "p99_ms": %%f, "bad": %%d, "wrapped": %%d}\\n',
    summary.requests, summary.duration / 1e6, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, b, w))
end
"""


@dataclass
class Load:
    """What one wrk run measured."""

    requests: int
    seconds: float
    socket_errors: int
    non_2xx: int
    bad: int  # answered 200 but not with a WeChat text reply
    p50_ms: float
    p99_ms: float
    wrapped: int = 0

    @property
    def errors(self) -> int:
        """Every request that did not get the expected answer."""
        return self.socket_errors + self.non_2xx + self.bad

    @property
    def rate(self) -> float:
        """Expected answers a second."""
        return max(self.requests - self.non_2xx - self.bad, 0) / self.seconds

    def plus(self, other: Load) -> Load:
        """Two loads run side by side (two servers): counts add, latency is the worse one."""
        return Load(
            self.requests + other.requests,
            max(self.seconds, other.seconds),
            self.socket_errors + other.socket_errors,
            self.non_2xx + other.non_2xx,
            self.bad + other.bad,
            max(self.p50_ms, other.p50_ms),
            max(self.p99_ms, other.p99_ms),
            self.wrapped + other.wrapped,
        )


class Messages:
    """Signed text messages from a pool of returning followers and a stream of new ones."""

    def __init__(self, run: str) -> None:
        self.run = run
        self.account = WeChatAccount(TOKEN, APP_ID)
        self.serial = 0

    def take(self, count: int) -> Iterator[tuple[str, str, str, bytes]]:
        """count messages as (openid, word, path with query, body), stamped now."""
        stamp = int(time.time())
        for _ in range(count):
            n, self.serial = self.serial, self.serial + 1
            if n % NEW_EVERY == 0:
                openid, word = f"oNew{self.run}{n:09d}", WORDS[0]
            else:
                openid, word = f"oPool{n % FOLLOWERS:05d}", WORDS[(n // FOLLOWERS) % len(WORDS)]
            follower = WeChatServer(self.account, openid=openid)
            xml = follower.text(word, msg_id=10**15 + n)
            query, body = follower.request(xml, timestamp=stamp, nonce=f"{self.run}{n}")
            path = "/wechat?" + "&".join(f"{key}={value}" for key, value in query.items())
            yield openid, word, path, body


LUA_CHUNK = 10_000  # requests (two string constants each) in one Lua function


def _lua_string(text: str) -> str:
    level = "=" * 3  # long brackets: no escaping, and "]===]" is in no message
    return f"[{level}[{text}]{level}]"


def write_script(folder: Path, requests: list[tuple[str, bytes]]) -> Path:
    """The Lua data table and the script that walks it, in folder."""
    data = folder / "requests.lua"
    with data.open("w", encoding="utf-8") as out:
        # Lua allows 65,536 constants a function: each chunk of requests is a function of its own.
        out.write("local all = {}\n")
        for start in range(0, len(requests), LUA_CHUNK):
            out.write("for _, r in ipairs((function() return {\n")
            for path, body in requests[start : start + LUA_CHUNK]:
                out.write(f"{{{_lua_string(path)}, {_lua_string(body.decode('utf-8'))}}},\n")
            out.write("} end)()) do all[#all + 1] = r end\n")
        out.write("return all\n")
    script = folder / "walk.lua"
    values = {"data": _lua_string(str(data)), "expected": _lua_string(TEXT_REPLY)}
    script.write_text(LUA % values, encoding="utf-8")
    return script


def start_wrk(
    url: str, requests: list[tuple[str, bytes]], connections: int, seconds: float
) -> tuple[subprocess.Popen[str], tempfile.TemporaryDirectory[str]]:
    """wrk walking the requests against url (one thread: the cores are for the servers)."""
    folder = tempfile.TemporaryDirectory(prefix="wrk-")
    script = write_script(Path(folder.name), requests)
    command = [WRK, "-t1", f"-c{connections}", f"-d{seconds:.0f}s", "--timeout", "10s"]
    process = subprocess.Popen(
        [*command, "-s", str(script), url], stdout=subprocess.PIPE, text=True
    )
    return process, folder


def finish_wrk(process: subprocess.Popen[str], folder: tempfile.TemporaryDirectory[str]) -> Load:
    """Wait for wrk and read its summary line."""
    output, _ = process.communicate()
    folder.cleanup()
    for line in output.splitlines():
        if line.startswith("WRK_JSON "):
            raw = json.loads(line.removeprefix("WRK_JSON "))
            sockets = raw["connect"] + raw["read"] + raw["write"] + raw["timeout"]
            return Load(
                raw["requests"],
                raw["seconds"],
                sockets,
                raw["status"],
                raw["bad"],
                raw["p50_ms"],
                raw["p99_ms"],
                raw["wrapped"],
            )
    raise RuntimeError(f"wrk printed no summary:\n{output}")
