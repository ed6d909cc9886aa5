"""What residents type at steps that show options, found by an outside walkthrough: a proxy
category in words, a past day typed as a date, an English "last monday"."""

from __future__ import annotations

import pytest
from sqlmodel import select

from bot.i18n import t
from models.cases import Case
from models.needs import Need
from tests.talk import Talk, open_rig, platform, talk

__all__ = ["open_rig", "platform", "talk"]  # fixtures this module uses


async def test_a_proxy_category_typed_at_the_list_is_offered(talk: Talk) -> None:
    shown = await talk.say("帮我代办")
    assert "最低生活保障申请" in shown and "入学材料代办" in shown  # every category
    shown = await talk.say("我妈妈腿脚不便，需要办理高龄补贴")  # used to be "not sure"
    assert t("zh-CN", "cases.proxy_choose_category") in shown
    assert "高龄补贴申领" in shown and "残疾证办理" not in shown
    shown = await talk.say("好的")  # the one fitting category, agreed to
    assert t("zh-CN", "cases.question_address") in shown


async def test_a_whole_category_name_typed_is_chosen(talk: Talk) -> None:
    await talk.say("帮我代办")
    shown = await talk.say("残疾证办理吧")
    assert t("zh-CN", "cases.question_address") in shown


async def test_a_general_word_is_not_taken_for_the_one_label_it_begins(talk: Talk) -> None:
    await talk.say("帮我代办")
    shown = await talk.say("养老")  # 养老保险参保 and 居家养老服务申请 both fit
    assert t("zh-CN", "cases.question_address") not in shown
    assert "居家养老服务申请" in shown


async def test_dibao_finds_the_minimum_living_allowance(talk: Talk) -> None:
    """低保 is the service's name (低保申请), not the category's (最低生活保障申请)."""
    await talk.say("代办")
    shown = await talk.say("我奶奶要办低保，她瘫痪在床")
    assert "最低生活保障申请" in shown and "社保待遇认证" not in shown


async def test_a_past_date_is_said_to_be_past(talk: Talk) -> None:
    """ "11月20日" a week ago was read as next year's and answered "only 30 days ahead"."""
    await talk.say("预约居住证办理")
    shown = await talk.say("11月20日")
    assert "已经过去" in shown and "30 天" not in shown


async def test_last_monday_in_english_is_past(talk: Talk) -> None:
    await talk.say("english")
    shown = await talk.say("book residence permit last monday")
    assert "23 Nov" in shown and "30 Nov" not in shown


async def test_yes_to_collecting_it_as_a_need_and_not_sure_of_its_category(talk: Talk) -> None:
    """ "是的" at "要把它作为一条需求提交吗？" was not understood, and words typed at the
    categories left the need without an item, unseen in 进度."""
    shown = await talk.say("小区门口想要一个快递柜")
    assert t("zh-CN", "ask.offer_need") in shown
    shown = await talk.say("是的")
    assert t("zh-CN", "needs.choose_category") in shown
    shown = await talk.say("周末能办社保吗")  # a question: answered, the step kept
    assert "继续刚才的办理" in shown
    shown = await talk.say("继续")
    assert t("zh-CN", "needs.choose_category") in shown
    shown = await talk.say("让我想想")  # not a category: the categories again
    assert t("zh-CN", "needs.category_again") in shown
    shown = await talk.say("不知道选哪个")  # the suggested one, shown first
    assert "已记录您的需求「" in shown and "快递柜" in shown
    tracked = await talk.say("进度")
    assert "快递柜" in tracked


async def test_yes_please_confirms_a_booking(talk: Talk) -> None:
    await talk.say("english")
    await talk.say("book residence permit application")
    await talk.say("tomorrow")
    shown = await talk.say("10am")
    assert "Please confirm" in shown
    assert "LCY-" in await talk.say("yes please")


async def test_words_added_at_the_proxy_categories_are_kept_and_a_denial_chooses_nothing(
    talk: Talk,
) -> None:
    """A review: "帮我代办" then the detail typed at the list opened a case whose words were only
    "帮我代办"; "不是残疾证办理，是高龄补贴" chose 残疾证办理."""
    await talk.say("帮我代办")
    shown = await talk.say("不是残疾证办理，是高龄补贴")
    assert t("zh-CN", "cases.question_address") not in shown
    await talk.say("帮我代办")
    await talk.say("我妈妈腿脚不便，需要办理高龄补贴")
    await talk.say("好的")
    assert "腿脚不便" in str((await talk.state_data()).get("words"))


async def test_whom_it_is_for_names_no_category(talk: Talk) -> None:
    """An outside walkthrough: "帮我爸办社保" showed all 22 categories; 爸 diluted 社保."""
    await talk.say("代办")
    shown = await talk.say("帮我爸办社保")
    assert "社保卡办理" in shown and "社保待遇认证" in shown and "入学材料代办" not in shown


async def test_a_greeting_before_a_request_is_not_small_talk(talk: Talk) -> None:
    """ "hi, I need …" was offered "Just saying hello" among the readings."""
    shown = await talk.say("hi, I need to apply for a residence permit")
    assert t("en", "ask.reading.chitchat") not in shown
    assert "residence permit" in shown.lower()
    assert t("en", "ask.chitchat") in await talk.say("hi, thanks")  # small talk stays so


