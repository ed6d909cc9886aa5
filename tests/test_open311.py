"""Open311 GeoReport v2 at /open311/v2/ over real HTTP: discovery, services and their
definitions in JSON and XML, POST with and without a valid key, the case opened and alerted as
the chat opens it, GET requests with each filter and the defaults, no personal data in any
answer, tokens, the per-key rate limit."""

from __future__ import annotations

import json
import re
from datetime import UTC, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from defusedxml import ElementTree as SafeET
from sqlmodel import col, select

from bot.app import Linli
from bot.clock import ManualClock
from bot.web.app import create_web_app
from bot.web.open311.routes import LIMITS, Open311Limits
from bot.web.ratelimit import ClientRateLimit
from models.api_key_ops import make_key, revoke
from models.api_keys import ApiKey
from models.base import SHANGHAI
from models.case_ops import case_catalogue, open_case
from models.cases import Case, CaseKind, CaseStatus
from models.messaging import OutboxMessage
from models.needs import Need
from models.org import Staff
from models.people import ChannelIdentity, Resident, set_phone
from models.sealed import lookup_hash
from tests.conftest import DATA, Chat, payloads
from tests.test_binding import staff_code

Client = TestClient[web.Request, web.Application]
BASE = "/open311/v2"
REF = re.compile(r"LC-\d{8}-\d{4}")
PROXY_FORM = {
    "service_code": "proxy.ca-disability-subsidy",
    "description": "帮我母亲办残疾人补贴，她腿脚不便",
    "attribute[address]": "幸福小区3号楼201",
    "attribute[visit_time]": "工作日上午",
}


async def new_key(linli: Linli, name: str = "温江区12345热线") -> str:
    """A fresh API key, made by the domain operation the CLI uses."""
    async with linli.sessions() as session, session.begin():
        return (await make_key(session, name, linli.clock.now())).key


async def post(client: Client, form: dict[str, str], fmt: str = "json") -> tuple[int, Any]:
    """POST requests.{fmt}; the status and the parsed body (a list of dicts for XML too)."""
    response = await client.post(f"{BASE}/requests.{fmt}", data=form)
    return response.status, await parsed(response, fmt)


async def get(client: Client, path: str, fmt: str = "json", **params: str) -> tuple[int, Any]:
    """GET {path}.{fmt}; the status and the parsed body."""
    response = await client.get(f"{BASE}/{path}.{fmt}", params=params)
    return response.status, await parsed(response, fmt)


async def parsed(response: Any, fmt: str) -> Any:
    """JSON as it is; XML (parsed safely) as the same shape: lists of item dicts."""
    text = await response.text()
    if fmt == "json":
        assert response.content_type == "application/json"
        return json.loads(text)
    assert response.content_type == "application/xml"
    return xml_value(SafeET.fromstring(text.encode()))


def xml_value(element: Any) -> Any:
    """An element as JSON would hold it: a list for a list element, else a dict or its text."""
    children = list(element)
    if not children:
        return element.text or ""
    tags = [child.tag for child in children]
    if element.tag in {"services", "service_requests", "errors", "formats", "attributes"}:
        return [xml_value(child) for child in children]
    if element.tag == "endpoints":
        return [xml_value(child) for child in children]
    assert len(set(tags)) == len(tags), tags
    return {child.tag: xml_value(child) for child in children}


async def cases(linli: Linli) -> list[Case]:
    async with linli.sessions() as session:
        return list((await session.exec(select(Case).order_by(col(Case.id)))).all())


# ---- discovery and services ------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "xml"])
async def test_discovery(client: Client, fmt: str) -> None:
    status, body = await get(client, "discovery", fmt)
    assert status == 200
    assert body["changeset"].endswith("+08:00")
    assert "柳城街道" in body["contact"]
    assert "linli apikey add" in body["key_service"]
    [endpoint] = body["endpoints"]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"] == "http://127.0.0.1:8080" + BASE  # LINLI_PUBLIC_URL, not Host
    assert endpoint["type"] == "production"
    assert endpoint["formats"] == ["application/json", "application/xml"]


