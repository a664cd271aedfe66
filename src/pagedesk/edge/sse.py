"""``GET /live/stream``: a workspace's live events as server-sent events.

Who may follow: a signed-in member of ``?workspace=<id>`` (Django's session
cookie, as the browser's EventSource sends it), or an API token
(``Authorization: Bearer``) of that workspace, for integrations. 401 without
credentials, 403 for another workspace. A transient failure (database away)
answers an empty stream, so the browser retries rather than giving up.

What is sent::

    retry: 2000                      once, first; with ``id: <n>`` when starting fresh
    id: 42                           one message per event, in id order
    event: message.created
    data: {"conversation_id":7,"message_id":42,"direction":"in"}

    : ping                           a comment every 15 s without events

With ``Last-Event-ID`` (EventSource sends it when reconnecting) or
``?last_event_id=``, every event of the workspace after that id is sent first,
then the stream follows live; without, it starts from now, announcing the
current position in an ``id:`` line so even a reconnect before the first event
misses nothing. An id no longer in the log (purged after a day) gets an
``event: reset`` first: the browser should reload what it shows.

A stream ends on client disconnect, on server shutdown and after
``MAX_LIFETIME`` (the browser reconnects, which re-checks its access). Its
memory is bounded: events come from the workspace's shared feed
(:mod:`pagedesk.live.feed`), or in pages of ``BATCH`` from the database when
the stream lags behind the feed.
"""

from __future__ import annotations

import asyncio
import logging
from functools import partial
from importlib import import_module
from typing import Any
from urllib.parse import parse_qs

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth import get_user
from django.db import close_old_connections
from django.http import HttpRequest
from django.http.cookie import parse_cookie

from pagedesk.core.actions import authenticate_api_token
from pagedesk.edge.asgi_helpers import Receive, Scope, Send, header
from pagedesk.live import selectors
from pagedesk.live.feed import READER, Feed, encode, hub

__all__ = ["PATH", "close_streams", "live_stream"]

log = logging.getLogger(__name__)
PATH = "/live/stream"
RETRY_MS = 2000
HEARTBEAT = 15.0  # seconds without a write before a comment keeps proxies from timing out
MAX_LIFETIME = 600.0  # seconds; the browser reconnects, which checks its access again
BATCH = 200  # events per write, and per database page when behind
_HEADERS = [
    (b"content-type", b"text/event-stream"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),  # nginx: pass each event through at once
]


class Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class _Stream:
    """One open response: woken by its feed, by the client leaving, by shutdown."""

    __slots__ = ("closing", "signal")

    def __init__(self) -> None:
        self.signal = asyncio.Event()
        self.closing = False

    def wake(self) -> None:
        self.signal.set()

    def close(self) -> None:
        self.closing = True
        self.signal.set()


_open: dict[asyncio.AbstractEventLoop, set[_Stream]] = {}


def close_streams(loop: asyncio.AbstractEventLoop) -> None:
    """End every stream served on ``loop`` (the server is shutting down)."""
    for stream in _open.get(loop, set()).copy():
        stream.close()


