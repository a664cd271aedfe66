"""Per-process fan-out of live events: one reader per followed workspace, many streams.

Fifty agents of a workspace connected to one web process cost one query per
wake-up, not fifty: the workspace's :class:`Feed` fetches new events once,
encodes each as an SSE frame once, and keeps the newest ``BUFFER`` of them for
the streams to copy. A stream that falls behind the buffer (a slow client, or
one resuming from an old id) reads pages from the database until it catches up,
so memory stays bounded per workspace and per stream.

When to fetch: wake-up hints (:mod:`pagedesk.live.wakeup`) and polling, one
query for all followed workspaces. In embedded mode the poller runs every
``POLL_FAST`` seconds, to catch what the other processes' datagram hints miss
(a full socket buffer drops them); with a healthy Redis subscription only every
``POLL_SAFETY`` seconds, to catch hints a publisher lost; and at ``POLL_FAST``
again while Redis is unreachable.

Everything here runs on one event loop (a :class:`Hub` per loop); database
reads go through one dedicated thread (:class:`Reader`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Protocol, TypeVar

from django.db import DatabaseError, close_old_connections, connection

from pagedesk.live import selectors, wakeup
from pagedesk.live.selectors import Row

log = logging.getLogger(__name__)
T = TypeVar("T")

PAGE = 500  # events per database read
BUFFER = 1024  # events a feed keeps for its streams
POLL_FAST = 0.1  # seconds between polls without working Redis hints
POLL_SAFETY = 2.0  # seconds between polls while Redis delivers hints
RELEASE_EVERY = 30.0  # seconds: the reader re-applies Django's connection hygiene
REDIS_RETRY_MAX = 5.0  # seconds between attempts to resubscribe, at most

STATS = {"polls": 0, "poll_seconds": 0.0, "fetches": 0, "fetched": 0, "hints": 0}


@dataclass(frozen=True, slots=True)
class Event:
    id: int
    frame: bytes  # the complete SSE message


def encode(row: Row) -> Event:
    data = json.dumps(row.data, separators=(",", ":"), ensure_ascii=False)
    return Event(row.id, f"id: {row.id}\nevent: {row.kind}\ndata: {data}\n\n".encode())


class Reader:
    """One thread for the live reads, keeping its database connection between them.

    A fresh thread per read would open and close a connection each time (SQLite
    runs with ``CONN_MAX_AGE=0``), and closing SQLite's last connection
    checkpoints the WAL: too dear ten times a second.
    """

    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="live-reader")
        self._released_at = time.monotonic()

    async def run(self, call: Callable[[], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._call, call)

    def _call(self, call: Callable[[], T]) -> T:
        if time.monotonic() - self._released_at > RELEASE_EVERY:
            self._release()
        try:
            return call()
        except DatabaseError:
            connection.close()  # the next read starts on a new connection
            raise

    def release(self) -> Future[None]:
        """Close the connection if Django's settings say so (done when nobody follows)."""
        return self._executor.submit(self._release)

    def _release(self) -> None:
        close_old_connections()
        self._released_at = time.monotonic()


READER = Reader()


class Follower(Protocol):
    def wake(self) -> None: ...


class Feed:
    """The newest events of one workspace, fetched once for every stream of this process.

    Invariant once started: the buffer holds every event with ``floor < id <= head``
    (ids of a workspace become visible in increasing order, see live.emit).
    """

    def __init__(self, workspace_id: int) -> None:
        self.workspace_id = workspace_id
        self.head = 0
        self.floor = 0
        self.followers: set[Follower] = set()
        self._events: deque[Event] = deque()
        self._started = False
        self._dirty = False
        self._fetching: asyncio.Task[None] | None = None
        self.ready: asyncio.Task[None]  # set by the hub: the task running start()

    async def start(self) -> None:
        self.head = self.floor = await READER.run(
            partial(selectors.latest_event_id, workspace_id=self.workspace_id)
        )
        self._started = True
        if self._dirty:
            self._fetch_soon()

    def stop(self) -> None:
        self.ready.cancel()  # a no-op once started
        if self._fetching is not None:
            self._fetching.cancel()

    def after(self, cursor: int, limit: int) -> list[Event]:
        """Buffered events above ``cursor`` (which must be >= floor), oldest first."""
        newer: list[Event] = []
        for event in reversed(self._events):
            if event.id <= cursor:
                break
            newer.append(event)
        newer.reverse()
        return newer[:limit]

    def hint(self, last_id: int) -> None:
        """Someone committed events up to ``last_id``: fetch them unless already here."""
        if last_id > self.head:
            self._dirty = True
            if self._started:
                self._fetch_soon()

    def _fetch_soon(self) -> None:
        if self._fetching is None:
            self._fetching = asyncio.get_running_loop().create_task(self._fetch())

    async def _fetch(self) -> None:
        try:
            while self._dirty:
                self._dirty = False
                while True:
                    rows = await READER.run(
                        partial(
                            selectors.events_after,
                            workspace_id=self.workspace_id,
                            after_id=self.head,
                            limit=PAGE,
                        )
                    )
                    STATS["fetches"] += 1
                    STATS["fetched"] += len(rows)
                    if rows:
                        self._append(rows)
                    if len(rows) < PAGE:
                        break
        except Exception as exc:  # the next hint or poll tries again
            log.warning("could not read live events of workspace %s: %s", self.workspace_id, exc)
        finally:
            self._fetching = None

    def _append(self, rows: list[Row]) -> None:
        for row in rows:
            if len(self._events) >= BUFFER:
                self.floor = self._events.popleft().id
            self._events.append(encode(row))
        self.head = rows[-1].id
        for follower in list(self.followers):
            follower.wake()


