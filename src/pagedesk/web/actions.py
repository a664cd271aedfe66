"""Writes of the web app itself (the inbox's writes are in ``pagedesk.inbox.actions``)."""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import SuspiciousFileOperation
from django.db import IntegrityError, transaction
from django.utils.text import get_valid_filename
from django.utils.translation import gettext as _

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


def do_add_canned_reply(
    *, workspace: Workspace, shortcut: str, text: str, author: Any
) -> CannedReply:
    """Save a canned reply; refused when the workspace already has the shortcut."""
    try:
        with transaction.atomic():
            return CannedReply.objects.create(
                workspace=workspace, shortcut=shortcut, text=text, created_by=author
            )
    except IntegrityError:
        raise PagedeskError(
            "shortcut_taken",
            _("There is already a canned reply /%(shortcut)s.") % {"shortcut": shortcut},
            status=409,
        ) from None


def do_delete_canned_reply(*, reply: CannedReply) -> None:
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
