"""Connected pages and the raw webhook log.

The raw log is append-only: every POST that reaches the webhook endpoint is a row,
whatever its fate (accepted, rejected for its signature, not JSON, too large), so
nothing Meta sent is ever lost and rejected traffic can be inspected.
"""

from __future__ import annotations

from django.db import models


class Channel(models.Model):
    """A connected Facebook Page (or Instagram account) and its credentials."""

    class Kind(models.TextChoices):
        FACEBOOK = "facebook", "Facebook Page"
        INSTAGRAM = "instagram", "Instagram account"

    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.FACEBOOK)
    page_id = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=255)
    username = models.CharField(max_length=255, blank=True)
    page_access_token = models.TextField()
    app_secret = models.CharField(max_length=255)
    verify_token = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.page_id})"

    def __repr__(self) -> str:  # never leak credentials into logs or tracebacks
        return f"<Channel {self.page_id} {self.name!r}>"


class RawWebhook(models.Model):
    """One POST to the webhook endpoint, stored before it is answered."""

    class Status(models.TextChoices):
        ACCEPTED = "accepted", "accepted"
        BAD_SIGNATURE = "bad_signature", "rejected: signature missing or wrong"
        UNKNOWN_PAGE = "unknown_page", "rejected: no channel for this page"
        MALFORMED = "malformed", "rejected: not a webhook body"
        TOO_LARGE = "too_large", "rejected: body too large"

    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    status = models.CharField(max_length=16, choices=Status.choices)
    signature_valid = models.BooleanField(default=False)
    page_ids = models.CharField(max_length=1024, blank=True)
    body = models.BinaryField()
    body_size = models.PositiveIntegerField()
    error = models.TextField(blank=True)
    # Filled by the worker once it has read the body (see core.tasks).
    summarized_at = models.DateTimeField(null=True, blank=True)
    event_kinds = models.CharField(max_length=1024, blank=True)
    event_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["status", "id"])]

    def __str__(self) -> str:
        return f"webhook #{self.pk} {self.status}"
