"""Linli's tables and domain operations; imports nothing else of ours."""

from models.access_log import PersonalDataView
from models.api_keys import ApiKey
from models.booking import Appointment, BookingSlot, RosterShift, WaitlistEntry
from models.cases import Case, CaseEvent, CaseHandler, Rating
from models.consent import Consent
from models.inbox import WebInboxItem
from models.messaging import (
    ApiToken,
    BindAttempt,
    BindCode,
    ConversationState,
    InboundMessage,
    JobRun,
    OutboxMessage,
    ReferenceCounter,
    Reminder,
    WeChatCallback,
)
from models.needs import Need, NeedItem, NeedItemEvent, NeedSupport
from models.notices import Notice, NoticeDelivery
from models.org import Community, Compound, Department, Grid, Staff, StaffSkill, Street
from models.people import ChannelIdentity, Resident
from models.ratings import WindowVisit
from models.services import FaqEntry, HolidayOverride, OpeningRule, Service

__all__ = [
    "ApiKey",
    "ApiToken",
    "Appointment",
    "BindAttempt",
    "BindCode",
    "BookingSlot",
    "Case",
    "CaseEvent",
    "CaseHandler",
    "ChannelIdentity",
    "Community",
    "Compound",
    "Consent",
    "ConversationState",
    "Department",
    "FaqEntry",
    "Grid",
    "HolidayOverride",
    "InboundMessage",
    "JobRun",
    "Need",
    "NeedItem",
    "NeedItemEvent",
    "NeedSupport",
    "Notice",
    "NoticeDelivery",
    "OpeningRule",
    "OutboxMessage",
    "PersonalDataView",
    "Rating",
    "ReferenceCounter",
    "Reminder",
    "Resident",
    "RosterShift",
    "Service",
    "Staff",
    "StaffSkill",
    "Street",
    "WaitlistEntry",
    "WeChatCallback",
    "WebInboxItem",
    "WindowVisit",
]
