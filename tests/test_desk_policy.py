"""The desk's part of the one authorization policy: which role opens which page, whose numbers
and stars each may read, and who may dispatch or answer a call (models/policy.py)."""

from __future__ import annotations

from datetime import datetime

import pytest

from bot.i18n import t
from models.base import SHANGHAI
from models.case_ops import Refusal
from models.cases import Case, CaseHandler, CaseKind, CaseStatus
from models.org import Staff, StaffRole
from models.policy import (
    DeskPage,
    NumbersScope,
    may_accept_part,
    may_answer_call,
    may_dispatch,
    may_finish_part,
    may_open_page,
    may_return_call,
    may_see_scorecard,
    numbers_scope,
)

NOW = datetime(2026, 12, 1, 10, tzinfo=SHANGHAI)


def person(
    role: StaffRole,
    number: int = 1,
    *,
    community_id: int | None = None,
    department_id: int | None = None,
    active: bool = True,
) -> Staff:
    """A staff member as the policy sees one (no database needed)."""
    return Staff(
        id=number,
        code=f"T{number:03d}",
        name="测试",
        role=role,
        community_id=community_id,
        department_id=department_id,
        active=active,
    )


@pytest.mark.parametrize(
    ("role", "opens", "refused"),
    [
        (StaffRole.CLERK, {DeskPage.CASES, DeskPage.APPOINTMENTS}, {DeskPage.NUMBERS}),
        (StaffRole.GRID_LEADER, {DeskPage.NOTICES}, {DeskPage.DISPATCH, DeskPage.ROSTER}),
        (StaffRole.DISPATCHER, {DeskPage.DISPATCH}, {DeskPage.NUMBERS, DeskPage.BIND_CODES}),
        (StaffRole.LEADER, {DeskPage.NUMBERS, DeskPage.STARS}, {DeskPage.DISPATCH}),
        (StaffRole.SUPERVISOR, {DeskPage.ACCESS_LOG, DeskPage.ROSTER}, {DeskPage.BIND_CODES}),
        (StaffRole.ADMIN, set(DeskPage), set()),
    ],
)
def test_pages_by_role(role: StaffRole, opens: set[DeskPage], refused: set[DeskPage]) -> None:
    staff = person(role)
    assert all(may_open_page(staff, page) for page in opens)
    assert not any(may_open_page(staff, page) for page in refused)
    staff.active = False  # deactivated: no page at all
    assert not any(may_open_page(staff, page) for page in DeskPage)


def test_numbers_scope() -> None:
    assert numbers_scope(person(StaffRole.LEADER)) == NumbersScope(street=True)
    assert numbers_scope(person(StaffRole.LEADER, community_id=3)) == NumbersScope(community_id=3)
    assert numbers_scope(person(StaffRole.SUPERVISOR)).street
    assert not numbers_scope(person(StaffRole.CLERK)).any
    assert not numbers_scope(None).any


def test_stars_are_ones_own_unless_one_answers_for_others() -> None:
    clerk = person(StaffRole.CLERK, 1, community_id=3)
    other = person(StaffRole.CLERK, 2, community_id=4)
    assert may_see_scorecard(clerk, clerk) and not may_see_scorecard(clerk, other)
    community_leader = person(StaffRole.LEADER, 3, community_id=3)
    assert may_see_scorecard(community_leader, clerk)
    assert not may_see_scorecard(community_leader, other)  # another community's staff
    assert may_see_scorecard(person(StaffRole.LEADER, 4), other)  # a street leader
    assert may_see_scorecard(person(StaffRole.SUPERVISOR, 5), other)


def test_who_dispatches_and_who_answers_a_call() -> None:
    assert may_dispatch(person(StaffRole.DISPATCHER))
    assert not may_dispatch(person(StaffRole.CLERK))
    assert not may_dispatch(person(StaffRole.DISPATCHER, active=False))
    report = Case(
        id=1,
        ref="LC-1",
        kind=CaseKind.GRID_REPORT,
        category="x",
        summary="x",
        status=CaseStatus.ASSIGNED,
    )
    called = CaseHandler(case_id=1, department_id=7, lead=False)
    mine = person(StaffRole.DEPARTMENT_STAFF, 6, department_id=7)
    assert may_answer_call(mine, called, report)
    assert may_accept_part(mine, called, report) and may_return_call(mine, called, report)
    assert not may_answer_call(
        person(StaffRole.DEPARTMENT_STAFF, 7, department_id=8), called, report
    )
    assert not may_answer_call(person(StaffRole.GRID_LEADER, 8, department_id=7), called, report)
    called.accepted_at = NOW  # taken on: no longer returned, but finished
    assert not may_return_call(mine, called, report)
    assert may_finish_part(mine, {7: called}, report)
    called.done_at = NOW  # done once: not again
    assert not may_finish_part(mine, {7: called}, report)
    called.done_at, called.accepted_at, called.returned_at = None, None, NOW
    assert not may_answer_call(mine, called, report)  # a returned call is not answered again
    assert not may_finish_part(mine, {7: called}, report)


def test_only_a_dispatched_grid_report_can_be_given_back() -> None:
    clerk = person(StaffRole.CLERK, 9, department_id=7)
    proxy = Case(
        id=2, ref="LC-2", kind=CaseKind.PROXY, category="x", summary="x", status=CaseStatus.ASSIGNED
    )
    lead = CaseHandler(case_id=2, department_id=7, lead=True)
    assert not may_return_call(clerk, lead, proxy)  # 首问责任: a resident's own case stays
    report = Case(
        id=3,
        ref="LC-3",
        kind=CaseKind.GRID_REPORT,
        category="x",
        summary="x",
        status=CaseStatus.ASSIGNED,
    )
    lead_of_report = CaseHandler(case_id=3, department_id=7, lead=True)
    assert may_return_call(clerk, lead_of_report, report)
    report.assignee_staff_id = 9  # someone took it: the lead cannot give it back any more
    assert not may_return_call(clerk, lead_of_report, report)
    report.status = CaseStatus.RESOLVED
    assert not may_answer_call(clerk, lead_of_report, report)


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_every_role_has_a_name_in_both_languages(lang: str) -> None:
    for role in StaffRole:
        assert not t(lang, f"staff.role_{role}").startswith("staff."), role


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_every_refusal_is_worded_in_chat_and_on_the_desk(lang: str) -> None:
    for refusal in Refusal:
        for key in (f"cases.refused_{refusal}", f"desk.refused_{refusal}"):
            assert t(lang, key) != key, key