async def test_services_are_the_case_types_and_the_need_categories(client: Client) -> None:
    status, listed = await get(client, "services")
    assert status == 200
    codes = [s["service_code"] for s in listed]
    assert len(codes) == 22 + 3 + 18 == len(set(codes))
    assert codes[:2] == ["proxy.ss-benefit-cert", "proxy.ss-card"]
    assert {"complaint", "dispute", "consultation", "need.library"} <= set(codes)
    assert not [c for c in codes if c.startswith(("grid", "return_visit"))]
    by_code = {s["service_code"]: s for s in listed}
    card = by_code["proxy.ss-card"]
    assert card["service_name"] == "社保卡办理"
    assert card["group"] == "全程代办"
    assert (card["metadata"], card["type"]) == (True, "realtime")
    assert "5 个工作日内办结" in card["description"]
    assert by_code["complaint"]["metadata"] is False
    library = by_code["need.library"]
    assert (library["service_name"], library["group"]) == ("连锁图书馆", "提需求")
    assert "图书" in library["keywords"]

    status, as_xml = await get(client, "services", "xml")
    assert status == 200
    expected = [{k: _xml_scalar(v) for k, v in s.items()} for s in listed]
    assert as_xml == expected  # the same services, word for word


def _xml_scalar(value: object) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


async def test_services_in_english(client: Client) -> None:
    _, by_query = await get(client, "services", locale="en")
    response = await client.get(f"{BASE}/services.json", headers={"Accept-Language": "en-GB"})
    by_header = await response.json()
    assert by_query == by_header
    card = next(s for s in by_query if s["service_code"] == "proxy.ss-card")
    assert (card["service_name"], card["group"]) == ("Social security card", "Proxy handling")
    need = next(s for s in by_query if s["service_code"] == "need.library")
    assert need["group"] == "Needs"


@pytest.mark.parametrize("fmt", ["json", "xml"])
async def test_a_service_definition_holds_its_intake_questions(client: Client, fmt: str) -> None:
    status, definition = await get(client, "services/proxy.ss-card", fmt)
    assert status == 200
    assert definition["service_code"] == "proxy.ss-card"
    attributes = definition["attributes"]
    assert [a["code"] for a in attributes] == ["address", "visit_time"]
    first = attributes[0]
    truth = "true" if fmt == "xml" else True
    assert first["variable"] == truth and first["required"] == truth
    assert first["datatype"] == "string"
    assert str(first["order"]) == "1"
    assert "上门地址" in first["description"]
    assert "1000" in first["datatype_description"]

    _, complaint = await get(client, "services/complaint", fmt)
    assert complaint["service_code"] == "complaint"
    assert complaint["attributes"] in ([], "")  # XML: an empty <attributes/>


async def test_an_unknown_or_unrequestable_service_is_404(client: Client) -> None:
    for code in ("nope", "grid.sanitation", "return_visit"):
        for fmt in ("json", "xml"):
            status, body = await get(client, f"services/{code}", fmt)
            assert status == 404
            assert str(body[0]["code"]) == "404" and code in body[0]["description"]


# ---- POST: keys ------------------------------------------------------------------------


async def test_post_without_a_key_or_with_a_revoked_one_is_403(
    linli: Linli, client: Client
) -> None:
    status, body = await post(client, PROXY_FORM)
    assert status == 403 and body[0]["code"] == 403
    status, body = await post(client, {**PROXY_FORM, "api_key": "o311_guessed"}, "xml")
    assert status == 403 and body[0]["code"] == "403"
    key = await new_key(linli)
    async with linli.sessions() as session, session.begin():
        row = (await session.exec(select(ApiKey))).one()
        assert row.key_hash != key and key not in json.dumps(row.model_dump(mode="json"))
        assert revoke(session, row, linli.clock.now())
    status, body = await post(client, {**PROXY_FORM, "api_key": key})
    assert status == 403 and "吊销" in body[0]["description"]
    assert await cases(linli) == []


