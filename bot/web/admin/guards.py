"""Desk-side guards that only combine models.policy with a case's state.

models.policy.may_accept_case and may_transfer_case compare the staff member's department with
the case's lead department; for a grid report still waiting in the dispatch queue both are None,
so a grid leader, a dispatcher or a supervisor without a department would pass. Until the policy
says so itself, the desk adds the missing condition: a case no department has been called to is
nobody's to accept or hand on (the dispatcher calls departments from the dispatch page).
"""

from __future__ import annotations

from models.cases import Case
from models.org import Staff
from models.policy import may_accept_case, may_transfer_case


def called_to_a_department(case: Case) -> bool:
    """Whether the case has a lead department (it is not waiting for the dispatcher)."""
    return case.department_id is not None


def may_accept_at_desk(staff: Staff, case: Case) -> bool:
    """models.policy.may_accept_case, for a case that has a lead department."""
    return called_to_a_department(case) and may_accept_case(staff, case)


def may_transfer_at_desk(staff: Staff, case: Case) -> bool:
    """models.policy.may_transfer_case, for a case that has a lead department."""
    return called_to_a_department(case) and may_transfer_case(staff, case)
