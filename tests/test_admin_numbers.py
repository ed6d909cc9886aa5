"""The desk's numbers (/admin/numbers, /admin/numbers.csv) and stars (/admin/stars …) pages, over
real HTTP on the hand-made data set of tests/test_kpis.py (build_world), whose numbers are worked
out by hand there; the arithmetic each assertion relies on is repeated in the comments here.

The week is Sunday 20 – Saturday 26 September 2026 (the form's custom period 2026-09-20 to
2026-09-26, both days included); the clock stands at Monday 28 September 10:00, as in
tests/test_kpis.py, so that "overdue now" means the same. The world's staff log in by their codes:
KA (clerk A, department D, window 41), KB (department staff B), KC (clerk C, department E, window
42), KV (supervisor V). From the seed: S044, the leader of community C01 (南街社区), which has no
appointments, cases or ratings in that week.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import html
import io
import re
from collections.abc import AsyncIterator
from html.parser import HTMLParser

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlmodel import select

from bot.app import Linli
from bot.clock import ManualClock
from models.csv_export import BOM
from models.org import Community
from tests.test_admin_auth import Browser, set_password
from tests.test_kpis import NOW, World, build_world

Client = TestClient[web.Request, web.Application]
WEEK = "period=custom&from=2026-09-20&to=2026-09-26"


# ─────────────────────────── helpers ───────────────────────────


class _Tables(HTMLParser):
    """Every <table> of a page: caption → rows of cell texts (header cells included)."""

    def __init__(self) -> None:
        super().__init__()
        self.found: dict[str, list[list[str]]] = {}
        self._caption: list[str] | None = None
        self._rows: list[list[str]] | None = None
        self._cell: list[str] | None = None
        self._name = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self._rows, self._name = [], ""
        elif tag == "caption":
            self._caption = []
        elif tag == "tr" and self._rows is not None:
            self._rows.append([])
        elif tag in ("td", "th") and self._rows is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "caption" and self._caption is not None:
            self._name, self._caption = "".join(self._caption).strip(), None
        elif tag in ("td", "th") and self._cell is not None and self._rows:
            self._rows[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "table" and self._rows is not None:
            self.found[self._name] = [row for row in self._rows if row]
            self._rows = None

    def handle_data(self, data: str) -> None:
        if self._caption is not None:
            self._caption.append(data)
        elif self._cell is not None:
            self._cell.append(data)


def tables(page: str) -> dict[str, list[list[str]]]:
    """The page's tables by caption."""
    parser = _Tables()
    parser.feed(page)
    return parser.found


def by_first(rows: list[list[str]]) -> dict[str, list[str]]:
    """A table's rows keyed by their first cell."""
    return {row[0]: row[1:] for row in rows}


def read_csv(data: bytes) -> list[list[str]]:
    """A CSV download: it starts with the BOM, and parses as CSV."""
    assert data.startswith(BOM)
    return list(csv.reader(io.StringIO(data[len(BOM) :].decode("utf-8"))))


def text_of(page: str) -> str:
    """The page without its tags (and inline drawings), as a reader sees it."""
    return html.unescape(re.sub(r"<[^>]+>", " ", re.sub(r"(?s)<svg.*?</svg>", "", page)))


@pytest.fixture
async def world(linli: Linli, clock: ManualClock) -> World:
    """The hand-made week, with the clock at Monday 28 September 10:00 and desk passwords."""
    clock.set(NOW)
    async with linli.sessions() as session, session.begin():
        made = await build_world(session)
    for code in ("KA", "KB", "KC", "KV", "S044"):
        await set_password(linli, code)
    return made


@pytest.fixture
async def desk(client: Client) -> AsyncIterator[Browser]:
    """A browser at the desk."""
    async with Browser(client) as one:
        yield one


async def page(desk: Browser, path: str, status: int = 200) -> str:
    """GET a page, expecting the status; its text."""
    response = await desk.get(path)
    assert response.status == status, (path, response.status)
    return await response.text()


