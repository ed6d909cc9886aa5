"""GET /me/data/<token>.json|.txt: a resident's own data, behind a short-lived signed link that
the chat gave them (我的数据 → 导出). A wrong, forged or expired link is a plain 404."""

from __future__ import annotations

import json

from aiohttp import web

from bot.app import Linli
from bot.i18n import normalize_lang, t
from bot.my_data_text import EXPORT_PURPOSE, summary_lines
from bot.signing import read_expiring_token
from models.base import SHANGHAI
from models.my_data import held_data, linked_identities

TOKEN_LIMIT = 120


async def my_data_file(request: web.Request, linli: Linli) -> web.Response:
    """The export as JSON (the full record) or as a readable text summary, for download."""
    token, kind = request.match_info["token"][:TOKEN_LIMIT], request.match_info["kind"]
    now = linli.clock.now()
    value = read_expiring_token(
        linli.settings.secret_key_value, EXPORT_PURPOSE, token, now.timestamp()
    )
    if value is None or not value.isdigit():
        raise web.HTTPNotFound
    async with linli.sessions() as session:
        # A resident with no chat account left has been erased: nothing to give.
        if not await linked_identities(session, int(value)):
            raise web.HTTPNotFound
        data = await held_data(session, int(value))
    stamp = now.astimezone(SHANGHAI).strftime("%Y%m%d-%H%M")
    headers = {
        "Content-Disposition": f'attachment; filename="linli-my-data-{stamp}.{kind}"',
        "Cache-Control": "no-store",
    }
    if kind == "json":
        body = json.dumps(data, ensure_ascii=False, indent=2)
        return web.Response(text=body, content_type="application/json", headers=headers)
    lang = normalize_lang(request.query.get("lang")) or "zh-CN"
    at = now.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
    heading = [t(lang, "mydata.file_title", at=at), ""]
    lines = heading + summary_lines(lang, data, title="mydata.file_heading")
    return web.Response(text="\n".join(lines) + "\n", content_type="text/plain", headers=headers)
