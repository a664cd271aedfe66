"""Writes of the inbox: replies, notes, assignment and status, read state.

Every action validates first, then writes in one transaction; anything outside the
database (queueing the send) happens on commit. Refusals are a
:class:`PagedeskError` with a stable code and a message that says what to do.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from enum import Enum
from typing import Any, Final

from django.db import transaction
from django.utils import timezone

from pagedesk.core.errors import PagedeskError
from pagedesk.core.models import Membership, Team
from pagedesk.delivery.compose import QuickReplyInput, build_message
from pagedesk.delivery.models import OutboxEntry, Persona
from pagedesk.delivery.policy_state import (
    ComposerState,
    is_blocked,
    is_paused,
    judge,
    refusal_message,
    tagged_sends_stopped,
)
from pagedesk.delivery.policy_state import composer_state as _composer_state
from pagedesk.inbox.models import Attachment, Contact, Conversation, Label, Message, Note
from pagedesk.live.emit import (
    CONVERSATION_UPDATED,
    MESSAGE_CREATED,
    MESSAGE_UPDATED,
    NOTE_CREATED,
    emit,
)
from pagedesk.messenger.policy import Refused

__all__ = [
    "UNSET",
    "ComposerState",
    "composer_state",
    "do_add_note",
    "do_allow_tagged_sends",
    "do_mark_read",
    "do_retry_message",
    "do_send_message",
    "do_set_contact_attributes",
    "do_update_conversation",
]


class _Unset(Enum):
    UNSET = "UNSET"


UNSET: Final = _Unset.UNSET
"""Default of optional fields of ``do_update_conversation``: leave the field as it is."""

NOTE_MAX = 10_000
LABEL_MAX = 64
# "@ada@acme.test" or "@ada", not the "@acme.test" inside a plain email address.
_MENTION = re.compile(r"(?<![\w@])@([\w.+-]+(?:@[\w-]+(?:\.[\w-]+)+)?)")


def _is_member(workspace_id: int, user: Any) -> bool:
    return Membership.objects.filter(workspace_id=workspace_id, user_id=user.pk).exists()


def _require_member(workspace_id: int, user: Any, *, what: str = "You") -> None:
    if not _is_member(workspace_id, user):
        raise PagedeskError(
            "not_a_member", f"{what} must be a member of this workspace.", status=403
        )


def _fresh(conversation: Conversation) -> Conversation:
    """The conversation as it is now (the window may have moved since it was loaded)."""
    return Conversation.objects.select_related("channel", "contact").get(pk=conversation.pk)


# --- replies ----------------------------------------------------------------------------


def _require_sendable(
    conversation: Conversation, *, human: bool, tag: str | None, now: datetime
) -> None:
    """Refuse, before anything is written, what must not go out now: the page is
    blocked by Meta, the customer cannot be reached, Messenger's policy forbids it,
    or Meta warned about tagged messages to this person."""
    channel = conversation.channel
    if is_blocked(channel):
        raise PagedeskError(
            "channel_blocked",
            f"{channel.status_reason.rstrip('.')}. Nothing can be sent on this page until "
            "Meta lifts it.",
            status=409,
        )
    unreachable = conversation.contact.unreachable_reason
    if unreachable and not conversation.is_group:
        raise PagedeskError(
            "contact_unreachable", f"The customer cannot be reached: {unreachable}", status=409
        )
    decision = judge(conversation, human=human, tag=tag, now=now)
    if isinstance(decision, Refused):
        raise PagedeskError(decision.reason.value, refusal_message(decision), status=409)
    if decision.tag and (stopped := tagged_sends_stopped(conversation)):
        raise PagedeskError("tagged_sends_stopped", stopped, status=409)


def do_send_message(
    *,
    conversation: Conversation,
    author: Any | None = None,
    text: str = "",
    attachment_url: str | None = None,
    attachment_type: str | None = None,
    quick_replies: Sequence[QuickReplyInput] | None = None,
    tag: str | None = None,
    automated: bool = False,
    persona: bool = True,
) -> Message:
    """Queue a message to the customer; it is sent by the delivery worker.

    A reply is a person's (``HUMAN_REPLY``) when it has an author and is not
    ``automated``; only those may use the HUMAN_AGENT tag. Refused before anything
    is written when policy forbids it (code: the policy reason, e.g.
    ``window_closed``), when the page is blocked by Meta (``channel_blocked``) or
    the customer cannot be reached (``contact_unreachable``), or when the content
    breaks Messenger's limits (``invalid_message``). While the channel is paused for
    an invalid token the message is kept and waits for the page to be reconnected.
    """
    now = timezone.now()
    conversation = _fresh(conversation)
    channel = conversation.channel
    if author is not None:
        _require_member(conversation.workspace_id, author, what="The author")
    human = author is not None and not automated
    tag = tag.strip().upper() if tag and tag.strip() else None

    _require_sendable(conversation, human=human, tag=tag, now=now)
    content = build_message(
        text=text,
        attachment_url=attachment_url,
        attachment_type=attachment_type,
        quick_replies=quick_replies,
    )
    chosen = None
    if persona and human and channel.personas_enabled:
        chosen = Persona.objects.filter(channel=channel, user_id=author.pk, active=True).first()

    data: dict[str, Any] = {}
    if tag:
        data["tag"] = tag
    if not human:
        data["automated"] = True
    if content.quick_replies:
        data["quick_replies"] = [
            reply.model_dump(exclude_none=True) for reply in content.quick_replies
        ]
    if chosen is not None:
        data["persona"] = {"id": chosen.persona_id, "name": chosen.name}

    with transaction.atomic():
        message = Message.objects.create(
            workspace_id=conversation.workspace_id,
            conversation=conversation,
            direction=Message.Direction.OUTBOUND,
            kind=Message.Kind.MESSAGE,
            text=content.text or "",
            data=data,
            status=Message.Status.QUEUED,
            sender_user=author,
            timestamp_ms=int(now.timestamp() * 1000),
            sent_at=now,
        )
        message.metadata = f"pagedesk:{message.pk}"  # comes back on the echo
        message.save(update_fields=["metadata"])
        if attachment_url:
            Attachment.objects.create(
                message=message,
                type=attachment_type or "file",
                url=attachment_url,
                download=Attachment.Download.NOT_NEEDED,
            )
        waits = is_paused(channel)
        entry = OutboxEntry.objects.create(
            message=message,
            channel=channel,
            state=OutboxEntry.State.WAITING_CHANNEL if waits else OutboxEntry.State.PENDING,
            draft_kind=OutboxEntry.DraftKind.HUMAN_REPLY
            if human
            else OutboxEntry.DraftKind.AUTOMATED,
            tag=tag or "",
            payload=content.model_copy(update={"metadata": message.metadata}).model_dump(
                exclude_none=True, mode="json"
            ),
            persona=chosen,
            next_attempt_at=now,
        )
        Conversation.objects.filter(pk=conversation.pk).update(last_message_at=now, updated_at=now)
        emit(
            workspace_id=conversation.workspace_id,
            kind=MESSAGE_CREATED,
            data={"conversation_id": conversation.pk, "message_id": message.pk, "direction": "out"},
        )
        if not waits:
            from pagedesk.delivery.tasks import enqueue

            transaction.on_commit(lambda: enqueue([entry.pk]), robust=True)
    return message


# --- notes ------------------------------------------------------------------------------


def do_retry_message(*, message: Message, actor: Any | None) -> Message:
    """Send a failed reply again: the same message and outbox entry, so the echo of
    any earlier attempt still reconciles it. Refused when Meta may already have it
    (the outcome of the last call is unknown), and on the same grounds as a new send
    (the window, the page, the customer) — checked again now, not when it failed."""
    now = timezone.now()
    if actor is not None:
        _require_member(message.workspace_id, actor)
    with transaction.atomic():
        row = Message.objects.select_for_update().get(pk=message.pk)
        entry = OutboxEntry.objects.select_for_update().filter(message_id=row.pk).first()
        failed = row.status == Message.Status.FAILED and row.direction == Message.Direction.OUTBOUND
        if entry is None or not failed or entry.state != OutboxEntry.State.FAILED:
            raise PagedeskError(
                "not_retryable", "Only a reply that failed can be sent again.", status=409
            )
        if entry.outcome_unknown or row.mid:
            raise PagedeskError(
                "outcome_unknown",
                "Meta may have received this message, so it is not sent again (that could "
                "make a duplicate). If the customer did not get it, write a new reply.",
                status=409,
            )
        conversation = _fresh(row.conversation)
        human = entry.draft_kind == OutboxEntry.DraftKind.HUMAN_REPLY
        _require_sendable(conversation, human=human, tag=entry.tag or None, now=now)
        waits = is_paused(conversation.channel)
        entry.state = OutboxEntry.State.WAITING_CHANNEL if waits else OutboxEntry.State.PENDING
        entry.failures = 0
        entry.next_attempt_at = now
        entry.last_error = ""
        entry.graph_code = entry.graph_subcode = None
        entry.save()
        row.status, row.failed_reason = Message.Status.QUEUED, ""
        row.save(update_fields=["status", "failed_reason"])
        emit(
            workspace_id=row.workspace_id,
            kind=MESSAGE_UPDATED,
            data={"conversation_id": row.conversation_id, "message_id": row.pk, "status": "queued"},
        )
        if not waits:
            from pagedesk.delivery.tasks import enqueue

            transaction.on_commit(lambda: enqueue([entry.pk]), robust=True)
    return row


def _mentioned(workspace_id: int, text: str) -> list[Any]:
    """Workspace members named as ``@email`` or ``@username`` in the text."""
    names = {match.rstrip(".").lower() for match in _MENTION.findall(text)}
    if not names:
        return []
    members = Membership.objects.filter(workspace_id=workspace_id).select_related("user")
    return [
        m.user
        for m in members
        if (m.user.email or "").lower() in names or m.user.get_username().lower() in names
    ]


def do_add_note(*, conversation: Conversation, author: Any, text: str) -> Note:
    """An internal note (never sent to the customer); mentions are resolved to members."""
    _require_member(conversation.workspace_id, author, what="The author")
    text = (text or "").strip()
    if not text:
        raise PagedeskError("invalid_note", "The note is empty.", status=422)
    if len(text) > NOTE_MAX:
        raise PagedeskError("invalid_note", f"A note is at most {NOTE_MAX} characters.", status=422)
    mentions = _mentioned(conversation.workspace_id, text)
    with transaction.atomic():
        note = Note.objects.create(conversation_id=conversation.pk, author=author, text=text)
        if mentions:
            note.mentions.set(mentions)
        emit(
            workspace_id=conversation.workspace_id,
            kind=NOTE_CREATED,
            data={"conversation_id": conversation.pk, "note_id": note.pk},
        )
    return note


# --- status, assignment, labels ----------------------------------------------------------


def _labels(workspace_id: int, labels: Iterable[Label | str]) -> list[Label]:
    found: list[Label] = []
    for item in labels:
        if isinstance(item, Label):
            if item.workspace_id != workspace_id:
                raise PagedeskError("invalid_label", f"Unknown label {item.name!r}.", status=422)
            found.append(item)
            continue
        name = str(item).strip()
        if not name or len(name) > LABEL_MAX:
            raise PagedeskError(
                "invalid_label", f"Label names are 1 to {LABEL_MAX} characters.", status=422
            )
        label, created = Label.objects.get_or_create(workspace_id=workspace_id, name=name)
        if created:  # a new label is an admin change, like one made in the settings
            from pagedesk.audit.actions import record

            record(workspace_id=workspace_id, action="label.created", target=name)
        found.append(label)
    return found


def do_update_conversation(
    *,
    conversation: Conversation,
    actor: Any | None,
    status: str | _Unset = UNSET,
    assignee: Any | _Unset | None = UNSET,
    team: Team | _Unset | None = UNSET,
    labels: Iterable[Label | str] | _Unset = UNSET,
) -> Conversation:
    """Change status (open/done), assignee (a member or None), team, and labels.

    Fields left ``UNSET`` stay as they are; ``labels`` replaces the whole set, and
    label names that do not exist yet are created. ``actor`` is the person acting
    (None for an API integration).
    """
    workspace_id = conversation.workspace_id
    if actor is not None:
        _require_member(workspace_id, actor)
    if status is not UNSET and status not in Conversation.Status.values:
        raise PagedeskError(
            "invalid_status",
            f"Status must be one of {', '.join(Conversation.Status.values)}.",
            status=422,
        )
    if assignee is not UNSET and assignee is not None and not _is_member(workspace_id, assignee):
        raise PagedeskError(
            "invalid_assignee", "The assignee must be a member of this workspace.", status=422
        )
    if team is not UNSET and team is not None and team.workspace_id != workspace_id:
        raise PagedeskError("invalid_team", "No such team in this workspace.", status=422)

    with transaction.atomic():
        row = Conversation.objects.select_for_update().get(pk=conversation.pk)
        fields = ["updated_at"]
        changed: dict[str, Any] = {"conversation_id": row.pk}
        if status is not UNSET:
            row.status = changed["status"] = status
            fields.append("status")
        if assignee is not UNSET:
            row.assignee = assignee
            changed["assignee_id"] = assignee.pk if assignee is not None else None
            fields.append("assignee")
        if team is not UNSET:
            row.team = team
            changed["team_id"] = team.pk if team is not None else None
            fields.append("team")
        if labels is not UNSET:
            chosen = _labels(workspace_id, labels)
            row.labels.set(chosen)
            changed["labels"] = sorted(label.name for label in chosen)
        row.save(update_fields=fields)
        emit(workspace_id=workspace_id, kind=CONVERSATION_UPDATED, data=changed)
    return row


def do_mark_read(*, conversation: Conversation, actor: Any | None) -> None:
    """Clear the unread count. ``updated_at`` is left alone: reading a conversation
    must not move it to the top of everyone's list."""
    if actor is not None:
        _require_member(conversation.workspace_id, actor)
    with transaction.atomic():
        if Conversation.objects.filter(pk=conversation.pk, unread_count__gt=0).update(
            unread_count=0
        ):
            emit(
                workspace_id=conversation.workspace_id,
                kind=CONVERSATION_UPDATED,
                data={"conversation_id": conversation.pk, "unread_count": 0},
            )
    conversation.unread_count = 0