async def community_c01(linli: Linli) -> int:
    async with linli.sessions() as session:
        found = (await session.exec(select(Community).where(Community.code == "C01"))).one()
        return found.id or 0


# ─────────────────────────── the street's week ───────────────────────────


async def test_the_street_week_on_the_page(desk: Browser, world: World) -> None:
    await desk.log_in("KV")  # supervisor: numbers_scope is the whole street
    text = await page(desk, f"/admin/numbers?{WEEK}")
    assert "全街道：2026-09-20 至 2026-09-26" in text
    found = tables(text)
    appointments = by_first(found["预约"])
    # Booked in the week: ap1 ap2 ap3 ap4 ap5 ap6 ap9 = 7 (ap7 Sun 27 00:00 and ap8 Sat 19 23:59
    # are out); served ap1 ap2 ap5 ap9 = 4; no-show ap3; cancelled ap4.
    assert appointments["预约总数"] == ["7", ""]
    assert appointments["已办理"] == ["4", ""]
    assert appointments["未到（爽约）"] == ["1", ""]
    assert appointments["已取消"] == ["1", ""]
    # After work: ap1 (调休 Sunday 19:00) and ap2 (Monday 07:30): 2/7 = 28.6% → 29%.
    assert appointments["下班时间预约占比"] == ["2", "2/7（29%）"]
    # Weekend or holiday: ap5 (Fri 25, Mid-autumn) and ap6 (Sat 26): 2/7 → 29%.
    assert appointments["周末及节假日预约占比"] == ["2", "2/7（29%）"]
    slices = by_first(found["预约时段分布（图表的数据）"])
    assert slices["工作时间内（工作日 08:00–18:00）"] == ["3", "3/7（43%）"]  # 7 − 2 − 2

    cases = by_first(found["事项办理"])
    # Received c1 c2 c3 c4 c6 c7 = 6; accepted c1 c2 c4 c6 c10 = 5; resolved c1 c2 c5 c10 = 4;
    # overdue now (Mon 28 10:00): c3 only (due Fri 25).
    assert cases["受理事项（新增）"] == ["6"]
    assert cases["已接单"] == ["5"]
    assert cases["已办结"] == ["4"]
    assert cases["目前超期"] == ["1"]
    rates = by_first(found["回复率与按期办结率（图表的数据）"])
    # Replies settled in the week: c1 c4 c6 on time, c2 c3 c10 not: 3/6 = 50%.
    assert rates["按时回复率"] == ["3/6（50%）"]
    # Resolved with a deadline: c1 c5 c10 on time, c2 late: 3/4 = 75%.
    assert rates["按期办结率"] == ["3/4（75%）"]

    # Ratings rt1 … rt7: 很满意 1, 满意 2 (rt2 rt7), 一般 1, 时间长 1, 态度差 1, 业务差 1 = 7;
    # satisfied (很满意 + 满意) 3/7 = 42.9% → 43%.
    assert "评价总数：7 条" in text and "满意率（很满意＋满意）：3/7（43%）" in text
    six = by_first(found["六级评价分布（图表的数据）"])
    assert six["满意"] == ["2", "2/7（29%）", "满意"]
    assert six["态度差"] == ["1", "1/7（14%）", "非常不满意"]
    five = by_first(found["“好差评”五级分布（图表的数据）"])
    # National: 非常满意 1, 满意 2, 基本满意 1, 不满意 2 (时间长 + 业务差), 非常不满意 1.
    assert [(name, row[0]) for name, row in five.items()] == [
        ("对应五级", "数量"),
        ("非常满意", "1"),
        ("满意", "2"),
        ("基本满意", "1"),
        ("不满意", "2"),
        ("非常不满意", "1"),
    ]
    assert five["不满意"] == ["2", "2/7（29%）", "时间长、业务差"]

    demand = by_first(found["各类需求的附议人数（图表的数据）"])
    # public-facilities: n1 3 (r1 r2 r3) + n2 1 (r4; r1's +1 was before the week) = 4;
    # library (连锁图书馆): n3 2. n4 was merged into n1 and is not ranked.
    assert [row[0] for row in demand.values()][1:] == ["4", "2"]
    assert demand["连锁图书馆"][1] == "n3（2）"

    counts = by_first(found["督查清单（按原因）（图表的数据）"])
    # c10 c2 c3 late; c3 overdue; c4 c7 returned blank; rt6 rt5 poor without a visit; c8 late
    # return visit.
    assert counts["未按时接单"] == ["3"]
    assert counts["超期未办结"] == ["1"]
    assert counts["退回未说明理由"] == ["2"]
    assert counts["差评未回访"] == ["2"]
    assert counts["回访超期"] == ["1"]
    listed = found["督查清单"][1:]
    assert [row[1] for row in listed][:3] == ["未按时接单"] * 3
    assert [row[2] for row in listed][:3] == ["KPI-c10", "KPI-c2", "KPI-c3"]  # oldest first
    assert f'href="/admin/cases/{world.cases["c10"]}"' in text
    assert f"评价 #{world.ratings['rt6']}（业务差）" in text


