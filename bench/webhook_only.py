"""`linli serve` with the message pipeline replaced by a constant answer, for
bench/wechat_peer.py's "webhook" target.

    .venv/bin/python -m bench.webhook_only serve --port PORT

Everything around the pipeline is Linli's own and runs as served: aiohttp on uvloop, the
middlewares, the signature and timestamp checks, the XML parse, the sender check, the answer
deadline and the passive reply. Only `Pipeline.handle` (dedupe, identity, state, handlers, the
database transaction) answers 收到 at once. Set beside the full `sqlite` target it splits a served
answer's cost into the webhook layer's and the pipeline's.
"""

from __future__ import annotations

from bot.cli import main
from bot.messages import Inbound, Reply
from bot.pipeline import Delivery, Pipeline


async def answer_at_once(
    self: Pipeline, inbound: Inbound, delivery: Delivery | None = None
) -> list[Reply]:
    """The pipeline's stand-in: one text, no database."""
    return [Reply("收到")]


if __name__ == "__main__":
    Pipeline.handle = answer_at_once  # type: ignore[method-assign]
    raise SystemExit(main())
