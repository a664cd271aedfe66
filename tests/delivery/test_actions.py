"""The inbox actions without the outside world: validation, notes, assignment, read
state and the composer's view of the policy (nothing is sent: no commit, no task)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from pagedesk.core.errors import PagedeskError
from pagedesk.core.models import Channel
from pagedesk.delivery.models import OutboxEntry
from pagedesk.delivery.policy_state import TOKEN_PAUSE_REASON
from pagedesk.inbox.actions import (
    composer_state,
    do_add_note,
    do_mark_read,
    do_send_message,
    do_update_conversation,
)
from pagedesk.inbox.models import Conversation, Message
from pagedesk.live.models import LiveEvent
from tests.api.factories import (
    make_channel,
    make_contact,
    make_conversation,
    make_label,
    make_team,
    make_user,
    make_workspace,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def conversation() -> Conversation:
    workspace = make_workspace()
    contact = make_contact(make_channel(workspace))
    return make_conversation(
        contact, last_customer_message_at=timezone.now() - timedelta(hours=1), unread_count=3
    )


@pytest.fixture
def agent(conversation: Conversation) -> Any:
    return make_user(conversation.workspace, "grace@acme.test")


# --- sending: validation -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "needle"),
    [
        ({"text": ""}, "empty"),
        ({"text": "x" * 2001}, "2000"),
        ({"text": "Pick one", "quick_replies": ["A very long quick reply"]}, "20"),
        ({"text": "Pick one", "quick_replies": [str(n) for n in range(14)]}, "13"),
        ({"attachment_url": "https://x.test/a.png", "attachment_type": "sticker"}, "type"),
        ({"attachment_url": "ftp://x.test/a.png", "attachment_type": "image"}, "http"),
        (
            {"text": "Look", "attachment_url": "https://x.test/a.png", "attachment_type": "image"},
            "two",
        ),
    ],
)
def test_drafts_beyond_messengers_limits_are_refused(
    conversation: Conversation, agent: Any, fields: dict[str, Any], needle: str
) -> None:
    with pytest.raises(PagedeskError) as refused:
        do_send_message(conversation=conversation, author=agent, **fields)
    assert refused.value.code == "invalid_message"
    assert refused.value.status == 422
    assert needle in refused.value.message
    assert not Message.objects.filter(direction=Message.Direction.OUTBOUND).exists()


def test_a_queued_message_and_its_outbox_entry_are_written_together(
    conversation: Conversation, agent: Any
) -> None:
    message = do_send_message(
        conversation=conversation,
        author=agent,
        attachment_url="https://cdn.acme.test/map.png",
        attachment_type="image",
        quick_replies=["Yes", {"title": "No", "payload": "NO"}],
    )
    entry = OutboxEntry.objects.get(message=message)
    assert entry.state == OutboxEntry.State.PENDING
    assert entry.draft_kind == OutboxEntry.DraftKind.HUMAN_REPLY
    assert entry.payload == {
        "attachment": {"type": "image", "payload": {"url": "https://cdn.acme.test/map.png"}},
        "quick_replies": [
            {"content_type": "text", "title": "Yes", "payload": "Yes"},
            {"content_type": "text", "title": "No", "payload": "NO"},
        ],
        "metadata": f"pagedesk:{message.pk}",
    }
    assert message.sender_user == agent
    assert [(a.type, a.url) for a in message.attachments.all()] == [
        ("image", "https://cdn.acme.test/map.png")
    ]


def test_an_author_from_another_workspace_is_refused(conversation: Conversation) -> None:
    stranger = make_user(make_workspace("Other"))
    with pytest.raises(PagedeskError) as refused:
        do_send_message(conversation=conversation, author=stranger, text="Hi")
    assert (refused.value.code, refused.value.status) == ("not_a_member", 403)


def test_a_token_paused_channel_queues_a_blocked_one_refuses(
    conversation: Conversation, agent: Any
) -> None:
    channel = conversation.channel
    Channel.objects.filter(pk=channel.pk).update(status="paused", status_reason=TOKEN_PAUSE_REASON)
    message = do_send_message(conversation=conversation, author=agent, text="Hi")
    assert OutboxEntry.objects.get(message=message).state == OutboxEntry.State.WAITING_CHANNEL

    Channel.objects.filter(pk=channel.pk).update(
        status_reason="Meta blocked the page from messaging: spam"
    )
    with pytest.raises(PagedeskError) as refused:
        do_send_message(conversation=conversation, author=agent, text="Hi")
    assert refused.value.code == "channel_blocked"
    conversation.channel.refresh_from_db()
    state = composer_state(conversation=conversation)
    assert not state.can_reply and "blocked" in state.reason


def test_composer_inside_the_window(conversation: Conversation) -> None:
    now = timezone.now()
    state = composer_state(conversation=conversation, now=now)
    assert state.window_open and state.human_agent_open and state.can_reply
    assert state.reason == ""
    assert state.options == [{"kind": "response", "tag": None}]
    assert state.allowed_tags == ["HUMAN_AGENT", "CUSTOMER_FEEDBACK"]
    assert state.window_ends_at == conversation.last_customer_message_at + timedelta(hours=24)
    assert state.human_agent_ends_at == conversation.last_customer_message_at + timedelta(days=7)


def test_composer_when_the_customer_never_wrote(conversation: Conversation) -> None:
    Conversation.objects.filter(pk=conversation.pk).update(last_customer_message_at=None)
    conversation.refresh_from_db()
    state = composer_state(conversation=conversation)
    assert not state.can_reply and state.window_ends_at is None
    assert "never written" in state.reason


# --- notes, assignment, read state -----------------------------------------------------------


def test_a_note_resolves_mentions_of_members_only(conversation: Conversation, agent: Any) -> None:
    bob = make_user(conversation.workspace, "bob@acme.test")
    outsider = make_user(make_workspace("Other"), "eve@other.test")
    note = do_add_note(
        conversation=conversation,
        author=agent,
        text="@bob@acme.test and @GRACE@acme.test: call back. Not @eve@other.test, "
        "not mail@bob@acme.test, not @nobody.",
    )
    assert set(note.mentions.all()) == {bob, agent}
    assert LiveEvent.objects.filter(kind="note.created", data__note_id=note.pk).exists()
    assert outsider not in note.mentions.all()
    assert note.author == agent

    with pytest.raises(PagedeskError) as empty:
        do_add_note(conversation=conversation, author=agent, text="   ")
    assert empty.value.code == "invalid_note"


def test_update_conversation_changes_only_what_is_given(
    conversation: Conversation, agent: Any
) -> None:
    team = make_team(conversation.workspace, "Repairs")
    vip = make_label(conversation.workspace, "vip")
    updated = do_update_conversation(
        conversation=conversation,
        actor=agent,
        status="done",
        assignee=agent,
        team=team,
        labels=[vip, "warranty"],
    )
    assert (updated.status, updated.assignee, updated.team) == ("done", agent, team)
    assert sorted(label.name for label in updated.labels.all()) == ["vip", "warranty"]
    (event,) = LiveEvent.objects.filter(kind="conversation.updated")
    assert event.data == {
        "conversation_id": conversation.pk,
        "status": "done",
        "assignee_id": agent.pk,
        "team_id": team.pk,
        "labels": ["vip", "warranty"],
    }

    updated = do_update_conversation(conversation=conversation, actor=agent, assignee=None)
    assert (updated.status, updated.assignee, updated.team) == ("done", None, team)
    assert updated.labels.count() == 2

    other_team = make_team(make_workspace("Other"), "Repairs")
    with pytest.raises(PagedeskError) as bad_team:
        do_update_conversation(conversation=conversation, actor=agent, team=other_team)
    assert bad_team.value.code == "invalid_team"
    with pytest.raises(PagedeskError) as bad_status:
        do_update_conversation(conversation=conversation, actor=agent, status="snoozed")
    assert bad_status.value.code == "invalid_status"
    stranger = make_user(make_workspace("Else"))
    with pytest.raises(PagedeskError) as bad_assignee:
        do_update_conversation(conversation=conversation, actor=agent, assignee=stranger)
    assert bad_assignee.value.code == "invalid_assignee"


def test_mark_read_clears_unread_without_reordering(conversation: Conversation, agent: Any) -> None:
    before = Conversation.objects.get(pk=conversation.pk).updated_at
    do_mark_read(conversation=conversation, actor=agent)
    after = Conversation.objects.get(pk=conversation.pk)
    assert (after.unread_count, after.updated_at) == (0, before)