async def test_posting_too_fast_with_one_key_is_429(linli: Linli) -> None:
    app = create_web_app(linli)
    app[LIMITS] = Open311Limits(
        ClientRateLimit("2/minute"), ClientRateLimit("20/minute"), ClientRateLimit("2/minute")
    )
    key = await new_key(linli)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        form = {**PROXY_FORM, "api_key": key}
        assert [(await post(client, form))[0] for _ in range(3)] == [201, 201, 429]
        status, _ = await post(client, {**form, "api_key": await new_key(linli, "市平台")})
        assert status == 201  # another key has its own allowance
        listed = [(await get(client, "requests", fmt))[0] for fmt in ("json", "xml", "json")]
        assert listed == [200, 200, 429]  # lists from one address, too
        assert (await get(client, "requests/LC-20261127-0001"))[0] == 200  # one is cheap
    assert len(await cases(linli)) == 3


async def test_many_refused_keys_from_one_address_must_wait(linli: Linli) -> None:
    app = create_web_app(linli)
    app[LIMITS] = Open311Limits(
        ClientRateLimit("60/minute"), ClientRateLimit("3/minute"), ClientRateLimit("60/minute")
    )
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        guesses = [
            (await post(client, {**PROXY_FORM, "api_key": f"o311_{n}"}))[0] for n in range(5)
        ]
    assert guesses == [403, 403, 403, 429, 429]


# ---- POST: the case, as the chat opens it ----------------------------------------------


async def test_a_posted_case_reaches_its_department_exactly_as_a_chat_case(
    linli: Linli, client: Client, chat: Chat
) -> None:
    # Staff are alerted on a vouched channel (not the web chat): Telegram here.
    clerks = [Chat(linli, f"9100{n}", "telegram") for n in (13, 14)]  # 司法所
    for clerk, code in zip(clerks, ("S013", "S014"), strict=True):
        bound = await clerk.send(f"绑定 {await staff_code(linli, code)}")
        assert "绑定成功" in bound[0].text
    words = "楼上邻居家漏水到我家，协商不成"
    opened = await chat.send(f"纠纷 {words}")
    by_chat = REF.search(opened[0].text)
    assert by_chat is not None, opened[0].text

    key = await new_key(linli)
    form = {"api_key": key, "service_code": "dispute", "description": words}
    status, body = await post(client, {**form, "phone": "13812345678"})
    assert status == 201
    [filed] = body
    by_api = filed["service_request_id"]
    assert REF.fullmatch(by_api) and by_api != by_chat.group()
    assert filed["account_id"] is None and filed["token"].startswith(by_api + ".")
    assert "司法所" in filed["service_notice"]

    chat_case, api_case = await cases(linli)
    assert (api_case.kind, api_case.category) == (chat_case.kind, chat_case.category)
    assert api_case.summary == chat_case.summary
    assert (api_case.status, api_case.department_id) == (
        CaseStatus.ASSIGNED,
        chat_case.department_id,
    )
    assert api_case.due_at is not None and chat_case.due_at is not None
    assert api_case.due_at - api_case.created_at == chat_case.due_at - chat_case.created_at

    async with linli.sessions() as session:
        alerts = (
            await session.exec(
                select(OutboxMessage)
                .where(OutboxMessage.kind == "alert")
                .order_by(col(OutboxMessage.id))
            )
        ).all()
        clerk_ids = (
            await session.exec(
                select(Staff.id)
                .where(col(Staff.code).in_(["S013", "S014"]))
                .order_by(col(Staff.id))
            )
        ).all()
        used = (await session.exec(select(ApiKey))).one()
    assert used.last_used_at == linli.clock.now()

    def about(case: Case) -> list[OutboxMessage]:
        return [a for a in alerts if case.ref in json.dumps(a.payload, ensure_ascii=False)]

    chat_alerts, api_alerts = about(chat_case), about(api_case)
    assert [a.staff_id for a in api_alerts] == [a.staff_id for a in chat_alerts] == clerk_ids
    for from_chat, from_api in zip(chat_alerts, api_alerts, strict=True):
        same = json.dumps(from_chat.payload, ensure_ascii=False)
        same = same.replace(chat_case.ref, api_case.ref)
        same = re.sub(rf":{chat_case.id}\b", f":{api_case.id}", same)
        assert json.loads(same) == from_api.payload  # the same alert, word for word

    # The clerk's chat shows the posted case as any other, and can accept it.
    shown = await clerks[0].send(by_api)
    assert words in shown[0].text
    assert f"case:accept:{api_case.id}" in payloads(shown[0])


