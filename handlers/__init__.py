"""Conversation features, one module each; every module exports a Router."""

from bot.router import Router
from handlers import (
    account,
    binding,
    booking,
    booking_staff,
    cases,
    cases_staff,
    handover,
    inquiry,
    menu,
    needs,
    needs_edit,
    needs_staff,
    needs_visit,
    notices,
    notices_staff,
    rating,
    staff,
)


def build_router() -> Router:
    """The root router: features first, the menu (with its catch-all fallback) last."""
    return Router("root").include(
        binding.router,
        staff.router,
        booking_staff.router,
        cases_staff.router,
        cases.router,
        needs_staff.router,
        needs_edit.router,
        needs_visit.router,
        notices_staff.router,
        notices.router,
        needs.router,
        booking.router,
        account.router,
        handover.router,
        rating.router,
        inquiry.router,
        menu.router,
    )