async def test_the_breakdowns_per_community_department_window_and_person(
    desk: Browser, world: World
) -> None:
    await desk.log_in("KV")
    found = tables(await page(desk, f"/admin/numbers?{WEEK}"))
    columns = found["按工作人员"][0]
    assert columns[:3] == ["名称", "预约", "未到"]
    people = by_first(found["按工作人员"])
    # A: served ap1 ap2 (2, both after work: 2/2 = 100%); cases c1 c2 c6 received and accepted,
    # replies 2/3 (67%), on time 1/2 (50%), none overdue; rated rt1 … rt4, satisfied 2/4 (50%).
    assert people["测试A（KA）"] == [
        "2", "0", "2/2（100%）", "0/2（0%）", "3", "3", "2/3（67%）", "1/2（50%）", "0", "4",
        "2/4（50%）",
    ]  # fmt: skip
    # B: nothing booked or rated: "no data yet" and "no ratings yet", never 100%.
    assert people["测试B（KB）"] == [
        "0", "0", "暂无数据", "暂无数据", "1", "0", "0/1（0%）", "暂无数据", "1", "0", "暂无评价",
    ]  # fmt: skip
    assert "测试V（KV）" not in people  # supervisors are not among those who serve residents
    communities = by_first(found["按社区"])
    # K: ap1 ap2 ap3 ap9 (4); cases c1 c2 c3 c6 c7 (5); rated by r1 r2: 3 of 5 satisfied.
    assert communities["K"][0] == "4" and communities["K"][4] == "5"
    assert communities["K"][-2:] == ["5", "3/5（60%）"]
    departments = by_first(found["按科室"])
    assert departments["D"][0] == "3" and departments["E"][0] == "4"
    windows = by_first(found["按窗口"])
    assert windows["41 号窗口"][0] == "4" and windows["42 号窗口"][0] == "3"


