"""Writes of the web app itself (the inbox's writes are in ``pagedesk.inbox.actions``)."""

from __future__ import annotations

import functools
import secrets
import zoneinfo
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import SuspiciousFileOperation
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import get_valid_filename
from django.utils.translation import gettext as _

from pagedesk.audit.actions import record
from pagedesk.core.errors import PagedeskError
from pagedesk.core.models import Workspace
from pagedesk.web.models import CannedReply, OutboundUpload, UserPreference


def do_set_language(*, user: AbstractBaseUser, language: str) -> UserPreference:
    """Remember the person's interface language ("" follows the browser)."""
    if language and language not in dict(settings.LANGUAGES):
        raise PagedeskError("invalid_language", f"Unknown language {language!r}.")
    preference, _ = UserPreference.objects.update_or_create(
        user=user, defaults={"language": language}
    )
    return preference


def do_set_time_zone(*, user: AbstractBaseUser, time_zone: str) -> UserPreference:
    """Remember the person's time zone (an IANA name; "" means UTC)."""
    if time_zone and time_zone not in available_time_zones():
        raise PagedeskError("invalid_time_zone", f"Unknown time zone {time_zone!r}.")
    preference, _ = UserPreference.objects.update_or_create(
        user=user, defaults={"time_zone": time_zone}
    )
    return preference


@functools.cache
def available_time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def do_add_canned_reply(
    *, workspace: Workspace, shortcut: str, text: str, author: Any
) -> CannedReply:
    """Save a canned reply; refused when the workspace already has the shortcut."""
    try:
        with transaction.atomic():
            reply = CannedReply.objects.create(
                workspace=workspace, shortcut=shortcut, text=text, created_by=author
            )
            record(workspace_id=workspace.pk, action="canned_reply.created", target=f"/{shortcut}")
            return reply
    except IntegrityError:
        raise PagedeskError(
            "shortcut_taken",
            _("There is already a canned reply /%(shortcut)s.") % {"shortcut": shortcut},
            status=409,
        ) from None


def do_delete_canned_reply(*, reply: CannedReply) -> None:
    with transaction.atomic():
        record(
            workspace_id=reply.workspace_id,
            action="canned_reply.deleted",
            target=f"/{reply.shortcut}",
        )
        reply.delete()


def do_store_outbound_upload(
    *, workspace: Workspace, upload: Any, content_type: str, author: Any
) -> OutboundUpload:
    """Keep a composer upload under media storage, behind a fresh unguessable token."""
    try:
        name = get_valid_filename(upload.name.rsplit("/", 1)[-1])[-100:]
    except SuspiciousFileOperation:  # nothing usable left of the name
        name = "file"
    stored = OutboundUpload(
        workspace=workspace,
        token=secrets.token_urlsafe(32),
        name=name,
        content_type=content_type,
        size=upload.size,
        created_by=author,
    )
    stored.file.save(name, upload, save=False)
    # Storage may rename a clash; the URL must name the file as stored.
    stored.name = stored.file.name.rsplit("/", 1)[-1]
    stored.save()
    return stored


def do_discard_outbound_upload(*, upload: OutboundUpload) -> None:
    """Forget an upload whose message was refused."""
    upload.file.delete(save=False)
    upload.delete()


ORPHAN_UPLOAD_AGE = timedelta(days=1)


def do_discard_orphan_uploads(*, now: datetime | None = None) -> int:
    """Delete composer uploads older than a day that no message refers to; returns
    how many. (Uploads a message uses are kept: the thread shows them.)"""
    from pagedesk.inbox.models import Attachment

    cutoff = (now or timezone.now()) - ORPHAN_UPLOAD_AGE
    discarded = 0
    for upload in OutboundUpload.objects.filter(created_at__lt=cutoff).iterator():
        if not Attachment.objects.filter(url__contains=f"/{upload.token}/").exists():
            do_discard_outbound_upload(upload=upload)
            discarded += 1
    return discarded
