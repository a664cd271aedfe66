"""Start real ``pagedesk`` processes against the test database, and stop them cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from django.conf import settings
from django.db import connection

from tests.servers import free_port


def database_url() -> str:
    """The URL of the database this test uses (the test database, not the configured one)."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    user, host, port = (
        db.get("USER") or "postgres",
        db.get("HOST") or "127.0.0.1",
        db.get("PORT") or 5432,
    )
    return f"postgresql://{user}@{host}:{port}/{db['NAME']}"


def wait_for(predicate: Callable[[], object], timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


def child_pids(pid: int) -> list[int]:
    """Direct children of ``pid`` (Linux /proc)."""
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def is_running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


class Pagedesk:
    """One ``pagedesk …`` process, its output kept in a log file for failures."""

    def __init__(self, args: list[str], *, env: dict[str, str], log: Path) -> None:
        self.args = args
        self.log_path = log
        self._log = log.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pagedesk.cli", *args],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM, then SIGKILL after ``timeout``; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log.close()
        return self.proc.returncode


def pagedesk_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url(),
        PAGEDESK_DATA_DIR=str(settings.DATA_DIR),  # same SQLite queue file as this test
        PAGEDESK_GRAPH_URL="http://127.0.0.1:9",  # Graph calls fail fast unless told
    )
    env.update(extra)
    return env


@contextmanager
def running(args: list[str], *, env: dict[str, str], log: Path) -> Iterator[Pagedesk]:
    process = Pagedesk(args, env=env, log=log)
    try:
        yield process
    finally:
        process.stop()


def start_webs(
    count: int, env: dict[str, str], log_dir: Path, timeout: float = 45.0
) -> list[tuple[Pagedesk, str]]:
    """``count`` ``pagedesk web`` processes, started side by side; waits until each
    answers /healthz (stops them all and fails if one does not)."""
    webs = []
    for n in range(count):
        port = free_port()
        web = Pagedesk(["web", "--port", str(port)], env=env, log=log_dir / f"web{n}.log")
        webs.append((web, f"http://127.0.0.1:{port}"))

    def up(web: Pagedesk, url: str) -> Callable[[], bool]:
        def answers() -> bool:
            if web.proc.poll() is not None:
                return True  # it exited: reported below
            try:
                return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
            except httpx.TransportError:
                return False

        return answers

    for web, url in webs:
        if not wait_for(up(web, url), timeout, interval=0.1) or web.proc.poll() is not None:
            for other, _ in webs:
                other.stop()
            raise AssertionError(f"pagedesk web did not start: {web.log()}")
    return webs
