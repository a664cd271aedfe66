"""Writes of the web app itself (the inbox's writes are in ``pagedesk.inbox.actions``)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser

from pagedesk.core.errors import PagedeskError
from pagedesk.web.models import UserPreference


def do_set_language(*, user: AbstractBaseUser, language: str) -> UserPreference:
    """Remember the person's interface language ("" follows the browser)."""
    if language and language not in dict(settings.LANGUAGES):
        raise PagedeskError("invalid_language", f"Unknown language {language!r}.")
    preference, _ = UserPreference.objects.update_or_create(
        user=user, defaults={"language": language}
    )
    return preference
