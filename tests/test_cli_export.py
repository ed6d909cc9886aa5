"""`linli export`: a period's cases, appointments, needs, ratings and KPIs as CSV a spreadsheet
opens (UTF-8 with BOM), Chinese headers, Beijing time, the period's rows only, and no phone number
or name even where a resident typed one."""

from __future__ import annotations

import argparse
import csv
import io
import subprocess
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from bot.app import Linli
from bot.cli import _parser
from bot.cli_export import export_csv, run_export
from models.base import SHANGHAI
from models.booking import Appointment, AppointmentStatus, BookingSlot
from models.cases import Case, CaseKind, CaseStatus, Rating, RatingLevel
from models.csv_export import BOM
from models.kpis import Period
from models.needs import Need
from models.org import Community, Staff
from models.people import Resident, set_id_number, set_phone
from models.services import Service
from tests.conftest import ROOT
from tests.test_cli import LINLI, env_for, run

FIRST, LAST = date(2026, 11, 1), date(2026, 11, 15)
PERIOD = Period(FIRST, LAST + timedelta(days=1))
PHONE, ID_NUMBER, NAME = "13812345678", "510124198001011234", "张小花"
WORDS = f"我叫{NAME}，电话{PHONE}，身份证{ID_NUMBER}，楼下路灯坏了"


def at(day: date, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute, second), tzinfo=SHANGHAI)


# Just inside and just outside the period, at both ends (Shanghai days, both included).
INSIDE = {"first": at(FIRST), "last": at(LAST, 23, 59, 59)}
OUTSIDE = {"before": at(FIRST) - timedelta(seconds=1), "after": at(LAST + timedelta(days=1))}
MOMENTS = {**INSIDE, **OUTSIDE}


@dataclass(frozen=True)
class Seeded:
    resident_id: int
    clerk: str


async def seed_records(linli: Linli) -> Seeded:
    """One case, appointment, need and rating at each moment, all by a resident with a name, a
    phone and an ID number, who wrote them into what they said."""
    async with linli.sessions() as session, session.begin():
        community = (await session.exec(select(Community).where(Community.code == "C01"))).one()
        service = (
            await session.exec(select(Service).where(Service.code == "ss-card-reissue"))
        ).one()
        clerk = (await session.exec(select(Staff).where(Staff.code == "S001"))).one()
        resident = Resident(name=NAME, community_id=community.id, created_at=at(FIRST))
        set_phone(resident, PHONE)
        set_id_number(resident, ID_NUMBER)
        session.add(resident)
        await session.flush()
        for label, moment in MOMENTS.items():
            case = Case(
                ref=f"LCY-C-{label}",
                kind=CaseKind.CONSULTATION,
                category="咨询",
                status=CaseStatus.ACCEPTED,
                summary=WORDS,
                resident_id=resident.id,
                assignee_staff_id=clerk.id,
                accepted_at=moment + timedelta(hours=1),
                created_at=moment,
                updated_at=moment,
            )
            slot = BookingSlot(
                service_id=service.id or 0,
                day=moment.astimezone(SHANGHAI).date(),
                starts_at=moment,
                ends_at=moment + timedelta(minutes=30),
                capacity=1,
                booked=1,
            )
            session.add_all([case, slot])
            await session.flush()
            appointment = Appointment(
                ref=f"LCY-A-{label}",
                resident_id=resident.id or 0,
                service_id=service.id or 0,
                slot_id=slot.id or 0,
                status=AppointmentStatus.COMPLETED,
                starts_at=moment,
                served_by_staff_id=clerk.id,
                created_at=moment - timedelta(days=2),
                updated_at=moment,
            )
            need = Need(
                resident_id=resident.id or 0,
                text=f'=HYPERLINK("http://x.example/{label}") {WORDS}',
                text_hash=f"hash-{label}",
                category="neighbourhood",
                community_id=community.id,
                created_at=moment,
            )
            session.add_all([appointment, need])
            await session.flush()
            session.add(
                Rating(
                    subject_kind="appointment",
                    subject_id=appointment.id or 0,
                    resident_id=resident.id or 0,
                    staff_id=clerk.id,
                    level=RatingLevel.TOO_SLOW,
                    comment=f"{label}: {WORDS}",
                    created_at=moment,
                )
            )
    return Seeded(resident.id or 0, clerk.code)


def read(body: bytes) -> list[list[str]]:
    """The CSV as a spreadsheet reads it (the BOM first, UTF-8)."""
    assert body.startswith(BOM)
    text = body.decode("utf-8-sig")
    for secret in (PHONE, PHONE[-4:], ID_NUMBER, ID_NUMBER[-4:], NAME):
        assert secret not in text
    return list(csv.reader(io.StringIO(text, newline="")))


async def test_cases_hold_the_period_only_in_beijing_time_without_personal_data(
    linli: Linli,
) -> None:
    seeded = await seed_records(linli)
    body, count = await export_csv(linli, "cases", PERIOD, "zh-CN")
    rows = read(body)
    header = rows[0]
    assert header[:4] == ["事项编号", "类型", "类别", "状态"]
    assert count == len(rows) - 1 == 2
    by_ref = {row[0]: dict(zip(header, row, strict=True)) for row in rows[1:]}
    assert set(by_ref) == {"LCY-C-first", "LCY-C-last"}
    first = by_ref["LCY-C-first"]
    assert first["登记时间（北京时间）"] == "2026-11-01 00:00"
    assert by_ref["LCY-C-last"]["登记时间（北京时间）"] == "2026-11-15 23:59"
    assert first["受理时间"] == "2026-11-01 01:00"
    assert first["类型"] == "咨询" and first["状态"] == "办理中"
    assert first["群众内部编号"] == str(seeded.resident_id)
    assert first["承办人员工号"] == seeded.clerk
    assert "路灯坏了" in first["内容（已去除个人信息）"]
    assert "〔电话〕" in first["内容（已去除个人信息）"]


