"""Typed models of the webhook events the Messenger Platform sends (see messenger-platform.md).

Every model tolerates fields Meta adds later: they are kept and readable through
``model_extra``. Unknown event kinds and attachment types become explicit
``Unsupported*`` values that keep the raw JSON, so new Meta features are stored and
shown as "unsupported content" instead of failing the whole delivery.

``webhook.parse_webhook`` turns a request body into :class:`WebhookEvent` values
carrying these payloads.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeAlias, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    RootModel,
    Tag,
)

# Meta's own Page Inbox app: echoes with this app_id were written in Meta's inbox, and
# it is the usual other party in thread-control (handover) events.
META_PAGE_INBOX_APP_ID = "263902037430900"


def _id_to_str(value: Any) -> Any:
    # Meta sends most ids as strings but some (app_id, sticker_id, app ids in handover
    # events) as JSON numbers; pagedesk always handles ids as strings.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def _reject_bool(value: Any) -> Any:
    # pydantic would read true/false as 1/0; a boolean timestamp is a malformed body.
    if isinstance(value, bool):
        raise ValueError("expected a number, not a boolean")
    return value


Id = Annotated[str, BeforeValidator(_id_to_str), Field(min_length=1)]
"""A Graph API id (page, PSID, app, sticker...), always a non-empty string."""

Millis = Annotated[int, BeforeValidator(_reject_bool), Field(ge=0)]
"""A Unix timestamp in milliseconds."""


class MetaModel(BaseModel):
    """Base of all payload models: immutable, and keeps fields it does not declare."""

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)


def _none_as_empty_list(value: Any) -> Any:
    return [] if value is None else value


class Party(MetaModel):
    """``sender`` / ``recipient`` of a messaging event."""

    id: Id | None = None
    # Set instead of ``id`` for people known only through a plugin opt-in.
    user_ref: str | None = None


# --- attachments -------------------------------------------------------------------


class MediaPayload(MetaModel):
    url: str | None = None
    # Stickers used to arrive as images carrying their sticker id (see StickerAttachment).
    sticker_id: Id | None = None


class MediaAttachment(MetaModel):
    """An image, video, audio clip or file. ``payload.url`` expires: download it."""

    type: Literal["image", "video", "audio", "file"]
    payload: MediaPayload = Field(default_factory=MediaPayload)

    @property
    def url(self) -> str | None:
        return self.payload.url

    @property
    def sticker_id(self) -> str | None:
        return self.payload.sticker_id


class StickerPayload(MetaModel):
    url: str | None = None
    sticker_id: Id | None = None


class StickerAttachment(MetaModel):
    """A sticker (attachment type since June 2026).

    Until 30 Aug 2026 Meta sends it together with an ``image`` attachment of the same
    sticker; use :func:`dedupe_sticker_attachments` to show it once.
    """

    type: Literal["sticker"]
    payload: StickerPayload = Field(default_factory=StickerPayload)

    @property
    def url(self) -> str | None:
        return self.payload.url

    @property
    def sticker_id(self) -> str | None:
        if self.payload.sticker_id is not None:
            return self.payload.sticker_id
        # Tolerate the id next to the payload rather than inside it.
        outer = _id_to_str((self.model_extra or {}).get("sticker_id"))
        return outer if isinstance(outer, str) and outer else None


class Coordinates(MetaModel):
    lat: float
    long: float


class LocationPayload(MetaModel):
    coordinates: Coordinates | None = None


class LocationAttachment(MetaModel):
    type: Literal["location"]
    title: str | None = None
    url: str | None = None
    payload: LocationPayload = Field(default_factory=LocationPayload)


class LinkPayload(MetaModel):
    url: str | None = None
    title: str | None = None


class FallbackAttachment(MetaModel):
    """A shared link or other content Messenger renders as a plain card.

    For shares Meta cannot describe, ``payload`` is absent or null.
    """

    type: Literal["fallback"]
    title: str | None = None
    url: str | None = None
    payload: LinkPayload | None = None


class TemplatePayload(MetaModel):
    # Absent on product templates (a customer asking about a shop product).
    template_type: str | None = None
    text: str | None = None
    elements: list[dict[str, Any]] | None = None
    buttons: list[dict[str, Any]] | None = None


class TemplateAttachment(MetaModel):
    type: Literal["template"]
    payload: TemplatePayload = Field(default_factory=TemplatePayload)


class SharedContentAttachment(MetaModel):
    """Content shared into the conversation: link shares, reels, posts, story mentions."""

    type: Literal["share", "reel", "ig_reel", "post", "ig_post", "story_mention"]
    payload: LinkPayload = Field(default_factory=LinkPayload)

    @property
    def url(self) -> str | None:
        return self.payload.url


class UnsupportedAttachment(MetaModel):
    """An attachment type pagedesk does not model; ``raw`` is the attachment as received."""

    type: str | None = None
    raw: dict[str, Any]


def _wrap_unsupported_attachment(value: Any) -> Any:
    if isinstance(value, dict):
        kind = value.get("type")
        return {"type": kind if isinstance(kind, str) else None, "raw": value}
    return value


_ATTACHMENT_TAGS = {
    "image": "media",
    "video": "media",
    "audio": "media",
    "file": "media",
    "sticker": "sticker",
    "location": "location",
    "fallback": "fallback",
    "template": "template",
    "share": "shared",
    "reel": "shared",
    "ig_reel": "shared",
    "post": "shared",
    "ig_post": "shared",
    "story_mention": "shared",
}


def _attachment_tag(value: Any) -> str:
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    if isinstance(value, UnsupportedAttachment) or not isinstance(kind, str):
        return "unsupported"
    return _ATTACHMENT_TAGS.get(kind, "unsupported")


Attachment: TypeAlias = Annotated[
    Annotated[MediaAttachment, Tag("media")]
    | Annotated[StickerAttachment, Tag("sticker")]
    | Annotated[LocationAttachment, Tag("location")]
    | Annotated[FallbackAttachment, Tag("fallback")]
    | Annotated[TemplateAttachment, Tag("template")]
    | Annotated[SharedContentAttachment, Tag("shared")]
    | Annotated[
        UnsupportedAttachment, BeforeValidator(_wrap_unsupported_attachment), Tag("unsupported")
    ],
    Discriminator(_attachment_tag),
]


def dedupe_sticker_attachments(attachments: Sequence[Attachment]) -> list[Attachment]:
    """Drop ``image`` attachments that repeat a ``sticker`` attachment of the same message.

    During Meta's transition (to 30 Aug 2026) a sticker arrives twice: as the new
    ``sticker`` attachment and as the old ``image`` one. They are matched by sticker id
    or by URL; anything else is kept, in order.
    """
    stickers = [a for a in attachments if isinstance(a, StickerAttachment)]
    sticker_ids = {s.sticker_id for s in stickers if s.sticker_id}
    sticker_urls = {s.url for s in stickers if s.url}

    def repeats_a_sticker(attachment: Attachment) -> bool:
        return (
            isinstance(attachment, MediaAttachment)
            and attachment.type == "image"
            and (attachment.sticker_id in sticker_ids or attachment.url in sticker_urls)
        )

    return [a for a in attachments if not repeats_a_sticker(a)]


# --- messages and message parts ----------------------------------------------------


class QuickReply(MetaModel):
    payload: str


class StoryRef(MetaModel):
    """The Instagram story a message replies to."""

    id: Id | None = None
    url: str | None = None


class ReplyTo(MetaModel):
    mid: str | None = None
    is_self_reply: bool | None = None
    story: StoryRef | None = None


class ReferralSource(enum.StrEnum):
    """Known values of ``referral.source`` (Meta may send others)."""

    SHORTLINK = "SHORTLINK"
    ADS = "ADS"
    MESSENGER_CODE = "MESSENGER_CODE"
    CUSTOMER_CHAT_PLUGIN = "CUSTOMER_CHAT_PLUGIN"


class AdsContextData(MetaModel):
    ad_title: str | None = None
    photo_url: str | None = None
    video_url: str | None = None
    post_id: str | None = None
    product_id: str | None = None
    flow_id: str | None = None


class Referral(MetaModel):
    """Where a customer came from: an m.me link, an ad, a QR / Messenger code, a plugin."""

    ref: str | None = None
    source: str | None = None
    type: str | None = None
    ad_id: Id | None = None
    ads_context_data: AdsContextData | None = None
    referer_uri: str | None = None

    @property
    def is_ad(self) -> bool:
        return self.source == ReferralSource.ADS


class Message(MetaModel):
    """``message``: a customer message, or with ``is_echo`` one the page sent."""

    mid: str
    text: str | None = None
    attachments: Annotated[list[Attachment], BeforeValidator(_none_as_empty_list)] = Field(
        default_factory=list
    )
    quick_reply: QuickReply | None = None
    reply_to: ReplyTo | None = None
    referral: Referral | None = None
    # Echoes: ``app_id`` of the sending app and the ``metadata`` string it set.
    is_echo: bool = False
    app_id: Id | None = None
    metadata: str | None = None
    # Instagram only.
    is_deleted: bool = False
    is_unsupported: bool = False

    @property
    def display_attachments(self) -> list[Attachment]:
        """The attachments to show, with a transition-period sticker shown once."""
        return dedupe_sticker_attachments(self.attachments)


class Postback(MetaModel):
    """A tapped button, Get Started, persistent-menu item or ice breaker."""

    title: str | None = None
    payload: str | None = None
    mid: str | None = None
    referral: Referral | None = None


class Delivery(MetaModel):
    """Every page message sent up to ``watermark`` reached the customer's device."""

    watermark: Millis
    mids: Annotated[list[str], BeforeValidator(_none_as_empty_list)] = Field(default_factory=list)


