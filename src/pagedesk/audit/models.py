"""The audit log: who changed what in a workspace's settings, from where, and when.

Rows are only ever added (by :func:`pagedesk.audit.actions.record`) and never hold a
credential: tokens and secrets are named ("page token replaced"), never stored.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class AuditEntry(models.Model):
    workspace = models.ForeignKey(
        "core.Workspace", on_delete=models.CASCADE, related_name="audit_entries"
    )
    # SET_NULL keeps the entry when the person's account goes; actor_label keeps the name.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=254, blank=True)
    action = models.CharField(max_length=64)  # a stable code, e.g. "member.role_changed"
    target = models.CharField(max_length=255)  # what it was done to, for people to read
    details = models.JSONField(default=dict, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["workspace", "-at"], name="audit_workspace_at")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_label or '-'} {self.action} {self.target}"
