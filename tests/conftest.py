from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.servers import serve


def pytest_report_header(config: pytest.Config) -> str:
    return (
        f"pagedesk backends: database={os.environ.get('DATABASE_URL') or 'sqlite'} "
        f"queue={'redis' if os.environ.get('REDIS_URL') else 'sqlite'}"
    )


@pytest.fixture
def pagedesk_server(transactional_db: None) -> Iterator[str]:
    """pagedesk's full ASGI app (edge + Django) on a real port; yields its base URL."""
    from pagedesk.asgi import build_application

    with serve(build_application()) as base_url:
        yield base_url


@pytest.fixture
def task_queue() -> Iterator[object]:
    """The real Huey queue (SQLite file or Redis), emptied before and after the test."""
    from huey.contrib.djhuey import HUEY

    HUEY.flush()
    yield HUEY
    HUEY.flush()


def run_queued_tasks(huey: object) -> int:
    """Run what is waiting in the queue, as a worker would; returns how many ran."""
    ran = 0
    # Ask first: on Redis an empty dequeue blocks for a second.
    while huey.pending_count() and (task := huey.dequeue()) is not None:  # type: ignore[attr-defined]
        huey.execute(task)  # type: ignore[attr-defined]
        ran += 1
    return ran
