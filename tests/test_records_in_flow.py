"""Issue 18, item 4: free text in the middle of a flow acts on the resident's own records —
"取消我的预约", "改到周六", "我的代办办到哪了" — instead of starting something new; 退出 / 菜单 /
返回 leave any flow; a question asked mid-flow is answered and the flow offered again; a
message after a flow timed out is answered, not swallowed."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlmodel import func, select

from bot.clock import ManualClock
from bot.i18n import t
from models.base import SHANGHAI
from models.booking import Appointment
from models.cases import Case
from tests.talk import Talk, open_rig, platform, talk

__all__ = ["open_rig", "platform", "talk"]  # fixtures used by name

APPOINTMENT = re.compile(r"LCY-\d{8}-\d{4}")
CASE = re.compile(r"LC-\d{8}-\d{4}")


async def book(talk: Talk, sentence: str) -> str:
    """Book the first free slot of the first day offered, all typed; the appointment's ref."""
    await talk.say(sentence)
    await talk.say("1")  # the first day
    await talk.say("1")  # its first slot
    done = await talk.say(t("zh-CN", "booking.yes"))
    found = APPOINTMENT.search(done)
    assert found is not None, done
    return found.group()


async def _book_monday(talk: Talk, sentence: str) -> str:
    """Book the first slot of next Monday (not today: the clock may move past it)."""
    slots = await talk.say(f"{sentence} 下周一")
    assert "11月30日" in slots, slots
    await talk.say("1")
    found = APPOINTMENT.search(await talk.say(t("zh-CN", "booking.yes")))
    assert found is not None
    return found.group()


async def _count(talk: Talk, table: type[Case] | type[Appointment]) -> int:
    async with talk.linli.sessions() as session:
        return (await session.exec(select(func.count()).select_from(table))).one()


async def _appointment(talk: Talk, ref: str) -> Appointment:
    async with talk.linli.sessions() as session:
        return (await session.exec(select(Appointment).where(Appointment.ref == ref))).one()


async def test_cancel_my_appointment_from_inside_another_flow(talk: Talk) -> None:
    ref = await book(talk, "预约社保卡补办")
    await talk.say("代办")  # a flow that takes free text of its own
    question = await talk.say("取消我的预约")
    assert (
        t("zh-CN", "booking.cancel_question", service="社保卡补办", ref=ref, when="")[:30]
        in question
    ), question
    done = await talk.say(t("zh-CN", "booking.cancel_yes"))
    assert t("zh-CN", "booking.cancelled", ref=ref) in done
    assert (await _appointment(talk, ref)).status == "cancelled"
    assert await _count(talk, Case) == 0  # no proxy request was made of the words


async def test_with_two_appointments_the_resident_picks_which_to_cancel(talk: Talk) -> None:
    first = await book(talk, "预约社保卡补办")
    second = await book(talk, "预约居住登记")
    offer = await talk.say("我想取消预约")
    assert t("zh-CN", "records.which_to_cancel") in offer
    assert "社保卡补办" in offer and "居住登记" in offer
    question = await talk.say("2")
    assert second in question or first in question
    assert t("zh-CN", "booking.cancel_yes") in question


async def test_move_right_after_booking_to_the_day_typed(talk: Talk) -> None:
    ref = await book(talk, "预约社保卡补办")
    slots = await talk.say("改到周六")
    assert "周六" in slots and "09:00" in slots, slots
    confirm = await talk.say("1")
    assert t("zh-CN", "booking.confirm_move", service="社保卡补办", when="")[:10] in confirm
    done = await talk.say(t("zh-CN", "booking.yes"))
    assert ref in done and "改约成功" in done
    moved = await _appointment(talk, ref)
    assert moved.starts_at.astimezone(SHANGHAI).weekday() == 5  # Saturday
    assert await _count(talk, Appointment) == 1  # moved, not booked twice


async def test_move_the_appointment_being_looked_at(talk: Talk) -> None:
    first = await book(talk, "预约社保卡补办")
    await book(talk, "预约居住登记")
    card = await talk.say(first.lower().replace("-", ""))  # typed as people type it
    assert first in card
    slots = await talk.say("能不能改到周六")
    assert "社保卡补办" in slots and "居住登记" not in slots, slots
    await talk.say("1")
    done = await talk.say(t("zh-CN", "booking.yes"))
    assert first in done and "改约成功" in done