class Hub:
    """The feeds of one event loop, and what keeps them fresh: hints and the poller."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.feeds: dict[int, Feed] = {}
        self.redis_healthy = False
        self._tasks: list[asyncio.Task[None]] = []
        self._poll_now = asyncio.Event()
        self._stop_listening: Callable[[], None] | None = None
        self._redis_failures = 0
        self._poll_failing = False

    async def follow(self, workspace_id: int, follower: Follower) -> Feed:
        """Join (or create) the workspace's feed; returns once it is started."""
        if not self.feeds:
            self._start()
        feed = self.feeds.get(workspace_id)
        if feed is None:
            feed = self.feeds[workspace_id] = Feed(workspace_id)
            feed.ready = self.loop.create_task(feed.start())
        feed.followers.add(follower)
        try:
            await asyncio.shield(feed.ready)
        except BaseException:
            if feed.ready.done() and not feed.ready.cancelled() and feed.ready.exception():
                feed.followers.clear()  # a feed that failed to start must not be joined
            self.unfollow(feed, follower)
            raise
        return feed

    def unfollow(self, feed: Feed, follower: Follower) -> None:
        feed.followers.discard(follower)
        if not feed.followers and self.feeds.get(feed.workspace_id) is feed:
            feed.stop()
            del self.feeds[feed.workspace_id]
            if not self.feeds:
                self._stop()

    def hint(self, workspace_id: int, last_id: int) -> None:
        STATS["hints"] += 1
        feed = self.feeds.get(workspace_id)
        if feed is not None:
            feed.hint(last_id)

    async def poll(self) -> None:
        """Ask the log for every followed workspace's newest id, in one query."""
        started = time.perf_counter()
        try:
            latest = await READER.run(
                partial(selectors.latest_event_ids, workspace_ids=list(self.feeds))
            )
        except Exception as exc:
            if not self._poll_failing:  # once per outage, not ten times a second
                log.warning("could not poll the live event log: %s", exc)
            self._poll_failing = True
            return
        finally:
            STATS["polls"] += 1
            STATS["poll_seconds"] += time.perf_counter() - started
        if self._poll_failing:
            log.info("polling the live event log works again")
            self._poll_failing = False
        for workspace_id, last_id in latest.items():
            feed = self.feeds.get(workspace_id)
            if feed is not None:
                feed.hint(last_id)

    def _start(self) -> None:
        _hubs.setdefault(self.loop, self)
        stop_local = wakeup.listen(self.loop, self.hint)
        stop_datagrams = wakeup.listen_datagrams(self.loop, self.hint)

        def stop_listening() -> None:
            stop_local()
            stop_datagrams()

        self._stop_listening = stop_listening
        self._tasks = [self.loop.create_task(self._poll_forever())]
        url = wakeup.redis_url()
        if url is not None:
            self._tasks.append(self.loop.create_task(self._subscribe_forever(url)))

    def _stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        self._tasks = []
        if self._stop_listening is not None:
            self._stop_listening()
            self._stop_listening = None
        self.redis_healthy = False
        if _hubs.get(self.loop) is self:
            del _hubs[self.loop]
        READER.release()

    async def _poll_forever(self) -> None:
        while True:
            interval = POLL_SAFETY if self.redis_healthy else POLL_FAST
            try:
                async with asyncio.timeout(interval):
                    await self._poll_now.wait()
            except TimeoutError:
                pass
            self._poll_now.clear()
            await self.poll()

    async def _subscribe_forever(self, url: str) -> None:
        while True:
            try:
                await wakeup.subscribe(url, self.hint, on_ready=self._redis_up)
            except Exception as exc:
                level = logging.WARNING if self._redis_failures == 0 else logging.DEBUG
                log.log(level, "live wake-ups from Redis lost (%s); polling meanwhile", exc)
            self._redis_down()
            self._redis_failures += 1
            await asyncio.sleep(min(0.25 * 2**self._redis_failures, REDIS_RETRY_MAX))

    def _redis_up(self) -> None:
        if self._redis_failures:
            log.info("live wake-ups from Redis are back")
        self._redis_failures = 0
        self.redis_healthy = True
        self._poll_now.set()  # whatever was hinted before the subscription was missed

    def _redis_down(self) -> None:
        self.redis_healthy = False
        self._poll_now.set()


_hubs: dict[asyncio.AbstractEventLoop, Hub] = {}


def hub() -> Hub:
    """The hub of the running event loop (each loop touches only its own entry)."""
    loop = asyncio.get_running_loop()
    found = _hubs.get(loop)
    if found is None:
        found = _hubs[loop] = Hub(loop)
    return found


def active_hubs() -> list[Hub]:
    return list(_hubs.values())
