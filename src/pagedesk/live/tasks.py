"""Live event log upkeep (a thin wrapper around pagedesk.live.emit)."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from pagedesk.live import emit


@db_periodic_task(crontab(minute="*/15"))
def purge_live_events() -> None:
    """Keep a day of live events: enough for any browser to resume, small enough to poll."""
    emit.purge_expired()
