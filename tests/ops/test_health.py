"""/healthz and /readyz as a load balancer or orchestrator sees them."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from pagedesk.config import get_config
from pagedesk.ops import checks

DEAD_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1: refused at once


@pytest.fixture
def hung_redis() -> Iterator[str]:
    """A Redis URL whose server accepts the connection and then never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield f"redis://127.0.0.1:{listener.getsockname()[1]}/0"


def with_redis(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    config = get_config().model_copy(update={"redis_url": url})
    monkeypatch.setattr(checks, "get_config", lambda: config)


def test_healthz_answers_without_touching_anything(pagedesk_server: str) -> None:
    # Any Host header: probes come by IP address, not by a configured host name.
    response = httpx.get(f"{pagedesk_server}/healthz", headers={"Host": "10.0.0.7:8000"})
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_names_each_check_when_all_pass(pagedesk_server: str) -> None:
    response = httpx.get(f"{pagedesk_server}/readyz", headers={"Host": "10.0.0.7:8000"})
    assert response.status_code == 200, response.text
    body = response.json()
    expected = {"database": "ok", "queue": "ok"}
    if get_config().redis_url:
        expected["redis"] = "ok"
    assert body == {"status": "ok", "checks": expected}


def test_readyz_is_503_naming_the_unreachable_redis(
    pagedesk_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with_redis(monkeypatch, DEAD_REDIS)
    response = httpx.get(f"{pagedesk_server}/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["redis"] == "failed: ConnectionError"


def test_readyz_gives_up_on_a_hung_dependency_quickly(
    pagedesk_server: str, monkeypatch: pytest.MonkeyPatch, hung_redis: str
) -> None:
    with_redis(monkeypatch, hung_redis)
    monkeypatch.setattr(checks, "TIMEOUT", 0.3)
    started = time.monotonic()
    response = httpx.get(f"{pagedesk_server}/readyz", timeout=10)
    assert time.monotonic() - started < 2.0
    assert response.status_code == 503
    assert response.json()["checks"]["redis"].startswith(("timed out", "failed: TimeoutError"))


def test_readyz_refuses_other_methods(pagedesk_server: str) -> None:
    assert httpx.post(f"{pagedesk_server}/readyz").status_code == 405
