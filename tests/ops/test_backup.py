"""``pagedesk backup``: a consistent SQLite copy while writers carry on; on
PostgreSQL, advice instead of a pretend backup."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

BATCH = 10  # rows per write transaction: a consistent copy holds only whole batches


def run_backup(
    target: Path, *, database_url: str, data_dir: Path
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, DATABASE_URL=database_url, PAGEDESK_DATA_DIR=str(data_dir))
    return subprocess.run(
        [sys.executable, "-m", "pagedesk.cli", "backup", str(target)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def live_sqlite(tmp_path: Path) -> Path:
    """A WAL database of some size, as pagedesk keeps its own."""
    path = tmp_path / "data" / "pagedesk.sqlite3"
    path.parent.mkdir()
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE note (id INTEGER PRIMARY KEY, batch INTEGER, body TEXT)")
    with db:
        for batch in range(2000):
            rows = [(batch, "x" * 1000) for _ in range(BATCH)]
            db.executemany("INSERT INTO note (batch, body) VALUES (?, ?)", rows)
    db.close()
    return path


def batches(path: Path) -> dict[int, int]:
    db = sqlite3.connect(path)
    try:
        return dict(db.execute("SELECT batch, count(*) FROM note GROUP BY batch"))
    finally:
        db.close()


def test_backup_is_consistent_while_the_database_is_written(
    live_sqlite: Path, tmp_path: Path
) -> None:
    stop = threading.Event()
    written = [2000]

    def keep_writing() -> None:
        db = sqlite3.connect(live_sqlite, timeout=30)
        while not stop.is_set():
            with db:
                rows = [(written[0], "y" * 1000) for _ in range(BATCH)]
                db.executemany("INSERT INTO note (batch, body) VALUES (?, ?)", rows)
            written[0] += 1
        db.close()

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        before = written[0]
        result = run_backup(
            tmp_path / "backup.sqlite3",
            database_url=f"sqlite:///{live_sqlite}",
            data_dir=live_sqlite.parent,
        )
        during = written[0] - before
    finally:
        stop.set()
        writer.join(timeout=30)

    assert result.returncode == 0, result.stderr
    assert f"backed up the database to {tmp_path / 'backup.sqlite3'}" in result.stdout
    assert "secret_key" in result.stderr and "media/" in result.stderr  # what else to keep
    assert during > 0, "the writer was blocked while the backup ran"
    copied = batches(tmp_path / "backup.sqlite3")
    assert len(copied) >= before
    assert set(copied.values()) == {BATCH}, "the copy holds a half-written transaction"
    assert sorted(copied) == list(range(len(copied)))  # a prefix of the history: no gaps
    assert not list(tmp_path.glob(".*partial"))


def test_backup_into_a_directory_names_the_file_and_never_overwrites(
    live_sqlite: Path, tmp_path: Path
) -> None:
    url = f"sqlite:///{live_sqlite}"
    backups = tmp_path / "backups"
    backups.mkdir()
    assert run_backup(backups, database_url=url, data_dir=live_sqlite.parent).returncode == 0
    (made,) = backups.glob("pagedesk-*.sqlite3")
    assert len(batches(made)) == 2000

    existing = tmp_path / "keep.sqlite3"
    existing.write_bytes(b"an older backup")
    refused = run_backup(existing, database_url=url, data_dir=live_sqlite.parent)
    assert refused.returncode == 1
    assert "exists already" in refused.stderr
    assert existing.read_bytes() == b"an older backup"


def test_on_postgresql_backup_explains_pg_dump_and_writes_nothing(tmp_path: Path) -> None:
    target = tmp_path / "backup.sqlite3"
    result = run_backup(
        target,
        database_url="postgresql://pagedesk:s3cret@127.0.0.1:5432/pagedesk",
        data_dir=tmp_path,
    )
    assert result.returncode == 1
    assert 'pg_dump --format=custom --file=pagedesk.dump "$DATABASE_URL"' in result.stderr
    assert "s3cret" not in result.stderr + result.stdout
    assert not target.exists()
