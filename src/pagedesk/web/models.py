"""Settings a person keeps across sessions and devices."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class UserPreference(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="pagedesk_preference"
    )
    # Blank: follow the browser (Accept-Language) or the language cookie.
    language = models.CharField(max_length=8, blank=True)
    # An IANA name ("Europe/Berlin"); blank: UTC. Times on every page are shown in it.
    time_zone = models.CharField(max_length=64, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"preferences of {self.user}"


class CannedReply(models.Model):
    """A saved answer an agent inserts by typing ``/shortcut`` in the composer."""

    workspace = models.ForeignKey(
        "core.Workspace", on_delete=models.CASCADE, related_name="canned_replies"
    )
    shortcut = models.SlugField(max_length=32)
    text = models.TextField(max_length=2000)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("shortcut",)
        constraints = (
            models.UniqueConstraint(
                fields=("workspace", "shortcut"), name="web_canned_reply_shortcut_unique"
            ),
        )

    def __str__(self) -> str:
        return f"/{self.shortcut}"


def _outbound_path(upload: OutboundUpload, name: str) -> str:
    return f"outbound/{upload.token}/{name}"


class OutboundUpload(models.Model):
    """A file an agent attached in the composer, served publicly (by its unguessable
    token) so Meta can fetch it when the message is sent."""

    workspace = models.ForeignKey("core.Workspace", on_delete=models.CASCADE, related_name="+")
    token = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    file = models.FileField(upload_to=_outbound_path, max_length=300)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name