async def test_a_posted_proxy_case_alerts_its_department(linli: Linli, client: Client) -> None:
    clerk = Chat(linli, "910021", "telegram")
    bound = await clerk.send(f"绑定 {await staff_code(linli, 'S021')}")  # 民政科
    assert "绑定成功" in bound[0].text
    status, body = await post(client, {**PROXY_FORM, "api_key": await new_key(linli)})
    assert status == 201
    [case] = await cases(linli)
    assert case.ref == body[0]["service_request_id"]
    assert case.details["answers"] == {"address": "幸福小区3号楼201", "visit_time": "工作日上午"}
    async with linli.sessions() as session:
        [alert] = (
            await session.exec(select(OutboxMessage).where(OutboxMessage.kind == "alert"))
        ).all()
        clerk_id = (await session.exec(select(Staff.id).where(Staff.code == "S021"))).one()
    assert alert.staff_id == clerk_id and case.ref in json.dumps(alert.payload)


async def test_the_resident_is_found_by_phone_or_made_with_the_name(
    linli: Linli, client: Client
) -> None:
    async with linli.sessions() as session, session.begin():
        known = Resident(name="王建国", created_at=linli.clock.now())
        set_phone(known, "13900001111")
        session.add(known)
    key = await new_key(linli)
    form = {**PROXY_FORM, "api_key": key, "first_name": "冒名", "last_name": "李"}
    status, _ = await post(client, {**form, "phone": "+86 139-0000-1111"})
    assert status == 201
    status, _ = await post(client, {**form, "phone": "13700002222"})
    assert status == 201
    first, second = await cases(linli)
    async with linli.sessions() as session:
        found = await session.get(Resident, first.resident_id)
        made = await session.get(Resident, second.resident_id)
    assert found is not None and made is not None
    assert found.id == known.id and found.name == "王建国"  # not renamed by a caller
    assert made.name == "李冒名" and made.phone == "13700002222"
    assert made.phone_lookup == lookup_hash("13700002222")


async def test_a_phone_does_not_join_a_chat_residents_records(linli: Linli, client: Client) -> None:
    chat = Chat(linli, user="chatting-with-a-phone")
    await chat.send("菜单")
    async with linli.sessions() as session, session.begin():
        account = (
            await session.exec(
                select(ChannelIdentity).where(
                    ChannelIdentity.external_id == "chatting-with-a-phone"
                )
            )
        ).one()
        talking = Resident(name="赵敏", created_at=linli.clock.now())
        set_phone(talking, "13900003333")
        session.add(talking)
        await session.flush()
        account.resident_id = talking.id
    key = await new_key(linli)
    status, _ = await post(client, {**PROXY_FORM, "api_key": key, "phone": "13900003333"})
    assert status == 201
    [case] = await cases(linli)
    assert case.resident_id != talking.id  # an unverified number opens nobody's records


async def test_a_complaint_naming_staff_goes_past_them(linli: Linli, client: Client) -> None:
    key = await new_key(linli)
    form = {"api_key": key, "service_code": "complaint", "description": "4号窗口的王丽态度很差"}
    status, body = await post(client, form)
    assert status == 201
    [case] = await cases(linli)
    async with linli.sessions() as session:
        wang = (await session.exec(select(Staff).where(Staff.name == "王丽"))).one()
    assert case.assignee_staff_id is not None and case.assignee_staff_id != wang.id
    _, listed = await get(client, f"requests/{body[0]['service_request_id']}")
    assert "王丽" not in json.dumps(listed, ensure_ascii=False)


