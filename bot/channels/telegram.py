"""The Telegram channel's translation: Bot API updates → Inbound, replies → messages.

Only private chats are conversations; updates from groups and channels, edits and the rest are
acknowledged and left alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from telegram import (
    CallbackQuery,
    Chat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
    User,
)

from bot.messages import INPUT_LIMIT, Attachment, Inbound, Location, Reply
from bot.render import paginate

CHANNEL = "telegram"
TEXT_LIMIT = 4096  # characters in one sendMessage
CALLBACK_DATA_LIMIT = 64  # bytes of callback_data
BUTTONS_PER_ROW = 2
_BOT_SUFFIX = re.compile(r"^(/\w+)@\w+")


@dataclass(frozen=True)
class OutgoingMessage:
    """One sendMessage call: text, and the inline keyboard of its reply (on the last part)."""

    text: str
    keyboard: InlineKeyboardMarkup | None = None


def readable(update: Update) -> bool:
    """Whether what to_inbound reads is there and of its type: PTB checks no types, and builds a
    message without its chat or with a list for an id when the JSON says so."""
    message, query = update.message, update.callback_query
    # PTB itself keys its per-chat and per-user data by the ids of any kind of update.
    chat, user = update.effective_chat, update.effective_user
    if chat is not None and not isinstance(chat.id, int):
        return False
    if user is not None and not isinstance(user.id, int):
        return False
    if message is not None and not _readable_message(message):
        return False
    if query is None:
        return True
    return (
        _readable_user(query.from_user)
        and _text_or_none(query.data)
        and (query.message is None or _readable_chat(query.message.chat))
    )


def _readable_message(message: Message) -> bool:
    sender, place, photos = message.from_user, message.location, message.photo
    return (
        _readable_chat(message.chat)
        and (sender is None or _readable_user(sender))
        and _text_or_none(message.text, message.caption)
        and (place is None or _numbers(place.latitude, place.longitude))
        and all(isinstance(photo.file_id, str) for photo in photos or ())
    )


def _readable_chat(chat: Chat | None) -> bool:
    return chat is not None and isinstance(chat.id, int) and isinstance(chat.type, str)


def _readable_user(user: User | None) -> bool:
    return user is not None and isinstance(user.id, int) and _text_or_none(user.language_code)


def _text_or_none(*values: object) -> bool:
    return all(value is None or isinstance(value, str) for value in values)


def _numbers(*values: object) -> bool:
    return all(isinstance(value, int | float) and not isinstance(value, bool) for value in values)


def to_inbound(update: Update) -> Inbound | None:
    """The Inbound for a private-chat message or button press, or None for anything else."""
    if update.callback_query is not None:
        return _callback_inbound(update.update_id, update.callback_query)
    message = update.message
    if message is None or message.chat.type != "private" or message.from_user is None:
        return None
    text = _command_text(message.text or message.caption or "")
    fields: dict[str, Any] = {"text": text or None}
    if message.location is not None:
        point = Location(message.location.latitude, message.location.longitude)
        fields |= {"location": point, "event": None if text else "location"}
    elif message.photo:
        photo = Attachment("image", message.photo[-1].file_id)
        fields |= {"attachments": (photo,), "event": None if text else "image"}
    elif not text:
        fields["event"] = "unsupported"
    return Inbound(
        channel=CHANNEL,
        user_ref=str(message.chat.id),
        message_id=str(update.update_id),
        lang=message.from_user.language_code,
        **fields,
    )


def _callback_inbound(update_id: int, query: CallbackQuery) -> Inbound | None:
    chat = query.message.chat if query.message is not None else None
    if chat is not None and chat.type != "private":
        return None
    return Inbound(
        channel=CHANNEL,
        user_ref=str(chat.id if chat is not None else query.from_user.id),
        payload=(query.data or "")[:CALLBACK_DATA_LIMIT] or None,
        event=None if query.data else "unsupported",
        message_id=str(update_id),
        lang=query.from_user.language_code,
    )


def _command_text(text: str) -> str:
    """Drop the "@botname" Telegram adds to commands in menus ("/menu@linli_bot" → "/menu")."""
    return _BOT_SUFFIX.sub(r"\1", text.strip()[:INPUT_LIMIT])


def render(replies: list[Reply]) -> list[OutgoingMessage]:
    """Each reply as one or more messages; buttons ride on the reply's last part."""
    messages: list[OutgoingMessage] = []
    for reply in replies:
        text, keyboard = _with_keyboard(reply)
        pages = paginate(text, TEXT_LIMIT) if text.strip() else ["…"]  # Telegram refuses blank text
        messages.extend(OutgoingMessage(page) for page in pages[:-1])
        messages.append(OutgoingMessage(pages[-1], keyboard))
    return messages


def _with_keyboard(reply: Reply) -> tuple[str, InlineKeyboardMarkup | None]:
    """Buttons whose payload fits callback_data become inline buttons; the rest stay numbered
    options in the text (a typed number chooses them, as in WeChat)."""
    rows: list[list[InlineKeyboardButton]] = []
    numbered: list[str] = []
    for number, button in enumerate(reply.buttons, start=1):
        if len(button.payload.encode()) <= CALLBACK_DATA_LIMIT:
            rows.append([InlineKeyboardButton(button.label, callback_data=button.payload)])
        else:
            numbered.append(f"{number}. {button.label}")
    rows = _paired(rows)
    if reply.link is not None:
        rows.append([InlineKeyboardButton(reply.link.label, url=reply.link.url)])
    text = "\n".join([reply.text, *numbered]) if numbered else reply.text
    return text, InlineKeyboardMarkup(rows) if rows else None


def _paired(rows: list[list[InlineKeyboardButton]]) -> list[list[InlineKeyboardButton]]:
    """Short labels two to a row, so a long menu stays on one screen."""
    buttons = [row[0] for row in rows]
    return [buttons[i : i + BUTTONS_PER_ROW] for i in range(0, len(buttons), BUTTONS_PER_ROW)]