class Read(MetaModel):
    """The customer read the thread: Messenger gives ``watermark``, Instagram ``mid``."""

    watermark: Millis | None = None
    mid: str | None = None


class Reaction(MetaModel):
    """A reaction added (``react``) or removed (``unreact``: only ``mid`` and ``action``)."""

    mid: str
    action: str
    reaction: str | None = None
    emoji: str | None = None

    @property
    def is_removed(self) -> bool:
        return self.action == "unreact"


class Optin(MetaModel):
    """An opt-in: one-time / recurring notification tokens (both retired) or a plugin.

    ``type`` is ``one_time_notif_req`` or ``notification_messages`` for the token kinds
    and absent for a plugin opt-in, which carries ``ref`` and possibly ``user_ref``.
    """

    type: str | None = None
    payload: str | None = None
    title: str | None = None
    ref: str | None = None
    user_ref: str | None = None
    one_time_notif_token: str | None = None
    notification_messages_token: str | None = None
    notification_messages_frequency: str | None = None
    notification_messages_timezone: str | None = None
    token_expiry_timestamp: Millis | None = None
    user_token_status: str | None = None
    notification_messages_status: str | None = None


class ThreadControl(MetaModel):
    """Payload of ``pass_thread_control`` / ``take_thread_control`` / ``request_thread_control``.

    ``previous_owner_app_id`` is null when the thread was idle.
    """

    new_owner_app_id: Id | None = None
    previous_owner_app_id: Id | None = None
    requested_owner_app_id: Id | None = None
    metadata: str | None = None


