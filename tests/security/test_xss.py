"""HTML in customer names and messages, notes, labels and contact attributes is
always escaped: every page that shows them renders the payloads as text."""

from __future__ import annotations

import html

from django.test import Client

from pagedesk.inbox.models import Conversation, Label, Note
from tests.browser.conftest import (
    Shop,
    sandbox_url,  # noqa: F401  (fixture)
)
from tests.security.hostile import (
    AGENT_PAYLOADS,
    ALL_PAYLOADS,
    ATTRIBUTE,
    FIRST_NAME,
    LABEL,
    MESSAGE,
    NOTE,
    hostile,  # noqa: F401  (fixture)
)


def test_the_payloads_arrived_as_data(hostile: Shop) -> None:  # noqa: F811
    conversation = Conversation.objects.get(workspace=hostile.workspace)
    assert conversation.contact.first_name == FIRST_NAME
    assert conversation.messages.filter(text=MESSAGE).exists()
    assert Note.objects.get(conversation=conversation).text == NOTE
    assert Label.objects.get(workspace=hostile.workspace).name == LABEL
    assert conversation.contact.attributes["plan"] == ATTRIBUTE


def test_every_page_renders_them_as_text(hostile: Shop) -> None:  # noqa: F811
    conversation = Conversation.objects.get(workspace=hostile.workspace)
    client = Client()
    client.force_login(hostile.owner)
    pane = {"HX-Request": "true", "HX-Target": "pane"}
    pages = {
        "inbox": client.get("/inbox/"),
        "list": client.get("/inbox/list/"),
        "search": client.get("/inbox/", {"q": "script"}),
        "conversation": client.get(f"/inbox/c/{conversation.pk}/"),
        "pane": client.get(f"/inbox/c/{conversation.pk}/", headers=pane),
        "labels": client.get("/settings/labels/"),
        "audit": client.get("/settings/audit/"),
    }
    for name, response in pages.items():
        assert response.status_code == 200, name
        body = response.content.decode()
        for payload in ALL_PAYLOADS:
            assert payload not in body, (name, payload)
        for dangerous in ("<script>window", "<img src=x", "<svg onload", "<iframe", "<b onmouse"):
            assert dangerous not in body, (name, dangerous)
    thread = pages["conversation"].content.decode()
    for payload in (FIRST_NAME, MESSAGE, *AGENT_PAYLOADS):
        assert html.escape(payload, quote=False) in thread or html.escape(payload) in thread, (
            payload
        )


def test_the_operators_webhook_log_shows_raw_bodies_as_text(hostile: Shop) -> None:  # noqa: F811
    from django.contrib.auth import get_user_model

    from pagedesk.core.models import RawWebhook

    staff = get_user_model().objects.create_superuser("ops", "ops@example.com", "pw-123456")
    client = Client()
    client.force_login(staff)
    assert client.get("/events/").status_code == 200
    rows = list(RawWebhook.objects.filter(body_size__gt=0))
    assert any(b"<img src=x" in bytes(row.body) for row in rows)
    for row in rows:
        body = client.get(f"/events/{row.pk}/").content.decode()
        for payload in ALL_PAYLOADS:
            assert payload not in body
        assert "<script>window" not in body and "<img src=x" not in body
