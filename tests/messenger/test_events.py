"""Each recorded fixture parses into the event a person would expect to see."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from pagedesk.messenger import EventKind, WebhookEvent, parse_webhook
from pagedesk.messenger.events import (
    META_PAGE_INBOX_APP_ID,
    AppRoles,
    Delivery,
    FallbackAttachment,
    FeedComment,
    InstagramComment,
    LocationAttachment,
    MediaAttachment,
    Message,
    MessageEdit,
    Optin,
    PolicyEnforcement,
    Postback,
    Reaction,
    Read,
    Referral,
    ReferralSource,
    SharedContentAttachment,
    StickerAttachment,
    TemplateAttachment,
    ThreadControl,
    UnsupportedAttachment,
    UnsupportedEvent,
    dedupe_sticker_attachments,
)
from tests.messenger.fixtures import all_fixture_names, load_fixture

PAGE = "1234567890123456"
ANNA = "7012345678901234"
BEN = "7198765432109876"
CHLOE = "6843210987654321"
DAVID = "7345601928374650"
PAGEDESK_APP = "874512369012345"
IG_ACCOUNT = "17841400123456789"
IGSID = "1783254019283746"

K = EventKind
EXPECTED_KINDS: dict[str, list[EventKind]] = {
    "app_roles": [K.APP_ROLES],
    "batched_multi_entry": [
        K.MESSAGE,
        K.DELIVERY,
        K.READ,
        K.POSTBACK,
        K.ECHO,
        K.MESSAGE,
        K.COMMENT,
    ],
    "delivery_watermark_only": [K.DELIVERY],
    "delivery_with_mids": [K.DELIVERY],
    "echo_other_app": [K.ECHO],
    "echo_own_app": [K.ECHO],
    "feed_comment_add": [K.COMMENT],
    "feed_comment_edited": [K.COMMENT],
    "feed_comment_remove": [K.COMMENT],
    "instagram_comment": [K.COMMENT],
    "instagram_deleted": [K.MESSAGE_DELETE],
    "instagram_message": [K.MESSAGE],
    "instagram_messaging_seen": [K.READ],
    "instagram_reel_share": [K.MESSAGE],
    "instagram_story_reply": [K.MESSAGE],
    "instagram_unsupported": [K.MESSAGE],
    "message_audio": [K.MESSAGE],
    "message_edit": [K.MESSAGE_EDIT],
    "message_fallback": [K.MESSAGE],
    "message_file": [K.MESSAGE],
    "message_image": [K.MESSAGE],
    "message_location": [K.MESSAGE],
    "message_non_ascii": [K.MESSAGE],
    "message_quick_reply": [K.MESSAGE],
    "message_reply_to": [K.MESSAGE],
    "message_sticker": [K.MESSAGE],
    "message_sticker_with_image": [K.MESSAGE],
    "message_template": [K.MESSAGE],
    "message_text": [K.MESSAGE],
    "message_unknown_attachment": [K.MESSAGE],
    "message_video": [K.MESSAGE],
    "message_with_referral_ads": [K.MESSAGE],
    "optin_notification_messages": [K.OPTIN],
    "optin_one_time_notif": [K.OPTIN],
    "optin_plugin_user_ref": [K.OPTIN],
    "pass_thread_control": [K.PASS_THREAD_CONTROL],
    "policy_enforcement_block": [K.POLICY_ENFORCEMENT],
    "policy_enforcement_unblock": [K.POLICY_ENFORCEMENT],
    "policy_enforcement_warning": [K.POLICY_ENFORCEMENT],
    "postback_button": [K.POSTBACK],
    "postback_get_started_with_referral": [K.POSTBACK],
    "reaction_react": [K.REACTION],
    "reaction_unreact": [K.REACTION],
    "read": [K.READ],
    "referral_ads": [K.REFERRAL],
    "referral_messenger_code": [K.REFERRAL],
    "referral_shortlink": [K.REFERRAL],
    "request_thread_control": [K.REQUEST_THREAD_CONTROL],
    "standby_message": [K.MESSAGE, K.ECHO],
    "take_thread_control": [K.TAKE_THREAD_CONTROL],
    "unknown_event_kind": [K.UNSUPPORTED],
}


def only_event(name: str) -> WebhookEvent:
    (event,) = parse_webhook(load_fixture(name).raw_body)
    return event


def message_of(name: str) -> Message:
    return only_event(name).payload_as(Message)


def test_every_fixture_has_expected_kinds() -> None:
    assert sorted(EXPECTED_KINDS) == all_fixture_names()


@pytest.mark.parametrize("name", sorted(EXPECTED_KINDS))
def test_fixture_yields_expected_kinds(name: str) -> None:
    batch = parse_webhook(load_fixture(name).raw_body)
    assert [event.kind for event in batch] == EXPECTED_KINDS[name]


# --- messages ----------------------------------------------------------------------


def test_message_text() -> None:
    event = only_event("message_text")
    assert (event.page_id, event.sender_id, event.recipient_id) == (PAGE, ANNA, PAGE)
    assert event.timestamp == 1773480067435
    assert not event.is_standby and event.object == "page"
    message = event.payload_as(Message)
    assert message.text == "Hi! Do you still have the linen shirt in size M?"
    assert message.mid.startswith("m_") and len(message.mid) == 88
    assert message.attachments == [] and not message.is_echo
    assert event.raw == load_fixture("message_text").body["entry"][0]["messaging"][0]
    assert event.customer_id == event.thread_key == ANNA


def test_message_quick_reply() -> None:
    message = message_of("message_quick_reply")
    assert message.text == "Size M"
    assert message.quick_reply is not None and message.quick_reply.payload == "SIZE_PICK:M"


def test_message_reply_to() -> None:
    message = message_of("message_reply_to")
    assert message.text == "Yes, that one please"
    assert message.reply_to is not None
    assert message.reply_to.mid is not None and message.reply_to.mid.startswith("m_")
    assert message.reply_to.is_self_reply is False


@pytest.mark.parametrize(
    ("name", "kind", "url_part"),
    [
        ("message_image", "image", "scontent.xx.fbcdn.net"),
        ("message_video", "video", "video.xx.fbcdn.net"),
        ("message_audio", "audio", "cdn.fbsbx.com/v/t59.3654-21/"),
        ("message_file", "file", "_n.pdf?"),
    ],
)
def test_media_attachments(name: str, kind: str, url_part: str) -> None:
    message = message_of(name)
    (attachment,) = message.attachments
    assert isinstance(attachment, MediaAttachment)
    assert attachment.type == kind
    assert attachment.url is not None and url_part in attachment.url
    assert attachment.sticker_id is None
    assert message.text is None


def test_location_attachment() -> None:
    (attachment,) = message_of("message_location").attachments
    assert isinstance(attachment, LocationAttachment)
    assert attachment.title == "Chloe's Location"
    assert attachment.payload.coordinates is not None
    assert (attachment.payload.coordinates.lat, attachment.payload.coordinates.long) == (
        52.520008,
        13.404954,
    )


def test_fallback_attachment_without_payload() -> None:
    message = message_of("message_fallback")
    (attachment,) = message.attachments
    assert isinstance(attachment, FallbackAttachment)
    assert attachment.title == "How to care for linen shirts"
    assert attachment.url is not None and attachment.url.startswith("https://l.facebook.com/")
    assert attachment.payload is None
    assert message.text == "https://www.example.org/blog/linen-care"


def test_sticker_new_form() -> None:
    message = message_of("message_sticker")
    (attachment,) = message.attachments
    assert isinstance(attachment, StickerAttachment)
    assert attachment.sticker_id == "767226160478561"
    assert message.display_attachments == message.attachments


def test_sticker_transition_form_is_shown_once() -> None:
    message = message_of("message_sticker_with_image")
    assert [a.type for a in message.attachments] == ["image", "sticker"]
    image = message.attachments[0]
    assert isinstance(image, MediaAttachment) and image.sticker_id == "767226160478561"
    (shown,) = message.display_attachments
    assert isinstance(shown, StickerAttachment)
    assert shown.sticker_id == "767226160478561"


def test_sticker_dedupe_matches_by_url_and_keeps_unrelated_images() -> None:
    message = Message.model_validate(
        {
            "mid": "m_1",
            "attachments": [
                {"type": "image", "payload": {"url": "https://cdn/photo.jpg"}},
                {"type": "image", "payload": {"url": "https://cdn/sticker.png"}},
                {"type": "sticker", "payload": {"url": "https://cdn/sticker.png"}},
            ],
        }
    )
    assert [(a.type, getattr(a, "url", None)) for a in message.display_attachments] == [
        ("image", "https://cdn/photo.jpg"),
        ("sticker", "https://cdn/sticker.png"),
    ]
    # Without a sticker attachment (before June 2026), the image is the sticker.
    legacy = Message.model_validate(
        {
            "mid": "m_2",
            "attachments": [{"type": "image", "payload": {"sticker_id": 369239263222822}}],
        }
    )
    assert dedupe_sticker_attachments(legacy.attachments) == legacy.attachments


def test_sticker_id_next_to_the_payload_is_read_too() -> None:
    sticker = StickerAttachment.model_validate({"type": "sticker", "sticker_id": 42, "payload": {}})
    assert sticker.sticker_id == "42"


def test_product_template_attachment() -> None:
    (attachment,) = message_of("message_template").attachments
    assert isinstance(attachment, TemplateAttachment)
    assert attachment.payload.template_type is None
    product = attachment.payload.model_extra["product"]  # type: ignore[index]
    assert product["elements"][0]["retailer_id"] == "LINEN-SHIRT-M-BLUE"
    assert product["elements"][0]["title"] == "Linen shirt, blue"


def test_unknown_attachment_is_kept_raw() -> None:
    fixture = load_fixture("message_unknown_attachment")
    (attachment,) = message_of("message_unknown_attachment").attachments
    assert isinstance(attachment, UnsupportedAttachment)
    assert attachment.type == "poll"
    raw_attachment = fixture.body["entry"][0]["messaging"][0]["message"]["attachments"][0]
    assert attachment.raw == raw_attachment
    assert attachment.raw["payload"]["question"] == "Which colour next?"


@pytest.mark.parametrize("raw", [{"payload": {}}, {"type": None}, {"type": 7, "x": 1}, {}])
def test_attachments_without_a_usable_type_are_unsupported(raw: dict[str, Any]) -> None:
    (attachment,) = Message.model_validate({"mid": "m", "attachments": [raw]}).attachments
    assert isinstance(attachment, UnsupportedAttachment)
    assert attachment.raw == raw and attachment.type is None


def test_message_from_an_ad_carries_the_referral() -> None:
    message = message_of("message_with_referral_ads")
    assert message.text == "Is the spring sale still on?"
    referral = message.referral
    assert referral is not None and referral.is_ad
    assert referral.source == ReferralSource.ADS and referral.type == "OPEN_THREAD"
    assert referral.ad_id == "120212345678900123"
    assert referral.ads_context_data is not None
    assert referral.ads_context_data.ad_title == "Spring sale: 30% off linen"
    assert referral.ads_context_data.post_id is not None
    assert referral.ads_context_data.post_id.startswith(PAGE + "_")


def test_non_ascii_text_is_decoded_from_the_escaped_body() -> None:
    fixture = load_fixture("message_non_ascii")
    assert fixture.raw_body.isascii()
    assert (
        message_of("message_non_ascii").text
        == "Grüße aus Köln! Hätten Sie das auch in Größe M? 😊👍"
    )


# --- echoes ------------------------------------------------------------------------


def test_echo_from_pagedesk_carries_app_id_and_metadata() -> None:
    event = only_event("echo_own_app")
    assert (event.sender_id, event.recipient_id) == (PAGE, ANNA)
    assert event.customer_id == ANNA
    message = event.payload_as(Message)
    assert message.is_echo
    assert message.app_id == PAGEDESK_APP
    assert message.metadata == "pagedesk:out:01JPF3N8WQ4V6Z2K9R7C5T1M0B"
    assert message.text == "Yes, size M is in stock. Shall I reserve one for you?"


def test_echo_from_metas_page_inbox() -> None:
    event = only_event("echo_other_app")
    message = event.payload_as(Message)
    assert message.app_id == META_PAGE_INBOX_APP_ID == "263902037430900"
    assert message.metadata is None
    assert message.text == "Reserved it for you until Friday."
    assert event.thread_key == ANNA


def test_standby_traffic_is_kept_with_its_flag() -> None:
    customer, echo = parse_webhook(load_fixture("standby_message").raw_body)
    assert customer.is_standby and echo.is_standby
    assert customer.payload_as(Message).text == "Can I pay by invoice?"
    assert echo.payload_as(Message).app_id == META_PAGE_INBOX_APP_ID
    assert customer.thread_key == echo.thread_key == ANNA


# --- postbacks and referrals -------------------------------------------------------


def test_get_started_postback_with_link_referral() -> None:
    event = only_event("postback_get_started_with_referral")
    assert event.sender_id == DAVID
    postback = event.payload_as(Postback)
    assert (postback.title, postback.payload) == ("Get Started", "GET_STARTED")
    assert postback.mid is not None and postback.mid.startswith("m_")
    assert postback.referral is not None
    assert postback.referral.ref == "qr-store-berlin"
    assert postback.referral.source == ReferralSource.SHORTLINK
    assert not postback.referral.is_ad


def test_button_postback() -> None:
    postback = only_event("postback_button").payload_as(Postback)
    assert (postback.title, postback.payload) == ("Track my order", "TRACK_ORDER:48213")
    assert postback.referral is None


@pytest.mark.parametrize(
    ("name", "ref", "source", "sender"),
    [
        ("referral_shortlink", "newsletter-march", "SHORTLINK", BEN),
        ("referral_ads", "spring-sale-ad", "ADS", BEN),
        ("referral_messenger_code", "table-12", "MESSENGER_CODE", CHLOE),
    ],
)
def test_referrals(name: str, ref: str, source: str, sender: str) -> None:
    event = only_event(name)
    referral = event.payload_as(Referral)
    assert (referral.ref, referral.source, referral.type) == (ref, source, "OPEN_THREAD")
    assert event.sender_id == sender


def test_ad_referral_has_ad_context() -> None:
    referral = only_event("referral_ads").payload_as(Referral)
    assert referral.ad_id == "120212345678900123"
    assert referral.ads_context_data is not None
    assert referral.ads_context_data.product_id == "7364829103847561"
    assert referral.ads_context_data.video_url is not None


# --- receipts and reactions --------------------------------------------------------


def test_delivery_with_mids() -> None:
    delivery = only_event("delivery_with_mids").payload_as(Delivery)
    assert len(delivery.mids) == 2 and all(m.startswith("m_") for m in delivery.mids)
    assert delivery.watermark == 1773480192417


def test_delivery_without_mids() -> None:
    delivery = only_event("delivery_watermark_only").payload_as(Delivery)
    assert delivery.mids == []
    assert delivery.watermark == 1773482575086


def test_read_watermark() -> None:
    event = only_event("read")
    read = event.payload_as(Read)
    assert read.watermark == 1773482575086 and read.mid is None
    assert event.thread_key == ANNA


def test_reaction_react_and_unreact() -> None:
    react = only_event("reaction_react").payload_as(Reaction)
    assert (react.action, react.reaction, react.emoji) == ("react", "love", "\u2764\ufe0f")
    assert not react.is_removed
    unreact = only_event("reaction_unreact").payload_as(Reaction)
    assert unreact.is_removed and unreact.reaction is None and unreact.emoji is None
    assert unreact.mid == react.mid


# --- opt-ins -----------------------------------------------------------------------


def test_one_time_notification_optin() -> None:
    optin = only_event("optin_one_time_notif").payload_as(Optin)
    assert optin.type == "one_time_notif_req"
    assert optin.payload == "BACK_IN_STOCK:LINEN-SHIRT-M-BLUE"
    assert optin.one_time_notif_token is not None and len(optin.one_time_notif_token) == 88


def test_recurring_notification_optin() -> None:
    event = only_event("optin_notification_messages")
    optin = event.payload_as(Optin)
    assert event.sender_id == CHLOE
    assert optin.type == "notification_messages"
    assert (optin.payload, optin.title) == ("WEEKLY_DEALS", "Weekly deals")
    assert optin.notification_messages_frequency == "WEEKLY"
    assert optin.notification_messages_timezone == "Europe/Berlin"
    assert optin.token_expiry_timestamp == 1792518300000
    assert optin.user_token_status == "NOT_REFRESHED"
    assert optin.notification_messages_status == "RESUME_NOTIFICATIONS"
    assert optin.notification_messages_token is not None


def test_plugin_optin_without_sender() -> None:
    event = only_event("optin_plugin_user_ref")
    assert event.sender_id is None and event.recipient_id == PAGE
    optin = event.payload_as(Optin)
    assert optin.type is None
    assert optin.ref == "checkout-48213"
    assert optin.user_ref == "pd-guest-YV6lxQg3V8LMEXvohepSAwzF"


# --- thread control ----------------------------------------------------------------


def test_pass_thread_control() -> None:
    control = only_event("pass_thread_control").payload_as(ThreadControl)
    assert control.new_owner_app_id == PAGEDESK_APP
    assert control.previous_owner_app_id == META_PAGE_INBOX_APP_ID
    assert control.metadata == "Handing back to pagedesk"


def test_take_thread_control() -> None:
    event = only_event("take_thread_control")
    control = event.payload_as(ThreadControl)
    assert control.previous_owner_app_id == PAGEDESK_APP
    assert control.new_owner_app_id == META_PAGE_INBOX_APP_ID
    assert event.thread_key == ANNA


def test_request_thread_control_with_numeric_app_id() -> None:
    control = only_event("request_thread_control").payload_as(ThreadControl)
    assert control.requested_owner_app_id == META_PAGE_INBOX_APP_ID
    assert control.metadata == "Customer asked for a human"


def test_idle_thread_has_no_previous_owner() -> None:
    control = ThreadControl.model_validate({"previous_owner_app_id": None, "new_owner_app_id": 1})
    assert control.previous_owner_app_id is None and control.new_owner_app_id == "1"


def test_app_roles() -> None:
    event = only_event("app_roles")
    assert event.sender_id is None
    assert event.payload_as(AppRoles).roles == {
        PAGEDESK_APP: ["primary_receiver"],
        META_PAGE_INBOX_APP_ID: ["secondary_receiver"],
    }


# --- policy and edits --------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "action", "reason_part"),
    [
        ("policy_enforcement_warning", "warning", "HUMAN_AGENT"),
        ("policy_enforcement_block", "block", "Platform Policies"),
        ("policy_enforcement_unblock", "unblock", None),
    ],
)
def test_policy_enforcement(name: str, action: str, reason_part: str | None) -> None:
    event = only_event(name)
    assert event.sender_id is None and event.recipient_id == PAGE
    assert event.customer_id is None
    policy = event.payload_as(PolicyEnforcement)
    assert policy.action == action
    if reason_part is None:
        assert policy.reason is None
    else:
        assert policy.reason is not None and reason_part in policy.reason


def test_message_edit() -> None:
    edit = only_event("message_edit").payload_as(MessageEdit)
    assert edit.text == "Hi! Do you still have the linen shirt in size L?"
    assert edit.num_edit == 1
    assert edit.mid.startswith("m_")


# --- comments ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "verb", "text"),
    [
        ("feed_comment_add", "add", "Is this available in blue?"),
        ("feed_comment_edited", "edited", "Is this available in blue or green?"),
        ("feed_comment_remove", "remove", None),
    ],
)
def test_feed_comments(name: str, verb: str, text: str | None) -> None:
    event = only_event(name)
    comment = event.payload_as(FeedComment)
    assert comment.verb == verb and comment.text == text
    assert comment.comment_id == "627821277897555_1108260414232783"
    assert comment.post_id == "1234567890123456_627821277897555"
    assert comment.from_ is not None and comment.from_.name == "Erik Larsen"
    assert event.sender_id == "6029384756102938"
    assert event.customer_id is None  # a commenter id is not a PSID
    assert comment.created_time is not None
    assert event.timestamp == comment.created_time * 1000


# --- Instagram ---------------------------------------------------------------------


def test_instagram_message() -> None:
    event = only_event("instagram_message")
    assert (event.object, event.page_id, event.sender_id) == ("instagram", IG_ACCOUNT, IGSID)
    message = event.payload_as(Message)
    assert message.text == "Hey, do you ship to Austria?"
    assert message.mid.startswith("aWdf")


def test_instagram_messaging_seen() -> None:
    read = only_event("instagram_messaging_seen").payload_as(Read)
    assert read.watermark is None
    assert read.mid is not None and read.mid.startswith("aWdf")


def test_instagram_deleted_message_refers_to_the_original() -> None:
    deleted = only_event("instagram_deleted").payload_as(Message)
    assert deleted.is_deleted and deleted.text is None
    assert deleted.mid == message_of("instagram_message").mid


def test_instagram_story_reply() -> None:
    message = message_of("instagram_story_reply")
    assert message.text == "Love this colour!"
    assert message.reply_to is not None and message.reply_to.story is not None
    assert message.reply_to.story.id == "18012345678901234"
    assert message.reply_to.story.url is not None
    assert message.reply_to.story.url.startswith("https://lookaside.fbsbx.com/")


def test_instagram_unsupported_message() -> None:
    message = message_of("instagram_unsupported")
    assert message.is_unsupported and message.text is None and message.attachments == []


def test_instagram_reel_share() -> None:
    (attachment,) = message_of("instagram_reel_share").attachments
    assert isinstance(attachment, SharedContentAttachment)
    assert attachment.type == "ig_reel"
    assert attachment.payload.title == "Three ways to wear linen #summer"
    assert attachment.url is not None
    assert (attachment.payload.model_extra or {})["reel_video_id"].isdigit()


def test_instagram_comment() -> None:
    event = only_event("instagram_comment")
    comment = event.payload_as(InstagramComment)
    assert comment.comment_id == "17865432109876543" and comment.verb == "add"
    assert comment.text == "Do you ship to Austria?"
    assert comment.from_ is not None and comment.from_.username == "erik.larsen"
    assert comment.media_id == "18023456789012345"
    assert event.timestamp is None and event.sender_id == "17850012345678901"


# --- unknown events and extra fields -----------------------------------------------


def test_unknown_event_kind_is_kept_raw() -> None:
    fixture = load_fixture("unknown_event_kind")
    event = only_event("unknown_event_kind")
    unsupported = event.payload_as(UnsupportedEvent)
    assert unsupported.key == "messaging_feedback"
    assert unsupported.raw == fixture.body["entry"][0]["messaging"][0]
    assert event.sender_id == BEN and event.timestamp == 1774519810010


def test_fields_meta_adds_later_stay_readable() -> None:
    message = Message.model_validate(
        {
            "mid": "m_1",
            "text": "hi",
            "commands": [{"name": "order"}],
            "reply_to": {"mid": "m_0", "x": 1},
        }
    )
    assert message.model_extra == {"commands": [{"name": "order"}]}
    assert message.reply_to is not None and message.reply_to.model_extra == {"x": 1}


def test_payload_as_rejects_the_wrong_model() -> None:
    event = only_event("read")
    with pytest.raises(TypeError, match="read event carries Read, not Message"):
        event.payload_as(Message)


def test_models_are_immutable() -> None:
    message = message_of("message_text")
    with pytest.raises(ValidationError):
        message.text = "changed"  # type: ignore[misc]


def test_event_kind_values_are_stable_strings() -> None:
    assert EventKind("echo") is EventKind.ECHO
    assert {k.value for k in EventKind} >= {
        "message", "echo", "postback", "referral", "delivery", "read", "reaction", "optin",
        "pass_thread_control", "take_thread_control", "request_thread_control", "app_roles",
        "policy_enforcement", "message_edit", "comment", "unsupported",
    }  # fmt: skip