class AppRoles(RootModel[dict[Id, list[str]]]):
    """``app_roles``: Meta sends the mapping app id -> roles (``primary_receiver``...)."""

    model_config = ConfigDict(frozen=True)

    @property
    def roles(self) -> dict[str, list[str]]:
        return self.root


class PolicyEnforcement(MetaModel):
    """Meta warned, blocked or unblocked the page; ``reason`` is absent on unblock."""

    action: str
    reason: str | None = None


class MessageEdit(MetaModel):
    mid: str
    text: str | None = None
    num_edit: int | None = None


# --- comments (``changes``) --------------------------------------------------------


class CommentAuthor(MetaModel):
    """Who commented. Not a PSID: reach them with a private reply to the comment."""

    id: Id | None = None
    name: str | None = None
    username: str | None = None


class FeedComment(MetaModel):
    """A comment on a page post (``changes[].field == "feed"``, ``item == "comment"``)."""

    item: Literal["comment"]
    verb: str
    comment_id: str
    post_id: str | None = None
    parent_id: str | None = None
    from_: CommentAuthor | None = Field(default=None, alias="from")
    message: str | None = None
    created_time: int | None = None  # seconds

    @property
    def text(self) -> str | None:
        return self.message

    @property
    def media_id(self) -> str | None:
        return self.post_id


