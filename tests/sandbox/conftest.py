"""Session-wide loopback servers: the sandbox and a webhook receiver, reset per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pagedesk.sandbox.app import create_app
from tests.sandbox.helpers import Sandbox
from tests.sandbox.servers import ServerThread, WebhookReceiver


@pytest.fixture(scope="session")
def webhook_receiver() -> Iterator[tuple[WebhookReceiver, ServerThread]]:
    receiver = WebhookReceiver()
    server = ServerThread(receiver.app()).start()
    yield receiver, server
    server.stop()


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[ServerThread]:
    server = ServerThread(create_app()).start()
    yield server
    server.stop()


@pytest.fixture
def sandbox(
    sandbox_server: ServerThread, webhook_receiver: tuple[WebhookReceiver, ServerThread]
) -> Iterator[Sandbox]:
    """A freshly reset sandbox whose app delivers to the receiver, with fast retries."""
    receiver, receiver_server = webhook_receiver
    receiver.reset()
    driver = Sandbox(sandbox_server.url, receiver, receiver_server.url)
    driver.control("POST", "/reset")
    driver.configure(retry_initial_delay=0.01, timeout_seconds=2.0)
    driver.register_callback()
    yield driver
    driver.flush()
    # Whatever a test did, every body that reached the callback was signed correctly.
    assert driver.signatures_ok()
    driver.close()
