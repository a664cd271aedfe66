"""Credentials at rest and in flight: API tokens and invite links stored as hashes,
page tokens and app secrets encrypted (read from the raw database columns), never
written to the logs during sends (good and failing), never rendered back."""

from __future__ import annotations

import hashlib
import logging
import re
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client

from pagedesk.core.actions import do_create_api_token, do_update_channel_credentials
from pagedesk.core.models import Channel
from pagedesk.inbox.actions import do_send_message
from tests.delivery.conftest import World as DeliveryWorld
from tests.delivery.conftest import world as delivery_world  # noqa: F401  (fixture)
from tests.web.conftest import Side, client_for


def _raw_rows(table: str) -> list[str]:
    """Every column of every row, as the database holds it (no model field decoding)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
        return [repr(row) for row in cursor.fetchall()]


def test_api_tokens_are_stored_as_hashes_only(acme: Side) -> None:
    new = do_create_api_token(workspace=acme.workspace, name="zapier")
    rows = " ".join(_raw_rows("core_apitoken"))
    assert new.secret not in rows
    assert new.secret[12:] not in rows  # not even the part after the shown prefix
    assert hashlib.sha256(new.secret.encode()).hexdigest() in rows
    audit = " ".join(_raw_rows("audit_auditentry"))
    assert new.secret not in audit and new.token.prefix in audit


def test_invite_links_are_stored_as_hashes_only(acme: Side) -> None:
    client = client_for(acme.owner)
    page = client.post(
        "/settings/invites/", {"email": "new@acme.test", "role": "agent"}, follow=True
    ).content.decode()
    token = re.search(r"/invite/([A-Za-z0-9_-]{20,})/", page)[1]  # type: ignore[index]
    rows = " ".join(_raw_rows("core_invite") + _raw_rows("audit_auditentry"))
    assert token not in rows
    assert hashlib.sha256(token.encode()).hexdigest() in rows
    # Shown once: the members page does not repeat it.
    assert token not in client.get("/settings/members/").content.decode()


def test_page_tokens_and_app_secrets_are_encrypted_at_rest(acme: Side) -> None:
    channel = Channel.objects.get(pk=acme.channel.pk)
    do_update_channel_credentials(
        channel=channel, page_token="EAAG-fresh-page-token-42", app_secret="fresh-app-secret-42"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT page_access_token, app_secret FROM core_channel WHERE id = %s", [channel.pk]
        )
        stored_token, stored_secret = cursor.fetchone()
    for stored, plain in (
        (stored_token, "EAAG-fresh-page-token-42"),
        (stored_secret, "fresh-app-secret-42"),
    ):
        assert stored.startswith("enc1:") and plain not in stored
    everything = " ".join(_raw_rows("core_channel") + _raw_rows("audit_auditentry"))
    assert "EAAG-fresh-page-token-42" not in everything
    assert "fresh-app-secret-42" not in everything
    # The model still reads them back for the sender.
    fresh = Channel.objects.get(pk=channel.pk)
    assert fresh.page_access_token == "EAAG-fresh-page-token-42"
    assert "EAAG" not in repr(fresh) and "EAAG" not in str(fresh)


def test_credentials_are_never_rendered_back(acme: Side, settings: Any) -> None:
    channel = Channel.objects.get(pk=acme.channel.pk)
    # (The verify token is no secret of the same kind: admins type it into Meta's app
    # dashboard, and Django's admin shows it to operators.)
    secrets = [channel.page_access_token, channel.app_secret]
    owner = client_for(acme.owner)
    pages = [
        owner.get(f"/settings/channels/{channel.pk}/"),
        owner.get("/settings/channels/"),
        owner.post(f"/settings/channels/{channel.pk}/token/", {"page_token": "EAAG-new-value-99"}),
        owner.post(f"/settings/channels/{channel.pk}/token/", {"page_token": "short"}),
        owner.get(f"/settings/channels/{channel.pk}/", follow=True),
        owner.get("/settings/audit/"),
    ]
    secrets.append("EAAG-new-value-99")
    token = do_create_api_token(workspace=acme.workspace).secret
    api = Client(headers={"Authorization": f"Bearer {token}"})
    pages += [
        api.get("/api/v1/conversations"),
        api.get(f"/api/v1/conversations/{acme.conversation.pk}"),
        api.get(f"/api/v1/contacts/{acme.contact.pk}"),
        api.get("/api/v1/openapi.json"),
    ]
    # Django's own admin, for operators.
    staff = get_user_model().objects.create_superuser("root", "root@example.com", "pw-123456")
    admin = Client()
    admin.force_login(staff)
    pages += [
        admin.get(f"/admin/core/channel/{channel.pk}/change/"),
        admin.get("/admin/core/channel/"),
    ]
    for response in pages:
        assert response.status_code in (200, 302, 400), response
        body = response.content.decode()
        for secret in secrets:
            assert secret not in body, (response.wsgi_request.path, secret)
    assert "short" not in pages[3].content.decode().split("page_token")[-1].split(">")[0]


@pytest.mark.django_db(transaction=True)
def test_sends_good_and_failing_never_log_credentials(
    delivery_world: DeliveryWorld,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    w = delivery_world
    channel = Channel.objects.get(pk=w.channel.pk)
    secrets = [channel.page_access_token, channel.app_secret]
    caplog.set_level(logging.DEBUG)
    do_send_message(conversation=w.conversation, author=w.agent, text="It works")
    w.settle()
    w.page(token_valid=False)  # Meta answers 190: the token is invalid
    do_send_message(conversation=w.conversation, author=w.agent, text="This one fails")
    w.settle()
    logged = caplog.text + "".join(
        str(record.args) + str(record.__dict__.get("exc_text") or "") for record in caplog.records
    )
    assert [m["text"] for m in w.page_messages()][:1] == ["It works"]
    paused = Channel.objects.get(pk=w.channel.pk)
    # The failure reached the operator (channel paused, with the reason) ...
    assert paused.status == Channel.Status.PAUSED and "token" in paused.status_reason
    # ... and the Graph calls carried the token in their URLs (Meta's way), so only the
    # logging configuration (httpx at WARNING) keeps it out of the log.
    assert logging.getLogger("httpx").getEffectiveLevel() >= logging.WARNING
    failed_reasons = " ".join(
        str(v) for v in w.conversation.messages.values_list("failed_reason", flat=True)
    )
    for secret in secrets:
        assert secret not in logged
        assert secret not in paused.status_reason and secret not in failed_reasons
