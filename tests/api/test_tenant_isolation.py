"""A token of workspace A never sees, nor learns the existence of, workspace B's rows.

Both workspaces hold the same kinds of data (same label names, group threads,
messages with attachments and reactions), created interleaved so B's ids sit
between A's: guessing ids by incrementing A's lands on B's rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from django.test import Client

from pagedesk.core.models import Workspace
from pagedesk.inbox.models import Contact, Conversation, Message
from tests.api.factories import (
    Api,
    add_participant,
    make_attachment,
    make_channel,
    make_contact,
    make_conversation,
    make_label,
    make_message,
    make_reaction,
    make_team,
    make_token,
    make_user,
    make_workspace,
)

pytestmark = pytest.mark.django_db

DETAIL_ROUTES = ["/conversations/{id}", "/conversations/{id}/messages", "/contacts/{id}"]


@dataclass
class Tenant:
    workspace: Workspace
    api: Api
    user_id: int = 0
    channel_id: int = 0
    conversations: list[int] = field(default_factory=list)
    contacts: list[int] = field(default_factory=list)
    messages: list[int] = field(default_factory=list)


@dataclass
class World:
    a: Tenant
    b: Tenant

    def nonexistent_id(self) -> int:
        return 10 * max(
            [
                *Conversation.objects.values_list("id", flat=True),
                *Contact.objects.values_list("id", flat=True),
                *Message.objects.values_list("id", flat=True),
            ]
        )


def _tenant(client: Client, name: str) -> Tenant:
    workspace = make_workspace(name)
    return Tenant(workspace=workspace, api=Api(client, make_token(workspace)))


def _populate(tenant: Tenant, round_: int) -> None:
    """One round of rows for a tenant; called alternately for A and B."""
    workspace = tenant.workspace
    if round_ == 0:
        tenant.user_id = make_user(workspace).pk
        tenant.channel_id = make_channel(workspace).pk
        make_team(workspace, "Support")
        make_label(workspace, "vip")  # the same name in both workspaces
    channel = workspace.channels.get()
    contact = make_contact(channel, first_name=f"{workspace.name} customer {round_}")
    conversation = make_conversation(
        contact,
        assignee_id=tenant.user_id if round_ % 2 else None,
        team=workspace.teams.get(),
        labels=(workspace.labels.get(),),
        is_group=round_ == 2,
        last_customer_message_at=None,
    )
    if round_ == 2:
        guest = make_contact(channel)
        add_participant(conversation, contact)
        add_participant(conversation, guest)
        tenant.contacts.append(guest.pk)
    message = make_message(conversation, text=f"hello from {workspace.name}")
    make_attachment(message)
    make_reaction(message, contact)
    reply = make_message(conversation, direction=Message.Direction.OUTBOUND, contact=None)
    tenant.conversations.append(conversation.pk)
    tenant.contacts.append(contact.pk)
    tenant.messages += [message.pk, reply.pk]


@pytest.fixture
def world(client: Client) -> World:
    a, b = _tenant(client, "Alpha"), _tenant(client, "Beta")
    for round_ in range(4):
        _populate(a, round_)
        _populate(b, round_)
    return World(a=a, b=b)


def _all_ids(api: Api, path: str, **params: Any) -> list[int]:
    ids: list[int] = []
    cursor = None
    while True:
        response = api.get(path, **params, **({"cursor": cursor} if cursor else {}))
        assert response.status_code == 200, response.content
        body = response.json()
        ids += [row["id"] for row in body["data"]]
        if not (cursor := body["next_cursor"]):
            return ids


def _everything_in(body: Any) -> str:
    return repr(body)


# --- lists ---------------------------------------------------------------------------


@pytest.mark.parametrize("limit", [1, 3, 50])
def test_conversation_list_holds_only_own_rows(world: World, limit: int) -> None:
    for me in (world.a, world.b):
        assert sorted(_all_ids(me.api, "/conversations", limit=limit)) == sorted(me.conversations)


def test_filters_naming_the_other_workspace_find_nothing(world: World) -> None:
    a, b = world.a, world.b
    assert _all_ids(a.api, "/conversations", channel=b.channel_id) == []
    assert _all_ids(a.api, "/conversations", assignee=b.user_id) == []
    # The same label name exists in B: only A's conversations carry A's label.
    assert sorted(_all_ids(a.api, "/conversations", label="vip")) == sorted(a.conversations)
    assert sorted(_all_ids(a.api, "/conversations", assignee="none")) == sorted(
        a.conversations[0::2]
    )


def test_list_bodies_never_mention_the_other_workspace(world: World) -> None:
    a = world.a
    body = a.api.get("/conversations", limit=200).json()
    for item in body["data"]:
        assert item["channel"]["id"] == a.channel_id
        assert item["contact"]["id"] in a.contacts
        assert item["assignee"] is None or item["assignee"]["id"] == a.user_id
    assert "Beta" not in _everything_in(body)
    for conversation_id in a.conversations:
        messages = a.api.get(f"/conversations/{conversation_id}/messages").json()
        assert {m["id"] for m in messages["data"]} <= set(a.messages)
        assert "Beta" not in _everything_in(messages)


def test_a_cursor_from_the_other_workspace_still_lists_only_own_rows(world: World) -> None:
    b_cursor = world.b.api.get("/conversations", limit=1).json()["next_cursor"]
    ids = _all_ids(world.a.api, "/conversations", cursor=b_cursor)
    assert set(ids) <= set(world.a.conversations)

    b_conversation = world.b.conversations[0]
    b_messages_cursor = world.b.api.get(
        f"/conversations/{b_conversation}/messages", limit=1
    ).json()["next_cursor"]
    for conversation_id in world.a.conversations:
        ids = _all_ids(
            world.a.api, f"/conversations/{conversation_id}/messages", cursor=b_messages_cursor
        )
        assert set(ids) <= set(world.a.messages)


def test_rows_of_b_wrongly_linked_to_a_thread_stay_hidden(world: World) -> None:
    """Defence in depth: even a row of B pointing into A's thread is not shown to A."""
    a, b = world.a, world.b
    conversation = Conversation.objects.get(pk=a.conversations[2])  # A's group thread
    b_contact = Contact.objects.get(pk=b.contacts[0])
    stray = make_message(conversation, workspace=b.workspace, contact=b_contact, text="Beta")
    conversation.labels.add(b.workspace.labels.get())
    add_participant(conversation, b_contact)

    messages = _all_ids(a.api, f"/conversations/{conversation.pk}/messages")
    assert stray.pk not in messages
    detail = a.api.get(f"/conversations/{conversation.pk}").json()
    assert detail["labels"] == ["vip"]
    assert b_contact.pk not in {p["id"] for p in detail["participants"]}
    assert sorted(_all_ids(a.api, "/conversations", label="vip")) == sorted(a.conversations)


