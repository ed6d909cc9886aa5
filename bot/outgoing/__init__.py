"""The one home of outgoing messages: typed messages, their wording, and queueing them."""

from bot.outgoing.message import Message, Name, payload_replies
from bot.outgoing.queue import Person, for_resident, for_staff, queue

__all__ = ["Message", "Name", "Person", "for_resident", "for_staff", "payload_replies", "queue"]
