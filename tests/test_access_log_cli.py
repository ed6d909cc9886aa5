"""`linli access-log`: who looked at whose unmasked personal data, newest first, in Beijing time,
filtered by staff member, resident and days (both included), as text or as CSV a spreadsheet
opens; the resident by id only, never their phone or name. The desk's /admin/access-log reads
the same filters."""

from __future__ import annotations

import csv
import io
import subprocess
from datetime import datetime
from pathlib import Path

import pytest
from sqlmodel import col, select

from bot.app import Linli
from bot.cli import _parser
from bot.cli_access_log import run_access_log
from models.access_log import PersonalDataView, log_view
from models.base import SHANGHAI
from models.case_card import case_card
from models.case_ops import record
from models.cases import Case, CaseHandler, CaseStatus
from models.csv_export import BOM
from models.org import Department, Staff
from models.people import Resident, set_phone
from tests.conftest import ROOT
from tests.scheduler_data import open_case
from tests.test_admin_auth import Browser, Client, set_password
from tests.test_cli import LINLI, env_for

PHONE, NAME = "13812345678", "王小明"
ANSWER = f"上门请打{PHONE}，地址3栋2单元501"
OWNER, OTHER, SUPERVISOR = "S005", "S021", "S037"
HEADER = ["时间（北京时间）", "工号", "姓名", "查看内容", "群众编号", "记录", "原因", "在哪里"]


