"""Send API request validation: the shape checks Meta makes before any policy check.

``parse_send_request`` turns the request parameters into a :class:`SendRequest` or
raises the :class:`GraphError` Meta answers for the first problem it finds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from pagedesk.sandbox import errors

RECIPIENT_KEYS = (
    "id",
    "comment_id",
    "post_id",
    "user_ref",
    "phone_number",
    "one_time_notif_token",
    "notification_messages_token",
)
MESSAGING_TYPES = ("RESPONSE", "UPDATE", "MESSAGE_TAG")
SENDER_ACTIONS = ("typing_on", "typing_off", "mark_seen")
NOTIFICATION_TYPES = ("REGULAR", "SILENT_PUSH", "NO_PUSH")
MEDIA_TYPES = ("image", "audio", "video", "file")
TEMPLATE_TYPES = (
    "generic",
    "button",
    "media",
    "receipt",
    "one_time_notif_req",
    "notification_messages",
    "customer_feedback",
    "image_grid",
)
BUTTON_TYPES = ("web_url", "postback", "phone_number", "account_link", "account_unlink")
QUICK_REPLY_TYPES = ("text", "user_phone_number", "user_email")
FREQUENCIES = ("DAILY", "WEEKLY", "MONTHLY")

MAX_TEXT = 2000
MAX_QUICK_REPLIES = 13
MAX_QUICK_REPLY_TITLE = 20
MAX_PAYLOAD = 1000
MAX_METADATA = 1000
MAX_BUTTON_TITLE = 20
MAX_BUTTON_TEXT = 640
MAX_ELEMENTS = 10
MAX_ELEMENT_TEXT = 80
MAX_NOTIFICATION_TITLE = 65


@dataclass(kw_only=True)
class SendRequest:
    recipient_kind: str
    recipient_value: str
    recipient_name: dict[str, Any] | None
    messaging_type: str
    tag: str | None
    message: dict[str, Any] | None
    sender_action: str | None
    persona_id: str | None
    notification_type: str | None
    reply_to_mid: str | None


def parse_send_request(params: dict[str, Any]) -> SendRequest:
    recipient = params.get("recipient")
    if recipient in (None, "", {}):
        raise errors.param("The parameter recipient is required")
    if not isinstance(recipient, dict):
        raise errors.param("Param recipient must be a JSON object")
    given = [key for key in RECIPIENT_KEYS if recipient.get(key) not in (None, "")]
    unknown = [key for key in recipient if key not in (*RECIPIENT_KEYS, "name")]
    if unknown:
        raise errors.param(f"Param recipient[{unknown[0]}] is not a valid recipient field")
    if not given:
        raise errors.param(
            "Must provide one of recipient[id], recipient[comment_id], recipient[post_id], "
            "recipient[user_ref], recipient[phone_number], recipient[one_time_notif_token] "
            "or recipient[notification_messages_token]"
        )
    if len(given) > 1:
        raise errors.param(
            "Only one of " + ", ".join(f"recipient[{key}]" for key in given) + " can be specified"
        )
    kind = given[0]
    name = recipient.get("name")
    if name is not None and (kind != "phone_number" or not isinstance(name, dict)):
        raise errors.param("Param recipient[name] is only valid with recipient[phone_number]")

    message = params.get("message")
    sender_action = params.get("sender_action")
    if message not in (None, "") and sender_action not in (None, ""):
        raise errors.message_and_sender_action()
    if message in (None, "") and sender_action in (None, ""):
        raise errors.param("Must send either message or sender_action")

    messaging_type = params.get("messaging_type") or "RESPONSE"
    if messaging_type not in MESSAGING_TYPES:
        raise errors.param("Param messaging_type must be one of {RESPONSE, UPDATE, MESSAGE_TAG}")
    tag = params.get("tag") or None
    if messaging_type == "MESSAGE_TAG" and not tag:
        raise errors.param("Param tag is required when messaging_type is MESSAGE_TAG")

    notification_type = params.get("notification_type") or None
    if notification_type is not None and notification_type not in NOTIFICATION_TYPES:
        raise errors.param("Param notification_type must be one of {REGULAR, SILENT_PUSH, NO_PUSH}")

    action: str | None = None
    if sender_action not in (None, ""):
        action = str(sender_action).lower()
        if action not in SENDER_ACTIONS:
            raise errors.param(
                "Param sender_action must be one of {MARK_SEEN, TYPING_ON, TYPING_OFF}"
            )
        if kind not in ("id", "user_ref", "phone_number"):
            raise errors.param("sender_action can only be sent to recipient[id]")

    checked_message: dict[str, Any] | None = None
    if action is None:
        if not isinstance(message, dict):
            raise errors.param("Param message must be a JSON object")
        checked_message = validate_message(message)

    reply_to = params.get("reply_to") or (checked_message or {}).get("reply_to")
    reply_to_mid: str | None = None
    if reply_to is not None:
        if not isinstance(reply_to, dict) or not isinstance(reply_to.get("mid"), str):
            raise errors.param("Param reply_to must be an object with a mid")
        reply_to_mid = reply_to["mid"]

    persona_id = params.get("persona_id")
    return SendRequest(
        recipient_kind=kind,
        recipient_value=str(recipient[kind]),
        recipient_name=name,
        messaging_type=str(messaging_type),
        tag=str(tag) if tag else None,
        message=checked_message,
        sender_action=action,
        persona_id=str(persona_id) if persona_id not in (None, "") else None,
        notification_type=notification_type,
        reply_to_mid=reply_to_mid,
    )


def validate_message(message: dict[str, Any]) -> dict[str, Any]:
    text = message.get("text")
    attachment = message.get("attachment")
    sticker_id = message.get("sticker_id")
    contents = [key for key, value in (("text", text), ("attachment", attachment)) if value]
    if sticker_id is not None:
        contents.append("sticker_id")
    if not contents:
        raise errors.param(
            "Must send either message[text], message[attachment] or message[sticker_id]"
        )
    if len(contents) > 1:
        raise errors.param(
            f"Only one of message[{contents[0]}] and message[{contents[1]}] can be specified"
        )
    if text is not None:
        if not isinstance(text, str):
            raise errors.param("Param message[text] must be a string")
        _max_len(text, MAX_TEXT, "message[text]")
    if attachment is not None:
        _validate_attachment(attachment)
    if sticker_id is not None and (isinstance(sticker_id, bool) or not _is_int(sticker_id)):
        raise errors.param("Param message[sticker_id] must be a valid sticker id")

    quick_replies = message.get("quick_replies")
    if quick_replies is not None:
        if sticker_id is not None:
            raise errors.param("Quick replies cannot be sent with a sticker")
        _validate_quick_replies(quick_replies)
    metadata = message.get("metadata")
    if metadata is not None:
        if not isinstance(metadata, str):
            raise errors.param("Param message[metadata] must be a string")
        _max_len(metadata, MAX_METADATA, "message[metadata]")
    return message


def _is_int(value: Any) -> bool:
    if isinstance(value, int):
        return True
    return isinstance(value, str) and value.isdigit()


def _max_len(value: str, limit: int, name: str) -> None:
    if len(value) > limit:
        raise errors.param(f"Length of param {name} must be less than or equal to {limit}")


def _required_str(container: dict[str, Any], key: str, name: str, limit: int | None) -> str:
    value = container.get(key)
    if not isinstance(value, str) or not value:
        raise errors.param(f"param {name}[{key}] must be a non-empty UTF-8 encoded string")
    if limit is not None:
        _max_len(value, limit, f"{name}[{key}]")
    return value


def check_url(url: Any, name: str) -> str:
    """An absolute http(s) URL; hosts under ``.invalid`` play an unreachable server."""
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise errors.param(f"Param {name} must be a valid URL")
    if parts.hostname.endswith(".invalid"):
        raise errors.param("Failed to fetch the file from the url", subcode=2018008)
    return str(url)


def _validate_quick_replies(quick_replies: Any) -> None:
    if not isinstance(quick_replies, list) or not quick_replies:
        raise errors.param("Param message[quick_replies] must be a non-empty array")
    if len(quick_replies) > MAX_QUICK_REPLIES:
        raise errors.param(
            f"param message[quick_replies] must have at most {MAX_QUICK_REPLIES} elements"
        )
    for index, reply in enumerate(quick_replies):
        name = f"message[quick_replies][{index}]"
        if not isinstance(reply, dict):
            raise errors.param(f"Param {name} must be a JSON object")
        content_type = reply.get("content_type", "text")
        if content_type not in QUICK_REPLY_TYPES:
            raise errors.param(
                f"Param {name}[content_type] must be one of {{text, user_phone_number, user_email}}"
            )
        if content_type != "text":
            continue
        if reply.get("title") is not None or not reply.get("image_url"):
            _required_str(reply, "title", name, MAX_QUICK_REPLY_TITLE)
        payload = reply.get("payload")
        if payload is None or payload == "":
            raise errors.param(f"param {name}[payload] must be a non-empty string")
        _max_len(str(payload), MAX_PAYLOAD, f"{name}[payload]")


def _validate_attachment(attachment: Any) -> None:
    if not isinstance(attachment, dict):
        raise errors.param("Param message[attachment] must be a JSON object")
    kind = attachment.get("type")
    payload = attachment.get("payload")
    if kind not in (*MEDIA_TYPES, "template"):
        raise errors.param(
            "Param message[attachment][type] must be one of {image, audio, video, file, template}"
        )
    if not isinstance(payload, dict):
        raise errors.param("Param message[attachment][payload] must be a JSON object")
    if kind == "template":
        _validate_template(payload)
        return
    has_url = payload.get("url") not in (None, "")
    has_id = payload.get("attachment_id") not in (None, "")
    if has_url == has_id:
        raise errors.param(
            "Exactly one of message[attachment][payload][url] and "
            "message[attachment][payload][attachment_id] must be specified"
        )
    if has_url:
        check_url(payload["url"], "message[attachment][payload][url]")


def _validate_template(payload: dict[str, Any]) -> None:
    template_type = payload.get("template_type")
    name = "message[attachment][payload]"
    if template_type not in TEMPLATE_TYPES:
        raise errors.param(
            f"Param {name}[template_type] must be one of {{{', '.join(TEMPLATE_TYPES)}}}"
        )
    if template_type == "generic":
        elements = _elements(payload, name, 1, MAX_ELEMENTS)
        for index, element in enumerate(elements):
            element_name = f"{name}[elements][{index}]"
            _required_str(element, "title", element_name, MAX_ELEMENT_TEXT)
            subtitle = element.get("subtitle")
            if subtitle is not None:
                _max_len(str(subtitle), MAX_ELEMENT_TEXT, f"{element_name}[subtitle]")
            _validate_buttons(element.get("buttons"), f"{element_name}[buttons]", 0)
    elif template_type == "button":
        _required_str(payload, "text", name, MAX_BUTTON_TEXT)
        _validate_buttons(payload.get("buttons"), f"{name}[buttons]", 1)
    elif template_type == "media":
        elements = _elements(payload, name, 1, 1)
        element = elements[0]
        if element.get("media_type") not in ("image", "video"):
            raise errors.param(f"Param {name}[elements][0][media_type] must be image or video")
        if not element.get("url") and not element.get("attachment_id"):
            raise errors.param(f"Param {name}[elements][0] needs a url or an attachment_id")
        _validate_buttons(element.get("buttons"), f"{name}[elements][0][buttons]", 0)
    elif template_type == "receipt":
        for key in ("recipient_name", "order_number", "currency", "payment_method"):
            _required_str(payload, key, name, None)
        summary = payload.get("summary")
        if not isinstance(summary, dict) or "total_cost" not in summary:
            raise errors.param(f"Param {name}[summary][total_cost] is required")
    elif template_type in ("one_time_notif_req", "notification_messages"):
        _required_str(payload, "title", name, MAX_NOTIFICATION_TITLE)
        _required_str(payload, "payload", name, MAX_PAYLOAD)
        frequency = payload.get("notification_messages_frequency")
        if template_type == "notification_messages" and frequency not in (None, *FREQUENCIES):
            raise errors.param(
                f"Param {name}[notification_messages_frequency] must be one of "
                "{DAILY, WEEKLY, MONTHLY}"
            )
    elif template_type == "image_grid":
        _elements(payload, name, 2, 6)


def _elements(payload: dict[str, Any], name: str, low: int, high: int) -> list[dict[str, Any]]:
    elements = payload.get("elements")
    if not isinstance(elements, list) or not all(isinstance(e, dict) for e in elements):
        raise errors.param(f"Param {name}[elements] must be an array of objects")
    if not low <= len(elements) <= high:
        raise errors.param(f"Param {name}[elements] must have between {low} and {high} elements")
    return elements


def _validate_buttons(buttons: Any, name: str, minimum: int) -> None:
    if buttons is None:
        if minimum:
            raise errors.param(f"Param {name} is required")
        return
    if not isinstance(buttons, list) or not minimum <= len(buttons) <= 3:
        raise errors.param(f"Param {name} must be an array of {minimum or 1} to 3 buttons")
    for index, button in enumerate(buttons):
        button_name = f"{name}[{index}]"
        if not isinstance(button, dict) or button.get("type") not in BUTTON_TYPES:
            raise errors.param(
                f"Param {button_name}[type] must be one of {{{', '.join(BUTTON_TYPES)}}}"
            )
        kind = button["type"]
        if kind in ("account_link", "account_unlink"):
            continue
        _required_str(button, "title", button_name, MAX_BUTTON_TITLE)
        if kind == "web_url":
            check_url(button.get("url"), f"{button_name}[url]")
        elif kind == "postback":
            _required_str(button, "payload", button_name, MAX_PAYLOAD)
        elif kind == "phone_number":
            number = _required_str(button, "payload", button_name, None)
            if not number.startswith("+"):
                raise errors.param(
                    f"Param {button_name}[payload] must be a phone number like +1..."
                )