BAD_SUBMISSIONS = [
    ({}, "service_code"),
    ({"service_code": "nope"}, "nope"),
    ({"service_code": "grid.sanitation", "description": "路灯坏了"}, "只能查询"),
    ({"service_code": "complaint"}, "description"),
    ({"service_code": "complaint", "description": "x" * 2001}, "2000"),
    ({**PROXY_FORM, "attribute[colour]": "红"}, "colour"),
    ({k: v for k, v in PROXY_FORM.items() if k != "attribute[address]"}, "address"),
    ({**PROXY_FORM, "phone": "12345"}, "手机"),
    ({**PROXY_FORM, "lat": "30.7"}, "lat"),
    ({**PROXY_FORM, "lat": "nan", "long": "103.8"}, "lat"),
    ({**PROXY_FORM, "media_url": "javascript:alert(1)"}, "media_url"),
    ({"service_code": "need.library", "description": "😀😀"}, "没有文字"),
    ({"service_code": "need.library", "description": "书" * 501}, "500"),
]


async def test_a_bad_submission_is_400_and_files_nothing(linli: Linli, client: Client) -> None:
    key = await new_key(linli)
    for form, words in BAD_SUBMISSIONS:
        for fmt in ("json", "xml"):
            status, body = await post(client, {**form, "api_key": key}, fmt)
            assert status == 400, (form, body)
            assert str(body[0]["code"]) == "400" and words in body[0]["description"], form
    assert await cases(linli) == []
    async with linli.sessions() as session:
        assert (await session.exec(select(Need))).all() == []


async def test_address_string_answers_the_address_question(linli: Linli, client: Client) -> None:
    key = await new_key(linli)
    form = {k: v for k, v in PROXY_FORM.items() if k != "attribute[address]"}
    status, _ = await post(client, {**form, "api_key": key, "address_string": "永宁路12号"})
    assert status == 201
    [case] = await cases(linli)
    assert case.details["answers"]["address"] == "永宁路12号"


async def test_a_posted_need_is_filed_and_read_back(linli: Linli, client: Client) -> None:
    key = await new_key(linli)
    words = "希望小区附近有一个图书馆"
    status, body = await post(
        client, {"api_key": key, "service_code": "need.library", "description": words}, "xml"
    )
    assert status == 201
    need_id = body[0]["service_request_id"]
    assert re.fullmatch(r"need-\d+", need_id)
    async with linli.sessions() as session:
        [need] = (await session.exec(select(Need))).all()
    assert need.category == "library" and need.item_id is not None  # an item to support
    status, listed = await get(client, f"requests/{need_id}")
    assert status == 200
    [read] = listed
    assert (read["service_code"], read["status"], read["status_notes"]) == (
        "need.library",
        "open",
        "征集",
    )
    # A resident's words are not published (they may name others or their health): the
    # category stands for them.
    assert read["description"] == "连锁图书馆" and read["expected_datetime"] is None
    # A neighbour saying the same joins the same item.
    status, _ = await post(
        client, {"api_key": key, "service_code": "need.library", "description": words}
    )
    async with linli.sessions() as session:
        needs = (await session.exec(select(Need).order_by(col(Need.id)))).all()
    assert status == 201 and len(needs) == 2 and needs[0].item_id == needs[1].item_id


# ---- GET requests ----------------------------------------------------------------------


async def _open(
    linli: Linli, kind: CaseKind, category: str | None, words: str, **extra: Any
) -> Case:
    async with linli.sessions() as session, session.begin():
        return await open_case(
            session,
            case_catalogue(DATA),
            kind=kind,
            category_code=category,
            summary=words,
            now=linli.clock.now(),
            street_code="LC",
            **extra,
        )


