"""Wake-ups: hints that a workspace's live event log has grown, sent after each commit.

A hint is ``(workspace_id, last_id)``. It is never the data and never the only
way to learn of an event: the log is the source of truth and the SSE side also
polls it, so a lost hint costs latency, not events. Hence every failure here is
logged and swallowed.

- In-process: :func:`announce` hands the hint to every event loop of this
  process that follows live events (the web process's streams), thread-safely.
  That covers writes made by the web process itself, e.g. an agent's note.
- Across processes, with ``REDIS_URL``: the hint is also published on a Redis
  channel as ``"<workspace_id>:<last_id>"``; each web process subscribes once
  (:func:`subscribe`).
- Across the processes of one machine without Redis (embedded mode): the same
  message as a datagram to every Unix socket in ``<data dir>/wakeups/``, where
  each following web process binds one (:func:`listen_datagrams`,
  ``pagedesk.datagrams``). The worker's
  commits then reach the streams in a millisecond instead of at the next poll.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
import time
from collections.abc import Callable

import redis
import redis.asyncio
from django.db import connections
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff
from redis.retry import Retry

from pagedesk.config import get_config
from pagedesk.datagrams import Datagrams

log = logging.getLogger(__name__)

Hint = Callable[[int, int], None]
PUBLISH_TIMEOUT = 0.5  # seconds; a commit's caller waits at most this for Redis
PUBLISH_PAUSE = 5.0  # after a failed publish, skip Redis this long (hints are optional)

_listeners: dict[asyncio.AbstractEventLoop, Hint] = {}
_listeners_lock = threading.Lock()


def redis_url() -> str | None:
    """Where hints travel between processes; None in embedded mode."""
    return get_config().redis_url


def channel() -> str:
    """The pub/sub channel, one per database so installations sharing a Redis never mix.

    (Redis pub/sub ignores the Redis database number.)
    """
    name = str(connections["default"].settings_dict["NAME"])
    return "pagedesk:live:" + hashlib.sha256(name.encode()).hexdigest()[:16]


def announce(workspace_id: int, last_id: int) -> None:
    """Run on commit of a transaction that emitted events: wake whoever follows them."""
    notify_local(workspace_id, last_id)
    url = redis_url()
    if url is not None:
        _publisher.publish(url, f"{workspace_id}:{last_id}")
    else:
        _datagrams.send(f"{workspace_id}:{last_id}".encode())


def listen(loop: asyncio.AbstractEventLoop, hint: Hint) -> Callable[[], None]:
    """Have ``hint`` called on ``loop`` for every local announcement; returns the undo."""
    with _listeners_lock:
        _listeners[loop] = hint

    def stop() -> None:
        with _listeners_lock:
            if _listeners.get(loop) is hint:
                del _listeners[loop]

    return stop


def notify_local(workspace_id: int, last_id: int) -> None:
    with _listeners_lock:
        targets = list(_listeners.items())
    for loop, hint in targets:
        try:
            loop.call_soon_threadsafe(hint, workspace_id, last_id)
        except RuntimeError:  # the loop has closed: nobody there is waiting any more
            with _listeners_lock:
                _listeners.pop(loop, None)


class _Publisher:
    """A synchronous Redis client shared by the threads that commit, failing fast."""

    def __init__(self) -> None:
        self._clients: dict[str, redis.Redis] = {}
        self._lock = threading.Lock()
        self._paused_until: dict[str, float] = {}

    def publish(self, url: str, message: str) -> None:
        if time.monotonic() < self._paused_until.get(url, 0.0):
            return
        try:
            self._client(url).publish(channel(), message)
        except (redis.RedisError, OSError) as exc:
            self._paused_until[url] = time.monotonic() + PUBLISH_PAUSE
            log.warning("live wake-up not published (%s); web processes will poll", exc)

    def _client(self, url: str) -> redis.Redis:
        with self._lock:
            client = self._clients.get(url)
            if client is None:
                client = self._clients[url] = redis.Redis.from_url(
                    url,
                    socket_timeout=PUBLISH_TIMEOUT,
                    socket_connect_timeout=PUBLISH_TIMEOUT,
                    retry=Retry(NoBackoff(), 0),
                )
            return client


_publisher = _Publisher()


_datagrams = Datagrams("wakeups", to_self=False)  # this process: in-process hints


def listen_datagrams(loop: asyncio.AbstractEventLoop, hint: Hint) -> Callable[[], None]:
    """Embedded mode: have ``hint`` called on ``loop`` for other processes' commits.

    Returns the undo. With Redis configured this does nothing (Redis carries them).
    """
    if redis_url() is not None:
        return lambda: None

    def on_message(data: bytes) -> None:
        if parsed := _parse(data):
            hint(*parsed)

    return _datagrams.listen(loop, on_message)


async def subscribe(url: str, hint: Hint, *, on_ready: Callable[[], None]) -> None:
    """Forward every hint published on the channel to ``hint`` until cancelled or failed.

    ``on_ready`` runs once the subscription is confirmed (hints published before
    that moment were missed: the caller should poll once). Raises on any Redis
    failure; the caller decides how to retry and how to cope meanwhile.
    """
    client = redis.asyncio.Redis.from_url(
        url,
        socket_connect_timeout=1.0,
        health_check_interval=5,  # a PING when idle, so a dead link is noticed
        retry=AsyncRetry(NoBackoff(), 0),  # fail loudly: a silent reconnect would lose hints
    )
    pubsub = client.pubsub()
    try:
        await pubsub.subscribe(channel())
        while True:
            message = await pubsub.get_message(timeout=5.0)
            if message is None:
                continue
            if message["type"] == "subscribe":  # Redis confirms: from now on nothing is missed
                on_ready()
            elif message["type"] == "message" and (parsed := _parse(message["data"])):
                hint(*parsed)
    finally:
        await pubsub.aclose()
        await client.aclose()


def _parse(data: bytes | str) -> tuple[int, int] | None:
    text = data.decode("ascii", "replace") if isinstance(data, bytes) else data
    workspace, _, last = text.partition(":")
    try:
        return int(workspace), int(last)
    except ValueError:
        log.warning("ignoring a malformed live wake-up %r", text[:100])
        return None