def composer_state(*, conversation: Conversation, now: datetime | None = None) -> ComposerState:
    """See :func:`pagedesk.delivery.policy_state.composer_state`."""
    return _composer_state(conversation=conversation, now=now)


# --- contacts ---------------------------------------------------------------------------

ATTRIBUTE_KEY_MAX = 40
ATTRIBUTE_VALUE_MAX = 500
ATTRIBUTES_MAX = 50
_ATTRIBUTE_KEY = re.compile(r"[^\W][\w .-]*\Z")


def do_set_contact_attributes(
    *, contact: Contact, actor: Any | None, changes: dict[str, str | None]
) -> Contact:
    """Set custom attributes of a contact ("plan": "gold"); a None or empty value
    removes the attribute. Keys are 1-40 letters, digits, spaces, ``_ . -``."""
    if actor is not None:
        _require_member(contact.workspace_id, actor)
    cleaned: dict[str, str | None] = {}
    for raw_key, raw_value in changes.items():
        key = " ".join(str(raw_key).split())
        if not key or len(key) > ATTRIBUTE_KEY_MAX or not _ATTRIBUTE_KEY.match(key):
            raise PagedeskError(
                "invalid_attribute",
                f"Attribute names are 1 to {ATTRIBUTE_KEY_MAX} letters, digits, spaces,"
                " '_', '.' or '-', starting with a letter or digit.",
                status=422,
            )
        value = None if raw_value is None else str(raw_value).strip()
        if value is not None and len(value) > ATTRIBUTE_VALUE_MAX:
            raise PagedeskError(
                "invalid_attribute",
                f"An attribute value is at most {ATTRIBUTE_VALUE_MAX} characters.",
                status=422,
            )
        cleaned[key] = value or None
    with transaction.atomic():
        row = Contact.objects.select_for_update().get(pk=contact.pk)
        attributes = dict(row.attributes or {})
        for key, value in cleaned.items():
            if value is None:
                attributes.pop(key, None)
            else:
                attributes[key] = value
        if len(attributes) > ATTRIBUTES_MAX:
            raise PagedeskError(
                "too_many_attributes",
                f"A contact has at most {ATTRIBUTES_MAX} attributes; remove one first.",
                status=422,
            )
        row.attributes = dict(sorted(attributes.items(), key=lambda item: item[0].lower()))
        row.save(update_fields=["attributes", "updated_at"])
        _announce_contact_change(row)
    contact.attributes = row.attributes
    return row


