"""The sandbox's records. Plain dataclasses, so a snapshot is ``asdict`` and back."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

CURRENT_TAGS = ("HUMAN_AGENT", "CUSTOMER_FEEDBACK")
# Described by the 2023 guide, rejected with error 100 since 27 April 2026.
RETIRED_TAGS = ("CONFIRMED_EVENT_UPDATE", "POST_PURCHASE_UPDATE", "ACCOUNT_UPDATE")

# Webhook fields a page can subscribe the app to (``subscribed_apps``).
WEBHOOK_FIELDS = (
    "messages",
    "message_echoes",
    "message_deliveries",
    "message_reads",
    "message_reactions",
    "message_edits",
    "messaging_postbacks",
    "messaging_referrals",
    "messaging_optins",
    "messaging_handovers",
    "messaging_policy_enforcement",
    "messaging_account_linking",
    "messaging_customer_information",
    "messaging_feedback",
    "standby",
    "feed",
    "inbox_labels",
    "response_feedback",
)

Sender = Literal["customer", "page"]


@dataclass(kw_only=True)
class AppInfo:
    app_id: str
    app_secret: str
    name: str = "pagedesk sandbox"
    callback_url: str | None = None
    verify_token: str | None = None


@dataclass(kw_only=True)
class Page:
    page_id: str
    name: str
    username: str
    access_token: str
    subscribed_fields: list[str] = field(default_factory=list)
    rate_limit_per_second: float | None = None
    restricted: bool = False
    token_valid: bool = True
    token_expires_at: float | None = None  # epoch seconds; None: never
    auto_read: bool = False
    human_agent_approved: bool = True
    customer_matching_enabled: bool = True
    tag_misuse_flagged: bool = False
    fail_next_sends: int = 0
    slow_next_sends: int = 0  # these answer after slow_send_seconds (see send_faults)
    slow_send_seconds: float = 30.0
    slow_sends_deliver: bool = True  # False: the slow call hangs, then fails unsent
    allowed_tags: list[str] = field(default_factory=lambda: list(CURRENT_TAGS))
    messenger_profile: dict[str, Any] = field(default_factory=dict)
    default_post_id: str | None = None


@dataclass(kw_only=True)
class Customer:
    psid: str
    page_id: str
    first_name: str
    last_name: str
    locale: str = "en_US"
    timezone: float = 0
    profile_pic: str = ""
    has_profile: bool = True
    user_id: str = ""  # the id shown in feed changes (comments), not a PSID
    blocked: bool = False
    unavailable: bool = False  # 10/2018108: cannot receive messages right now
    thread_started: bool = False
    last_interaction_ms: int | None = None  # last message / postback / referral
    ad_window_from_ms: int | None = None  # first message after a click-to-Messenger ad
    thread_owner_app_id: str | None = None  # None: the sandbox app owns the thread
    phone_number: str | None = None
    request_state: Literal["none", "pending", "accepted"] = "none"
    pending_referral: dict[str, Any] | None = None  # an ad click waiting for the first message
    typing: bool = False

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


@dataclass(kw_only=True)
class ThreadMessage:
    mid: str
    page_id: str
    psid: str
    sender: Sender
    timestamp: int
    kind: str = "message"  # message, postback, private_reply, message_request
    text: str | None = None
    attachments: list[dict[str, Any]] = field(default_factory=list)
    quick_replies: list[dict[str, Any]] = field(default_factory=list)
    quick_reply_payload: str | None = None
    postback_payload: str | None = None
    reply_to_mid: str | None = None
    referral: dict[str, Any] | None = None
    sticker_id: int | None = None
    persona_id: str | None = None
    metadata: str | None = None
    messaging_type: str | None = None
    tag: str | None = None
    app_id: str | None = None
    author_psid: str | None = None  # in a group thread: the member who wrote it
    reaction: dict[str, Any] | None = None
    edit_count: int = 0
    delivered: bool = False
    read: bool = False


@dataclass(kw_only=True)
class GroupThread:
    """A group chat the page's bot is in. Its messages are ``ThreadMessage`` records whose
    ``psid`` is the ``thread_id`` (``author_psid`` names the member who wrote)."""

    thread_id: str  # t_<digits>
    page_id: str
    title: str
    members: list[str]
    created_ms: int
    last_interaction_ms: int | None = None  # last message from a member
    typing: bool = False


@dataclass(kw_only=True)
class Persona:
    id: str
    page_id: str
    name: str
    profile_picture_url: str
    deleted: bool = False


@dataclass(kw_only=True)
class Post:
    post_id: str  # PAGEID_POSTNUMBER
    page_id: str
    message: str
    created_time: int
    author_psid: str | None = None  # a visitor post when set
    private_reply_mid: str | None = None
    status_type: str = "mobile_status_update"
    permalink_url: str = ""


@dataclass(kw_only=True)
class Comment:
    comment_id: str  # POSTNUMBER_COMMENTNUMBER
    post_id: str
    page_id: str
    psid: str
    message: str
    created_time: int  # seconds
    parent_id: str | None = None
    private_reply_mid: str | None = None


@dataclass(kw_only=True)
class NotificationToken:
    token: str
    kind: Literal["one_time", "recurring"]
    page_id: str
    psid: str
    created_ms: int
    expires_ms: int
    payload: str = ""
    title: str = ""
    frequency: str | None = None  # DAILY, WEEKLY, MONTHLY
    used: bool = False
    last_sent_ms: int | None = None
    stopped: bool = False


@dataclass(kw_only=True)
class UserRef:
    user_ref: str
    page_id: str
    psid: str
    ref: str = ""
    used: bool = False


@dataclass(kw_only=True)
class UploadedAttachment:
    attachment_id: str
    page_id: str
    type: str
    url: str


@dataclass(kw_only=True)
class DeliveryConfig:
    batch_max_events: int = 1
    batch_window_ms: int = 0
    duplicate_rate: float = 0.0
    reorder: bool = False
    retry_max_attempts: int = 4
    retry_initial_delay: float = 0.5
    timeout_seconds: float = 5.0
    media_url_ttl_seconds: float = 3600.0  # lifetime of the media URLs the sandbox hands out


@dataclass(frozen=True, kw_only=True)
class MediaFile:
    """A file served under ``/_sandbox/media/``: built in, or uploaded (runtime only,
    never in the snapshot)."""

    name: str
    content_type: str
    kind: str  # the attachment type: image, audio, video or file
    data: bytes
    created_at: float = 0.0


@dataclass(kw_only=True)
class QueuedEvent:
    """One event waiting for delivery; ``container`` is the entry key it goes under."""

    page_id: str
    container: Literal["messaging", "standby", "changes"]
    event: dict[str, Any]