def shanghai(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


async def staff_named(linli: Linli, code: str) -> Staff:
    async with linli.sessions() as session:
        return (await session.exec(select(Staff).where(Staff.code == code))).one()


async def resident(linli: Linli) -> int:
    async with linli.sessions() as session, session.begin():
        person = Resident(name=NAME, created_at=linli.clock.now())
        set_phone(person, PHONE)
        session.add(person)
        await session.flush()
        assert person.id is not None
        return person.id


async def views(linli: Linli) -> tuple[int, int, str]:
    """The case owner sees a resident's case card in chat (written by case_card itself), and
    hand-written views at the edges of Friday 20 November (Beijing time), by another staff
    member about another resident. Returns the two residents and the case's reference."""
    first, second = await resident(linli), await resident(linli)
    number = await open_case(linli, assignee=OWNER, status=CaseStatus.ACCEPTED, resident_id=first)
    owner, other = await staff_named(linli, OWNER), await staff_named(linli, OTHER)
    async with linli.sessions() as session, session.begin():
        case = await session.get(Case, number)
        assert case is not None
        card = await case_card(session, case, owner, now=linli.clock.now(), place="chat")
        assert card.phone_shown and card.phone == PHONE
        for moment in ("2026-11-19 23:59:59", "2026-11-20 00:00:00", "2026-11-20 23:59:59"):
            log_view(
                session,
                staff_id=other.id or 0,
                resident_id=second,
                subject="resident:profile",
                field_name="phone",
                why=f"checked at {moment}",
                place="desk",
                now=shanghai(moment),
            )
        return first, second, case.ref


async def listing(
    capsys: pytest.CaptureFixture[str], linli: Linli, *flags: str
) -> tuple[int, str, str]:
    """The command's status, output and errors (its arguments parsed as `linli` parses them)."""
    args = _parser().parse_args(["access-log", *flags])
    status = await run_access_log(linli, args)
    out, err = capsys.readouterr()
    return status, out, err


async def test_the_log_says_who_what_whose_which_why_where_and_when(
    linli: Linli, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second, ref = await views(linli)
    status, out, _ = await listing(capsys, linli)
    assert status == 0
    header, *lines = out.splitlines()
    assert header.split() == HEADER
    assert len(lines) == 4
    newest = lines[0]  # the card, this morning
    for said in ("2026-11-27 10:00:00", OWNER, "姓名、电话、证件号、原话", f"事项 {ref}", "聊天"):
        assert said in newest
    assert f"  {first}  " in newest and "case owner" in newest
    assert "2026-11-20 23:59:59" in lines[1] and "2026-11-19 23:59:59" in lines[3]
    assert OTHER in lines[1] and "完整电话" in lines[1] and "工作台" in lines[1]
    assert f"  {second}  " in lines[1]
    assert PHONE not in out and PHONE[-4:] not in out and NAME not in out


async def test_filters_by_staff_resident_and_days(
    linli: Linli, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second, ref = await views(linli)
    _, out, _ = await listing(capsys, linli, "--staff", OWNER)
    assert len(out.splitlines()) == 2 and ref in out
    _, out, _ = await listing(capsys, linli, "--resident", str(second))
    assert len(out.splitlines()) == 4 and ref not in out
    _, out, _ = await listing(capsys, linli, "--since", "2026-11-20", "--until", "2026-11-20")
    assert [line.split()[1] for line in out.splitlines()[1:]] == ["23:59:59", "00:00:00"]
    _, out, _ = await listing(capsys, linli, "--until", "2026-11-19")
    assert len(out.splitlines()) == 2 and "2026-11-19 23:59:59" in out
    _, out, _ = await listing(capsys, linli, "--resident", str(first), "--since", "2026-11-28")
    assert out.strip() == "没有符合条件的查看记录。"
    status, out, err = await listing(capsys, linli, "--limit", "1", "--lang", "en")
    assert status == 0 and len(out.splitlines()) == 2 and "latest 1" in err
    assert out.splitlines()[0].startswith("when (Beijing time)") and "case " + ref in out


async def test_csv_opens_in_a_spreadsheet(linli: Linli, capsys: pytest.CaptureFixture[str]) -> None:
    first, _, ref = await views(linli)
    args = _parser().parse_args(["access-log", "--csv", "--staff", OWNER])
    assert await run_access_log(linli, args) == 0
    body = capsys.readouterr().out
    text = body.removeprefix(BOM.decode("utf-8"))
    assert text != body  # the byte-order mark came first
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[0] == HEADER
    assert rows[1][0] == "2026-11-27 10:00:00" and rows[1][1] == OWNER
    assert rows[1][4] == str(first) and rows[1][5] == f"事项 {ref}"
    assert PHONE not in text and NAME not in text


async def test_unknown_staff_and_days_the_wrong_way_round_are_status_2(
    linli: Linli, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = await listing(capsys, linli, "--staff", "NOPE")
    assert status == 2 and out == "" and "NOPE" in err
    status, _, err = await listing(capsys, linli, "--since", "2026-11-20", "--until", "2026-11-19")
    assert status == 2 and "早于" in err


@pytest.mark.parametrize(
    ("flags", "said"),
    [
        (["--limit", "0"], "between 1 and"),
        (["--limit", "many"], "not a whole number"),
        (["--since", "2026-02-30"], "not a date"),
        (["--resident", "13812345678x"], "not a resident id"),
        (["--until", "9999-12-31"], "not a year of the log"),
    ],
)
def test_bad_flags_are_usage_errors(
    flags: list[str], said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        _parser().parse_args(["access-log", *flags])
    assert stopped.value.code == 2
    assert said in capsys.readouterr().err


def test_the_command_runs_on_a_database_file(tmp_path: Path) -> None:
    env = env_for(tmp_path / "linli.db")

    def linli(*args: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [*LINLI, *args], env=env, capture_output=True, timeout=120, cwd=ROOT, check=False
        )

    assert linli("db", "upgrade").returncode == 0
    empty = linli("access-log", "--csv")
    assert empty.returncode == 0, empty.stderr
    assert empty.stdout.startswith(BOM) and empty.stdout.count(b"\r\n") == 1
    unknown = linli("access-log", "--staff", "NOPE")
    assert unknown.returncode == 2 and "NOPE" in unknown.stderr.decode()


async def test_the_desk_page_reads_the_same_filters(linli: Linli, client: Client) -> None:
    _, second, ref = await views(linli)
    await set_password(linli, SUPERVISOR)
    async with Browser(client) as browser:
        assert (await browser.log_in(SUPERVISOR)).status == 303
        page = await browser.get(f"/admin/access-log?resident={second}")
        text = await page.text()
        assert page.status == 200 and text.count("checked at") == 3 and ref not in text
        page = await browser.get("/admin/access-log?since=2026-11-20&until=2026-11-20")
        text = await page.text()
        assert "checked at 2026-11-20 00:00:00" in text and "2026-11-19" not in text
        assert ref not in text
        for bad in (
            "resident=12a",
            "since=2026-13-01",
            "until=yesterday",
            "until=9999-12-31",
            "since=0001-01-01",
        ):
            refused = await browser.get(f"/admin/access-log?{bad}")
            assert refused.status == 400, bad
            assert "筛选条件无法识别" in await refused.text()


async def test_a_residents_answer_on_the_desk_is_in_full_for_the_owner_only_and_logged(
    linli: Linli, client: Client
) -> None:
    """The case page's timeline holds the resident's own answers: whoever else may read the case
    reads them without the phone and door numbers; the owner reads them in full, and the view
    is in the access log."""
    owner_code, colleague_code = "S021", SUPERVISOR
    number = await open_case(
        linli,
        assignee=owner_code,
        status=CaseStatus.ACCEPTED,
        department="civil_affairs",
        resident_id=await resident(linli),
    )
    async with linli.sessions() as session, session.begin():
        case = await session.get(Case, number)
        assert case is not None
        lead = (
            await session.exec(select(Department).where(Department.code == "civil_affairs"))
        ).one()
        session.add(CaseHandler(case_id=number, department_id=lead.id or 0, lead=True))
        record(session, case, ("resident", case.resident_id), "answer", linli.clock.now(), ANSWER)
    for code in (owner_code, colleague_code):
        await set_password(linli, code)
    async with Browser(client) as colleague:
        assert (await colleague.log_in(colleague_code)).status == 303
        page = await colleague.get(f"/admin/cases/{number}")
        text = await page.text()
        assert page.status == 200 and "群众回复" in text
        assert PHONE not in text and "3栋2单元501" not in text and "〔电话〕" in text
    assert await viewers(linli) == []
    async with Browser(client) as owner:
        assert (await owner.log_in(owner_code)).status == 303
        text = await (await owner.get(f"/admin/cases/{number}")).text()
        assert ANSWER in text
    assert await viewers(linli) == [(owner_code, "desk")]


async def viewers(linli: Linli) -> list[tuple[str, str]]:
    """Who the access log says saw personal data, and where."""
    async with linli.sessions() as session:
        rows = await session.exec(
            select(Staff.code, PersonalDataView.place).join(
                PersonalDataView, col(PersonalDataView.staff_id) == col(Staff.id)
            )
        )
        return [(code, place) for code, place in rows.all()]
