"""Contacts, conversations, messages, and the per-event ingestion queue.

Idempotency lives in the schema: a Meta ``mid`` is unique per workspace, an event
of a raw delivery is unique by (delivery, index), a contact by (channel, PSID), a
conversation by (channel, thread key). Replaying anything changes nothing.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Coalesce

from pagedesk.core.models import Channel, RawWebhook, Team, Workspace


class Contact(models.Model):
    class ProfileStatus(models.TextChoices):
        PENDING = "pending", "not fetched yet"
        OK = "ok", "fetched"
        UNAVAILABLE = "unavailable", "no profile available"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="contacts")
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="contacts")
    psid = models.CharField(max_length=64)
    first_name = models.CharField(max_length=255, blank=True)
    last_name = models.CharField(max_length=255, blank=True)
    profile_pic = models.TextField(blank=True)
    locale = models.CharField(max_length=16, blank=True)
    timezone = models.FloatField(null=True, blank=True)
    profile_status = models.CharField(
        max_length=16, choices=ProfileStatus.choices, default=ProfileStatus.PENDING
    )
    profile_fetched_at = models.DateTimeField(null=True, blank=True)
    unreachable_reason = models.TextField(blank=True)  # blocked the page, deactivated, …
    # Meta warned about tagged messages to this person (613 / 2018338): pagedesk sends
    # them nothing tagged until an admin allows it again.
    tagged_sends_stopped_at = models.DateTimeField(null=True, blank=True)
    # Attribution: how the customer first came, and most recently came, into the thread.
    first_source = models.CharField(max_length=64, blank=True)
    first_ref = models.TextField(blank=True)
    first_ad_id = models.CharField(max_length=64, blank=True)
    first_comment_id = models.CharField(max_length=128, blank=True)
    latest_source = models.CharField(max_length=64, blank=True)
    latest_ref = models.TextField(blank=True)
    latest_ad_id = models.CharField(max_length=64, blank=True)
    latest_comment_id = models.CharField(max_length=128, blank=True)
    latest_referral_at = models.DateTimeField(null=True, blank=True)
    # What the business knows about the customer: {"plan": "gold", "order": "A-1042"}.
    attributes = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["channel", "psid"], name="one_contact_per_psid")
        ]

    @property
    def display_name(self) -> str:
        name = f"{self.first_name} {self.last_name}".strip()
        return name or f"Messenger user …{self.psid[-4:]}"

    def __str__(self) -> str:
        return self.display_name


class Label(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="labels")
    name = models.CharField(max_length=64)
    color = models.CharField(max_length=16, default="#6b7280")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="unique_label_name")
        ]

    def __str__(self) -> str:
        return self.name


class Conversation(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "open"
        DONE = "done", "done"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="conversations")
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="conversations")
    # The customer's PSID for one-to-one threads, the thread id for group threads.
    thread_key = models.CharField(max_length=128)
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="conversations")
    is_group = models.BooleanField(default=False)
    participants = models.ManyToManyField(
        Contact, through="Participant", related_name="group_conversations"
    )
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL)
    labels = models.ManyToManyField(Label, blank=True, related_name="conversations")
    # Start of the messaging window: the customer's latest message or postback.
    last_customer_message_at = models.DateTimeField(null=True, blank=True)
    # The customer's first message after a click-to-Messenger ad: the window then lasts
    # up to 7 days from it.
    ad_message_at = models.DateTimeField(null=True, blank=True)
    last_message_at = models.DateTimeField(null=True, blank=True)
    unread_count = models.PositiveIntegerField(default=0)
    # Receipts: every page message sent at or before these (ms) is delivered / read.
    delivery_watermark = models.BigIntegerField(default=0)
    read_watermark = models.BigIntegerField(default=0)
    thread_owner_app_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["channel", "thread_key"], name="one_conv_per_thread")
        ]
        indexes = [
            models.Index(fields=["workspace", "status", "-updated_at"]),
            # The tab counts (Mine / Unassigned / All / Done) from the index alone.
            models.Index(fields=["workspace", "status", "assignee"], name="inbox_conv_tab_counts"),
            # The inbox list's order (most recent activity first), so a page of it is
            # read from the index instead of sorting every open conversation.
            models.Index(
                F("workspace"),
                F("status"),
                Coalesce("last_message_at", "created_at").desc(),
                F("id").desc(),
                name="inbox_conversation_activity",
            ),
        ]

    def __str__(self) -> str:
        return f"conversation #{self.pk} with {self.contact}"


class Participant(models.Model):
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE)
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE)
    joined_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["conversation", "contact"], name="unique_participant")
        ]


class Message(models.Model):
    class Direction(models.TextChoices):
        INBOUND = "in", "from the customer"
        OUTBOUND = "out", "from the page"
        SYSTEM = "system", "system line"

    class Kind(models.TextChoices):
        MESSAGE = "message", "message"
        POSTBACK = "postback", "postback"
        REFERRAL = "referral", "referral"
        OPTIN = "optin", "opt-in"
        HANDOVER = "handover", "thread ownership"
        POLICY = "policy", "policy enforcement"
        COMMENT = "comment", "comment"
        UNSUPPORTED = "unsupported", "unsupported content"

    class Status(models.TextChoices):
        RECEIVED = "received", "received"
        QUEUED = "queued", "queued"
        SENT = "sent", "sent"
        DELIVERED = "delivered", "delivered"
        READ = "read", "read"
        FAILED = "failed", "failed"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="messages")
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    contact = models.ForeignKey(Contact, null=True, blank=True, on_delete=models.SET_NULL)
    direction = models.CharField(max_length=8, choices=Direction.choices)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.MESSAGE)
    mid = models.CharField(max_length=255, null=True, blank=True)
    # For rows without a Meta mid (referrals, opt-ins, …): a key derived from the event,
    # so a redelivered event cannot add a second line.
    dedupe_key = models.CharField(max_length=64, null=True, blank=True)
    text = models.TextField(blank=True)
    quick_reply_payload = models.TextField(blank=True)
    postback_payload = models.TextField(blank=True)
    reply_to_mid = models.CharField(max_length=255, blank=True)
    data = models.JSONField(default=dict, blank=True)  # referral, opt-in, handover details …
    metadata = models.TextField(blank=True)  # what pagedesk put in the send; back on the echo
    status = models.CharField(max_length=16, choices=Status.choices)
    failed_reason = models.TextField(blank=True)
    sender_app_id = models.CharField(max_length=64, blank=True)  # echoes: which app sent it
    sender_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    timestamp_ms = models.BigIntegerField()  # Meta's time of the event
    sent_at = models.DateTimeField()
    edited_at = models.DateTimeField(null=True, blank=True)
    edit_count = models.PositiveIntegerField(default=0)
    deleted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "mid"], condition=Q(mid__isnull=False), name="unique_mid"
            ),
            models.UniqueConstraint(
                fields=["workspace", "dedupe_key"],
                condition=Q(dedupe_key__isnull=False),
                name="unique_dedupe_key",
            ),
        ]
        indexes = [models.Index(fields=["conversation", "timestamp_ms", "id"])]
        ordering = ["timestamp_ms", "id"]

    def __str__(self) -> str:
        return f"{self.direction} {self.kind} {self.mid or self.pk}"


class Attachment(models.Model):
    class Download(models.TextChoices):
        PENDING = "pending", "downloading"
        DONE = "done", "stored"
        FAILED = "failed", "download failed"
        NOT_NEEDED = "not_needed", "nothing to download"

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="attachments")
    position = models.PositiveSmallIntegerField(default=0)
    type = models.CharField(max_length=32)
    url = models.TextField(blank=True)  # Meta's URL: expires after a while
    payload = models.JSONField(default=dict, blank=True)
    file = models.FileField(upload_to="attachments/%Y/%m/", blank=True)
    content_type = models.CharField(max_length=128, blank=True)
    size = models.PositiveIntegerField(null=True, blank=True)
    download = models.CharField(max_length=16, choices=Download.choices)
    download_error = models.TextField(blank=True)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["message", "position"], name="unique_attachment_pos")
        ]


class Reaction(models.Model):
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="reactions")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE)
    reaction = models.CharField(max_length=32)
    emoji = models.CharField(max_length=32, blank=True)
    reacted_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["message", "contact"], name="one_reaction_per_person")
        ]


class PendingReceipt(models.Model):
    """A delivery or read naming a mid we have not seen yet (the echo comes later)."""

    class Kind(models.TextChoices):
        DELIVERED = "delivered", "delivered"
        READ = "read", "read"

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE)
    mid = models.CharField(max_length=255)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["channel", "mid", "kind"], name="unique_pending")
        ]


class ChannelEvent(models.Model):
    """Something that happened to a page rather than in a thread: policy warnings and
    blocks, app roles, comments on posts. Shown to admins; nothing is dropped."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE)
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=32)
    dedupe_key = models.CharField(max_length=64)
    data = models.JSONField(default=dict)
    occurred_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["channel", "dedupe_key"], name="unique_channel_event")
        ]