async def test_a_new_booking_changes_its_own_day_and_moves_nothing(talk: Talk) -> None:
    ref = await book(talk, "预约社保卡补办")
    await talk.say("预约居住登记")
    await talk.say("1")  # choosing a day for a second, new booking …
    slots = await talk.say("改到周六")  # … "change that to Saturday" is about this one
    assert "居住登记" in slots and "周六" in slots, slots
    assert (await _appointment(talk, ref)).starts_at.astimezone(SHANGHAI).weekday() == 4


async def test_where_is_my_proxy_shows_my_cases_and_starts_nothing(talk: Talk) -> None:
    await talk.say("代办")
    await talk.say("帮我母亲办高龄补贴，她腿脚不便")
    await talk.say("1")
    await talk.say("南街社区3栋2单元")
    await talk.say("周六上午")
    await talk.say("不同意")  # no phone number (consent first, issue 21)
    opened = await talk.say("不同意")  # nor the ID number
    found = CASE.search(opened)
    assert found is not None, opened
    await talk.say("预约")  # in the middle of booking
    progress = await talk.say("我的代办办到哪了")
    assert t("zh-CN", "cases.mine_title") in progress and found.group() in progress
    await talk.say("代办")  # and in the middle of a new proxy request
    progress = await talk.say("我的事项进度")
    assert found.group() in progress
    assert await _count(talk, Case) == 1
    assert await talk.state() == ""


FLOWS = (
    ("预约",),
    ("预约社保卡补办",),
    ("代办",),
    ("代办", "帮我母亲办高龄补贴"),
    ("代办", "帮我母亲办高龄补贴", "1"),
    ("咨询",),
    ("投诉",),
    ("需求",),
)


async def test_quit_and_menu_leave_every_flow_and_back_steps_out(talk: Talk) -> None:
    for flow in FLOWS:
        for word in ("退出", "菜单", "返回"):
            for text in flow:
                await talk.say(text)
            step = await talk.state()
            assert step, flow
            shown = await talk.say(word)
            if word == "返回":
                assert await talk.state() != step, (flow, shown)
                await talk.say("退出")
            assert await talk.state() == "", (flow, word, shown)
            assert await _count(talk, Case) == 0


async def test_a_question_mid_flow_is_answered_and_the_flow_resumes(talk: Talk) -> None:
    await talk.say("预约社保卡补办")
    slots = await talk.say("1")
    assert "10:30" in slots
    answer = await talk.say("社保卡补办要带什么")
    assert "本人身份证原件" in answer
    assert t("zh-CN", "flow.resume_booking") in answer
    resumed = await talk.say(t("zh-CN", "flow.resume_booking"))
    assert t("zh-CN", "flow.resumed") in resumed
    assert await talk.state() == "booking.day"
    confirm = await talk.say("1")  # the first slot, as before the question
    assert t("zh-CN", "booking.yes") in confirm
    done = await talk.say(t("zh-CN", "booking.yes"))
    assert APPOINTMENT.search(done) is not None, done


async def test_a_message_after_the_flow_timed_out_is_answered(
    talk: Talk, clock: ManualClock
) -> None:
    await talk.say("预约社保卡补办")
    await talk.say("1")
    clock.advance(timedelta(minutes=talk.linli.settings.state_timeout_minutes + 1))
    answer = await talk.say("社保卡补办要带什么")
    assert "已超过" in answer  # says the booking step was reset …
    assert "本人身份证原件" in answer  # … and answers the question all the same


async def test_cancel_or_move_said_in_words_apart(talk: Talk) -> None:
    ref = await book(talk, "预约社保卡补办")
    slots = await talk.say("我预约的社保卡补办能改到周六吗")  # not the weekend question
    assert "周六" in slots and "09:00" in slots, slots
    await talk.say("菜单")
    question = await talk.say("帮我取消一下明天的预约")
    assert ref in question and t("zh-CN", "booking.cancel_yes") in question