class InstagramMedia(MetaModel):
    id: Id
    media_product_type: str | None = None


class InstagramComment(MetaModel):
    """A comment on Instagram media (``changes[].field == "comments"``)."""

    id: Id
    text: str | None = None
    from_: CommentAuthor | None = Field(default=None, alias="from")
    media: InstagramMedia | None = None
    parent_id: str | None = None

    @property
    def comment_id(self) -> str:
        return self.id

    @property
    def verb(self) -> str:
        return "add"  # Instagram only reports new comments.

    @property
    def media_id(self) -> str | None:
        return self.media.id if self.media else None


Comment: TypeAlias = FeedComment | InstagramComment


class UnsupportedEvent(MetaModel):
    """An event pagedesk does not model. ``key`` names it (event key or change field)."""

    key: str | None = None
    raw: dict[str, Any]


EventPayload: TypeAlias = (
    Message
    | Postback
    | Referral
    | Delivery
    | Read
    | Reaction
    | Optin
    | ThreadControl
    | AppRoles
    | PolicyEnforcement
    | MessageEdit
    | FeedComment
    | InstagramComment
    | UnsupportedEvent
)


# --- the event ---------------------------------------------------------------------


class EventKind(enum.StrEnum):
    MESSAGE = "message"
    ECHO = "echo"
    MESSAGE_DELETE = "message_delete"  # Instagram: the customer unsent a message
    POSTBACK = "postback"
    REFERRAL = "referral"
    DELIVERY = "delivery"
    READ = "read"
    REACTION = "reaction"
    OPTIN = "optin"
    PASS_THREAD_CONTROL = "pass_thread_control"
    TAKE_THREAD_CONTROL = "take_thread_control"
    REQUEST_THREAD_CONTROL = "request_thread_control"
    APP_ROLES = "app_roles"
    POLICY_ENFORCEMENT = "policy_enforcement"
    MESSAGE_EDIT = "message_edit"
    COMMENT = "comment"
    UNSUPPORTED = "unsupported"


WebhookObject: TypeAlias = Literal["page", "instagram"]

PayloadT = TypeVar("PayloadT", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    """One event of a webhook delivery, with the context of the entry it came in."""

    kind: EventKind
    page_id: str  # the entry id: Facebook page or Instagram account
    payload: EventPayload
    raw: dict[str, Any]  # the event (or change) exactly as received
    object: WebhookObject = "page"
    is_standby: bool = False  # another app owns the thread (``entry.standby``)
    sender_id: str | None = None
    recipient_id: str | None = None
    timestamp: int | None = None  # ms; for comments derived from ``created_time``

    @property
    def customer_id(self) -> str | None:
        """PSID (IGSID on Instagram) of the customer whose thread this event belongs to.

        The sender for customer events, the recipient for echoes; None for page-level
        events (policy, app roles) and for comments, whose author id is not a PSID.
        """
        if self.kind is EventKind.COMMENT:
            return None
        if self.kind is EventKind.ECHO:
            return self.recipient_id
        for party in (self.sender_id, self.recipient_id):
            if party is not None and party != self.page_id:
                return party
        return None

    @property
    def thread_key(self) -> str:
        """A key to partition work by: events of one thread share it, and come in order.

        The customer id when there is one; otherwise ``user_ref:<ref>`` for a plugin
        opt-in, ``post:<id>`` for comments and ``page:<id>`` for page-level events.
        """
        if (customer := self.customer_id) is not None:
            return customer
        payload = self.payload
        if isinstance(payload, Optin) and payload.user_ref:
            return f"user_ref:{payload.user_ref}"
        if isinstance(payload, FeedComment | InstagramComment) and payload.media_id:
            return f"post:{payload.media_id}"
        return f"page:{self.page_id}"

    def payload_as(self, model: type[PayloadT]) -> PayloadT:
        """The payload, checked to be a ``model``: ``event.payload_as(Message).text``."""
        if not isinstance(self.payload, model):
            raise TypeError(
                f"{self.kind} event carries {type(self.payload).__name__}, not {model.__name__}"
            )
        return self.payload
