"""The peer of bench/wechat_peer.py: a WeRoBot robot that answers every text with the text.

Served as WeRoBot's docs deploy it, by gunicorn with one sync worker:

    PEER_WECHAT_TOKEN=… gunicorn -w 1 -b 127.0.0.1:8081 bench.werobot_echo:app

No database: WeRoBot's session store (a SQLite file by default) is switched off.
"""

from __future__ import annotations

import os

import werobot  # type: ignore[import-untyped]

robot = werobot.WeRoBot(token=os.environ.get("PEER_WECHAT_TOKEN", "bench-token"))
robot.config["SESSION_STORAGE"] = False


@robot.text  # type: ignore[untyped-decorator]
def echo(message: werobot.messages.messages.TextMessage) -> str:
    """The text, back to its sender."""
    return str(message.content)


app = robot.wsgi
