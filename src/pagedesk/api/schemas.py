"""The API's request parameters and response bodies.

Responses are built from model instances the selectors return; resolvers here only
rename or reshape fields, they never query (everything is preloaded).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from django.utils import timezone
from ninja import Field, Schema

from pagedesk.inbox.models import Attachment, Contact, Conversation, Message
from pagedesk.inbox.selectors import MAX_ID, MAX_LIMIT, UNASSIGNED, conversation_window

# --- errors --------------------------------------------------------------------------


class ErrorOut(Schema):
    code: str
    message: str


class FieldErrorOut(Schema):
    loc: list[str | int]
    msg: str
    type: str


class ValidationErrorOut(ErrorOut):
    errors: list[FieldErrorOut]


# --- query parameters ----------------------------------------------------------------


class ConversationFilters(Schema):
    status: Literal["open", "done"] | None = None
    channel: int | None = Field(None, ge=1, le=MAX_ID, description="A channel id.")
    assignee: str | None = Field(
        None,
        pattern=rf"^({UNASSIGNED}|[1-9][0-9]{{0,17}})$",
        description=f"A user id, or `{UNASSIGNED}` for unassigned conversations.",
    )
    label: str | None = Field(None, min_length=1, max_length=64, description="A label name.")
    updated_since: datetime | None = Field(
        None, description="ISO 8601; conversations updated at or after this time."
    )
    cursor: str | None = Field(None, max_length=512, description="`next_cursor` of a page.")
    limit: int = Field(50, ge=1, le=MAX_LIMIT)

    def selector_kwargs(self) -> dict[str, Any]:
        """These filters as keyword arguments of ``selectors.conversation_list``."""
        assignee: int | str | None = self.assignee
        if assignee is not None and assignee != UNASSIGNED:
            assignee = int(assignee)
        return {
            "status": self.status,
            "channel_id": self.channel,
            "assignee_id": assignee,
            "label": self.label,
            "updated_since": self.updated_since,
            "cursor": self.cursor,
            "limit": self.limit,
        }


class PageParams(Schema):
    cursor: str | None = Field(None, max_length=512, description="`next_cursor` of a page.")
    limit: int = Field(100, ge=1, le=MAX_LIMIT)


# --- shared pieces -------------------------------------------------------------------


class ChannelRef(Schema):
    id: int
    name: str
    page_id: str


class ContactRef(Schema):
    id: int
    name: str
    psid: str
    profile_pic: str

    @staticmethod
    def resolve_name(obj: Contact) -> str:
        return obj.display_name


class UserRef(Schema):
    id: int
    email: str


class TeamRef(Schema):
    id: int
    name: str


class WindowOut(Schema):
    open: bool
    ends_at: datetime | None


# --- conversations -------------------------------------------------------------------


class ConversationOut(Schema):
    id: int
    status: str
    channel: ChannelRef
    contact: ContactRef
    is_group: bool
    assignee: UserRef | None
    team: TeamRef | None
    labels: list[str]
    unread_count: int
    last_customer_message_at: datetime | None
    last_message_at: datetime | None
    updated_at: datetime
    created_at: datetime
    window: WindowOut

    @staticmethod
    def resolve_labels(obj: Conversation) -> list[str]:
        return [label.name for label in obj.labels.all()]

    @staticmethod
    def resolve_window(obj: Conversation) -> WindowOut:
        window = conversation_window(obj, now=timezone.now())
        return WindowOut(open=window.open, ends_at=window.ends_at)


class ConversationDetailOut(ConversationOut):
    participants: list[ContactRef]
    thread_owner_app_id: str


class ConversationPage(Schema):
    data: list[ConversationOut]
    next_cursor: str | None


# --- messages ------------------------------------------------------------------------


class AttachmentOut(Schema):
    type: str
    url: str = Field(description="pagedesk's stored copy once downloaded, else Meta's URL.")
    content_type: str
    size: int | None
    download: str

    @staticmethod
    def resolve_url(obj: Attachment, context: dict[str, Any] | None = None) -> str:
        if obj.download != Attachment.Download.DONE or not obj.file:
            return obj.url
        # Served by the API itself (token-checked), never from a public media folder.
        path = f"/api/v1/attachments/{obj.pk}/file"
        request = (context or {}).get("request")
        return request.build_absolute_uri(path) if request else path


class ReactionOut(Schema):
    reaction: str
    emoji: str
    contact_id: int


class MessageOut(Schema):
    id: int
    mid: str | None
    direction: str
    kind: str
    text: str
    attachments: list[AttachmentOut]
    status: str
    failed_reason: str
    quick_reply_payload: str
    postback_payload: str
    reply_to_mid: str
    reactions: list[ReactionOut]
    edited_at: datetime | None
    edit_count: int
    deleted: bool
    sender_app_id: str
    data: dict[str, Any]
    created_at: datetime = Field(description="When Meta says the message was sent.")
    received_at: datetime = Field(description="When pagedesk stored the message.")

    @staticmethod
    def resolve_deleted(obj: Message) -> bool:
        return obj.deleted_at is not None

    @staticmethod
    def resolve_created_at(obj: Message) -> datetime:
        return obj.sent_at

    @staticmethod
    def resolve_received_at(obj: Message) -> datetime:
        return obj.created_at


class MessagePage(Schema):
    data: list[MessageOut]
    next_cursor: str | None


# --- contacts ------------------------------------------------------------------------


class SourceOut(Schema):
    source: str
    ref: str
    ad_id: str
    comment_id: str


class AttributionOut(Schema):
    first: SourceOut | None = Field(description="How the customer first came; null if unknown.")
    latest: SourceOut | None = Field(description="How they came most recently.")


class ContactOut(Schema):
    id: int
    psid: str
    name: str
    first_name: str
    last_name: str
    profile_pic: str
    locale: str
    timezone: float | None
    profile_status: str
    unreachable_reason: str
    attribution: AttributionOut
    attributes: dict[str, str] = Field(
        default_factory=dict, description='Custom attributes, e.g. {"plan": "gold"}.'
    )
    channel: ChannelRef
    created_at: datetime

    @staticmethod
    def resolve_name(obj: Contact) -> str:
        return obj.display_name

    @staticmethod
    def resolve_attribution(obj: Contact) -> AttributionOut:
        return AttributionOut(first=_source(obj, "first"), latest=_source(obj, "latest"))


def _source(contact: Contact, which: Literal["first", "latest"]) -> SourceOut | None:
    values = {
        key: getattr(contact, f"{which}_{key}") for key in ("source", "ref", "ad_id", "comment_id")
    }
    return SourceOut(**values) if any(values.values()) else None