async def test_a_long_message_mentioning_the_evening_does_not_resume_a_booking(
    talk: Talk,
) -> None:
    """A long complaint with 晚上 in it, typed while a booking was paused by a question, was
    taken as the booking's time of day and the complaint was lost."""
    await talk.say("预约社保卡补办")
    await talk.say("算了，我想问别的")
    complaint = "我想反映一个问题，楼上每天晚上很吵，影响睡觉，已经好几个月了，物业也不管"
    shown = await talk.say(complaint)
    assert "可预约的时段" not in shown
    assert await talk.state() != "booking.day"
    await talk.say("继续预约")
    await talk.say("要带什么材料")
    assert "可预约的时段" not in await talk.say("每天晚上楼上都很吵")  # short, and a report
    assert "11月28日（周六）" in await talk.say("那就明天晚上吧")  # a day and time alone still is


async def test_same_as_above_takes_the_address_given_before_or_asks_for_it(talk: Talk) -> None:
    """An outside walkthrough: "同上" was stored as a proxy visit's address and time."""
    for typed in ("代办", "帮我母亲办高龄补贴，她腿脚不便", "1"):
        shown = await talk.say(typed)
    assert t("zh-CN", "cases.question_address") in shown
    shown = await talk.say("同上")  # nothing given before: asked again, nothing stored
    assert t("zh-CN", "cases.nothing_before") in shown
    assert t("zh-CN", "cases.question_address") in shown
    shown = await talk.say("幸福小区3号楼201")
    assert t("zh-CN", "cases.question_visit_time") in shown
    await _declined_numbers(talk, await talk.say("工作日上午"))
    for typed in ("代办", "帮我父亲办残疾证"):
        shown = await talk.say(typed)
    if t("zh-CN", "cases.question_address") not in shown:
        shown = await talk.say("1")
    shown = await talk.say("同上")  # the address of the case before
    assert "按您上次填写的：幸福小区3号楼201" in shown
    assert t("zh-CN", "cases.question_visit_time") in shown
    assert (await talk.state_data())["answers"]["address"] == "幸福小区3号楼201"


async def _declined_numbers(talk: Talk, said: str) -> None:
    for _ in range(2):  # no phone number, nor the ID number, when asked
        if "LC-" not in said:
            said = await talk.say("不同意")
    assert "LC-" in said


async def test_the_start_of_a_need_category_chooses_it(talk: Talk) -> None:
    """An outside walkthrough: "文化" at the need categories did not choose 文化体育."""
    await talk.say("需求")
    shown = await talk.say("希望社区周末办个读书会")
    assert t("zh-CN", "needs.choose_category") in shown
    shown = await talk.say("文化吧")  # an ending too (a walkthrough: "养老吧" was refused)
    assert "已记录您的需求「" in shown
    async with talk.linli.sessions() as session:
        [need] = (await session.exec(select(Need))).all()
    assert need.category == "culture-sports"


async def _booked_saturday_at_ten(talk: Talk) -> None:
    for typed in ("预约居住证办理", "明天", "10点", "确认"):
        shown = await talk.say(typed)
    assert "预约成功" in shown


async def test_the_time_after_gai_dao_is_the_one_asked_for(talk: Talk) -> None:
    """An outside walkthrough: "十点来不了，改到11点半" was read as 10:00, the time given up."""
    await _booked_saturday_at_ten(talk)
    shown = await talk.say("十点来不了，改到11点半")
    assert "请确认改约到" in shown and "11:30" in shown


async def test_a_reading_chosen_for_a_move_keeps_the_time_said(talk: Talk) -> None:
    await _booked_saturday_at_ten(talk)
    shown = await talk.say("不好意思 十点来不了 改到11点半行吗")
    if "请确认改约到" not in shown:  # asked which reading: the words are kept for it
        shown = await talk.say(t("zh-CN", "ask.reading.move_booking"))
    assert "请确认改约到" in shown and "11:30" in shown
    assert "改约成功" in await talk.say("确认")


async def test_cancel_in_passing_with_a_day_in_it_offers_to_cancel(talk: Talk) -> None:
    await _booked_saturday_at_ten(talk)
    await talk.say("改约")
    shown = await talk.say("算了还是取消吧 周六有事")  # 周六 is why, not the day to move to
    assert "确定取消「" in shown


async def test_a_holiday_with_a_time_is_not_dropped(talk: Talk) -> None:
    """ "元旦上午10点预约社保卡补办" offered the next day's 10:00 to confirm."""
    shown = await talk.say("元旦上午10点预约社保卡补办")
    assert "11月28日" not in shown and "请确认预约" not in shown