async def test_how_to_cancel_is_answered_for_one_with_no_appointment(talk: Talk) -> None:
    answer = await talk.say("预约了去不了，怎么取消或者改时间？")
    assert t("zh-CN", "booking.none") not in answer
    assert "来源" in answer  # the FAQ's answer, with its source


async def test_another_matter_at_a_booking_step_is_not_read_as_a_day(talk: Talk) -> None:
    """ "小区路灯坏了" at the time step is not "没看懂这个时间": the matter is taken up as a
    question would be (its readings offered), with 继续预约 back to the same slots."""
    await talk.say("预约社保卡补办")
    slots = await talk.say("周六")
    assert "09:00" in slots
    answer = await talk.say("小区路灯坏了")
    assert t("zh-CN", "booking.time_not_understood") not in answer
    assert t("zh-CN", "flow.resume_booking") in answer
    resumed = await talk.say(t("zh-CN", "flow.resume_booking"))
    assert "09:00" in resumed and await talk.state() == "booking.day"
    unclear = await talk.say("随便")  # a short unclear answer stays the step's
    assert await talk.state() == "booking.day", unclear


async def test_a_move_naming_its_service_moves_that_appointment(talk: Talk) -> None:
    """An outside walkthrough: "我想把社保卡那个改到下周六" moved the one booked last."""
    card = await book(talk, "预约社保卡补办")
    allowance = await book(talk, "预约高龄补贴申领")
    slots = await talk.say("我想把社保卡那个改到下周六")
    assert "社保卡补办" in slots and "高龄补贴" not in slots, slots
    await talk.say("1")
    done = await talk.say(t("zh-CN", "booking.yes"))
    assert card in done and "改约成功" in done, done
    assert (await _appointment(talk, card)).starts_at.astimezone(SHANGHAI).weekday() == 5
    assert (await _appointment(talk, allowance)).starts_at.astimezone(SHANGHAI).weekday() != 5


async def test_a_cancel_naming_its_service_asks_about_that_appointment(talk: Talk) -> None:
    card = await book(talk, "预约社保卡补办")
    allowance = await book(talk, "预约高龄补贴申领")
    question = await talk.say("帮我取消高龄补贴那个")
    assert allowance in question and card not in question, question
    assert t("zh-CN", "booking.cancel_yes") in question


async def test_a_move_naming_a_service_not_booked_says_so_and_lists_them(talk: Talk) -> None:
    card = await book(talk, "预约社保卡补办")
    allowance = await book(talk, "预约高龄补贴申领")
    said = await talk.say("我想把居住证的预约改到周日")
    assert "您没有「" in said and t("zh-CN", "records.which_to_move") in said, said
    assert "社保卡补办" in said and "高龄补贴申领" in said
    for ref in (card, allowance):  # nothing moved
        assert (await _appointment(talk, ref)).starts_at.astimezone(SHANGHAI).weekday() != 6


async def test_going_on_words_in_a_booking_show_its_step_again(talk: Talk) -> None:
    """An outside walkthrough: "继续预约" at the time step switched to 居住证签注, "接着约" to
    预防接种预约; and "继续吧" after a question did not take the booking up again."""
    await talk.say("预约社保卡补办")
    slots = await talk.say("周六")
    for words in ("继续预约", "接着约", "继续吧"):
        again = await talk.say(words)
        assert again.startswith(t("zh-CN", "flow.resumed")), again
        assert "「社保卡补办」" in again and "09:00" in again and "居住证" not in again, again
        assert again.count(t("zh-CN", "flow.resumed")) == 1
    await talk.say("要带什么材料？")
    resumed = await talk.say("继续吧")
    assert resumed.count(t("zh-CN", "flow.resumed")) == 1 and "09:00" in resumed, resumed
    confirm = await talk.say("9点")
    assert "社保卡补办" in confirm and "09:00" in confirm, (slots, confirm)


async def test_going_on_words_with_no_flow_name_no_service(talk: Talk) -> None:
    said = await talk.say("继续预约")
    assert "居住证" not in said and "预防接种" not in said, said