def do_allow_tagged_sends(*, contact: Contact, actor: Any | None) -> Contact:
    """Lift the stop after Meta's tag-misuse warning (owners and admins decide)."""
    if (
        actor is not None
        and not Membership.objects.filter(
            workspace_id=contact.workspace_id,
            user_id=actor.pk,
            role__in=(Membership.Role.OWNER, Membership.Role.ADMIN),
        ).exists()
    ):
        raise PagedeskError(
            "forbidden", "Only owners and admins can allow tagged messages again.", status=403
        )
    with transaction.atomic():
        Contact.objects.filter(pk=contact.pk).update(
            tagged_sends_stopped_at=None, updated_at=timezone.now()
        )
        from pagedesk.audit.actions import record

        record(
            workspace_id=contact.workspace_id,
            action="contact.tagged_sends_allowed",
            target=str(contact),
            actor=actor,
        )
        _announce_contact_change(contact)
    contact.tagged_sends_stopped_at = None
    return contact


def _announce_contact_change(contact: Contact) -> None:
    """Screens showing one of the contact's (latest) conversations refresh its sidebar."""
    conversation_ids = (
        Conversation.objects.filter(contact_id=contact.pk)
        .order_by("-updated_at")
        .values_list("pk", flat=True)[:20]
    )
    for conversation_id in conversation_ids:
        emit(
            workspace_id=contact.workspace_id,
            kind=CONVERSATION_UPDATED,
            data={"conversation_id": conversation_id, "contact_id": contact.pk},
        )
