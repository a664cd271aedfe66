"""Request and response bodies of the write endpoints.

Shapes only; Messenger's limits (text length, quick replies, attachment types) are
checked by the actions with the Send API models, so the API and the web composer
refuse the same drafts with the same messages.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from ninja import Field, Schema

from pagedesk.api.schemas import UserRef
from pagedesk.inbox.models import Note

Email = str


class AttachmentIn(Schema):
    type: Literal["image", "audio", "video", "file"]
    url: str = Field(max_length=2048, description="A public http(s) URL Meta can fetch.")


class QuickReplyIn(Schema):
    title: str = Field(min_length=1, description="At most 20 characters.")
    payload: str | None = Field(None, description="Comes back when tapped; default: the title.")


class SendMessageIn(Schema):
    text: str = Field("", description="At most 2000 characters; or send an attachment.")
    attachment: AttachmentIn | None = None
    quick_replies: list[QuickReplyIn] | None = Field(None, description="At most 13.")
    tag: str | None = Field(
        None,
        max_length=64,
        description="A message tag for sends outside the 24-hour window, e.g. HUMAN_AGENT.",
    )
    human: bool = Field(
        False,
        description="A reply written by a person (required for HUMAN_AGENT). An API "
        "token is an integration, so `agent_email` must name the person.",
    )
    agent_email: Email | None = Field(
        None, max_length=254, description="With `human: true`: the workspace member who wrote it."
    )


class NoteIn(Schema):
    text: str = Field(min_length=1, max_length=10_000)
    author_email: Email = Field(max_length=254, description="A member of the workspace.")


class NoteOut(Schema):
    id: int
    conversation_id: int
    author: UserRef | None
    text: str
    mentions: list[UserRef]
    created_at: datetime

    @staticmethod
    def resolve_mentions(obj: Note) -> list[UserRef]:
        return [UserRef(id=user.pk, email=user.email) for user in obj.mentions.all()]


class ConversationPatch(Schema):
    """Only the fields present change; `null` clears assignee or team."""

    status: Literal["open", "done"] | None = None
    assignee: Email | None = Field(None, max_length=254, description="A member's email.")
    team: str | None = Field(None, max_length=100, description="A team's name.")
    labels: list[str] | None = Field(
        None, description="Replaces the labels; new names are created."
    )


class ContactPatch(Schema):
    attributes: dict[str, str | None] = Field(
        ...,
        description="Custom attributes to set; null removes one. Names are 1-40 letters,"
        " digits, spaces, `_ . -`; values at most 500 characters; 50 per contact.",
    )
