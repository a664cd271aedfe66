"""Fixtures of the fault suite: the test database and queue, shared with child processes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from tests.faults.harness import backend_label


def child_database_url() -> str:
    """The test database as a URL the child processes can use."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    user, host, port = (
        db.get("USER") or "postgres",
        db.get("HOST") or "127.0.0.1",
        db.get("PORT") or 5432,
    )
    return f"postgresql://{user}@{host}:{port}/{db['NAME']}"


@pytest.fixture
def shared_db(transactional_db: None, task_queue: object) -> Iterator[str]:
    """The test database (committed, so child processes see it) and an empty queue;
    yields the database URL for the children."""
    yield child_database_url()


@pytest.fixture
def backend() -> str:
    return backend_label(child_database_url(), settings.CONFIG.redis_url)


# The outbound world of the delivery tests: a sandbox page with one customer who has
# written, pagedesk's receiver subscribed, the queue run in the test thread.
from tests.delivery.conftest import world  # noqa: E402, F401