async def live_stream(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["method"] != "GET":
        await _refuse(send, Refused(405, "method not allowed: use GET"))
        return
    try:
        workspace_id, last_id = _parse_request(scope)
        workspace_id = await _authorise(scope, workspace_id)
    except Refused as refusal:
        await _refuse(send, refusal)
        return
    except Exception:
        log.exception("cannot check access to the live stream")
        await _retry_later(send)
        return

    loop = asyncio.get_running_loop()
    stream = _Stream()
    streams = _open.setdefault(loop, set())
    streams.add(stream)
    watcher = loop.create_task(_watch_disconnect(receive, stream))
    the_hub = hub()
    try:
        feed = await the_hub.follow(workspace_id, stream)
    except Exception:
        log.exception("cannot follow the live events of workspace %s", workspace_id)
        await _retry_later(send)
        watcher.cancel()
        streams.discard(stream)
        return
    try:
        await _serve(send, stream, feed, last_id)
    finally:
        the_hub.unfollow(feed, stream)
        watcher.cancel()
        streams.discard(stream)


def _parse_request(scope: Scope) -> tuple[int | None, int | None]:
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    workspace = query.get("workspace", [""])[0]
    last_id = header(scope, b"last-event-id") or query.get("last_event_id", [""])[0]
    try:
        return (int(workspace) if workspace else None, int(last_id) if last_id else None)
    except ValueError:
        raise Refused(400, "workspace and Last-Event-ID must be integers") from None


async def _serve(send: Send, stream: _Stream, feed: Feed, last_id: int | None) -> None:
    preface = f"retry: {RETRY_MS}\n".encode()
    if last_id is None:
        cursor = feed.head
        preface += f"id: {cursor}\n\n".encode()
    elif last_id == 0 or await READER.run(
        partial(selectors.event_exists, workspace_id=feed.workspace_id, event_id=last_id)
    ):
        cursor = last_id
        preface += b"\n"
    else:
        cursor = feed.head
        preface += f'id: {cursor}\nevent: reset\ndata: {{"reason":"expired"}}\n\n'.encode()

    await send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
    try:
        await _write(send, preface)
        await _follow(send, stream, feed, cursor)
    except Exception:  # the browser reconnects and resumes from its last id
        log.exception("live stream of workspace %s failed", feed.workspace_id)
    await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _follow(send: Send, stream: _Stream, feed: Feed, cursor: int) -> None:
    """Send every event after ``cursor``, then each new one, until the stream closes."""
    loop = asyncio.get_running_loop()
    ends_at = loop.time() + MAX_LIFETIME
    beat_at = loop.time() + HEARTBEAT
    while not stream.closing:
        if cursor < feed.floor:  # behind the shared buffer: read the log itself
            floor = feed.floor
            rows = await READER.run(
                partial(
                    selectors.events_after,
                    workspace_id=feed.workspace_id,
                    after_id=cursor,
                    limit=BATCH,
                )
            )
            if rows:
                await _write(send, b"".join(encode(row).frame for row in rows))
                cursor, beat_at = rows[-1].id, loop.time() + HEARTBEAT
            if len(rows) < BATCH:  # caught up with everything committed before `floor`
                cursor = max(cursor, floor)
            continue
        events = feed.after(cursor, BATCH)
        if events:
            await _write(send, b"".join(event.frame for event in events))
            cursor, beat_at = events[-1].id, loop.time() + HEARTBEAT
            continue
        stream.signal.clear()  # no await until the wait below: no wake-up can slip by
        now = loop.time()
        if stream.closing or now >= ends_at:
            return
        if now >= beat_at:
            await _write(send, b": ping\n\n")
            beat_at = now + HEARTBEAT
            continue
        try:
            async with asyncio.timeout(min(beat_at, ends_at) - now):
                await stream.signal.wait()
        except TimeoutError:
            pass


async def _write(send: Send, body: bytes) -> None:
    await send({"type": "http.response.body", "body": body, "more_body": True})


async def _watch_disconnect(receive: Receive, stream: _Stream) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    stream.close()


async def _retry_later(send: Send) -> None:
    """A transient failure (the database is away): an empty stream, not a 5xx.

    EventSource gives up for good on any answer but 200; a stream that just
    ends makes it reconnect after ``retry`` milliseconds, as we want.
    """
    await send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
    await send({"type": "http.response.body", "body": f"retry: {RETRY_MS}\n\n".encode()})


async def _refuse(send: Send, refusal: Refused) -> None:
    body = f"{refusal}\n".encode()
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
    ]
    if refusal.status == 401:
        headers.append((b"www-authenticate", b'Bearer realm="pagedesk"'))
    await send({"type": "http.response.start", "status": refusal.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


# --- who is asking -----------------------------------------------------------------


async def _authorise(scope: Scope, workspace_id: int | None) -> int:
    """The workspace the caller may follow (raises Refused otherwise)."""
    authorization = header(scope, b"authorization")
    cookies = "; ".join(
        bytes(value).decode("latin-1") for name, value in scope["headers"] if name == b"cookie"
    )
    return await sync_to_async(_check_access, thread_sensitive=False)(
        authorization, cookies, workspace_id
    )


def _check_access(authorization: str | None, cookies: str, workspace_id: int | None) -> int:
    close_old_connections()
    try:
        if authorization:
            return _check_token(authorization, workspace_id)
        session_key = parse_cookie(cookies).get(settings.SESSION_COOKIE_NAME)
        user = _session_user(session_key) if session_key else None
        if user is None:
            raise Refused(401, "sign in, or send an API token (Authorization: Bearer …)")
        if workspace_id is None:
            raise Refused(400, "say which workspace to follow: ?workspace=<id>")
        if not selectors.is_member(user_id=user.pk, workspace_id=workspace_id):
            raise Refused(403, f"you are not a member of workspace {workspace_id}")
        return workspace_id
    finally:
        close_old_connections()


def _check_token(authorization: str, workspace_id: int | None) -> int:
    scheme, _, secret = authorization.partition(" ")
    token = authenticate_api_token(secret.strip()) if scheme.lower() == "bearer" else None
    if token is None:
        raise Refused(401, "unknown or revoked API token")
    if workspace_id is not None and workspace_id != token.workspace_id:
        raise Refused(403, f"this token does not belong to workspace {workspace_id}")
    return token.workspace_id


def _session_user(session_key: str) -> Any:
    """The signed-in user of a session, checked exactly as Django's middleware would."""
    request = HttpRequest()
    request.session = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    user = get_user(request)
    return user if user.is_authenticated else None


# --- server shutdown -----------------------------------------------------------------


def _end_streams_on_uvicorn_shutdown() -> None:
    """Make uvicorn end open streams when it starts shutting down.

    uvicorn waits for running responses before it stops (and only then sends
    the ASGI lifespan shutdown), with no signal to the app in between: an open
    stream would hold every shutdown forever. So its ``Server.shutdown`` is
    wrapped to end this loop's streams first. Other ASGI servers need their
    own graceful-shutdown timeout.
    """
    try:
        from uvicorn.server import Server
    except ImportError:
        return
    original = Server.shutdown
    if getattr(original, "_ends_live_streams", False):
        return

    async def shutdown(self: Server, *args: Any, **kwargs: Any) -> None:
        close_streams(asyncio.get_running_loop())
        await original(self, *args, **kwargs)

    shutdown._ends_live_streams = True  # type: ignore[attr-defined]
    Server.shutdown = shutdown  # type: ignore[method-assign]


_end_streams_on_uvicorn_shutdown()