async def test_cancel_with_the_appointment_number_asks_the_cancel_question(talk: Talk) -> None:
    """An outside walkthrough: "取消LCY-…" only showed the appointment, and "是的" then was
    not understood: the resident may have thought it cancelled."""
    ref = await book(talk, "预约社保卡补办")
    question = await talk.say(f"取消{ref}")
    assert t("zh-CN", "booking.cancel_yes") in question and ref in question, question
    done = await talk.say("是的")
    assert t("zh-CN", "booking.cancelled", ref=ref) in done, done
    assert (await _appointment(talk, ref)).status == "cancelled"


async def test_the_appointment_number_alone_still_shows_it(talk: Talk) -> None:
    ref = await book(talk, "预约社保卡补办")
    shown = await talk.say(ref.lower())
    assert ref in shown and t("zh-CN", "booking.cancel_yes") not in shown, shown
    assert (await _appointment(talk, ref)).status != "cancelled"


async def test_giving_up_a_move_keeps_the_appointment_and_says_so(talk: Talk) -> None:
    """An outside walkthrough: "算了不改了" at the move's confirm question got "还没有预约
    成功", though the resident had an appointment and only dropped the change."""
    ref = await book(talk, "预约社保卡补办")
    before = (await _appointment(talk, ref)).starts_at
    await talk.say("改到周六")
    confirm = await talk.say("1")
    assert t("zh-CN", "booking.yes") in confirm
    unclear = await talk.say("嗯嗯再想想那个")
    assert "还没有预约成功" not in unclear and "原来的预约不变" in unclear, unclear
    dropped = await talk.say("算了不改了")
    assert t("zh-CN", "booking.move_dropped") in dropped, dropped
    assert (await _appointment(talk, ref)).starts_at == before
    assert not (await talk.state()).startswith("booking")  # the move is over


async def test_a_reason_naming_a_service_leaves_the_only_appointment_chosen(talk: Talk) -> None:
    """A review: with one appointment, "我想取消预约，明天要带孩子去打疫苗" was told
    "您没有「预防接种预约」的预约"; the one appointment is the one meant."""
    ref = await book(talk, "预约社保卡补办")
    question = await talk.say("我想取消预约，明天要带孩子去打疫苗")
    assert ref in question and t("zh-CN", "booking.cancel_yes") in question, question
    assert "您没有「" not in question


async def test_a_denied_or_asked_cancel_beside_the_number_cancels_nothing(talk: Talk) -> None:
    """A review: "LCY-… 不用取消了，我会准时到" asked the cancel question, and "是的" then
    cancelled the appointment the resident meant to keep."""
    ref = await book(talk, "预约社保卡补办")
    for words in (f"{ref} 不用取消了，我会准时到", f"取消了{ref}吗"):
        shown = await talk.say(words)
        assert t("zh-CN", "booking.cancel_yes") not in shown, shown
        await talk.say("是的")
    assert (await _appointment(talk, ref)).status != "cancelled"


async def test_going_on_words_after_an_answer_with_nothing_paused_are_no_stale_option(
    talk: Talk,
) -> None:
    """A review: "下一步" after an FAQ answer, with no flow paused, said an option had
    expired, though none was pressed."""
    await talk.say("社保卡怎么办理")
    said = await talk.say("下一步")
    assert t("zh-CN", "menu.stale_option") not in said, said


async def test_one_appointment_and_another_service_named_in_full_says_so(talk: Talk) -> None:
    """A review: with one 社保卡补办 appointment, "取消居住证签注的预约" then "是的" would have
    cancelled the 社保卡补办 one."""
    ref = await book(talk, "预约社保卡补办")
    said = await talk.say("取消居住证签注的预约")
    assert "您没有「居住证签注」的预约" in said and t("zh-CN", "booking.cancel_yes") not in said
    await talk.say("是的")
    assert (await _appointment(talk, ref)).status != "cancelled"


async def test_an_order_with_a_reason_or_a_polite_ask_beside_the_number_still_acts(
    talk: Talk,
) -> None:
    """A review: a denial anywhere ("去不了") or a polite "好吗" kept the cancel from acting."""
    ref = await book(talk, "预约社保卡补办")
    for words in (f"取消{ref}，临时有事去不了", f"帮我取消{ref}好吗"):
        question = await talk.say(words)
        assert t("zh-CN", "booking.cancel_yes") in question, question