async def test_get_requests_filters_and_defaults(
    linli: Linli, client: Client, clock: ManualClock
) -> None:
    start = clock.now()
    clock.advance(timedelta(days=-100))
    old = await _open(linli, CaseKind.COMPLAINT, None, "一百天前的投诉")
    clock.advance(timedelta(days=100 - 10))
    card = await _open(linli, CaseKind.PROXY, "ss-card", "帮我补办社保卡")
    clock.advance(timedelta(days=5))
    dispute = await _open(linli, CaseKind.DISPUTE, None, "楼上漏水的纠纷")
    clock.advance(timedelta(days=5))
    complaint = await _open(linli, CaseKind.COMPLAINT, None, "窗口排队太久")
    async with linli.sessions() as session, session.begin():
        closed = await session.get(Case, dispute.id)
        assert closed is not None
        closed.status = CaseStatus.CLOSED
    await _open(linli, CaseKind.RETURN_VISIT, None, "回访：态度差")  # never published
    assert clock.now() == start

    _, listed = await get(client, "requests")
    assert [r["service_request_id"] for r in listed] == [complaint.ref, dispute.ref, card.ref]
    _, by_ids = await get(client, "requests", service_request_id=f"{old.ref}, {card.ref},x")
    assert [r["service_request_id"] for r in by_ids] == [card.ref, old.ref]
    _, by_ids_over_all = await get(
        client, "requests", service_request_id=old.ref, status="open", service_code="dispute"
    )
    assert [r["service_request_id"] for r in by_ids_over_all] == [old.ref]
    _, by_code = await get(client, "requests", service_code="proxy.ss-card,dispute")
    assert [r["service_request_id"] for r in by_code] == [dispute.ref, card.ref]
    _, open_ones = await get(client, "requests", status="open")
    assert [r["service_request_id"] for r in open_ones] == [complaint.ref, card.ref]
    _, closed_ones = await get(client, "requests", "xml", status="closed")
    assert [r["service_request_id"] for r in closed_ones] == [dispute.ref]
    assert closed_ones[0]["status"] == "closed"
    day = (start - timedelta(days=5)).astimezone(SHANGHAI)
    _, from_day = await get(client, "requests", start_date=day.isoformat())
    assert [r["service_request_id"] for r in from_day] == [complaint.ref, dispute.ref]
    _, until = await get(
        client, "requests", end_date=(day - timedelta(minutes=1)).isoformat()
    )  # 90 days back from there
    assert [r["service_request_id"] for r in until] == [card.ref]
    _, window = await get(  # exactly 90 days, both ends included
        client,
        "requests",
        start_date="2026-08-19T10:00:00+08:00",
        end_date="2026-11-17T10:00:00+08:00",
    )
    assert [r["service_request_id"] for r in window] == [card.ref, old.ref]
    utc = (start - timedelta(days=1)).astimezone(UTC).isoformat().replace("+00:00", "Z")
    _, in_utc = await get(client, "requests", start_date=utc)
    assert [r["service_request_id"] for r in in_utc] == [complaint.ref]


BAD_FILTERS = [
    ({"start_date": "yesterday"}, "start_date"),
    ({"end_date": "2026-13-01"}, "end_date"),
    ({"start_date": "2026-01-01", "end_date": "2026-11-01"}, "90"),
    ({"start_date": "2026-11-01", "end_date": "2026-10-01"}, "90"),
    ({"status": "pending"}, "status"),
    ({"service_code": "proxy.nope"}, "proxy.nope"),
    ({"service_request_id": ",".join(str(n) for n in range(1001))}, "1000"),
]


async def test_bad_filters_are_400(client: Client) -> None:
    for params, words in BAD_FILTERS:
        for fmt in ("json", "xml"):
            status, body = await get(client, "requests", fmt, **params)
            assert status == 400, params
            assert str(body[0]["code"]) == "400" and words in body[0]["description"], params


async def test_at_most_1000_requests_newest_first(linli: Linli, client: Client) -> None:
    now = linli.clock.now()
    async with linli.sessions() as session, session.begin():
        session.add_all(
            Case(
                ref=f"LC-20261127-{n:04d}",
                kind=CaseKind.CONSULTATION,
                category="咨询",
                summary=f"第{n}个问题",
                created_at=now - timedelta(minutes=n),
                updated_at=now,
            )
            for n in range(1, 1006)
        )
    _, listed = await get(client, "requests")
    assert len(listed) == 1000
    assert listed[0]["service_request_id"] == "LC-20261127-0001"
    assert listed[-1]["service_request_id"] == "LC-20261127-1000"


