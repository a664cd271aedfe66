"""The edge's in-memory snapshot of channel secrets: fast, but never stale for long."""

from __future__ import annotations

import time

import pytest
from django.db import connection

from pagedesk.core.actions import do_add_channel, do_update_channel_credentials
from pagedesk.core.models import Channel, RawWebhook, Workspace
from pagedesk.edge.channel_keys import ChannelKeys
from pagedesk.edge.webhooks import channel_keys
from pagedesk.messenger.signature import sign_body
from tests.edge.helpers import APP_SECRET, VERIFY_TOKEN, message_body, post, verify

NEW_PAGE = "104857600077777"
NEW_SECRET = "second-app-secret"


def test_a_channel_added_after_the_first_request_is_found_at_once(
    channel: Channel, pagedesk_server: str
) -> None:
    first = message_body()
    assert post(pagedesk_server, first, sign_body(first, APP_SECRET)).status_code == 200

    do_add_channel(
        workspace=channel.workspace,
        page_id=NEW_PAGE,
        page_token="EAAG-new-token",
        app_secret=NEW_SECRET,
        verify_token="brand-new-verify-token",
    )
    assert verify(pagedesk_server, "brand-new-verify-token", "42").text == "42"
    body = message_body(page_id=NEW_PAGE)
    assert post(pagedesk_server, body, sign_body(body, NEW_SECRET)).status_code == 200


def test_a_new_page_under_a_known_app_secret_is_found_at_once(
    channel: Channel, pagedesk_server: str
) -> None:
    first = message_body()
    assert post(pagedesk_server, first, sign_body(first, APP_SECRET)).status_code == 200
    do_add_channel(
        workspace=channel.workspace,
        page_id=NEW_PAGE,
        page_token="EAAG-new-token",
        app_secret=APP_SECRET,
        verify_token="brand-new-verify-token",
    )
    body = message_body(page_id=NEW_PAGE)
    assert post(pagedesk_server, body, sign_body(body, APP_SECRET)).status_code == 200


def test_a_rotated_secret_takes_effect_at_once_and_the_old_one_expires(
    channel: Channel, pagedesk_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = message_body()
    assert post(pagedesk_server, body, sign_body(body, APP_SECRET)).status_code == 200

    do_update_channel_credentials(channel=channel, app_secret="rotated-app-secret")
    assert post(pagedesk_server, body, sign_body(body, "rotated-app-secret")).status_code == 200

    monkeypatch.setattr(channel_keys, "ttl", 0.05)
    time.sleep(0.1)
    response = post(pagedesk_server, body, sign_body(body, APP_SECRET))
    assert response.status_code == 403
    assert list(RawWebhook.objects.order_by("pk").values_list("status", flat=True)) == [
        "accepted",
        "accepted",
        "bad_signature",
    ]


def test_a_deleted_channel_stops_being_accepted_after_the_ttl(
    channel: Channel, pagedesk_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(channel_keys, "ttl", 0.05)
    body = message_body()
    assert post(pagedesk_server, body, sign_body(body, APP_SECRET)).status_code == 200
    channel.delete()
    time.sleep(0.1)
    assert post(pagedesk_server, body, sign_body(body, APP_SECRET)).status_code == 403
    assert verify(pagedesk_server, VERIFY_TOKEN).status_code == 403


def test_posts_within_the_ttl_do_not_reload(
    channel: Channel, pagedesk_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    loads = []
    original = channel_keys._query

    def counting_query() -> ChannelKeys:
        loads.append(1)
        return original()

    monkeypatch.setattr(channel_keys, "_query", counting_query)
    body = message_body()
    for _ in range(5):
        assert post(pagedesk_server, body, sign_body(body, APP_SECRET)).status_code == 200
    assert len(loads) == 1
    # An unknown signature asks for one fresh snapshot before it is rejected.
    assert post(pagedesk_server, body, sign_body(body, "nobody's secret")).status_code == 403
    assert len(loads) == 2
    # A missing signature cannot be helped by a reload.
    assert post(pagedesk_server, body, None).status_code == 403
    assert len(loads) == 2


def test_an_unreadable_secret_does_not_block_the_other_channels(
    channel: Channel, workspace: Workspace, pagedesk_server: str
) -> None:
    broken = do_add_channel(
        workspace=workspace,
        page_id=NEW_PAGE,
        page_token="EAAG-new-token",
        app_secret=NEW_SECRET,
        verify_token="brand-new-verify-token",
    )
    with connection.cursor() as cursor:  # as if encrypted under another key
        cursor.execute(
            f"UPDATE {Channel._meta.db_table} SET app_secret = %s WHERE id = %s",
            ["enc1:gAAAAABnot-a-valid-token", broken.pk],
        )
    body = message_body()
    assert post(pagedesk_server, body, sign_body(body, APP_SECRET)).status_code == 200


def test_keys_match_every_page_signed_with_a_secret() -> None:
    keys = ChannelKeys(
        pages_by_secret={"s1": frozenset({"1", "2"}), "s2": frozenset({"3"})},
        verify_tokens=(b"token-one", b"token-two"),
        loaded_at=0.0,
    )
    assert keys.signed_pages(b"x", sign_body(b"x", "s1")) == {"1", "2"}
    assert keys.signed_pages(b"x", sign_body(b"x", "s2")) == {"3"}
    assert keys.signed_pages(b"x", sign_body(b"y", "s1")) == frozenset()
    assert keys.signed_pages(b"x", None) == frozenset()
    assert keys.knows_verify_token("token-two")
    assert not keys.knows_verify_token("token-thre")
    assert not keys.knows_verify_token("")