async def test_cancel_and_a_number_with_a_space_is_about_that_appointment(talk: Talk) -> None:
    """A walkthrough: "取消 LCY-…" (a space after 取消) asked about the one booked last; and
    another's number or none must not stand for it either."""
    first = await book(talk, "预约社保卡补办")
    second = await book(talk, "预约高龄补贴申领")
    question = await talk.say(f"取消 {first}")
    assert first in question and second not in question, question
    assert t("zh-CN", "booking.cancel_yes") in question
    other = await talk.say("取消 LCY-20261127-0099")
    assert second not in other and t("zh-CN", "booking.cancel_yes") not in other, other
    asked = await talk.say(f"取消 {second} 了吗？")  # asks whether it is done: its card
    assert second in asked and t("zh-CN", "booking.cancel_yes") not in asked, asked


async def test_a_number_and_a_day_moves_that_appointment_to_the_day(talk: Talk) -> None:
    """A walkthrough: "LCY-… 改到周六上午10点" ignored the day and showed the first days."""
    ref = await book(talk, "预约社保卡补办")
    slots = await talk.say(f"{ref} 改到周六上午10点")
    assert "10:00" in slots and t("zh-CN", "booking.yes") in slots, slots
    done = await talk.say(t("zh-CN", "booking.yes"))
    assert ref in done and "改约成功" in done, done
    assert (await _appointment(talk, ref)).starts_at.astimezone(SHANGHAI).weekday() == 5


async def test_a_booked_service_with_cancel_words_asks_the_cancel_question(talk: Talk) -> None:
    """A walkthrough: "高龄补贴那个不要了" (no 预约 in it) was asked which reading it meant; the
    cancel question now names the service, as two appointments can share a time."""
    card = await book(talk, "预约社保卡补办")
    allowance = await book(talk, "预约高龄补贴申领")
    question = await talk.say("高龄补贴那个不要了")
    assert allowance in question and card not in question, question
    assert "「高龄补贴申领」" in question and t("zh-CN", "booking.cancel_yes") in question
    kept = await talk.say("高龄补贴那个不用取消了")  # a denial cancels nothing, asks nothing
    assert t("zh-CN", "booking.cancel_yes") not in kept, kept
    assert (await _appointment(talk, allowance)).status != "cancelled"


async def test_a_service_typed_at_the_list_of_appointments_chooses_it(
    talk: Talk, clock: ManualClock
) -> None:
    """A walkthrough: "高龄补贴" typed at 要取消哪一个？ got the FAQ's answer."""
    card = await _book_monday(talk, "预约社保卡补办")
    allowance = await _book_monday(talk, "预约高龄补贴申领")
    await talk.say("菜单")
    listed = await talk.say("取消预约")
    assert t("zh-CN", "records.which_to_cancel") in listed, listed
    question = await talk.say("高龄补贴那个")
    assert allowance in question and card not in question, question
    assert t("zh-CN", "booking.cancel_yes") in question
    await talk.say("菜单")
    clock.advance(timedelta(minutes=31))  # neither booked a moment ago: 改约 asks which
    listed = await talk.say("改约")
    assert t("zh-CN", "records.which_to_move") in listed, listed
    days = await talk.say("社保卡")
    assert "「社保卡补办」" in days and await talk.state() == "booking.day", days
    await talk.say("菜单")
    assert (await _appointment(talk, allowance)).status != "cancelled"


async def test_english_cancel_naming_a_service_asks_about_that_one(talk: Talk) -> None:
    """A walkthrough: "cancel the social security one" offered the one booked last, and "yes"
    cancelled it; "the residence permit one" at the list was not understood."""
    card = await _book_monday(talk, "预约社保卡补办")
    permit = await _book_monday(talk, "预约居住证办理")
    question = await talk.say("cancel the social security one")
    assert card in question and permit not in question, question
    await talk.say("menu")
    listed = await talk.say("cancel my appointment")
    assert t("en", "records.which_to_cancel") in listed, listed
    question = await talk.say("the residence permit one")
    assert permit in question and card not in question, question


