"""Prove which database and queue the suite runs on (CI checks these passed)."""

from __future__ import annotations

import hashlib
import os

import pytest
from django.db import connection

from tests.conftest import run_queued_tasks

EXPECTED = set(filter(None, os.environ.get("PAGEDESK_EXPECT_BACKENDS", "").split(",")))


@pytest.mark.django_db
def test_database_backend_is_the_configured_one() -> None:
    expected = (
        "postgresql" if "postgresql" in EXPECTED or os.environ.get("DATABASE_URL") else "sqlite"
    )
    assert connection.vendor == expected
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA journal_mode")
            assert cursor.fetchone()[0] == "wal"


@pytest.mark.django_db(transaction=True)
def test_queue_round_trip_on_configured_backend(task_queue: object) -> None:
    from huey import RedisHuey, SqliteHuey

    from pagedesk.core.models import RawWebhook
    from pagedesk.inbox.tasks import ingest_webhook

    expected = RedisHuey if "redis" in EXPECTED or os.environ.get("REDIS_URL") else SqliteHuey
    assert isinstance(task_queue, expected)
    row = RawWebhook.objects.create(
        status=RawWebhook.Status.ACCEPTED, body=b'{"object":"page","entry":[]}', body_size=28
    )
    ingest_webhook(row.pk)
    assert task_queue.pending_count() == 1  # type: ignore[attr-defined]
    assert run_queued_tasks(task_queue) == 1
    row.refresh_from_db()
    assert row.split_at is not None
    assert row.event_count == 0


@pytest.mark.django_db
def test_each_data_dir_has_a_postgresql_test_database_of_its_own() -> None:
    """Two test runs on one server (two data dirs) never create or drop each other's."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only: SQLite's test database is a file in the data dir")
    from django.conf import settings

    suffix = hashlib.sha256(str(settings.DATA_DIR).encode()).hexdigest()[:8]
    assert connection.settings_dict["NAME"].endswith(f"_{suffix}")
