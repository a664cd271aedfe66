"""A message the worker process ingests reaches agents' live streams at once.

The worker is another process, so its commits cannot wake the web process's
streams in-process: they arrive by a datagram to the web process's socket in the
data dir (embedded mode) or by Redis pub/sub. Polling, the fallback, is slowed
down here to 30 s, so an event seen within a few seconds came by a wake-up.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator

import pytest

from pagedesk.core.actions import do_create_api_token
from pagedesk.live import feed
from pagedesk.live.feed import READER, active_hubs
from tests.inbox import bodies as b
from tests.inbox.conftest import Pages
from tests.inbox.test_worker_crash import _start_worker
from tests.live.sse_client import SSEClient

ADA = "7400000000000001"


@pytest.fixture
def worker() -> Iterator[subprocess.Popen[bytes]]:
    process = _start_worker()
    yield process
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture
def slow_polling(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(feed, "POLL_FAST", 30.0)
    monkeypatch.setattr(feed, "POLL_SAFETY", 30.0)
    yield
    deadline = time.monotonic() + 5  # the stream's hub winds down, its reader lets go
    while active_hubs() and time.monotonic() < deadline:
        time.sleep(0.02)
    READER.release().result(timeout=5)


def _message_created(stream: SSEClient, timeout: float) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        message = stream.next_message(timeout=left)
        if message is not None and message.event == "message.created":
            return json.loads(message.data or "{}")  # type: ignore[no-any-return]
    raise AssertionError(f"no message.created within {timeout} s")


def test_a_message_ingested_by_the_worker_wakes_the_stream_without_polling(
    pages: Pages,
    pagedesk_server: str,
    task_queue: object,
    slow_polling: None,
    worker: subprocess.Popen[bytes],
) -> None:
    token = do_create_api_token(workspace=pages.workspace, name="agent screen").secret
    with SSEClient(pagedesk_server, token=token) as stream:
        assert stream.status == 200
        stream.next_message()  # the stream's preamble: retry and position
        b.post(pagedesk_server, b.envelope(b.text(ADA, "hello?", b.T0)))
        _message_created(stream, timeout=60)  # the worker has started and ingested it

        posted = time.monotonic()
        b.post(pagedesk_server, b.envelope(b.text(ADA, "are you open today?", b.T0 + 1000)))
        created = _message_created(stream, timeout=10)
        waited = time.monotonic() - posted
    assert created["direction"] == "in"
    assert waited < 5.0, f"the event took {waited:.1f} s: it waited for a poll"
