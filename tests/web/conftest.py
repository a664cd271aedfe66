"""Two workspaces with a member each, a page, a conversation and its rows: enough to
prove every view reads and writes only inside the signed-in person's workspace."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.test import Client
from django.utils import timezone

from pagedesk.core.models import Channel, Membership, Team, Workspace
from pagedesk.inbox.models import Attachment, Contact, Conversation, Label, Message
from tests.api.factories import (
    make_channel,
    make_contact,
    make_conversation,
    make_label,
    make_message,
    make_team,
    make_workspace,
)

PASSWORD = "correct horse battery staple"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def make_member(workspace: Workspace, email: str, role: str = Membership.Role.AGENT) -> Any:
    user = get_user_model().objects.filter(username=email).first()
    if user is None:
        user = get_user_model().objects.create_user(username=email, email=email, password=PASSWORD)
    Membership.objects.create(workspace=workspace, user=user, role=role)
    return user


def store_file(attachment: Attachment, name: str, body: bytes, content_type: str) -> Attachment:
    attachment.file.save(name, ContentFile(body), save=False)
    attachment.content_type = content_type
    attachment.size = len(body)
    attachment.download = Attachment.Download.DONE
    attachment.save()
    return attachment


@dataclass
class Side:
    """One workspace and what is in it."""

    workspace: Workspace
    owner: Any
    agent: Any
    channel: Channel
    contact: Contact
    conversation: Conversation
    message: Message
    image: Attachment
    label: Label
    team: Team


def build_side(name: str) -> Side:
    workspace = make_workspace(name)
    slug = workspace.slug
    owner = make_member(workspace, f"owner@{slug}.test", Membership.Role.OWNER)
    agent = make_member(workspace, f"agent@{slug}.test", Membership.Role.AGENT)
    channel = make_channel(workspace, name=f"{name} Page")
    contact = make_contact(channel, first_name="Ada", last_name=f"of {name}")
    conversation = make_conversation(
        contact,
        last_customer_message_at=timezone.now() - timedelta(hours=1),
        last_message_at=timezone.now() - timedelta(hours=1),
        unread_count=2,
    )
    message = make_message(conversation, text=f"Hello from {name}")
    image = store_file(
        Attachment.objects.create(
            message=message, type="image", download=Attachment.Download.PENDING
        ),
        "photo.png",
        PNG,
        "image/png",
    )
    return Side(
        workspace=workspace,
        owner=owner,
        agent=agent,
        channel=channel,
        contact=contact,
        conversation=conversation,
        message=message,
        image=image,
        label=make_label(workspace, f"{name}-vip"),
        team=make_team(workspace, f"{name} support"),
    )


@pytest.fixture
def acme(db: None, settings: Any, tmp_path: Any) -> Side:
    settings.MEDIA_ROOT = tmp_path / "media"
    return build_side("Acme")


@pytest.fixture
def globex(acme: Side) -> Side:
    return build_side("Globex")


def client_for(user: Any, **kwargs: Any) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    return client