class InboundEvent(models.Model):
    """One event of an accepted delivery, waiting for (or done with) ingestion.

    Events are processed in order per thread (``thread_key``), so a conversation's
    messages land in order while different conversations proceed in parallel.
    """

    class State(models.TextChoices):
        PENDING = "pending", "waiting"
        DONE = "done", "processed"
        DEAD = "dead", "failed for good (dead letter)"

    raw_webhook = models.ForeignKey(RawWebhook, on_delete=models.CASCADE, related_name="events")
    index = models.PositiveIntegerField()
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE)
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE)
    thread_key = models.CharField(max_length=128)
    kind = models.CharField(max_length=32)
    # Enough to parse the event again on its own: "page"/"instagram", the entry id and
    # which list of the entry it came in ("messaging", "standby", "changes").
    object = models.CharField(max_length=16, default="page")
    page_id = models.CharField(max_length=64)
    container = models.CharField(max_length=16, default="messaging")
    is_standby = models.BooleanField(default=False)
    timestamp_ms = models.BigIntegerField(null=True, blank=True)
    payload = models.JSONField()
    state = models.CharField(max_length=8, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["raw_webhook", "index"], name="one_row_per_event")
        ]
        indexes = [
            models.Index(fields=["channel", "thread_key", "state", "timestamp_ms", "id"]),
            models.Index(fields=["state", "next_attempt_at"]),
        ]

    def __str__(self) -> str:
        return f"event #{self.pk} {self.kind} ({self.state})"


class ThreadLane(models.Model):
    """A lock row per thread: whoever holds it processes that thread's events."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE)
    thread_key = models.CharField(max_length=128)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["channel", "thread_key"], name="one_lane_per_thread")
        ]


class Note(models.Model):
    """An internal note on a conversation: seen by the team, never sent to the customer."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,  # the note outlives its author's account
        on_delete=models.SET_NULL,
        related_name="authored_notes",
    )
    text = models.TextField()
    mentions = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="mentioned_in_notes"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"note #{self.pk} on conversation {self.conversation_id}"
