"""The Messenger webhook endpoint: ``GET``/``POST /webhooks/messenger``.

A plain ASGI handler, in front of Django: it checks the signature, appends the
raw body to the log (``RawWebhook``) and answers. Processing happens later, in the
worker, so Meta never waits on pagedesk's own work. Every POST is stored, accepted
or not, so rejected traffic can be inspected; only accepted rows are processed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar
from urllib.parse import parse_qs

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections

from pagedesk.core.models import Channel, RawWebhook
from pagedesk.core.tasks import summarize_webhook
from pagedesk.edge.asgi_helpers import (
    BodyTooLarge,
    Receive,
    Scope,
    Send,
    header,
    read_body,
    respond,
)
from pagedesk.messenger.signature import SIGNATURE_HEADER, verify_signature

log = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")
PATH = "/webhooks/messenger"


def db_call(function: Callable[P, R]) -> Callable[P, Awaitable[R]]:
    """Run ORM work off the event loop, with Django's per-request connection hygiene
    (the edge bypasses Django's request cycle, which would otherwise do this)."""

    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        close_old_connections()
        try:
            return function(*args, **kwargs)
        finally:
            close_old_connections()

    return sync_to_async(wrapper)


async def webhook_receiver(scope: Scope, receive: Receive, send: Send) -> None:
    method = scope["method"]
    if method == "GET":
        await _verify_subscription(scope, send)
    elif method == "POST":
        await _receive_delivery(scope, receive, send)
    else:
        await respond(send, 405, "method not allowed")


async def _verify_subscription(scope: Scope, send: Send) -> None:
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    mode = query.get("hub.mode", [""])[0]
    token = query.get("hub.verify_token", [""])[0]
    challenge = query.get("hub.challenge", [""])[0]
    if mode == "subscribe" and token and await _verify_token_known(token):
        await respond(send, 200, challenge)
    else:
        await respond(send, 403, "verification failed: unknown verify token")


@db_call
def _verify_token_known(token: str) -> bool:
    return Channel.objects.filter(verify_token=token).exists()


async def _receive_delivery(scope: Scope, receive: Receive, send: Send) -> None:
    limit = settings.PAGEDESK_MAX_WEBHOOK_BYTES
    try:
        body = await read_body(receive, limit)
    except BodyTooLarge as exc:
        await _store(exc.head, RawWebhook.Status.TOO_LARGE, error=f"body larger than {limit} bytes")
        await respond(send, 413, f"body larger than {limit} bytes")
        return

    status, page_ids, error = await _classify(
        body, header(scope, SIGNATURE_HEADER.lower().encode())
    )
    await _store(body, status, page_ids=page_ids, error=error)
    if status == RawWebhook.Status.ACCEPTED:
        await respond(send, 200, "EVENT_RECEIVED")
    elif status == RawWebhook.Status.MALFORMED:
        await respond(send, 400, error)
    else:
        log.warning("webhook rejected: %s", error)
        await respond(send, 403, error)


async def _classify(body: bytes, signature: str | None) -> tuple[str, list[str], str]:
    """Decide the fate of a body: the signature is checked before anything is parsed."""
    secrets_by_page = await _app_secrets()
    matching_pages = {
        page_id
        for page_id, secret in secrets_by_page.items()
        if verify_signature(body, signature, secret)
    }
    if not matching_pages:
        reason = "missing signature" if not signature else "signature does not match"
        return RawWebhook.Status.BAD_SIGNATURE, [], f"{reason} ({SIGNATURE_HEADER})"
    try:
        envelope = json.loads(body)
        page_ids = [str(entry["id"]) for entry in envelope["entry"]]
    except (ValueError, TypeError, KeyError) as exc:
        return RawWebhook.Status.MALFORMED, [], f"not a webhook body: {exc.__class__.__name__}"
    unknown = sorted(set(page_ids) - matching_pages)
    if unknown:
        return RawWebhook.Status.UNKNOWN_PAGE, page_ids, f"no channel for page(s) {unknown}"
    return RawWebhook.Status.ACCEPTED, page_ids, ""


@db_call
def _app_secrets() -> dict[str, str]:
    return dict(Channel.objects.values_list("page_id", "app_secret"))


_SIGNED = {RawWebhook.Status.ACCEPTED, RawWebhook.Status.MALFORMED, RawWebhook.Status.UNKNOWN_PAGE}


@db_call
def _store(body: bytes, status: str, *, page_ids: list[str] | None = None, error: str = "") -> None:
    row = RawWebhook.objects.create(
        status=status,
        signature_valid=status in _SIGNED,
        page_ids=",".join(page_ids or [])[:1024],
        body=body,
        body_size=len(body),
        error=error,
    )
    if status == RawWebhook.Status.ACCEPTED:
        try:
            summarize_webhook(row.pk)
        except Exception:  # the row is safe; the sweeper enqueues it again later
            log.exception("could not enqueue webhook #%s", row.pk)
