"""The outbox (one row per outbound message, written with it) and personas.

An :class:`OutboxEntry` is the durable intent to make exactly one Send API call for
its message. Queue messages only carry the entry's id; the entry's ``state`` is what
decides whether a call may be made, so a lost, repeated or crashed task can neither
drop a message nor send it twice (see ``delivery.sender``).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from pagedesk.core.models import Channel, Workspace
from pagedesk.inbox.models import Message


class Persona(models.Model):
    """An agent's persona on a page: the customer sees this name and picture.

    A channel without any persona row, or with ``Channel.personas_enabled`` off,
    sends as the page itself.
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="personas")
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="personas")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="personas"
    )
    persona_id = models.CharField(max_length=64)  # Meta's id
    name = models.CharField(max_length=50)
    picture_url = models.TextField(blank=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "user"],
                condition=Q(active=True),
                name="one_active_persona_per_agent",
            ),
            models.UniqueConstraint(fields=["channel", "persona_id"], name="unique_persona_id"),
        ]

    def __str__(self) -> str:
        return f"{self.name} on {self.channel_id}"


class OutboxEntry(models.Model):
    """The send job of one outbound message.

    States and who moves them:

    - ``pending``: waiting for its turn (``next_attempt_at``); a worker claims it.
    - ``sending``: claimed and committed *before* the Send API call. Only the
      worker that claimed it may record the outcome; anyone else who finds it here
      waits for the echo (the outcome of a call can be unknown).
    - ``sent``: Meta accepted it (or the echo proved it went out).
    - ``failed``: will not be sent; the message carries the reason.
    - ``waiting_channel``: the page's token is invalid (or Meta blocked the page);
      resumes when the channel is active again.
    """

    class State(models.TextChoices):
        PENDING = "pending", "waiting to be sent"
        SENDING = "sending", "Send API call in progress"
        SENT = "sent", "sent"
        FAILED = "failed", "failed"
        WAITING_CHANNEL = "waiting_channel", "waiting for the channel"

    class DraftKind(models.TextChoices):
        HUMAN_REPLY = "human_reply", "written by an agent"
        AUTOMATED = "automated", "automated"

    message = models.OneToOneField(Message, on_delete=models.CASCADE, related_name="outbox")
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="outbox")
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    # The draft as policy judges it; re-judged right before the call.
    draft_kind = models.CharField(max_length=16, choices=DraftKind.choices)
    tag = models.CharField(max_length=64, blank=True)
    # The Send API ``message`` object, validated when queued (metadata included).
    payload = models.JSONField()
    persona = models.ForeignKey(Persona, null=True, blank=True, on_delete=models.SET_NULL)
    attempts = models.PositiveIntegerField(default=0)  # Send API calls made
    failures = models.PositiveIntegerField(default=0)  # temporary failures (not rate limits)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    sending_since = models.DateTimeField(null=True, blank=True)
    outcome_unknown = models.BooleanField(default=False)
    last_error = models.TextField(blank=True)
    graph_code = models.IntegerField(null=True, blank=True)
    graph_subcode = models.IntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "outbox entries"
        indexes = [
            models.Index(fields=["state", "next_attempt_at"]),
            models.Index(fields=["channel", "state"]),
        ]

    def __str__(self) -> str:
        return f"outbox #{self.pk} ({self.state})"
