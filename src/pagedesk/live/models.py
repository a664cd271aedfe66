"""The live event log: one row per change an agent's screen should reflect.

Rows are small (ids and the few fields a list row needs); the browser fetches
anything bigger through the API. The id is the SSE event id, so a reconnecting
browser resumes exactly where it stopped. Rows are kept for a day (see tasks).
"""

from __future__ import annotations

from django.db import models


class LiveEvent(models.Model):
    id = models.BigAutoField(primary_key=True)
    # The (workspace, id) index below serves every lookup by workspace.
    workspace = models.ForeignKey(
        "core.Workspace", on_delete=models.CASCADE, related_name="live_events", db_index=False
    )
    kind = models.CharField(max_length=64)
    data = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        indexes = [models.Index(fields=["workspace", "id"], name="live_event_workspace_id")]

    def __str__(self) -> str:
        return f"live event #{self.pk} {self.kind}"
