"""On PostgreSQL a ``pagedesk web`` process keeps its database connections in a pool.

The ASGI server runs each request on a thread of its own and Django's connections
belong to a thread: without a pool every request opened a new PostgreSQL session
(a server process forked, its caches cold), which cost a search page 20 to 25 ms.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from django.db import connection

from pagedesk.config import get_config
from pagedesk.core.actions import do_create_api_token, do_create_workspace
from tests.ops.processes import pagedesk_env, start_webs

REQUESTS = 30
ROOT = Path(__file__).resolve().parents[2]


def _settings_in_a_process(**env: str) -> dict[str, object]:
    """``DATABASES["default"]`` as a pagedesk process (not pytest) builds it."""
    code = (
        "import json, pagedesk.settings as s; d = s.DATABASES['default'];"
        " print(json.dumps({'max_age': d.get('CONN_MAX_AGE', 0),"
        " 'pool': d.get('OPTIONS', {}).get('pool')}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONPATH": str(ROOT / "src"), **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def test_postgresql_gets_a_pool_of_the_configured_size_unless_zero_and_sqlite_none(
    tmp_path: Path,
) -> None:
    postgres = _settings_in_a_process(
        DATABASE_URL="postgresql://pagedesk@127.0.0.1:5432/pagedesk",
        PAGEDESK_DB_POOL_SIZE="7",
        PAGEDESK_DATA_DIR=str(tmp_path),
    )
    assert postgres == {"max_age": 0, "pool": {"min_size": 2, "max_size": 7, "timeout": 4}}
    unpooled = _settings_in_a_process(
        DATABASE_URL="postgresql://pagedesk@127.0.0.1:5432/pagedesk",
        PAGEDESK_DB_POOL_SIZE="0",  # behind PgBouncer, say
        PAGEDESK_DATA_DIR=str(tmp_path),
    )
    assert unpooled == {"max_age": 60, "pool": None}
    sqlite = _settings_in_a_process(DATABASE_URL="", PAGEDESK_DATA_DIR=str(tmp_path))
    assert sqlite["pool"] is None and sqlite["max_age"] == 0


_config = get_config()


@pytest.mark.postgres
@pytest.mark.skipif(
    not (_config.database_url and urlsplit(_config.database_url).scheme.startswith("postgres")),
    reason="needs DATABASE_URL (PostgreSQL)",
)
def test_a_web_process_reuses_its_connections_across_requests(
    transactional_db: None, tmp_path: Path
) -> None:
    workspace = do_create_workspace(name="Acme", owner_email="owner@acme.test")
    token = do_create_api_token(workspace=workspace, name="pool test").secret
    [(web, url)] = start_webs(1, pagedesk_env(REDIS_URL=""), tmp_path)
    try:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as api:
            assert api.get("/api/v1/conversations").status_code == 200  # the pool opens
            before = _sessions_opened()
            for _ in range(REQUESTS):
                assert api.get("/api/v1/conversations").status_code == 200
            opened = _sessions_opened() - before
    finally:
        web.stop()
    # Without the pool: one new session per request (30). With it: none, or a few
    # while the pool grows to its minimum.
    assert opened <= 3, f"{opened} PostgreSQL sessions opened for {REQUESTS} requests"


def _sessions_opened() -> int:
    """Sessions ever opened on this database (PostgreSQL counts them at connect and
    reports a backend's counts when it ends or within a second)."""
    time.sleep(1.5)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
        return int(cursor.fetchone()[0])


def test_a_worker_with_more_threads_than_its_pool_refuses_to_start(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT / "src"),
        "DATABASE_URL": "postgresql://pagedesk@127.0.0.1:5432/pagedesk",
        "PAGEDESK_DB_POOL_SIZE": "4",
        "PAGEDESK_DATA_DIR": str(tmp_path),
    }
    done = subprocess.run(
        [sys.executable, "-m", "pagedesk.cli", "worker", "--workers", "4"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "pagedesk: --workers 4 needs 5 database connections, but PAGEDESK_DB_POOL_SIZE is 4:"
        " raise it, or run fewer threads (--processes N gives each process its own pool)"
    )
    assert "Traceback" not in done.stderr
