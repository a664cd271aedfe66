"""Periodic housekeeping of the web app's own files."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from pagedesk.web.actions import do_discard_orphan_uploads


@db_periodic_task(crontab(minute="17", hour="3"))
def discard_orphan_uploads() -> None:
    """Files attached in the composer whose message was never written (a crash or a
    refusal between the upload and the send) are deleted after a day."""
    do_discard_orphan_uploads()