async def test_appointments_are_those_held_in_the_period(linli: Linli) -> None:
    seeded = await seed_records(linli)
    rows = read((await export_csv(linli, "appointments", PERIOD, "zh-CN"))[0])
    header = rows[0]
    assert header[:4] == ["预约号", "服务", "部门", "状态"]
    by_ref = {row[0]: dict(zip(header, row, strict=True)) for row in rows[1:]}
    assert set(by_ref) == {"LCY-A-first", "LCY-A-last"}
    first = by_ref["LCY-A-first"]
    assert first["服务"] == "社保卡补办"
    assert first["状态"] == "已办结"
    assert first["预约时间（北京时间）"] == "2026-11-01 00:00"
    assert first["预约提交时间"] == "2026-10-30 00:00"  # booked before the period: still held in it
    assert first["办理人员工号"] == seeded.clerk


async def test_needs_are_defused_and_cleaned(linli: Linli) -> None:
    await seed_records(linli)
    rows = read((await export_csv(linli, "needs", PERIOD, "zh-CN"))[0])
    header = rows[0]
    assert header[0] == "需求编号"
    assert len(rows) == 3
    text = header.index("需求内容（已去除个人信息）")
    for row in rows[1:]:
        assert row[text].startswith("'=HYPERLINK(")  # shown as typed, never run
        assert "路灯坏了" in row[text]
        assert row[header.index("类别")] == "邻里和谐"


async def test_ratings_name_what_was_rated_and_clean_the_comment(linli: Linli) -> None:
    await seed_records(linli)
    rows = read((await export_csv(linli, "ratings", PERIOD, "zh-CN"))[0])
    header = rows[0]
    records = [dict(zip(header, row, strict=True)) for row in rows[1:]]
    assert {r["对象编号"] for r in records} == {"LCY-A-first", "LCY-A-last"}
    assert {r["评价"] for r in records} == {"时间长"}
    assert {r["评价对象"] for r in records} == {"预约"}
    assert all(r["评语（已去除个人信息）"].startswith(("first:", "last:")) for r in records)


async def test_english_headers_when_asked(linli: Linli) -> None:
    await seed_records(linli)
    rows = read((await export_csv(linli, "appointments", PERIOD, "en"))[0])
    assert rows[0][:2] == ["Reference", "Service"]
    assert rows[1][1] == "Social security card replacement"


async def test_kpis_are_the_numbers_of_the_period(linli: Linli) -> None:
    await seed_records(linli)
    body, count = await export_csv(linli, "kpis", PERIOD, "zh-CN")
    rows = read(body)
    assert rows[0] == ["指标", "数值", "分子", "分母"]
    assert rows[1] == ["统计期间", "2026-11-01 – 2026-11-15", "", ""]
    metrics = {row[0]: row[1] for row in rows}
    assert metrics["预约总数"] == "2"
    assert metrics["受理事项（新增）"] == "2"
    assert metrics["时间长"] == "2"
    assert count == len(rows) - 1


async def test_the_command_writes_the_file_it_is_given(
    linli: Linli, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await seed_records(linli)
    out = tmp_path / "cases.csv"
    args = argparse.Namespace(kind="cases", first=FIRST, last=LAST, out=out, lang="zh-CN")
    assert await run_export(linli, args) == 0
    assert len(read(out.read_bytes())) == 3
    assert "wrote 2 cases rows" in capsys.readouterr().err
    backwards = argparse.Namespace(kind="cases", first=LAST, last=FIRST, out=out, lang="zh-CN")
    assert await run_export(linli, backwards) == 2
    assert "before" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("flags", "said"),
    [
        (["--from", "2026-13-01", "--to", "2026-11-15"], "not a date"),
        (["--from", "2026-11-01", "--to", "15/11/2026"], "not a date"),
        (["--from", "2026-11-01"], "--to"),
        (["--from", "2026-11-01", "--to", "2026-11-15", "--lang", "fr"], "--lang"),
    ],
)
def test_a_bad_date_is_a_usage_error(
    flags: list[str], said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        _parser().parse_args(["export", "cases", *flags])
    assert stopped.value.code == 2
    assert said in capsys.readouterr().err


def test_a_bad_date_on_the_command_line_is_status_2_without_a_traceback(tmp_path: Path) -> None:
    flags = ["--from", "2026-11-31", "--to", "2026-12-01"]
    result = run(["export", "cases", *flags], env_for(tmp_path / "linli.db"))
    assert result.returncode == 2
    assert "not a date (YYYY-MM-DD): '2026-11-31'" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "linli.db").exists()


def test_the_command_line_writes_csv_with_a_bom_to_stdout(tmp_path: Path) -> None:
    db = tmp_path / "var" / "linli.db"
    for args in (["db", "upgrade"], ["seed"]):
        assert run(args, env_for(db)).returncode == 0
    result = subprocess.run(
        [*LINLI, "export", "kpis", "--from", "2026-11-01", "--to", "2026-11-30"],
        env=env_for(db),
        capture_output=True,
        timeout=120,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    rows = read(result.stdout)
    assert rows[0] == ["指标", "数值", "分子", "分母"]
    backwards = run(["export", "needs", "--from", "2026-11-30", "--to", "2026-11-01"], env_for(db))
    assert backwards.returncode == 2 and "before" in backwards.stderr
