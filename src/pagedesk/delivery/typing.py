"""The "typing…" bubble a customer sees while an agent writes a reply.

:func:`do_signal_typing` is called by the composer while a person types. It asks
for one ``typing_on`` sender action, queued as a task so the request never waits
for Meta, and at most once per :data:`THROTTLE_SECONDS` per conversation. Sender
actions are only allowed inside the 24-hour window, so nothing is sent outside it.
A failed call is logged and otherwise ignored: the bubble is a nicety.
"""

from __future__ import annotations

import asyncio
import logging

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from pagedesk.delivery.graph_call import ONE_ATTEMPT
from pagedesk.delivery.policy_state import composer_state
from pagedesk.inbox.models import Conversation
from pagedesk.messenger.graph import GraphClient
from pagedesk.messenger.send import SenderAction

logger = logging.getLogger(__name__)

THROTTLE_SECONDS = 10
TIMEOUT_SECONDS = 10.0


def _cache_key(conversation_id: int) -> str:
    return f"pagedesk:typing:{conversation_id}"


def do_signal_typing(*, conversation: Conversation) -> bool:
    """Queue ``typing_on`` for the customer; ``False`` when nothing was queued
    (window closed, group conversation, or already sent within the last 10 s)."""
    if conversation.is_group or not composer_state(conversation=conversation).window_open:
        return False
    # ``add`` only sets a missing key: of two requests at once, one wins.
    if not cache.add(_cache_key(conversation.pk), 1, timeout=THROTTLE_SECONDS):
        return False
    from pagedesk.delivery.tasks import send_typing_on

    send_typing_on(conversation.pk)
    return True


def send_typing_on(*, conversation_id: int) -> None:
    """Make the sender-action call (in a worker). Errors are logged, never raised."""
    conversation = (
        Conversation.objects.select_related("channel", "contact").filter(pk=conversation_id).first()
    )
    if conversation is None:
        return
    if not composer_state(conversation=conversation, now=timezone.now()).window_open:
        return
    channel = conversation.channel
    try:
        client = GraphClient(
            channel.page_access_token,
            base_url=settings.PAGEDESK_GRAPH_URL,
            version=channel.graph_version or settings.PAGEDESK_GRAPH_VERSION,
            timeout=TIMEOUT_SECONDS,
            retry=ONE_ATTEMPT,  # a late bubble is worse than none
            app_secret=channel.app_secret or None,
        )

        async def call() -> None:
            async with client:
                await client.send_sender_action(conversation.contact.psid, SenderAction.TYPING_ON)

        asyncio.run(call())
    except Exception:
        logger.warning("typing_on for conversation %s failed", conversation_id, exc_info=True)
