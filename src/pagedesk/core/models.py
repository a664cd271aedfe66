"""Tenants, people, connected pages, API tokens and the raw webhook log.

Every row of customer data belongs to exactly one workspace; selectors and the API
always filter by it.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from pagedesk.core.crypto import EncryptedTextField

DEFAULT_ALLOWED_TAGS = ["HUMAN_AGENT", "CUSTOMER_FEEDBACK"]


def default_allowed_tags() -> list[str]:
    return list(DEFAULT_ALLOWED_TAGS)


class Workspace(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        ADMIN = "admin", "Admin"
        AGENT = "agent", "Agent"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.AGENT)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "user"], name="one_membership_per_user")
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.workspace} ({self.role})"


class Team(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="teams")
    name = models.CharField(max_length=100)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="teams")
    # The pages this team answers: its agents see these channels' conversations.
    channels = models.ManyToManyField("Channel", blank=True, related_name="teams")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="unique_team_name")
        ]

    def __str__(self) -> str:
        return self.name


class ApiToken(models.Model):
    """A bearer token for the REST API. Only a SHA-256 hash of it is stored."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=12)  # shown in lists so a token can be recognised
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.workspace})"


class Channel(models.Model):
    """A connected Facebook Page (or Instagram account) and its credentials."""

    class Kind(models.TextChoices):
        FACEBOOK = "facebook", "Facebook Page"
        INSTAGRAM = "instagram", "Instagram account"

    class Status(models.TextChoices):
        ACTIVE = "active", "active"
        PAUSED = "paused", "paused"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="channels")
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.FACEBOOK)
    page_id = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=255)
    username = models.CharField(max_length=255, blank=True)
    page_access_token = EncryptedTextField()
    app_secret = EncryptedTextField()
    verify_token = models.CharField(max_length=255)
    allowed_tags = models.JSONField(default=default_allowed_tags)
    graph_version = models.CharField(max_length=16, blank=True)  # blank: the global setting
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    status_reason = models.TextField(blank=True)
    # Replies go out under the agent's persona (name + picture) unless an admin turns it off.
    personas_enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.page_id})"

    def __repr__(self) -> str:  # never leak credentials into logs or tracebacks
        return f"<Channel {self.page_id} {self.name!r}>"


class RawWebhook(models.Model):
    """One POST to the webhook endpoint, stored before it is answered (append-only).

    Every POST is a row whatever its fate, so nothing Meta sent is lost and rejected
    traffic can be inspected; only accepted rows are ingested.
    """

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
    # Set by the worker once the body is split into InboundEvents (see inbox.ingest).
    split_at = models.DateTimeField(null=True, blank=True)
    event_kinds = models.CharField(max_length=1024, blank=True)
    event_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["status", "split_at"])]

    def __str__(self) -> str:
        return f"webhook #{self.pk} {self.status}"


class Invite(models.Model):
    """A link that lets one person join a workspace. Only a SHA-256 hash of the token
    is stored; the link is shown once, when the invite is created."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="invites")
    email = models.EmailField()
    role = models.CharField(
        max_length=16, choices=Membership.Role.choices, default=Membership.Role.AGENT
    )
    token_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"invite of {self.email} to {self.workspace} ({self.role})"
