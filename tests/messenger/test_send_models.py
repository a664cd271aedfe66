"""Send API models: Meta's limits are enforced before anything is sent."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from pagedesk.messenger.send import (
    ButtonTemplate,
    GenericElement,
    GenericTemplate,
    MediaAttachment,
    MediaPayload,
    Message,
    MessageTag,
    MessagingType,
    NotificationType,
    PostbackButton,
    QuickReply,
    Recipient,
    ReplyTo,
    SenderAction,
    SendRequest,
    SendResult,
    TemplateAttachment,
    UrlButton,
)


def dump(model: Any) -> dict[str, Any]:
    result: dict[str, Any] = model.model_dump(exclude_none=True, mode="json")
    return result


def postback(n: int = 0) -> PostbackButton:
    return PostbackButton(title=f"Option {n}", payload=f"OPT_{n}")


# --- Recipient ------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        "id",
        "comment_id",
        "post_id",
        "user_ref",
        "phone_number",
        "one_time_notif_token",
        "notification_messages_token",
    ],
)
def test_recipient_takes_each_address(key: str) -> None:
    assert dump(Recipient.model_validate({key: "x1"})) == {key: "x1"}


def test_recipient_needs_exactly_one_address() -> None:
    with pytest.raises(ValidationError, match="exactly one of"):
        Recipient()
    with pytest.raises(ValidationError, match="exactly one of"):
        Recipient(id="1", comment_id="2")


def test_recipient_name_only_with_phone_number() -> None:
    ok = Recipient.model_validate(
        {"phone_number": "+1 212 555 2368", "name": {"first_name": "Jo", "last_name": "Doe"}}
    )
    assert dump(ok)["name"] == {"first_name": "Jo", "last_name": "Doe"}
    with pytest.raises(ValidationError, match="only allowed with phone_number"):
        Recipient.model_validate({"id": "1", "name": {"first_name": "Jo", "last_name": "Doe"}})


def test_recipient_rejects_unknown_and_empty_fields() -> None:
    with pytest.raises(ValidationError):
        Recipient.model_validate({"psid": "1"})
    with pytest.raises(ValidationError):
        Recipient(id="")


# --- QuickReply -----------------------------------------------------------------


def test_quick_reply_limits() -> None:
    QuickReply(title="x" * 20, payload="p" * 1000)
    with pytest.raises(ValidationError):
        QuickReply(title="x" * 21, payload="p")
    with pytest.raises(ValidationError):
        QuickReply(title="x", payload="p" * 1001)


def test_text_quick_reply_needs_title_and_payload() -> None:
    with pytest.raises(ValidationError, match="title and a payload"):
        QuickReply(title="Yes")
    email = QuickReply(content_type="user_email")
    assert dump(email) == {"content_type": "user_email"}
    with pytest.raises(ValidationError, match="takes no title"):
        QuickReply(content_type="user_phone_number", title="Phone")


def test_at_most_13_quick_replies() -> None:
    replies = [QuickReply(title=f"Q{n}", payload=f"P{n}") for n in range(14)]
    Message(text="pick", quick_replies=replies[:13])
    with pytest.raises(ValidationError):
        Message(text="pick", quick_replies=replies)
    with pytest.raises(ValidationError):
        Message(text="pick", quick_replies=[])


# --- Message --------------------------------------------------------------------


def test_text_limit_is_2000_characters() -> None:
    Message(text="é" * 2000)
    with pytest.raises(ValidationError):
        Message(text="a" * 2001)
    with pytest.raises(ValidationError):
        Message(text="")


def test_message_has_exactly_one_content() -> None:
    with pytest.raises(ValidationError, match="exactly one of"):
        Message()
    with pytest.raises(ValidationError, match="exactly one of"):
        Message(text="hi", sticker_id=369239263222822)
    assert dump(Message(sticker_id=369239263222822)) == {"sticker_id": 369239263222822}


def test_metadata_limit() -> None:
    Message(text="hi", metadata="m" * 1000)
    with pytest.raises(ValidationError):
        Message(text="hi", metadata="m" * 1001)


@pytest.mark.parametrize("kind", ["image", "audio", "video", "file"])
def test_media_attachment_by_url_or_id(kind: str) -> None:
    by_url = Message.model_validate(
        {"attachment": {"type": kind, "payload": {"url": "https://x.test/a", "is_reusable": True}}}
    )
    assert dump(by_url)["attachment"]["payload"] == {"url": "https://x.test/a", "is_reusable": True}
    by_id = Message(attachment=MediaAttachment(type=kind, payload=MediaPayload(attachment_id="9")))
    assert dump(by_id) == {"attachment": {"type": kind, "payload": {"attachment_id": "9"}}}


def test_media_payload_needs_exactly_one_source() -> None:
    with pytest.raises(ValidationError):
        MediaPayload()
    with pytest.raises(ValidationError):
        MediaPayload(url="https://x.test/a", attachment_id="9")
    with pytest.raises(ValidationError):
        MediaPayload(url="ftp://x.test/a")


def test_unknown_attachment_type_is_refused() -> None:
    with pytest.raises(ValidationError):
        Message.model_validate({"attachment": {"type": "location", "payload": {"url": "x"}}})


def test_generic_template_limits() -> None:
    element = GenericElement(
        title="t" * 80, subtitle="s" * 80, buttons=[postback(n) for n in range(3)]
    )
    GenericTemplate(elements=[element] * 10)
    with pytest.raises(ValidationError):
        GenericTemplate(elements=[element] * 11)
    with pytest.raises(ValidationError):
        GenericTemplate(elements=[])
    with pytest.raises(ValidationError):
        GenericElement(title="t" * 81)
    with pytest.raises(ValidationError):
        GenericElement(title="t", subtitle="s" * 81)
    with pytest.raises(ValidationError):
        GenericElement(title="t", buttons=[postback(n) for n in range(4)])


def test_button_template_limits() -> None:
    ButtonTemplate(text="x" * 640, buttons=[postback()])
    with pytest.raises(ValidationError):
        ButtonTemplate(text="x" * 641, buttons=[postback()])
    with pytest.raises(ValidationError):
        ButtonTemplate(text="x", buttons=[])
    with pytest.raises(ValidationError):
        ButtonTemplate(text="x", buttons=[postback(n) for n in range(4)])
    with pytest.raises(ValidationError):
        PostbackButton(title="x" * 21, payload="p")


def test_templates_parse_from_metas_shapes_and_round_trip() -> None:
    shapes: list[dict[str, Any]] = [
        {
            "template_type": "generic",
            "elements": [
                {
                    "title": "Shoe",
                    "subtitle": "Red",
                    "image_url": "https://x.test/shoe.png",
                    "default_action": {"type": "web_url", "url": "https://x.test/shoe"},
                    "buttons": [
                        {"type": "web_url", "url": "https://x.test/buy", "title": "Buy"},
                        {"type": "postback", "title": "More", "payload": "MORE"},
                        {"type": "phone_number", "title": "Call", "payload": "+15105551234"},
                    ],
                }
            ],
        },
        {
            "template_type": "button",
            "text": "What next?",
            "buttons": [{"type": "postback", "title": "Start", "payload": "START"}],
        },
        {
            "template_type": "media",
            "elements": [{"media_type": "image", "attachment_id": "1234"}],
        },
        {
            "template_type": "receipt",
            "recipient_name": "Jo Doe",
            "order_number": "12345",
            "currency": "EUR",
            "payment_method": "Visa 1234",
            "summary": {"subtotal": 75.0, "total_cost": 56.14},
            "elements": [{"title": "Shirt", "quantity": 2, "price": 50.0, "currency": "EUR"}],
            "address": {
                "street_1": "1 Main St",
                "city": "Berlin",
                "postal_code": "10115",
                "state": "BE",
                "country": "DE",
            },
            "adjustments": [{"name": "Coupon", "amount": 10.0}],
        },
        {"template_type": "one_time_notif_req", "title": "Back in stock?", "payload": "STOCK"},
        {
            "template_type": "notification_messages",
            "title": "Weekly deals",
            "payload": "DEALS",
            "notification_messages_frequency": "WEEKLY",
        },
    ]
    for shape in shapes:
        body = {"attachment": {"type": "template", "payload": shape}}
        assert dump(Message.model_validate(body)) == body


def test_media_template_has_one_element_and_one_source() -> None:
    base: dict[str, Any] = {"template_type": "media"}
    element = {"media_type": "video", "url": "https://x.test/v.mp4"}
    for elements in ([], [element, element], [{"media_type": "video"}]):
        with pytest.raises(ValidationError):
            TemplateAttachment.model_validate({"payload": {**base, "elements": elements}})


def test_receipt_currency_is_an_iso_code() -> None:
    with pytest.raises(ValidationError):
        TemplateAttachment.model_validate(
            {
                "payload": {
                    "template_type": "receipt",
                    "recipient_name": "Jo",
                    "order_number": "1",
                    "currency": "euro",
                    "payment_method": "cash",
                    "summary": {"total_cost": 1},
                }
            }
        )


def test_models_are_immutable() -> None:
    message = Message(text="hi")
    with pytest.raises(ValidationError):
        message.text = "changed"  # type: ignore[misc]


# --- SendRequest ----------------------------------------------------------------


def test_text_send_serialises_to_metas_shape() -> None:
    request = SendRequest(
        recipient=Recipient(id="PSID1"),
        messaging_type=MessagingType.RESPONSE,
        message=Message(text="Hello", metadata="out-42"),
        persona_id="P7",
        notification_type=NotificationType.SILENT_PUSH,
        reply_to=ReplyTo(mid="m_abc"),
    )
    assert request.as_payload() == {
        "recipient": {"id": "PSID1"},
        "messaging_type": "RESPONSE",
        "message": {"text": "Hello", "metadata": "out-42"},
        "persona_id": "P7",
        "notification_type": "SILENT_PUSH",
        "reply_to": {"mid": "m_abc"},
    }
    assert request.as_payload() == dump(request)


def test_tagged_send() -> None:
    request = SendRequest(
        recipient=Recipient(id="1"),
        messaging_type=MessagingType.MESSAGE_TAG,
        tag=MessageTag.HUMAN_AGENT,
        message=Message(text="Following up"),
    )
    assert request.as_payload()["tag"] == "HUMAN_AGENT"


def test_tag_iff_message_tag() -> None:
    with pytest.raises(ValidationError, match="tag is required"):
        SendRequest(
            recipient=Recipient(id="1"),
            messaging_type=MessagingType.MESSAGE_TAG,
            message=Message(text="x"),
        )
    with pytest.raises(ValidationError, match="tag is required"):
        SendRequest(
            recipient=Recipient(id="1"),
            messaging_type=MessagingType.RESPONSE,
            tag="HUMAN_AGENT",
            message=Message(text="x"),
        )
    with pytest.raises(ValidationError):
        SendRequest(
            recipient=Recipient(id="1"),
            messaging_type=MessagingType.MESSAGE_TAG,
            tag="human agent",
            message=Message(text="x"),
        )


def test_message_xor_sender_action() -> None:
    with pytest.raises(ValidationError, match="never both"):
        SendRequest(
            recipient=Recipient(id="1"),
            messaging_type=MessagingType.RESPONSE,
            message=Message(text="x"),
            sender_action=SenderAction.TYPING_ON,
        )
    with pytest.raises(ValidationError, match="never both"):
        SendRequest(recipient=Recipient(id="1"), messaging_type=MessagingType.RESPONSE)


def test_sender_action_request() -> None:
    request = SendRequest(
        recipient=Recipient(id="1"), sender_action=SenderAction.MARK_SEEN, persona_id="P1"
    )
    assert request.as_payload() == {
        "recipient": {"id": "1"},
        "sender_action": "mark_seen",
        "persona_id": "P1",
    }
    with pytest.raises(ValidationError, match="takes no messaging_type"):
        SendRequest(
            recipient=Recipient(id="1"),
            sender_action=SenderAction.TYPING_ON,
            messaging_type=MessagingType.RESPONSE,
        )


def test_messaging_type_required_except_for_token_recipients() -> None:
    with pytest.raises(ValidationError, match="messaging_type is required"):
        SendRequest(recipient=Recipient(id="1"), message=Message(text="x"))
    token_send = SendRequest(
        recipient=Recipient(notification_messages_token="tok"), message=Message(text="x")
    )
    assert "messaging_type" not in token_send.as_payload()


def test_unknown_top_level_fields_are_refused() -> None:
    with pytest.raises(ValidationError):
        SendRequest.model_validate(
            {
                "recipient": {"id": "1"},
                "messaging_type": "RESPONSE",
                "message": {"text": "x"},
                "surprise": True,
            }
        )


def test_send_request_from_dict_with_nested_buttons() -> None:
    body = {
        "recipient": {"comment_id": "1_2"},
        "messaging_type": "RESPONSE",
        "message": {
            "attachment": {
                "type": "template",
                "payload": {
                    "template_type": "button",
                    "text": "Thanks!",
                    "buttons": [{"type": "web_url", "url": "https://x.test", "title": "Shop"}],
                },
            },
            "quick_replies": [{"content_type": "text", "title": "Hi", "payload": "HI"}],
        },
    }
    request = SendRequest.model_validate(body)
    assert request.as_payload() == body
    template = request.message.attachment.payload  # type: ignore[union-attr]
    assert isinstance(template, ButtonTemplate)
    assert isinstance(template.buttons[0], UrlButton)


# --- SendResult -----------------------------------------------------------------


def test_send_result_with_and_without_recipient_id() -> None:
    full = SendResult.model_validate({"recipient_id": "1", "message_id": "m_1", "extra": 1})
    assert (full.recipient_id, full.message_id) == ("1", "m_1")
    matched = SendResult.model_validate({"message_id": "m_2"})
    assert matched.recipient_id is None
    with pytest.raises(ValidationError):
        SendResult.model_validate({"recipient_id": "1"})
