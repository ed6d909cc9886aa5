"""Conversation features, one module each; every module exports a Router."""

from bot.router import Router
from handlers import account, menu


def build_router() -> Router:
    """The root router: features first, the menu (with its catch-all fallback) last."""
    return Router("root").include(account.router, menu.router)
