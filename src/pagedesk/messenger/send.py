"""Send API request and response models (``POST /{version}/me/messages``).

The models enforce Meta's documented limits, so pagedesk refuses a bad send with a
pydantic ``ValidationError`` before it reaches Meta. Serialise a request with
:meth:`SendRequest.as_payload` (``model_dump(exclude_none=True, mode="json")``).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "Attachment",
    "Button",
    "ButtonTemplate",
    "CallButton",
    "DefaultAction",
    "GenericElement",
    "GenericTemplate",
    "MediaAttachment",
    "MediaElement",
    "MediaPayload",
    "MediaTemplate",
    "Message",
    "MessageTag",
    "MessagingType",
    "NotificationFrequency",
    "NotificationMessagesTemplate",
    "NotificationType",
    "OneTimeNotifReqTemplate",
    "PersonName",
    "PostbackButton",
    "QuickReply",
    "ReceiptAddress",
    "ReceiptAdjustment",
    "ReceiptElement",
    "ReceiptSummary",
    "ReceiptTemplate",
    "Recipient",
    "ReplyTo",
    "SendRequest",
    "SendResult",
    "SenderAction",
    "Template",
    "TemplateAttachment",
    "UrlButton",
]


class MessagingType(StrEnum):
    RESPONSE = "RESPONSE"  # answering the customer inside the window
    UPDATE = "UPDATE"  # proactive, inside the window
    MESSAGE_TAG = "MESSAGE_TAG"  # outside the window, with ``tag``


class MessageTag(StrEnum):
    """Tags pagedesk knows. Which ones a channel may use is policy data (policy.py)."""

    HUMAN_AGENT = "HUMAN_AGENT"
    CUSTOMER_FEEDBACK = "CUSTOMER_FEEDBACK"
    # Retired by Meta: fail with error 100 since 27 April 2026.
    CONFIRMED_EVENT_UPDATE = "CONFIRMED_EVENT_UPDATE"
    POST_PURCHASE_UPDATE = "POST_PURCHASE_UPDATE"
    ACCOUNT_UPDATE = "ACCOUNT_UPDATE"


class NotificationType(StrEnum):
    REGULAR = "REGULAR"
    SILENT_PUSH = "SILENT_PUSH"
    NO_PUSH = "NO_PUSH"


class SenderAction(StrEnum):
    TYPING_ON = "typing_on"
    TYPING_OFF = "typing_off"
    MARK_SEEN = "mark_seen"


class NotificationFrequency(StrEnum):
    """Recurring notification frequencies (retired by Meta on 10 February 2026)."""

    DAILY = "DAILY"
    WEEKLY = "WEEKLY"
    MONTHLY = "MONTHLY"


NonEmpty = Annotated[str, Field(min_length=1)]
Url = Annotated[str, Field(pattern=r"^https?://\S+$")]
ButtonTitle = Annotated[str, Field(min_length=1, max_length=20)]
Payload = Annotated[str, Field(min_length=1, max_length=1000)]
Text80 = Annotated[str, Field(min_length=1, max_length=80)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _exactly_one(model: BaseModel, fields: tuple[str, ...]) -> None:
    given = [name for name in fields if getattr(model, name) is not None]
    if len(given) != 1:
        raise ValueError(f"exactly one of {', '.join(fields)} is required (got {given or 'none'})")


# --- recipient ------------------------------------------------------------------


class PersonName(_Model):
    first_name: NonEmpty
    last_name: NonEmpty


_RECIPIENT_KEYS = (
    "id",
    "comment_id",
    "post_id",
    "user_ref",
    "phone_number",
    "one_time_notif_token",
    "notification_messages_token",
)
_TOKEN_KEYS = ("one_time_notif_token", "notification_messages_token")


class Recipient(_Model):
    """Exactly one way to address the person.

    ``id`` is a PSID; ``comment_id`` / ``post_id`` send a private reply; ``phone_number``
    (with an optional ``name``) is customer matching; the two token fields are the
    retired one-time and recurring notifications.
    """

    id: NonEmpty | None = None
    comment_id: NonEmpty | None = None
    post_id: NonEmpty | None = None
    user_ref: NonEmpty | None = None
    phone_number: NonEmpty | None = None
    name: PersonName | None = None
    one_time_notif_token: NonEmpty | None = None
    notification_messages_token: NonEmpty | None = None

    @model_validator(mode="after")
    def _one_address(self) -> Recipient:
        _exactly_one(self, _RECIPIENT_KEYS)
        if self.name is not None and self.phone_number is None:
            raise ValueError("name is only allowed with phone_number")
        return self

    @property
    def is_notification_token(self) -> bool:
        return any(getattr(self, key) is not None for key in _TOKEN_KEYS)


# --- buttons and quick replies --------------------------------------------------


class UrlButton(_Model):
    type: Literal["web_url"] = "web_url"
    title: ButtonTitle
    url: Url
    webview_height_ratio: Literal["compact", "tall", "full"] | None = None
    messenger_extensions: bool | None = None
    fallback_url: Url | None = None


class PostbackButton(_Model):
    type: Literal["postback"] = "postback"
    title: ButtonTitle
    payload: Payload


class CallButton(_Model):
    type: Literal["phone_number"] = "phone_number"
    title: ButtonTitle
    payload: Annotated[str, Field(pattern=r"^\+\d[\d ]{3,}$")]  # the phone number, "+" first


Button = Annotated[UrlButton | PostbackButton | CallButton, Field(discriminator="type")]


class QuickReply(_Model):
    content_type: Literal["text", "user_phone_number", "user_email"] = "text"
    title: ButtonTitle | None = None
    payload: Payload | None = None
    image_url: Url | None = None

    @model_validator(mode="after")
    def _text_needs_title_and_payload(self) -> QuickReply:
        if self.content_type == "text" and (self.title is None or self.payload is None):
            raise ValueError("a text quick reply needs a title and a payload")
        if self.content_type != "text" and self.title is not None:
            raise ValueError(f"a {self.content_type} quick reply takes no title")
        return self


# --- attachments ----------------------------------------------------------------


class MediaPayload(_Model):
    url: Url | None = None
    attachment_id: NonEmpty | None = None
    is_reusable: bool | None = None

    @model_validator(mode="after")
    def _one_source(self) -> MediaPayload:
        _exactly_one(self, ("url", "attachment_id"))
        return self


class MediaAttachment(_Model):
    type: Literal["image", "audio", "video", "file"]
    payload: MediaPayload


class DefaultAction(_Model):
    type: Literal["web_url"] = "web_url"
    url: Url
    webview_height_ratio: Literal["compact", "tall", "full"] | None = None


class GenericElement(_Model):
    title: Text80
    subtitle: Text80 | None = None
    image_url: Url | None = None
    default_action: DefaultAction | None = None
    buttons: list[Button] | None = Field(default=None, min_length=1, max_length=3)


class GenericTemplate(_Model):
    template_type: Literal["generic"] = "generic"
    elements: list[GenericElement] = Field(min_length=1, max_length=10)
    image_aspect_ratio: Literal["horizontal", "square"] | None = None
    sharable: bool | None = None


class ButtonTemplate(_Model):
    template_type: Literal["button"] = "button"
    text: Annotated[str, Field(min_length=1, max_length=640)]
    buttons: list[Button] = Field(min_length=1, max_length=3)
    sharable: bool | None = None


class MediaElement(_Model):
    media_type: Literal["image", "video"]
    url: Url | None = None
    attachment_id: NonEmpty | None = None
    buttons: list[Button] | None = Field(default=None, min_length=1, max_length=3)

    @model_validator(mode="after")
    def _one_source(self) -> MediaElement:
        _exactly_one(self, ("url", "attachment_id"))
        return self


class MediaTemplate(_Model):
    template_type: Literal["media"] = "media"
    elements: list[MediaElement] = Field(min_length=1, max_length=1)
    sharable: bool | None = None


class ReceiptSummary(_Model):
    total_cost: float
    subtotal: float | None = None
    shipping_cost: float | None = None
    total_tax: float | None = None


class ReceiptElement(_Model):
    title: NonEmpty
    price: float
    subtitle: str | None = None
    quantity: int | None = None
    currency: str | None = None
    image_url: Url | None = None


class ReceiptAddress(_Model):
    street_1: NonEmpty
    city: NonEmpty
    postal_code: NonEmpty
    state: NonEmpty
    country: NonEmpty
    street_2: str | None = None


class ReceiptAdjustment(_Model):
    name: NonEmpty
    amount: float


class ReceiptTemplate(_Model):
    template_type: Literal["receipt"] = "receipt"
    recipient_name: NonEmpty
    order_number: NonEmpty
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
    payment_method: NonEmpty
    summary: ReceiptSummary
    merchant_name: str | None = None
    timestamp: str | None = None
    order_url: Url | None = None
    elements: list[ReceiptElement] | None = Field(default=None, max_length=100)
    address: ReceiptAddress | None = None
    adjustments: list[ReceiptAdjustment] | None = None
    sharable: bool | None = None


class OneTimeNotifReqTemplate(_Model):
    """One-time notification request (retired by Meta; kept for the sandbox)."""

    template_type: Literal["one_time_notif_req"] = "one_time_notif_req"
    title: Annotated[str, Field(min_length=1, max_length=65)]
    payload: Payload


class NotificationMessagesTemplate(_Model):
    """Recurring notification opt-in request (retired by Meta on 10 February 2026)."""

    template_type: Literal["notification_messages"] = "notification_messages"
    title: Annotated[str, Field(min_length=1, max_length=65)]
    payload: Payload
    notification_messages_frequency: NotificationFrequency | None = None
    image_url: Url | None = None
    notification_messages_timezone: str | None = None
    notification_messages_cta_text: str | None = None
    notification_messages_reoptin: Literal["ENABLED", "DISABLED"] | None = None


Template = Annotated[
    GenericTemplate
    | ButtonTemplate
    | MediaTemplate
    | ReceiptTemplate
    | OneTimeNotifReqTemplate
    | NotificationMessagesTemplate,
    Field(discriminator="template_type"),
]


class TemplateAttachment(_Model):
    type: Literal["template"] = "template"
    payload: Template


Attachment = Annotated[MediaAttachment | TemplateAttachment, Field(discriminator="type")]


# --- message and request --------------------------------------------------------


class Message(_Model):
    """Exactly one of ``text``, ``attachment`` or ``sticker_id``."""

    text: Annotated[str, Field(min_length=1, max_length=2000)] | None = None
    attachment: Attachment | None = None
    sticker_id: Annotated[int, Field(gt=0)] | None = None
    quick_replies: list[QuickReply] | None = Field(default=None, min_length=1, max_length=13)
    metadata: Annotated[str, Field(min_length=1, max_length=1000)] | None = None

    @model_validator(mode="after")
    def _one_content(self) -> Message:
        _exactly_one(self, ("text", "attachment", "sticker_id"))
        return self


class ReplyTo(_Model):
    mid: NonEmpty


class SendRequest(_Model):
    """One Send API call: a ``message`` or a ``sender_action``, never both.

    ``messaging_type`` is required with a message (except when the recipient is a
    notification token, which itself is the permission); ``tag`` is given exactly
    when ``messaging_type`` is ``MESSAGE_TAG``. The tag is a plain upper-case string so
    a tag Meta adds later needs a policy setting, not a release.
    """

    recipient: Recipient
    messaging_type: MessagingType | None = None
    tag: Annotated[str, Field(pattern=r"^[A-Z][A-Z_]*$")] | None = None
    message: Message | None = None
    sender_action: SenderAction | None = None
    persona_id: NonEmpty | None = None
    notification_type: NotificationType | None = None
    reply_to: ReplyTo | None = None

    @model_validator(mode="after")
    def _consistent(self) -> SendRequest:
        if (self.message is None) == (self.sender_action is None):
            raise ValueError("give exactly one of message or sender_action (never both)")
        if self.sender_action is not None:
            extra = [
                name
                for name in ("messaging_type", "tag", "notification_type", "reply_to")
                if getattr(self, name) is not None
            ]
            if extra:
                raise ValueError(f"a sender action takes no {', '.join(extra)}")
            return self
        if self.messaging_type is None and not self.recipient.is_notification_token:
            raise ValueError("messaging_type is required with a message")
        if (self.messaging_type is MessagingType.MESSAGE_TAG) != (self.tag is not None):
            raise ValueError("tag is required with MESSAGE_TAG and allowed only with it")
        return self

    def as_payload(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True, mode="json")


class SendResult(BaseModel):
    """Meta's answer; ``recipient_id`` is absent for phone_number / user_ref sends."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    recipient_id: str | None = None
    message_id: str
