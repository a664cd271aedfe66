"""Every recorded fixture, POSTed signed through the real webhook endpoint and run
through the real queue, lands as the rows an agent would see."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from pagedesk.core.models import Channel, RawWebhook
from pagedesk.inbox.models import (
    Attachment,
    ChannelEvent,
    Contact,
    Conversation,
    InboundEvent,
    Message,
)
from pagedesk.messenger import parse_webhook
from tests.inbox.conftest import FB_PAGE_ID, Pages, deliver, drain
from tests.messenger.fixtures import Fixture, all_fixture_names, load_fixture


def ingest(base_url: str, huey: object, *names: str) -> list[Fixture]:
    fixtures = [load_fixture(name) for name in names]
    for fixture in fixtures:
        assert deliver(base_url, fixture).status_code == 200
    drain(huey)
    # Events that wait for something (a reaction to a message pagedesk never saw)
    # are retried after a pause; let their retries come due now.
    for _ in range(20):
        if not InboundEvent.objects.filter(state=InboundEvent.State.PENDING).exists():
            break
        InboundEvent.objects.update(next_attempt_at=None)
        from pagedesk.inbox.tasks import _sweep

        _sweep(older_than_seconds=0)
        drain(huey)
    return fixtures


def first_event(fixture: Fixture) -> dict:
    return next(iter(parse_webhook(fixture.raw_body))).raw


def ts(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


@pytest.mark.parametrize("name", all_fixture_names())
def test_every_fixture_is_ingested_completely(
    pages: Pages, pagedesk_server: str, task_queue: object, name: str
) -> None:
    (fixture,) = ingest(pagedesk_server, task_queue, name)
    expected = len(parse_webhook(fixture.raw_body).events)
    raw = RawWebhook.objects.get()
    assert raw.status == RawWebhook.Status.ACCEPTED
    assert raw.split_at is not None
    assert raw.event_count == expected
    states = list(InboundEvent.objects.values_list("state", "last_error"))
    assert len(states) == expected
    assert all(state == "done" for state, _ in states), states


def _message_text(p: Pages, f: Fixture) -> None:
    event = first_event(f)
    message = Message.objects.get()
    assert message.direction == "in"
    assert message.text == "Hi! Do you still have the linen shirt in size M?"
    assert message.mid == event["message"]["mid"]
    assert message.status == "received"
    conversation = message.conversation
    assert conversation.channel == p.facebook
    assert conversation.contact.psid == event["sender"]["id"]
    assert conversation.status == "open"
    assert conversation.unread_count == 1
    assert conversation.last_customer_message_at == ts(event["timestamp"])


def _non_ascii(p: Pages, f: Fixture) -> None:
    assert Message.objects.get().text == first_event(f)["message"]["text"]
    assert any(ord(ch) > 127 for ch in Message.objects.get().text)


def _image(p: Pages, f: Fixture) -> None:
    attachment = Attachment.objects.get()
    assert attachment.type == "image"
    assert attachment.url.startswith("https://")
    assert attachment.download == Attachment.Download.PENDING  # the download job is queued


def _sticker_with_image(p: Pages, f: Fixture) -> None:
    assert list(Attachment.objects.values_list("type", flat=True)) == ["sticker"]


def _unknown_attachment(p: Pages, f: Fixture) -> None:
    attachment = Attachment.objects.get()
    assert attachment.download == Attachment.Download.NOT_NEEDED
    assert attachment.payload  # kept as received, shown as unsupported content


def _echo_other_app(p: Pages, f: Fixture) -> None:
    message = Message.objects.get()
    assert message.direction == "out"
    assert message.sender_app_id == "263902037430900"  # Meta's Page Inbox
    assert message.status == "sent"
    assert message.text == "Reserved it for you until Friday."
    assert message.conversation.last_customer_message_at is None  # echoes open no window


def _get_started(p: Pages, f: Fixture) -> None:
    message = Message.objects.get()
    assert message.kind == "postback"
    assert message.postback_payload == "GET_STARTED"
    contact = Contact.objects.get()
    assert (contact.first_source, contact.first_ref) == ("SHORTLINK", "qr-store-berlin")
    assert message.conversation.last_customer_message_at is not None


def _referral_ads(p: Pages, f: Fixture) -> None:
    line = Message.objects.get()
    assert (line.direction, line.kind) == ("system", "referral")
    assert line.data["referral"]["ads_context_data"]["ad_title"] == "Spring sale: 30% off linen"
    contact = Contact.objects.get()
    assert contact.first_source == "ADS"
    assert contact.latest_ad_id == "120212345678900123"


def _optin(p: Pages, f: Fixture) -> None:
    line = Message.objects.get()
    assert line.kind == "optin"
    assert line.data["optin"]["one_time_notif_token"].startswith("ERSw7")


def _take_thread(p: Pages, f: Fixture) -> None:
    assert Conversation.objects.get().thread_owner_app_id == "263902037430900"
    assert Message.objects.get().kind == "handover"


def _standby(p: Pages, f: Fixture) -> None:
    inbound = Message.objects.get(direction="in")
    assert inbound.data == {"standby": True}
    assert inbound.text == "Can I pay by invoice?"
    assert Message.objects.filter(direction="out", data__standby=True).count() == 1


def _policy_block(p: Pages, f: Fixture) -> None:
    channel = Channel.objects.get(pk=p.facebook.pk)
    assert channel.status == Channel.Status.PAUSED
    assert "blocked" in channel.status_reason
    assert ChannelEvent.objects.get().kind == "policy_enforcement"


def _comment(p: Pages, f: Fixture) -> None:
    event = ChannelEvent.objects.get()
    assert event.kind == "comment"
    assert event.data["verb"] == "add"
    assert event.data["comment_id"]


def _instagram(p: Pages, f: Fixture) -> None:
    message = Message.objects.get()
    assert message.conversation.channel == p.instagram
    assert message.text == "Hey, do you ship to Austria?"


def _unknown_kind(p: Pages, f: Fixture) -> None:
    line = Message.objects.get()
    assert line.kind == "unsupported"
    assert line.data["raw"] == first_event(f)


def _delivery(p: Pages, f: Fixture) -> None:
    assert Conversation.objects.get().delivery_watermark == first_event(f)["delivery"]["watermark"]


def _read(p: Pages, f: Fixture) -> None:
    assert Conversation.objects.get().read_watermark == first_event(f)["read"]["watermark"]


def _batched(p: Pages, f: Fixture) -> None:
    events = parse_webhook(f.raw_body).events
    assert InboundEvent.objects.count() == len(events)
    assert {c.page_id for c in Channel.objects.filter(conversations__isnull=False)} >= {FB_PAGE_ID}


CHECKS: dict[str, Callable[[Pages, Fixture], None]] = {
    "message_text": _message_text,
    "message_non_ascii": _non_ascii,
    "message_image": _image,
    "message_sticker_with_image": _sticker_with_image,
    "message_unknown_attachment": _unknown_attachment,
    "echo_other_app": _echo_other_app,
    "postback_get_started_with_referral": _get_started,
    "referral_ads": _referral_ads,
    "optin_one_time_notif": _optin,
    "take_thread_control": _take_thread,
    "standby_message": _standby,
    "policy_enforcement_block": _policy_block,
    "feed_comment_add": _comment,
    "instagram_message": _instagram,
    "unknown_event_kind": _unknown_kind,
    "delivery_watermark_only": _delivery,
    "read": _read,
    "batched_multi_entry": _batched,
}


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_fixture_rows(pages: Pages, pagedesk_server: str, task_queue: object, name: str) -> None:
    (fixture,) = ingest(pagedesk_server, task_queue, name)
    CHECKS[name](pages, fixture)


def test_second_delivery_of_every_fixture_changes_nothing(
    pages: Pages, pagedesk_server: str, task_queue: object
) -> None:
    names = all_fixture_names()
    ingest(pagedesk_server, task_queue, *names)
    counts = _row_counts()
    ingest(pagedesk_server, task_queue, *names)
    assert _row_counts() == counts
    assert RawWebhook.objects.count() == 2 * len(names)  # both deliveries are kept


def _row_counts() -> dict[str, int]:
    return {
        "messages": Message.objects.count(),
        "contacts": Contact.objects.count(),
        "conversations": Conversation.objects.count(),
        "attachments": Attachment.objects.count(),
        "channel_events": ChannelEvent.objects.count(),
        "unread": sum(Conversation.objects.values_list("unread_count", flat=True)),
    }