# --- details: no existence oracle --------------------------------------------------------


@pytest.mark.parametrize("route", DETAIL_ROUTES)
def test_every_id_of_b_is_a_plain_404(world: World, route: str) -> None:
    a, b = world.a, world.b
    ids = b.contacts if route.startswith("/contacts") else b.conversations
    missing = a.api.get(route.format(id=world.nonexistent_id()))
    assert missing.status_code == 404
    for other_id in ids:
        response = a.api.get(route.format(id=other_id))
        assert response.status_code == 404
        assert response.content == missing.content
        assert response.headers == missing.headers


@pytest.mark.parametrize("route", DETAIL_ROUTES)
def test_ids_guessed_by_incrementing_own_ids_are_a_plain_404(world: World, route: str) -> None:
    a = world.a
    own = set(a.contacts if route.startswith("/contacts") else a.conversations)
    missing = a.api.get(route.format(id=world.nonexistent_id())).content
    guesses = range(1, world.nonexistent_id() // 10 + 5)
    for guess in guesses:
        response = a.api.get(route.format(id=guess))
        if guess in own:
            assert response.status_code == 200
        else:
            assert (response.status_code, response.content) == (404, missing), guess


def test_message_ids_of_b_used_as_conversation_ids_reveal_nothing(world: World) -> None:
    a = world.a
    missing = a.api.get(f"/conversations/{world.nonexistent_id()}/messages").content
    for message_id in world.b.messages:
        if message_id in a.conversations:
            continue
        response = a.api.get(f"/conversations/{message_id}/messages")
        assert (response.status_code, response.content) == (404, missing)


def test_own_ids_work_for_each_token(world: World) -> None:
    for me in (world.a, world.b):
        for conversation_id in me.conversations:
            assert me.api.get(f"/conversations/{conversation_id}").status_code == 200
            assert me.api.get(f"/conversations/{conversation_id}/messages").status_code == 200
        for contact_id in me.contacts:
            assert me.api.get(f"/contacts/{contact_id}").status_code == 200