async def test_taking_the_cancel_back_at_its_question_keeps_the_appointment(talk: Talk) -> None:
    """A walkthrough: "算了不取消了" at 确定取消…吗？ was offered 取消我的预约."""
    ref = await _book_monday(talk, "预约社保卡补办")
    for words in ("算了不取消了", "不用了", "no, don't cancel", "no keep it"):
        assert t("zh-CN", "booking.cancel_yes") in await talk.say(f"取消{ref}")
        kept = await talk.say(words)
        assert ref in kept and ("保留不变" in kept or "stands" in kept), (words, kept)
        assert (await _appointment(talk, ref)).status != "cancelled"


async def test_cancel_beside_a_booked_services_name_asks_about_it(talk: Talk) -> None:
    """A walkthrough: "取消社保卡补办" and "居住证办理那个取消" got the service's guide, with a
    button to book it again; asking whether it is cancelled asks nothing."""
    card = await _book_monday(talk, "预约社保卡补办")
    permit = await _book_monday(talk, "预约居住证办理")
    for words, ref, other in (
        ("取消社保卡补办", card, permit),
        ("居住证办理那个取消", permit, card),
    ):
        question = await talk.say(words)
        assert ref in question and other not in question, (words, question)
        assert t("zh-CN", "booking.cancel_yes") in question
        await talk.say("菜单")
    for words in (
        "社保卡补办的预约取消了吗？",
        "社保卡补办预约取消后还能再约吗",
        "我想投诉，社保卡补办的预约被无故取消了",
    ):
        said = await talk.say(words)  # a question or a complaint: no cancel question (a review)
        assert t("zh-CN", "booking.cancel_yes") not in said, (words, said)
        await talk.say("菜单")


async def test_cancel_with_other_words_is_no_cancel_of_an_appointment(talk: Talk) -> None:
    """A review: "取消 订阅通知" or "cancel notifications" asked to cancel the appointment."""
    ref = await _book_monday(talk, "预约社保卡补办")
    await talk.say("菜单")
    for words in ("取消 订阅通知", "退出，不用了", "取消 明天的停水通知订阅"):
        said = await talk.say(words)
        assert t("zh-CN", "booking.cancel_yes") not in said, (words, said)
    said = await talk.say("取消 周一那个")  # a day points at it: asked first
    assert ref in said and t("zh-CN", "booking.cancel_yes") in said, said


async def test_a_question_at_the_list_of_appointments_chooses_none(talk: Talk) -> None:
    card = await _book_monday(talk, "预约社保卡补办")
    await _book_monday(talk, "预约居住证办理")
    await talk.say("菜单")
    assert t("zh-CN", "records.which_to_cancel") in await talk.say("取消预约")
    said = await talk.say("社保卡补办要带什么材料")
    assert t("zh-CN", "booking.cancel_yes") not in said, said
    assert (await _appointment(talk, card)).status != "cancelled"


async def test_not_moving_but_cancelling_at_the_cancel_question_is_no_take_back(
    talk: Talk,
) -> None:
    """A review: "不改了，直接取消" at the cancel question kept the appointment."""
    ref = await _book_monday(talk, "预约社保卡补办")
    await talk.say(f"取消{ref}")
    said = await talk.say("不改了，直接取消")
    assert "保留不变" not in said, said


async def test_waiting_words_at_a_step_are_not_its_answer(talk: Talk) -> None:
    """A walkthrough: "等等我还没说完" at a report's location step was saved as the place and
    the case filed; "hang on" did the same in English."""
    await talk.say("楼道灯坏了")
    await talk.say(t("zh-CN", "ask.as_report"))
    step = await talk.state()
    assert step, "the report asks its next step"
    before = await _count(talk, Case)
    for words in ("等等我还没说完", "稍等一下", "hang on"):
        said = await talk.say(words)
        assert await talk.state() == step, (words, said)
        assert await _count(talk, Case) == before
    assert "nothing you gave is lost" in said or "刚才填的都还在" in said, said
