"""Issue 16, finding 6: wrong bind codes lock the guesser, not the street.

An attacker types wrong codes from many web chat accounts (a new browser id costs nothing) and
from many addresses. Every staff member must still be able to bind with their own code; each
guessing account is locked for an hour after five wrong codes; a code that wrong guesses were
aimed at ten times is void, so however many accounts guess, no code gets more than a few tries.
Codes are single use and expire.
"""

from __future__ import annotations

import itertools
from datetime import timedelta

from bot.clock import ManualClock
from models.binding import CODE_ALPHABET, CODE_LENGTH, normalize_code
from tests.security.web_rig import (
    account,
    browser_id,
    codes,
    demo_settings,
    production_settings,
    say,
    staff_code,
    web_client,
)

WRONG = "不正确"
LOCKED_OUT = "尝试次数过多"
VOID = "已作废"
BOUND = "绑定成功"


def wrong_codes(avoid: str) -> list[str]:
    """Codes that are none of the live ones and aim at none of them (other first letters)."""
    first = next(letter for letter in CODE_ALPHABET if letter != normalize_code(avoid)[0])
    rest = itertools.product(CODE_ALPHABET, repeat=CODE_LENGTH - 1)
    return [first + "".join(tail) for tail in itertools.islice(rest, 1000, 1300)]


def aimed_at(code: str, n: int) -> str:
    """A wrong guess that starts like code (the attacker got lucky with the first letters)."""
    plain = normalize_code(code)
    tail = plain[3:]
    other = "".join(CODE_ALPHABET[(CODE_ALPHABET.index(c) + n + 1) % 31] for c in tail)
    return plain[:3] + other


async def test_guessers_on_many_accounts_do_not_stop_a_staff_member_binding(
    db_url: str, clock: ManualClock
) -> None:
    async with web_client(demo_settings(db_url), clock) as (linli, client):
        code = await staff_code(linli, "S001")  # handed to the staff member, not yet used
        guesses = iter(wrong_codes(avoid=code))
        attackers = [f"attacker-{n:04d}" for n in range(45)]  # 225 wrong codes in minutes
        for attacker in attackers:
            for _ in range(5):
                assert WRONG in await say(client, attacker, f"绑定 {next(guesses)}")
        assert BOUND in await say(client, "staff-member-01", f"绑定 {code}")
        assert (await account(linli, "staff-member-01")).staff_id is not None

        # The attacker's accounts are locked, even with a right code.
        other = await staff_code(linli, "S002")
        assert LOCKED_OUT in await say(client, attackers[0], f"绑定 {other}")
        assert (await account(linli, attackers[0])).staff_id is None
        # For an hour; then the lock lifts.
        clock.advance(timedelta(hours=1, seconds=1))
        assert BOUND in await say(client, attackers[0], f"绑定 {other}")


async def test_a_code_guessed_at_too_often_is_void(db_url: str, clock: ManualClock) -> None:
    async with web_client(demo_settings(db_url), clock) as (linli, client):
        code = await staff_code(linli, "S003")
        for n in range(10):  # from two accounts: five tries each
            answer = await say(client, f"sprayer-{n // 5}", f"绑定 {aimed_at(code, n)}")
            assert WRONG in answer
        # The eleventh try at this code would have been the right one: it is refused.
        lucky = "sprayer-lucky"
        answer = await say(client, lucky, f"绑定 {code}")
        assert VOID in answer and BOUND not in answer
        assert (await account(linli, lucky)).staff_id is None
        assert [row.used_at for row in await codes(linli)] == [None]
        # The staff member asks for a new code, and it works.
        assert BOUND in await say(
            client, "staff-member-03", f"绑定 {await staff_code(linli, 'S003')}"
        )


async def test_wrong_guesses_aimed_elsewhere_leave_a_code_alone(
    db_url: str, clock: ManualClock
) -> None:
    async with web_client(demo_settings(db_url), clock) as (linli, client):
        code = await staff_code(linli, "S004")
        guesses = iter(wrong_codes(avoid=code))
        for n in range(40):
            await say(client, f"sprayer-{n // 5}", f"绑定 {next(guesses)}")
        assert all(row.failures == 0 for row in await codes(linli))
        assert BOUND in await say(client, "staff-member-04", f"绑定 {code}")


async def test_codes_are_single_use_and_expire(db_url: str, clock: ManualClock) -> None:
    async with web_client(demo_settings(db_url), clock) as (linli, client):
        code = await staff_code(linli, "S005")
        assert BOUND in await say(client, "staff-member-05", f"绑定 {code}")
        assert "已经用过" in await say(client, "someone-else-05", f"绑定 {code}")
        assert (await account(linli, "someone-else-05")).staff_id is None

        late = await staff_code(linli, "S006", hours=24)
        clock.advance(timedelta(hours=24, seconds=1))
        assert "已过期" in await say(client, "staff-member-06", f"绑定 {late}")
        assert (await account(linli, "staff-member-06")).staff_id is None


async def test_web_guesses_in_production_cannot_void_staff_codes(
    db_url: str, clock: ManualClock
) -> None:
    # Web ids cost nothing, and production web accounts cannot redeem staff codes at all.
    async with web_client(production_settings(db_url), clock) as (linli, client):
        code = await staff_code(linli, "S005")
        for n in range(12):
            await say(client, browser_id(), f"绑定 {aimed_at(code, n)}")
        assert [row.failures for row in await codes(linli)] == [0]
