"""Messenger policy applied to a stored conversation: what the composer shows, what a
send is refused with, and how a channel's pause is read.

``pagedesk.messenger.policy`` holds the rules; this module only turns rows into its
inputs and its answers into sentences a person can act on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.utils import timezone

from pagedesk.core.models import Channel
from pagedesk.inbox.models import Conversation
from pagedesk.messenger.errors import TokenInvalid
from pagedesk.messenger.policy import (
    Allowed,
    Alternative,
    ChannelPolicy,
    ContactState,
    Decision,
    Draft,
    DraftKind,
    Refused,
    decide,
)
from pagedesk.messenger.send import MessageTag

HUMAN_AGENT = MessageTag.HUMAN_AGENT.value

# Channel.status_reason is free text; these prefixes say why a channel is paused.
# The ingest worker writes "Meta blocked the page from messaging: …" for a policy
# block; the sender writes the others. (A Channel.pause_kind field would be better.)
BLOCKED_PREFIX = "Meta blocked the page from messaging"
TOKEN_PAUSE_REASON = TokenInvalid.action


def is_blocked(channel: Channel) -> bool:
    """Paused because Meta blocked or restricted the page: nothing can be sent."""
    return channel.status == Channel.Status.PAUSED and channel.status_reason.startswith(
        BLOCKED_PREFIX
    )


def is_paused(channel: Channel) -> bool:
    return channel.status == Channel.Status.PAUSED


def contact_state(conversation: Conversation) -> ContactState:
    """Policy input from the conversation, the click-to-Messenger ad window included.

    Not yet modelled: notification tokens (retired by Meta), comments for private
    replies. Leaving them out can only refuse a send Meta would allow, never the
    reverse.
    """
    return ContactState(
        last_customer_message_at=conversation.last_customer_message_at,
        ad_message_at=conversation.ad_message_at,
    )


def tagged_sends_stopped(conversation: Conversation) -> str:
    """Why nothing tagged may go to this customer ('' when it may)."""
    stopped = None if conversation.is_group else conversation.contact.tagged_sends_stopped_at
    if stopped is None:
        return ""
    return (
        f"Meta warned about tagged messages to this customer on {_fmt(stopped)} (tag misuse or "
        "too many tagged messages), so pagedesk sends them nothing tagged. Reply when they "
        "write again (no tag is needed then), or ask an admin to allow tagged messages again."
    )


def channel_policy(channel: Channel) -> ChannelPolicy:
    return ChannelPolicy(allowed_tags=frozenset(channel.allowed_tags or ()))


def draft_kind(*, human: bool) -> DraftKind:
    return DraftKind.HUMAN_REPLY if human else DraftKind.AUTOMATED


def judge(conversation: Conversation, *, human: bool, tag: str | None, now: datetime) -> Decision:
    draft = Draft(kind=draft_kind(human=human), tag=tag or None)
    return decide(contact_state(conversation), draft, channel_policy(conversation.channel), now)


def _fmt(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if moment else "?"


def alternatives_text(refused: Refused) -> str:
    """What is still allowed, one sentence per alternative."""
    sentences = {
        Alternative.HUMAN_AGENT: "An agent can still reply with the HUMAN_AGENT tag until "
        f"{_fmt(refused.human_agent_ends_at)}.",
        Alternative.CUSTOMER_FEEDBACK: "You can still send the customer-feedback template "
        "(CUSTOMER_FEEDBACK tag).",
        Alternative.NOTIFICATION_TOKEN: "You can send with the customer's notification token.",
        Alternative.PRIVATE_REPLY: "You can answer the customer's comment with a private reply.",
        Alternative.MARKETING_MESSAGES: "Meta's paid Marketing Messages can reach customers "
        "who opted in.",
        Alternative.WAIT_FOR_CUSTOMER: "The window opens again when the customer writes.",
    }
    return " ".join(sentences[alt] for alt in refused.alternatives if alt in sentences)


def refusal_message(refused: Refused) -> str:
    more = alternatives_text(refused)
    return f"{refused.explanation} {more}".strip()


@dataclass(frozen=True)
class ComposerState:
    """What the reply box of a conversation may do right now, for a person.

    ``options``: how a human reply can go now, best first, each
    ``{"kind": "response" | "tag" | "token", "tag": str | None}``; empty when
    ``can_reply`` is False. ``reason``: one line when something limits or blocks
    replying ('' when a plain reply goes out now).
    """

    window_open: bool
    window_ends_at: datetime | None
    human_agent_open: bool
    human_agent_ends_at: datetime | None
    allowed_tags: list[str]
    can_reply: bool
    reason: str
    options: list[dict[str, Any]] = field(default_factory=list)


def composer_state(*, conversation: Conversation, now: datetime | None = None) -> ComposerState:
    """The composer's countdowns, whether an agent can reply, and with what."""
    now = now or timezone.now()
    channel = conversation.channel
    plain = judge(conversation, human=True, tag=None, now=now)
    tagged = judge(conversation, human=True, tag=HUMAN_AGENT, now=now)
    stopped = tagged_sends_stopped(conversation)
    options: list[dict[str, Any]] = []
    if isinstance(plain, Allowed):
        options.append({"kind": "response", "tag": None})
    elif isinstance(tagged, Allowed) and not stopped:
        options.append({"kind": "tag", "tag": HUMAN_AGENT})

    reason = ""
    if isinstance(plain, Refused):
        if stopped:
            reason = stopped
        elif isinstance(tagged, Allowed):
            reason = (
                f"The 24-hour window closed at {_fmt(plain.window_ends_at)}; a person can "
                f"still reply with the HUMAN_AGENT tag until {_fmt(tagged.human_agent_ends_at)}."
            )
        else:
            reason = refusal_message(plain)
    unreachable = conversation.contact.unreachable_reason if not conversation.is_group else ""
    if is_blocked(channel):
        options, reason = [], channel.status_reason
    elif unreachable:
        options, reason = [], f"The customer cannot be reached: {unreachable}"
    elif is_paused(channel) and options:
        reason = channel.status_reason or "Sending is paused; replies are queued."
    return ComposerState(
        window_open=plain.window_ends_at is not None and now < plain.window_ends_at,
        window_ends_at=plain.window_ends_at,
        human_agent_open=plain.human_agent_ends_at is not None and now < plain.human_agent_ends_at,
        human_agent_ends_at=plain.human_agent_ends_at,
        allowed_tags=list(channel.allowed_tags or ()),
        can_reply=bool(options),
        reason=reason,
        options=options,
    )