async def test_what_to_bring_in_everyday_words_is_about_the_service_being_booked(
    talk: Talk,
) -> None:
    """A walkthrough: "需要带些啥" while booking 高龄补贴申领 got the 社保卡补办 FAQ, and
    "要带啥子材料" a list of unrelated FAQs; a leftover 些 or 子 was taken for another service."""
    await talk.say("预约高龄补贴申领")
    for words in ("需要带些啥", "要带啥子材料", "等一下 要带啥子材料"):
        said = await talk.say(words)
        assert "户口簿" in said and "免冠证件照" not in said, (words, said)
        await talk.say("继续预约")
    other = await talk.say("办社保卡要带什么")  # names another service: about that one
    assert "社保卡" in other and "户口簿" not in other


async def _cases_filed(talk: Talk) -> int:
    async with talk.linli.sessions() as session:
        return len((await session.exec(select(Case))).all())


async def test_a_question_at_the_address_step_is_answered_not_stored_as_the_address(
    talk: Talk,
) -> None:
    """An outside walkthrough: "等下，先问一下高龄补贴要带什么材料？" at 上门地址 was saved as the
    address a clerk would visit."""
    for words in ("代办", "帮我母亲办高龄补贴，她腿脚不便", "1"):
        await talk.say(words)
    asked = await talk.say("等下，先问一下高龄补贴要带什么材料？")
    assert "继续代办" in asked and "什么时间上门" not in asked, asked
    assert "上门的地址" in await talk.say("继续代办")
    assert "什么时间上门" in await talk.say("幸福小区3号楼201")


@pytest.mark.parametrize("words", ["算了，先不报了", "算了不办了", "never mind"])
async def test_giving_up_at_an_intake_step_submits_nothing(talk: Talk, words: str) -> None:
    """An outside walkthrough: "算了，先不报了" at a report's place step was filed as its place
    and sent for dispatch."""
    for typed in ("代办", "帮我母亲办高龄补贴，她腿脚不便", "1"):
        await talk.say(typed)
    said = await talk.say(words)
    assert "没有提交" in said or "nothing was submitted" in said, said
    assert await _cases_filed(talk) == 0
    assert await talk.state() == ""


@pytest.mark.parametrize(
    "when", ["周末上午可以吗？", "工作日上午可以吗", "下午3点以后都可以吗？", "什么时间都可以吗？"]
)
async def test_a_time_put_as_a_question_at_the_time_step_is_the_answer(
    talk: Talk, when: str
) -> None:
    for words in ("代办", "帮我母亲办高龄补贴，她腿脚不便", "1", "幸福小区3号楼201"):
        await talk.say(words)
    said = await talk.say(when)  # taken as the time: the next step asks for the phone
    assert "继续代办" not in said and "手机号" in said, said
    assert await talk.state() != "ask.recent"


@pytest.mark.parametrize("address", ["我家在3栋，上门要带证件吗？", "就是身份证上那个地址吗？"])
async def test_an_address_put_as_a_question_is_the_address(talk: Talk, address: str) -> None:
    """A review: these were answered from the FAQ and the address lost."""
    for words in ("代办", "帮我母亲办高龄补贴，她腿脚不便", "1"):
        await talk.say(words)
    said = await talk.say(address)
    assert "什么时间上门" in said, said


@pytest.mark.parametrize("words", ["不用了谢谢", "算了，不用上门了"])
async def test_giving_up_with_thanks_submits_nothing(talk: Talk, words: str) -> None:
    for typed in ("代办", "帮我母亲办高龄补贴，她腿脚不便", "1"):
        await talk.say(typed)
    assert "没有提交" in await talk.say(words)
    assert await _cases_filed(talk) == 0


async def test_report_it_at_the_offer_keeps_the_words(talk: Talk) -> None:
    """A walkthrough: "report it" at "Report it to the grid worker, or submit it as a need?"
    filed a report whose words were "it"; the stairwell light was offered Sanitation first."""
    await talk.say("english")
    await talk.say("the stairwell light in building 3 is broken")
    shown = await talk.say("report it")
    data = await talk.state_data()
    assert data["words"] == "the stairwell light in building 3 is broken"
    assert data["options"][0] == "report:cat:facilities", shown


async def test_asking_after_a_case_in_dialect_at_the_time_question_is_no_visit_time(
    talk: Talk,
) -> None:
    """A walkthrough: "等哈 我上次那个事情办得咋样了" at "什么时间上门方便？" became the visit
    time."""
    await talk.say("我想申请代办")
    await talk.say("5")
    await talk.say("光华小区3栋2单元501")
    shown = await talk.say("等哈 我上次那个事情办得咋样了")
    assert "visit_time" not in (await talk.state_data()).get("answers", {}), shown


async def test_booking_words_under_an_offered_booking_book_that_service(talk: Talk) -> None:
    """A walkthrough: "好的 帮我约这周六上午吧" under 预约「社保卡补办」 got the departments, and
    the service and the day were lost."""
    shown = await talk.say("我上班族，社保卡丢了要补办，只有周六能来，可以约吗")
    assert "社保卡补办" in shown
    shown = await talk.say("好的 帮我约这周六上午吧")
    assert "「社保卡补办」11月28日（周六）" in shown
    data = await talk.state_data()
    assert data.get("service") == "ss-card-reissue" and data.get("day") == "2026-11-28"
