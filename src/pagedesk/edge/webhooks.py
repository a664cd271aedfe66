"""The Messenger webhook endpoint: ``GET``/``POST /webhooks/messenger``.

A plain ASGI handler, in front of Django: it checks the signature over the raw
bytes, appends the body to the log (``RawWebhook``) and answers. Processing
happens later, in the worker, so Meta never waits on pagedesk's own work. Every
POST is stored, accepted or not, so rejected traffic can be inspected; only
accepted rows are ingested. Nothing is answered 200 before its row is committed.
"""

from __future__ import annotations

import json
import logging
import time
from urllib.parse import parse_qs

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import DatabaseError, close_old_connections

from pagedesk.core.models import RawWebhook
from pagedesk.edge import raw_log
from pagedesk.edge.asgi_helpers import (
    BodyTooLarge,
    Receive,
    Scope,
    Send,
    header,
    read_body,
    respond,
)
from pagedesk.edge.channel_keys import ChannelKeyCache, ChannelKeys
from pagedesk.edge.counters import COUNTERS, count
from pagedesk.edge.group_commit import GroupCommit
from pagedesk.edge.raw_log import Delivery
from pagedesk.messenger.signature import SIGNATURE_HEADER

__all__ = ["COUNTERS", "PATH", "webhook_receiver"]

log = logging.getLogger(__name__)
PATH = "/webhooks/messenger"
Status = RawWebhook.Status
_SIGNATURE_HEADER = SIGNATURE_HEADER.lower().encode()
_ANSWER = {Status.ACCEPTED: 200, Status.MALFORMED: 400, Status.TOO_LARGE: 413}  # else 403

channel_keys = ChannelKeyCache(ttl=5.0)
log_writer: GroupCommit[Delivery] = GroupCommit(
    raw_log.append, name="edge-webhook-log", on_idle=raw_log.release_connection
)


async def webhook_receiver(scope: Scope, receive: Receive, send: Send) -> None:
    method = scope["method"]
    if method == "GET":
        await _verify_subscription(scope, send)
    elif method == "POST":
        await _receive_delivery(scope, receive, send)
    else:
        await respond(send, 405, "method not allowed")


async def _verify_subscription(scope: Scope, send: Send) -> None:
    arrived = time.monotonic()
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    mode = query.get("hub.mode", [""])[0]
    token = query.get("hub.verify_token", [""])[0]
    challenge = query.get("hub.challenge", [""])[0]
    known = False
    if mode == "subscribe" and token:
        known = (await _keys()).knows_verify_token(token)
        if not known:  # perhaps the channel was added a moment ago
            known = (await _reload_keys(arrived)).knows_verify_token(token)
    if known:
        await respond(send, 200, challenge)
    else:
        await respond(send, 403, "verification failed: unknown verify token")


async def _receive_delivery(scope: Scope, receive: Receive, send: Send) -> None:
    arrived = time.monotonic()
    count("received")
    limit = settings.PAGEDESK_MAX_WEBHOOK_BYTES
    try:
        body = await read_body(receive, limit)
    except BodyTooLarge as exc:
        delivery = Delivery(exc.head, Status.TOO_LARGE, error=f"body larger than {limit} bytes")
    else:
        delivery = await _judge(body, header(scope, _SIGNATURE_HEADER), arrived)

    try:
        await log_writer.submit(delivery)
    except Exception as exc:
        count("store_failed")
        if isinstance(exc, DatabaseError):  # disk full, database down: one line says it
            log.error(
                "could not store a webhook delivery (%s): %s; answered 503 so the sender retries",
                delivery.status,
                exc,
            )
        else:
            log.exception("could not store a webhook delivery (%s)", delivery.status)
        await respond(send, 503, "could not store the delivery, please retry")
        return

    if delivery.status == Status.ACCEPTED:
        count("accepted")
        await respond(send, 200, "EVENT_RECEIVED")
        return
    count("rejected")
    count(f"rejected_{delivery.status}")
    log.warning("webhook rejected: %s", delivery.error)
    await respond(send, _ANSWER.get(delivery.status, 403), delivery.error)


async def _judge(body: bytes, signature: str | None, arrived: float) -> Delivery:
    delivery = _classify(body, signature, await _keys())
    if signature and delivery.status in (Status.BAD_SIGNATURE, Status.UNKNOWN_PAGE):
        # A new channel or a rotated secret the snapshot does not know yet?
        delivery = _classify(body, signature, await _reload_keys(arrived))
    return delivery


def _classify(body: bytes, signature: str | None, keys: ChannelKeys) -> Delivery:
    """Decide the fate of a body: the signature is checked before anything is parsed."""
    signed_for = keys.signed_pages(body, signature)
    if not signed_for:
        reason = "missing signature" if not signature else "signature does not match"
        return Delivery(body, Status.BAD_SIGNATURE, error=f"{reason} ({SIGNATURE_HEADER})")
    try:
        envelope = json.loads(body.decode("utf-8"))  # strict, as the worker reads it
        page_ids = tuple(str(entry["id"]) for entry in envelope["entry"])
    except (ValueError, TypeError, KeyError, RecursionError) as exc:  # nested too deep
        error = f"not a webhook body: {exc.__class__.__name__}"
        return Delivery(body, Status.MALFORMED, error=error)
    unknown = sorted(set(page_ids) - signed_for)
    if unknown:
        error = f"no channel for page(s) {unknown}"
        return Delivery(body, Status.UNKNOWN_PAGE, page_ids, error)
    return Delivery(body, Status.ACCEPTED, page_ids)


async def _keys() -> ChannelKeys:
    return channel_keys.fresh() or await _reload_keys(time.monotonic() - channel_keys.ttl)


async def _reload_keys(newer_than: float) -> ChannelKeys:
    def load() -> ChannelKeys:
        close_old_connections()
        try:
            return channel_keys.load(newer_than=newer_than)
        finally:
            close_old_connections()

    return await sync_to_async(load)()
