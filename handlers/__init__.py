"""Conversation features, one module each; every module exports a Router."""

from bot.router import Router
from handlers import (
    account,
    binding,
    booking,
    booking_staff,
    booking_words,
    case_reply,
    case_withdrawal,
    cases,
    cases_staff,
    dispatch_calls,
    grid_report,
    handover,
    inquiry,
    menu,
    my_data,
    my_stars,
    needs,
    needs_edit,
    needs_staff,
    needs_visit,
    notices,
    notices_staff,
    rating,
    staff,
    weekend,
)


def build_router() -> Router:
    """The root router: features first, the menu (with its catch-all fallback) last."""
    return Router("root").include(
        binding.router,
        staff.router,
        inquiry.going_on,  # "继续" in a flow shows its step again, before any reading of it
        # Before free-text understanding: a level typed where one thing to rate is in view,
        # words naming a thing listed at the rating flow's first step, and words answering a
        # resolved case's push.
        rating.choosing,
        case_reply.router,
        booking_staff.router,
        cases_staff.router,
        dispatch_calls.router,
        my_stars.router,
        cases.router,
        case_withdrawal.router,
        grid_report.router,
        needs_staff.router,
        needs_edit.router,
        needs_visit.router,
        notices_staff.router,
        notices.router,
        needs.router,
        booking.router,
        # Before inquiry's free-text understanding: a weekend question and a booking told in
        # one sentence (a service with a day or time) are answered here.
        weekend.router,
        booking_words.router,
        account.router,
        my_data.router,
        handover.router,
        rating.router,
        inquiry.router,
        menu.router,
    )
