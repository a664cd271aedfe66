"""Rows for API tests, built straight with the ORM (channels through their action)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.http import HttpResponse
from django.test import Client

from pagedesk.core.actions import do_add_channel, do_create_api_token
from pagedesk.core.models import Channel, Membership, Team, Workspace
from pagedesk.inbox.models import (
    Attachment,
    Contact,
    Conversation,
    Label,
    Message,
    Participant,
    Reaction,
)

_seq = itertools.count(1)
BASE_MS = 1_700_000_000_000


@dataclass
class Api:
    """A test client that sends one bearer token with every request."""

    client: Client
    token: str

    def get(self, path: str, **params: Any) -> HttpResponse:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return self.client.get(f"/api/v1{path}", params, headers=headers)


def make_workspace(name: str = "Acme") -> Workspace:
    n = next(_seq)
    return Workspace.objects.create(name=f"{name} {n}", slug=f"{name.lower()}-{n}")


def make_token(workspace: Workspace) -> str:
    return do_create_api_token(workspace=workspace, name="tests").secret


def make_user(workspace: Workspace, email: str | None = None) -> AbstractBaseUser:
    email = email or f"agent{next(_seq)}@example.com"
    user = get_user_model().objects.create(username=email, email=email)
    Membership.objects.create(workspace=workspace, user=user)
    return user


def make_team(workspace: Workspace, name: str = "Support") -> Team:
    return Team.objects.create(workspace=workspace, name=name)


def make_label(workspace: Workspace, name: str) -> Label:
    return Label.objects.create(workspace=workspace, name=name)


def make_channel(workspace: Workspace, name: str = "Shop") -> Channel:
    return do_add_channel(
        workspace=workspace,
        page_id=str(1234567890 + next(_seq)),
        page_token="EAAG-test-page-token-long",
        app_secret="secret-123456",
        verify_token="verify-123456",
        name=name,
    )


def make_contact(channel: Channel, **fields: Any) -> Contact:
    fields.setdefault("psid", str(2_000_000_000 + next(_seq)))
    return Contact.objects.create(workspace=channel.workspace, channel=channel, **fields)


def make_conversation(
    contact: Contact,
    *,
    updated_at: datetime | None = None,
    labels: tuple[Label, ...] = (),
    **fields: Any,
) -> Conversation:
    fields.setdefault("thread_key", f"thread-{next(_seq)}")
    conversation = Conversation.objects.create(
        workspace=contact.workspace, channel=contact.channel, contact=contact, **fields
    )
    if labels:
        conversation.labels.add(*labels)
    if updated_at is not None:  # auto_now: only an UPDATE query can set it
        Conversation.objects.filter(pk=conversation.pk).update(updated_at=updated_at)
        conversation.refresh_from_db()
    return conversation


def add_participant(conversation: Conversation, contact: Contact) -> None:
    Participant.objects.create(conversation=conversation, contact=contact)


def make_message(
    conversation: Conversation, *, timestamp_ms: int | None = None, **fields: Any
) -> Message:
    n = next(_seq)
    timestamp_ms = BASE_MS + n * 1000 if timestamp_ms is None else timestamp_ms
    fields.setdefault("mid", f"m_{n}")
    fields.setdefault("direction", Message.Direction.INBOUND)
    fields.setdefault("status", Message.Status.RECEIVED)
    fields.setdefault("contact", conversation.contact)
    return Message.objects.create(
        workspace=fields.pop("workspace", conversation.workspace),
        conversation=conversation,
        timestamp_ms=timestamp_ms,
        sent_at=datetime.fromtimestamp(timestamp_ms / 1000, tz=UTC),
        **fields,
    )


def make_attachment(message: Message, *, position: int = 0, **fields: Any) -> Attachment:
    fields.setdefault("type", "image")
    fields.setdefault("url", "https://scontent.xx.fbcdn.net/v/photo.jpg?oh=abc")
    fields.setdefault("download", Attachment.Download.PENDING)
    return Attachment.objects.create(message=message, position=position, **fields)


def make_reaction(message: Message, contact: Contact, reaction: str = "love") -> Reaction:
    return Reaction.objects.create(
        message=message,
        contact=contact,
        reaction=reaction,
        emoji="❤",
        reacted_at=message.sent_at,
    )