async def test_the_csv_exports_carry_the_same_numbers(desk: Browser, world: World) -> None:
    await desk.log_in("KV")
    response = await desk.get(f"/admin/numbers.csv?block=all&{WEEK}&scope=street")
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    disposition = response.headers["Content-Disposition"]
    assert disposition == (
        'attachment; filename="linli-numbers-all-street-2026-09-20-2026-09-26.csv"'
    )
    assert disposition.isascii()
    rows = read_csv(await response.read())
    metrics: dict[str, list[str]] = {}
    for row in rows:  # the metric rows come first, then the demand and supervision lists
        if row:
            metrics.setdefault(row[0], row[1:])
    assert rows[0] == ["指标", "数值", "分子", "分母"]
    assert metrics["统计期间"][0] == "2026-09-20 – 2026-09-26"
    assert metrics["预约总数"] == ["7", "", ""]
    assert metrics["下班时间预约占比"] == ["0.2857", "2", "7"]  # 2/7
    assert metrics["按时回复率"] == ["0.5000", "3", "6"]  # 3/6
    assert metrics["按期办结率"] == ["0.7500", "3", "4"]  # 3/4
    assert metrics["满意率"] == ["0.4286", "3", "7"]  # 3/7
    assert metrics["好差评五级: 不满意"] == ["2", "", ""]
    assert metrics["未按时接单"] == ["3", "", ""]
    assert any(row[:2] == ["连锁图书馆", "n3"] for row in rows)  # the demand's items

    cases = read_csv(await (await desk.get(f"/admin/numbers.csv?block=cases&{WEEK}")).read())
    labels = [row[0] for row in cases]
    assert "按期办结率" in labels and "预约总数" not in labels and "满意率" not in labels

    watch = read_csv(await (await desk.get(f"/admin/numbers.csv?block=supervision&{WEEK}")).read())
    refs = [row[2] for row in watch if len(row) > 2 and row[2].startswith("KPI-")]
    assert refs[:3] == ["KPI-c10", "KPI-c2", "KPI-c3"]
    assert f"/admin/cases/{world.cases['c10']}" in [row[-1] for row in watch if row]

    staff = read_csv(await (await desk.get(f"/admin/numbers.csv?block=breakdown&{WEEK}")).read())
    a = next(row for row in staff if len(row) > 1 and row[1] == "测试A（KA）")
    assert a[0] == "按工作人员" and a[2:5] == ["2", "0", "2/2（100%）"]


async def test_a_scope_with_no_ratings_says_so_and_never_100_percent(
    desk: Browser, world: World
) -> None:
    await desk.log_in("KV")
    text = await page(desk, f"/admin/numbers?{WEEK}&staff={world.staff['B']}")
    shown = text_of(text)
    assert "测试B（KB）：2026-09-20 至 2026-09-26" in shown
    assert "暂无评价" in shown and "100%" not in text
    assert "满意率（很满意＋满意）：暂无评价" in shown
    cases = by_first(tables(text)["回复率与按期办结率（图表的数据）"])
    assert cases["按时回复率"] == ["0/1（0%）"]  # a real zero
    assert cases["按期办结率"] == ["暂无数据"]  # nothing resolved: no data, not 100%
    assert "需求只按全街道和社区统计" in shown  # no demand ranking for a person
    rows = read_csv(
        await (
            await desk.get(f"/admin/numbers.csv?block=ratings&{WEEK}&staff={world.staff['B']}")
        ).read()
    )
    metrics = {row[0]: row[1:] for row in rows}
    assert metrics["满意率"] == ["暂无数据", "0", "0"] and metrics["评价总数"][0] == "0"
    english = await page(desk, f"/admin/numbers?{WEEK}&staff={world.staff['B']}&lang=en")
    assert "No ratings yet" in english and "100%" not in english


async def test_charts_are_labelled_and_allowed_by_the_page_policy(
    desk: Browser, world: World
) -> None:
    await desk.log_in("KV")
    response = await desk.get(f"/admin/numbers?{WEEK}")
    text = await response.text()
    assert text.count('<svg role="img" aria-label="') == 6  # each with its table beside it
    assert "<title>六级评价分布</title>" in text and "<script" not in text
    assert ' style="' not in text  # style attributes would need 'unsafe-hashes'; none is left
    policy = response.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy
    styles = re.findall(r"(?s)<style[^>]*>(.*?)</style>", text)
    assert len(styles) == 7  # the page's own and one per chart
    for style in styles:
        digest = hashlib.sha256(html.unescape(style).encode("utf-8")).digest()
        assert f"'sha256-{base64.b64encode(digest).decode()}'" in policy


# ─────────────────────────── who reads which numbers ───────────────────────────