async def test_one_request_and_its_deadline_in_shanghai_time(linli: Linli, client: Client) -> None:
    key = await new_key(linli)
    _, body = await post(client, {**PROXY_FORM, "api_key": key})
    ref = body[0]["service_request_id"]
    [case] = await cases(linli)
    assert case.due_at is not None
    for fmt in ("json", "xml"):
        status, listed = await get(client, f"requests/{ref}", fmt)
        assert status == 200 and len(listed) == 1
        [read] = listed
        deadline = case.due_at.astimezone(SHANGHAI).isoformat(timespec="seconds")
        assert read["expected_datetime"] == deadline and deadline.endswith("+08:00")
        assert read["requested_datetime"] == "2026-11-27T10:00:00+08:00"
        assert read["agency_responsible"] == "民政科"
        assert (read["status"], read["status_notes"]) == ("open", "待受理")
    # Typed as people type references; and an unknown one is the spec's 404.
    status, _ = await get(client, f"requests/{ref.lower().replace('-', '')}")
    assert status == 200
    for fmt in ("json", "xml"):
        status, missing = await get(client, "requests/LC-20990101-0001", fmt)
        assert status == 404 and str(missing[0]["code"]) == "404"


# ---- no personal data --------------------------------------------------------------------

PHONE, ID_NUMBER, NAME = "13812345678", "510124195003150027", "张秀英"
TELLING = (
    "我叫张秀英，电话13812345678，身份证510124195003150027，住幸福小区3号楼2单元501，麻烦上门办补贴"
)


async def test_no_personal_data_in_any_get_answer(linli: Linli, client: Client) -> None:
    key = await new_key(linli)
    form = {
        **PROXY_FORM,
        "api_key": key,
        "description": TELLING,
        "attribute[address]": "幸福小区3号楼2单元501",
        "phone": PHONE,
        "first_name": "秀英",
        "last_name": "张",
        "email": "zhang@example.com",
        "lat": "30.68",
        "long": "103.85",
    }
    status, posted = await post(client, form)
    assert status == 201
    ref, token = posted[0]["service_request_id"], posted[0]["token"]
    bare = {k: v for k, v in form.items() if not k.startswith("attribute")}
    bare |= {"description": f"{NAME}说窗口太慢", "service_code": "complaint"}
    assert (await post(client, bare))[0] == 201
    need = {"api_key": key, "service_code": "need.elderly-care", "description": TELLING}
    assert (await post(client, {**need, "phone": PHONE}))[0] == 201
    answers = []
    for fmt in ("json", "xml"):
        for path, params in (
            ("requests", {}),
            ("requests", {"service_request_id": ref}),
            (f"requests/{ref}", {}),
            (f"tokens/{token}", {}),
        ):
            response = await client.get(f"{BASE}/{path}.{fmt}", params=params)
            assert response.status == 200
            answers.append(await response.text())
    everything = "\n".join(answers)
    for secret in (PHONE, "138 1234 5678", ID_NUMBER, NAME, "秀英", "2单元501", "zhang@", "30.68"):
        assert secret not in everything, secret
    assert "麻烦上门办补贴" not in everything  # the resident's words are not published at all
    _, listed = await get(client, f"requests/{ref}")
    assert listed[0]["address"] is None and listed[0]["lat"] is None  # a home is not published


async def test_a_residents_words_are_not_published(linli: Linli, client: Client) -> None:
    words = "邻居李建国天天半夜装修吵得我母亲张秀英犯了心脏病，我们住永宁路12号附3号"
    dispute = await _open(linli, CaseKind.DISPUTE, None, words)
    _, listed = await get(client, f"requests/{dispute.ref}")
    assert listed[0]["description"] == "纠纷调解"
    everything = await (await client.get(f"{BASE}/requests.xml")).text()
    assert "李建国" not in everything and "心脏病" not in everything


async def test_a_grid_report_shows_its_public_place(linli: Linli, client: Client) -> None:
    report = await _open(
        linli,
        CaseKind.GRID_REPORT,
        "facilities",
        "路灯不亮，联系人13812345678",
        details={"answers": {"place": "永宁路与南街路口，3号楼201门口"}},
        latitude=30.6801,
        longitude=103.8502,
    )
    _, listed = await get(client, f"requests/{report.ref}")
    [read] = listed
    assert read["service_code"] == "grid.facilities"
    assert (read["lat"], read["long"]) == (30.68, 103.85)  # a public place, to about 100 m
    assert "永宁路与南街路口" in read["address"] and "201" not in read["address"]
    assert PHONE not in read["description"]
    _, by_code = await get(client, "requests", service_code="grid.facilities")
    assert [r["service_request_id"] for r in by_code] == [report.ref]


