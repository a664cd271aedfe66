from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class InboxConfig(AppConfig):
    name = "pagedesk.inbox"
    label = "inbox"

    def ready(self) -> None:
        post_migrate.connect(_ensure_search_index, sender=self)


def _ensure_search_index(using: str = "default", **kwargs: Any) -> None:
    """A later migration that rebuilds ``inbox_message`` on SQLite drops the search
    triggers; put them back (and refill the index) after every migrate."""
    from django.db import connections

    from pagedesk.inbox.search import ensure_index

    ensure_index(connections[using])
