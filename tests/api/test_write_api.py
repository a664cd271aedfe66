"""The write REST API through its real URLs: send, notes, conversation updates; auth,
tenant isolation, validation (422) and policy refusals (409 with the policy code)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.http import HttpResponse
from django.test import Client
from django.utils import timezone

from pagedesk.core.models import Workspace
from pagedesk.delivery.models import OutboxEntry
from pagedesk.inbox.models import Conversation, Message, Note
from tests.api.factories import (
    make_channel,
    make_contact,
    make_conversation,
    make_label,
    make_team,
    make_token,
    make_user,
    make_workspace,
)

pytestmark = pytest.mark.django_db


class WriteApi:
    def __init__(self, client: Client, token: str) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def post(self, path: str, body: dict[str, Any]) -> HttpResponse:
        return self.client.post(
            f"/api/v1{path}", json.dumps(body), "application/json", headers=self.headers
        )

    def patch(self, path: str, body: dict[str, Any]) -> HttpResponse:
        return self.client.patch(
            f"/api/v1{path}", json.dumps(body), "application/json", headers=self.headers
        )


@pytest.fixture
def workspace() -> Workspace:
    return make_workspace("Acme")


@pytest.fixture
def conversation(workspace: Workspace) -> Conversation:
    contact = make_contact(make_channel(workspace))
    return make_conversation(
        contact, last_customer_message_at=timezone.now() - timedelta(minutes=5)
    )


@pytest.fixture
def api(client: Client, workspace: Workspace) -> WriteApi:
    return WriteApi(client, make_token(workspace))


@pytest.fixture
def agent(workspace: Workspace) -> Any:
    return make_user(workspace, "grace@acme.test")


def _close_window(conversation: Conversation, hours: float = 30) -> None:
    Conversation.objects.filter(pk=conversation.pk).update(
        last_customer_message_at=timezone.now() - timedelta(hours=hours)
    )


# --- sending -----------------------------------------------------------------------------


def test_send_queues_an_automated_message(api: WriteApi, conversation: Conversation) -> None:
    response = api.post(
        f"/conversations/{conversation.pk}/messages",
        {"text": "Your bike is ready.", "quick_replies": [{"title": "Thanks!"}]},
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["direction"], body["status"], body["text"]) == (
        "out",
        "queued",
        "Your bike is ready.",
    )
    assert body["mid"] is None and body["failed_reason"] == ""
    assert body["data"]["automated"] is True
    assert body["data"]["quick_replies"] == [
        {"content_type": "text", "title": "Thanks!", "payload": "Thanks!"}
    ]
    message = Message.objects.get(pk=body["id"])
    assert message.sender_user is None
    entry = OutboxEntry.objects.get(message=message)
    assert (entry.state, entry.draft_kind) == ("pending", "automated")


def test_send_an_attachment(api: WriteApi, conversation: Conversation) -> None:
    response = api.post(
        f"/conversations/{conversation.pk}/messages",
        {"attachment": {"type": "file", "url": "https://acme.test/invoice.pdf"}},
    )
    assert response.status_code == 201, response.content
    (attachment,) = response.json()["attachments"]
    assert (attachment["type"], attachment["url"]) == ("file", "https://acme.test/invoice.pdf")


def test_human_agent_reply_needs_a_named_member(
    api: WriteApi, conversation: Conversation, agent: Any
) -> None:
    _close_window(conversation)
    path = f"/conversations/{conversation.pk}/messages"
    draft = {"text": "Sorry for the wait.", "tag": "HUMAN_AGENT"}

    automated = api.post(path, draft)
    assert automated.status_code == 409
    assert automated.json()["code"] == "automated_human_agent"

    anonymous = api.post(path, {**draft, "human": True})
    assert (anonymous.status_code, anonymous.json()["code"]) == (422, "agent_required")

    stranger = make_user(make_workspace("Other"), "eve@other.test")
    outsider = api.post(path, {**draft, "human": True, "agent_email": stranger.email})
    assert (outsider.status_code, outsider.json()["code"]) == (422, "unknown_member")

    unclear = api.post(path, {**draft, "agent_email": agent.email})
    assert unclear.status_code == 422

    sent = api.post(path, {**draft, "human": True, "agent_email": "Grace@Acme.test"})
    assert sent.status_code == 201, sent.content
    assert sent.json()["data"]["tag"] == "HUMAN_AGENT"
    message = Message.objects.get(pk=sent.json()["id"])
    assert message.sender_user == agent
    assert OutboxEntry.objects.get(message=message).draft_kind == "human_reply"
    assert Message.objects.filter(direction="out").count() == 1


def test_window_closed_is_409_with_what_is_still_allowed(
    api: WriteApi, conversation: Conversation, agent: Any
) -> None:
    _close_window(conversation)
    response = api.post(
        f"/conversations/{conversation.pk}/messages",
        {"text": "Hello again", "human": True, "agent_email": agent.email},
    )
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "window_closed"
    assert "HUMAN_AGENT" in body["message"]
    assert not Message.objects.filter(direction="out").exists()


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"text": "x" * 2001}, "invalid_message"),
        ({"text": ""}, "invalid_message"),
        ({"text": "Pick", "quick_replies": [{"title": "x" * 21}]}, "invalid_message"),
        (
            {"text": "Pick", "quick_replies": [{"title": str(n)} for n in range(14)]},
            "invalid_message",
        ),
        ({"attachment": {"type": "sticker", "url": "https://a.test/x"}}, "invalid_request"),
        ({"attachment": {"type": "image", "url": "not a url"}}, "invalid_message"),
        ({"text": 42}, "invalid_request"),
    ],
)
def test_invalid_drafts_are_422(
    api: WriteApi, conversation: Conversation, body: dict[str, Any], code: str
) -> None:
    response = api.post(f"/conversations/{conversation.pk}/messages", body)
    assert response.status_code == 422, response.content
    assert response.json()["code"] == code
    assert response.json()["message"]


# --- notes -------------------------------------------------------------------------------


def test_add_a_note_with_mentions(api: WriteApi, conversation: Conversation, agent: Any) -> None:
    bob = make_user(conversation.workspace, "bob@acme.test")
    response = api.post(
        f"/conversations/{conversation.pk}/notes",
        {"text": "@bob@acme.test can you call her?", "author_email": agent.email},
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["author"] == {"id": agent.pk, "email": agent.email}
    assert body["mentions"] == [{"id": bob.pk, "email": bob.email}]
    assert body["conversation_id"] == conversation.pk
    assert Note.objects.filter(conversation=conversation).count() == 1


def test_note_author_must_be_a_member(api: WriteApi, conversation: Conversation) -> None:
    response = api.post(
        f"/conversations/{conversation.pk}/notes", {"text": "hi", "author_email": "x@y.test"}
    )
    assert (response.status_code, response.json()["code"]) == (422, "unknown_member")
    missing = api.post(f"/conversations/{conversation.pk}/notes", {"text": "hi"})
    assert (missing.status_code, missing.json()["code"]) == (422, "invalid_request")


# --- updates -----------------------------------------------------------------------------


def test_patch_changes_only_the_given_fields(
    api: WriteApi, conversation: Conversation, agent: Any
) -> None:
    make_team(conversation.workspace, "Repairs")
    make_label(conversation.workspace, "vip")
    path = f"/conversations/{conversation.pk}"
    response = api.patch(
        path,
        {"status": "done", "assignee": agent.email, "team": "Repairs", "labels": ["vip", "new"]},
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "done"
    assert body["assignee"] == {"id": agent.pk, "email": agent.email}
    assert body["team"]["name"] == "Repairs"
    assert body["labels"] == ["new", "vip"]

    response = api.patch(path, {"assignee": None})
    body = response.json()
    assert body["assignee"] is None
    assert (body["status"], body["team"]["name"], body["labels"]) == (
        "done",
        "Repairs",
        ["new", "vip"],
    )

    body = api.patch(path, {"team": None, "labels": [], "status": "open"}).json()
    assert (body["status"], body["team"], body["labels"]) == ("open", None, [])


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"status": "snoozed"}, "invalid_request"),
        ({"status": None}, "invalid_request"),
        ({"assignee": "nobody@acme.test"}, "unknown_member"),
        ({"team": "Nope"}, "unknown_team"),
        ({"labels": ["x" * 65]}, "invalid_label"),
    ],
)
def test_patch_validation(
    api: WriteApi, conversation: Conversation, body: dict[str, Any], code: str
) -> None:
    response = api.patch(f"/conversations/{conversation.pk}", body)
    assert (response.status_code, response.json()["code"]) == (422, code)


# --- auth and tenants ----------------------------------------------------------------------


def _routes(conversation_id: int) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        ("post", f"/conversations/{conversation_id}/messages", {"text": "hi"}),
        (
            "post",
            f"/conversations/{conversation_id}/notes",
            {"text": "hi", "author_email": "a@b.c"},
        ),
        ("patch", f"/conversations/{conversation_id}", {"status": "done"}),
    ]


def test_other_workspaces_conversations_are_404(client: Client, conversation: Conversation) -> None:
    other = make_workspace("Other")
    make_user(other, "a@b.c")
    stranger = WriteApi(client, make_token(other))
    for method, path, body in _routes(conversation.pk):
        response = getattr(stranger, method)(path, body)
        assert response.status_code == 404, (method, path, response.content)
        assert response.json()["code"] == "not_found"
    assert not Message.objects.filter(direction="out").exists()
    assert Conversation.objects.get(pk=conversation.pk).status == "open"


def test_missing_token_is_401(client: Client, conversation: Conversation) -> None:
    anonymous = WriteApi(client, "")
    for method, path, body in _routes(conversation.pk):
        response = getattr(anonymous, method)(path, body)
        assert response.status_code == 401
        assert response.json()["code"] == "unauthorized"


def test_the_write_routes_are_in_the_openapi_schema(client: Client) -> None:
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    assert "post" in paths["/api/v1/conversations/{conversation_id}/messages"]
    assert "post" in paths["/api/v1/conversations/{conversation_id}/notes"]
    assert {"get", "patch"} <= set(paths["/api/v1/conversations/{conversation_id}"])