async def test_a_community_leader_reads_only_their_community(
    desk: Browser, world: World, linli: Linli
) -> None:
    await desk.log_in("S044")  # leader of C01
    text = await page(desk, f"/admin/numbers?{WEEK}")
    assert "南街社区：2026-09-20 至 2026-09-26" in text
    shown = text_of(text)
    assert "暂无评价" in shown and "100%" not in text  # C01 has no ratings in the week
    assert by_first(tables(text)["预约"])["预约总数"] == ["0", ""]
    assert 'value="street"' not in text and f'value="community:{world.community_k}"' not in text
    c01 = await community_c01(linli)
    assert f'value="community:{c01}" selected' in text
    refused = {
        "scope=street": 403,
        f"community={world.community_k}": 404,
        f"scope=community:{world.community_l}": 404,
        f"department={world.dept_d}": 404,
        f"scope=department:{world.dept_e}": 404,
        "window=41": 404,
        f"staff={world.staff['A']}": 404,
        "staff=999999": 404,
    }
    for asked, status in refused.items():
        for path in ("/admin/numbers", "/admin/numbers.csv"):
            response = await desk.get(f"{path}?block=all&{WEEK}&{asked}")
            body = await response.text()
            assert response.status == status, (path, asked, response.status)
            assert response.headers["Content-Type"].startswith("text/html"), (path, asked)
            assert "预约总数" not in body and "KPI-" not in body, (path, asked)
    own = await desk.get(f"/admin/numbers.csv?block=appointments&{WEEK}&community={c01}")
    assert own.status == 200
    assert {row[0]: row[1] for row in read_csv(await own.read())}["预约总数"] == "0"


async def test_a_clerk_cannot_open_the_numbers(desk: Browser, world: World) -> None:
    await desk.log_in("KA")
    for path in ("/admin/numbers", f"/admin/numbers.csv?block=all&{WEEK}"):
        response = await desk.get(path)
        assert response.status == 403
        assert "预约总数" not in await response.text()
    menu = await page(desk, "/admin/stars")
    assert 'href="/admin/numbers"' not in menu and 'href="/admin/stars"' in menu


async def test_bad_parameters_get_a_polite_answer_never_a_500(desk: Browser, world: World) -> None:
    await desk.log_in("KV")
    polite = {
        "period=someday": (400, "没有这个统计期间"),
        "period=custom&from=2026-13-45&to=2026-09-26": (400, "日期看不懂"),
        "period=custom&from=yesterday&to=": (400, "日期看不懂"),
        "period=custom": (400, "日期看不懂"),
        "period=custom&from=2026-09-26&to=2026-09-20": (400, "结束日期不能早于开始日期"),
        "period=custom&from=2024-01-01&to=2026-01-01": (400, "最长一年"),
        "period=custom&from=1066-10-14&to=1066-10-15": (400, "日期看不懂"),
        "scope=everything": (400, "统计范围看不懂"),
        "community=abc": (400, "统计范围看不懂"),
        f"community={world.community_k}&department={world.dept_d}": (400, "统计范围看不懂"),
        "community=99999999999999": (400, "统计范围看不懂"),
        "staff=999999": (404, "没有找到"),
        "window=999": (404, "没有找到"),
    }
    for asked, (status, words) in polite.items():
        text = await page(desk, f"/admin/numbers?{asked}", status)
        assert words in text, asked
        csv_answer = await desk.get(f"/admin/numbers.csv?block=all&{asked}")
        assert csv_answer.status == status, asked
    for block in ("nothing", "", "../etc", "ALL"):
        response = await desk.get(f"/admin/numbers.csv?block={block}&{WEEK}")
        assert response.status == 404, block
    assert (await desk.get("/admin/numbers?period=this_week")).status == 200
    assert (await desk.get("/admin/numbers?period=last_month&lang=en")).status == 200


# ─────────────────────────── stars ───────────────────────────


