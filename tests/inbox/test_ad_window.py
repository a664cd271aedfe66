"""The 7-day window after a click-to-Messenger ad: recorded by ingestion from the first
message after the ad click, honoured by the composer and by sends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pagedesk.inbox.actions import composer_state
from pagedesk.inbox.models import Conversation
from tests.inbox import bodies as b
from tests.inbox.conftest import Pages, drain

ADA, BOB, CAROL = "7200000000000001", "7200000000000002", "7200000000000003"
AD = {"ref": "spring", "ad_id": "120212345678900123", "source": "ADS", "type": "OPEN_THREAD"}


def _at(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def test_a_first_message_carrying_an_ad_opens_seven_days(
    pages: Pages, pagedesk_server: str, task_queue: object
) -> None:
    event = b.text(ADA, "Is the linen shirt in M?", b.T0)
    event["message"]["referral"] = AD  # where Meta puts it (see message_with_referral_ads)
    b.post(pagedesk_server, b.envelope(event))
    drain(task_queue)
    conversation = Conversation.objects.select_related("channel", "contact").get()
    assert conversation.ad_message_at == _at(b.T0)

    three_days_later = _at(b.T0) + timedelta(days=3)
    state = composer_state(conversation=conversation, now=three_days_later)
    assert state.window_open and state.can_reply
    assert state.window_ends_at == _at(b.T0) + timedelta(days=7)
    eight_days_later = _at(b.T0) + timedelta(days=8)
    assert not composer_state(conversation=conversation, now=eight_days_later).window_open


def test_an_ad_referral_event_then_a_message_counts_only_that_first_message(
    pages: Pages, pagedesk_server: str, task_queue: object
) -> None:
    b.post(pagedesk_server, b.envelope(b.text(BOB, "hello", b.T0)))
    ad_click = {
        "sender": {"id": BOB},
        "recipient": {"id": b.FB_PAGE_ID},
        "timestamp": b.T0 + 10_000,
    }
    ad_click["referral"] = AD
    b.post(pagedesk_server, b.envelope(ad_click))
    b.post(pagedesk_server, b.envelope(b.text(BOB, "about the ad", b.T0 + 20_000)))
    b.post(pagedesk_server, b.envelope(b.text(BOB, "and another thing", b.T0 + 30_000)))
    drain(task_queue)
    conversation = Conversation.objects.get()
    assert conversation.ad_message_at == _at(b.T0 + 20_000)


def test_plain_messages_and_link_referrals_do_not_extend_the_window(
    pages: Pages, pagedesk_server: str, task_queue: object
) -> None:
    link = {"ref": "spring", "source": "SHORTLINK", "type": "OPEN_THREAD"}
    event = b.text(CAROL, "hi", b.T0)
    event["message"]["referral"] = link
    b.post(pagedesk_server, b.envelope(event))
    b.post(pagedesk_server, b.envelope(b.text(CAROL, "again", b.T0 + 1000)))
    drain(task_queue)
    conversation = Conversation.objects.select_related("channel", "contact").get()
    assert conversation.ad_message_at is None
    state = composer_state(conversation=conversation, now=_at(b.T0) + timedelta(days=2))
    assert not state.window_open


def test_one_batch_writes_each_conversation_as_if_event_by_event(
    pages: Pages, pagedesk_server: str, task_queue: object
) -> None:
    """A batch writes its conversations' "customer spoke" changes in one statement:
    unread counts add up, the last ad message's time stands, and a message older than
    the one stored does not move the window back."""
    b.post(pagedesk_server, b.envelope(b.text(CAROL, "newest, already stored", b.T0 + 50_000)))
    drain(task_queue)
    first_ad = b.text(CAROL, "from the first ad", b.T0)
    first_ad["message"]["referral"] = AD
    second_ad = b.text(CAROL, "from the second ad", b.T0 + 2_000)
    second_ad["message"]["referral"] = {**AD, "ad_id": "120212345678900999"}
    b.post(
        pagedesk_server,
        b.envelope(
            first_ad,
            b.text(CAROL, "plain, in between", b.T0 + 1_000),
            second_ad,
            b.text(ADA, "someone else", b.T0 + 3_000),
        ),
    )
    drain(task_queue)
    carol = Conversation.objects.get(thread_key=CAROL)
    assert carol.unread_count == 4
    assert carol.ad_message_at == _at(b.T0 + 2_000)
    assert carol.last_customer_message_at == _at(b.T0 + 50_000)
    assert carol.last_message_at == _at(b.T0 + 50_000)
    ada = Conversation.objects.get(thread_key=ADA)
    assert (ada.unread_count, ada.last_customer_message_at) == (1, _at(b.T0 + 3_000))
    assert ada.ad_message_at is None
