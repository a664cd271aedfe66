"""Reading the audit log."""

from __future__ import annotations

from django.db.models import QuerySet

from pagedesk.audit.models import AuditEntry
from pagedesk.core.models import Workspace


def audit_entries(*, workspace: Workspace, action: str = "") -> QuerySet[AuditEntry]:
    """The workspace's entries, newest first (optionally of one action)."""
    rows = AuditEntry.objects.filter(workspace=workspace)
    if action:
        rows = rows.filter(action=action)
    return rows.order_by("-at", "-id")