async def test_a_clerk_sees_their_own_stars_and_not_anyone_elses(
    desk: Browser, world: World
) -> None:
    await desk.log_in("KA")
    text = await page(desk, "/admin/stars")
    shown = text_of(text)
    # September so far (the clock is at 28 September): proficiency 4/4 → 20, attitude 4/4 → 20,
    # accepted c1 c2 c6 = 3 of 8 → 7.5, completed 1/2 → 10, satisfaction 2/4 → 10: 67.5 → 3★.
    assert "2026年9月（本月至今）" in shown and "3 星 · 67.5 分" in shown
    september = by_first(tables(text)["2026年9月（本月至今）"])
    assert september["受理件数"] == ["接单 3 件（目标 8 件）", "0.375", "20", "7.5"]
    assert september["按期办结"] == ["1/2（50%）", "0.5", "20", "10.0"]
    # August: no ratings and nothing resolved (0.6 each for four factors), nothing accepted:
    # 4 × 20 × 0.6 = 48 → 2★ (the two-star line is 40).
    assert "2 星 · 48.0 分" in shown
    august = by_first(tables(text)["2026年8月"])
    assert august["群众满意度"] == ["暂无数据，按 0.6 计", "0.6", "20", "12.0"]
    # The formula in words, from data/stars.toml.
    assert "受理件数（权重 20）：当月接单件数 ÷ 8，最多计 1 分。" in shown
    assert "按 0.6 分计" in shown
    assert "达到 90 分为五星，75 分四星，60 分三星，40 分两星" in shown
    assert "计算：业务熟练 20 × 1 + 服务态度 20 × 1 + 受理件数 20 × 0.375" in shown
    assert "测试C" not in shown and "全员星级排行" not in shown  # no ranking for a clerk
    assert (await desk.get(f"/admin/stars/{world.staff['C']}")).status == 404
    assert (await desk.get(f"/admin/stars/{world.staff['V']}")).status == 404
    assert (await desk.get("/admin/stars/999999")).status == 404
    own = await page(desk, f"/admin/stars/{world.staff['A']}?month=2026-09")
    assert "3 星 · 67.5 分" in own
    mine = read_csv(await (await desk.get("/admin/stars.csv?month=2026-09")).read())
    assert [row[1] for row in mine[1:]] == ["KA"]  # only the cards the clerk may see
    english = text_of(await page(desk, "/admin/stars?lang=en"))
    assert "3 stars · 67.5 points" in english and "Cases accepted (weight 20)" in english


async def test_a_supervisor_sees_everyones_stars_ranked(desk: Browser, world: World) -> None:
    await desk.log_in("KV")
    text = await page(desk, "/admin/stars?month=2026-09")
    ranking = tables(text)["2026年9月全员星级排行"]
    assert ranking[0][:5] == ["名次", "工作人员", "工号", "星级", "总分"]
    # C: 16 + 16 + 7.5 + 20 + 12 = 71.5; A: 67.5; the grid leaders with no data: 60 (their
    # accepted count is neutral too), sharing third place; B and the rest: 48, after them.
    assert ranking[1][:3] == ["1", "测试C", "KC"] and ranking[1][4] == "71.5"
    assert ranking[2][:3] == ["2", "测试A", "KA"] and ranking[2][4] == "67.5"
    assert ranking[3][0] == "3" and ranking[3][4] == "60.0"
    b = next(row for row in ranking if row[2] == "KB")
    assert int(b[0]) > 3 and b[4] == "48.0"
    assert all(row[2] != "KV" for row in ranking[1:])  # supervisors are not scored
    assert f'href="/admin/stars/{world.staff["C"]}?month=2026-09"' in text
    person = text_of(await page(desk, f"/admin/stars/{world.staff['C']}?month=2026-09"))
    assert "测试C（KC）的星级" in person and "3 星 · 71.5 分" in person
    response = await desk.get("/admin/stars.csv?month=2026-09")
    assert response.status == 200
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="linli-stars-2026-09.csv"'
    )
    rows = read_csv(await response.read())
    assert rows[0][:4] == ["名次", "工号", "工作人员", "月份"]
    assert rows[1][:4] == ["1", "KC", "测试C", "2026-09"] and rows[1][-3:-1] == ["71.5", "3"]
    assert rows[2][1] == "KA" and rows[2][-3] == "67.5"
    for bad in ("2026-13", "09-2026", "abc", "2026-9", "1800-01"):
        assert "月份看不懂" in await page(desk, f"/admin/stars?month={bad}", 400)
        assert (await desk.get(f"/admin/stars.csv?month={bad}")).status == 400
        assert (await desk.get(f"/admin/stars/{world.staff['A']}?month={bad}")).status == 400
    assert (await desk.get("/admin/stars/abc")).status == 404