# ---- tokens ----------------------------------------------------------------------------


async def test_tokens(linli: Linli, client: Client) -> None:
    key = await new_key(linli)
    _, posted = await post(client, {**PROXY_FORM, "api_key": key})
    ref, token = posted[0]["service_request_id"], posted[0]["token"]
    for fmt in ("json", "xml"):
        status, body = await get(client, f"tokens/{token}", fmt)
        assert status == 200
        assert body == [{"service_request_id": ref, "token": token}]
    forged = token[:-1] + ("0" if token[-1] != "0" else "1")
    for bad in (forged, "LC-20261127-0002." + token.rsplit(".", 1)[1], "nothing", ref):
        for fmt in ("json", "xml"):
            status, body = await get(client, f"tokens/{bad}", fmt)
            assert status == 404 and str(body[0]["code"]) == "404"


# ---- never a 500 -------------------------------------------------------------------------

ODD_TEXTS = [
    "",
    "\x00",
    "a\x00b",
    "\ufffd",
    "'; DROP TABLE cases; --",
    "%",
    "_",
    "😀" * 300,
    "x" * 5000,
    "9" * 40,
    "<![CDATA[x]]>",
    "&amp;<>\"'",
    "\x1b[31m",
    "need-99999999999999",
    "need-0",
    "LC-99999999-99999999",
    "9999-12-31T23:59:59-12:00",
    "0001-01-01T00:00:00+14:00",
    "2026-11-27T10:00:00 08:00",
    "nan",
    "-inf",
    "1e309",
]


async def test_odd_input_never_fails_the_server(linli: Linli) -> None:
    app = create_web_app(linli)
    plenty = ClientRateLimit("100000/minute")
    app[LIMITS] = Open311Limits(plenty, plenty, plenty)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        await _try_odd_input(linli, client)


async def _try_odd_input(linli: Linli, client: Client) -> None:
    key = await new_key(linli)
    params = ("service_request_id", "service_code", "start_date", "end_date", "status", "locale")
    for fmt in ("json", "xml"):
        for text in ODD_TEXTS:
            for name in params:
                response = await client.get(f"{BASE}/requests.{fmt}", params={name: text})
                assert response.status in (200, 400), (name, text, response.status)
                await parsed(response, fmt)
            for path in ("services/{}", "requests/{}", "tokens/{}"):
                safe = text.replace("/", "").replace("\x00", "") or "x"
                response = await client.get(f"{BASE}/{path.format(safe)}.{fmt}")
                assert response.status in (200, 404), (path, text, response.status)
            for field in (
                "service_code",
                "description",
                "attribute[address]",
                "phone",
                "lat",
                "long",
                "first_name",
                "media_url",
                "attribute[x]",
                "attribute[",
            ):
                form = {**PROXY_FORM, "api_key": key, "long": "103.8", field: text}
                response = await client.post(f"{BASE}/requests.{fmt}", data=form)
                assert response.status in (201, 400), (field, text, response.status)
                await parsed(response, fmt)
    odd_bodies: list[tuple[bytes, str]] = [
        (b"\xff\xfe\x00", "application/x-www-form-urlencoded"),
        (b"api_key=%ZZ&service_code=%FF", "application/x-www-form-urlencoded"),
        (b'{"api_key": "x"}', "application/json"),
        (
            b'--b\r\nContent-Disposition: form-data; name="x"\r\n\r\n',
            "multipart/form-data; boundary=b",
        ),
        (b"a=1", "application/x-www-form-urlencoded; charset=no-such-charset"),
        (b"x" * 70_000, "application/x-www-form-urlencoded"),
    ]
    for body, content_type in odd_bodies:
        response = await client.post(
            f"{BASE}/requests.json", data=body, headers={"Content-Type": content_type}
        )
        assert response.status in (400, 403, 413), (body[:20], response.status)
        await parsed(response, "json")
    multipart = aiohttp.FormData()
    multipart.add_field("api_key", key)
    multipart.add_field("service_code", "complaint")
    multipart.add_field("description", b"file", filename="x.txt")
    response = await client.post(f"{BASE}/requests.json", data=multipart)
    assert response.status == 400
