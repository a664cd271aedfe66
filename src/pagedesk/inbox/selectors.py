"""Reads of the inbox: conversations, messages, contacts.

Every selector takes the caller's ``workspace`` keyword-only and filters by it, so a
row of another workspace is indistinguishable from a row that does not exist. Lists
are cursor-paginated: the cursor is an opaque string naming the last row returned,
and the next page starts strictly after it in the list's total order.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, Generic, Literal, TypeVar

from django.db.models import Prefetch, Q, QuerySet, prefetch_related_objects
from django.utils import timezone

from pagedesk.core.errors import PagedeskError
from pagedesk.core.models import Workspace
from pagedesk.inbox.models import Attachment, Contact, Conversation, Label, Message, Reaction
from pagedesk.messenger.policy import STANDARD_WINDOW

T = TypeVar("T")

UNASSIGNED: Final = "none"
"""Pass as ``assignee_id`` to list only conversations nobody is assigned to."""

MAX_LIMIT: Final = 200
MAX_ID: Final = 2**63 - 1  # larger ids cannot exist (and SQLite cannot even compare them)
_CONVERSATIONS: Final = "c"
_MESSAGES: Final = "m"


@dataclass(frozen=True)
class Page(Generic[T]):
    items: Sequence[T]
    next_cursor: str | None


@dataclass(frozen=True)
class Window:
    """The standard 24-hour messaging window of a conversation."""

    open: bool
    ends_at: datetime | None


def conversation_window(conversation: Conversation, *, now: datetime) -> Window:
    """Open from the customer's last message for 24 hours (half-open interval)."""
    started = conversation.last_customer_message_at
    if started is None:
        return Window(open=False, ends_at=None)
    ends_at = started + STANDARD_WINDOW
    return Window(open=now < ends_at, ends_at=ends_at)


# --- conversations -------------------------------------------------------------------


def conversation_list(
    *,
    workspace: Workspace,
    status: str | None = None,
    channel_id: int | None = None,
    assignee_id: int | Literal["none"] | None = None,
    label: str | None = None,
    updated_since: datetime | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> Page[Conversation]:
    """The workspace's conversations, most recently updated first (ties: higher id first)."""
    rows = _conversations(workspace)
    if status is not None:
        rows = rows.filter(status=status)
    if channel_id is not None:
        rows = rows.filter(channel_id=channel_id)
    if assignee_id == UNASSIGNED:
        rows = rows.filter(assignee__isnull=True)
    elif assignee_id is not None:
        rows = rows.filter(assignee_id=assignee_id)
    if label is not None:
        # Label names are unique per workspace: the join adds at most one row each.
        rows = rows.filter(labels__in=Label.objects.filter(workspace=workspace, name=label))
    if updated_since is not None:
        rows = rows.filter(updated_at__gte=_aware(updated_since))
    if cursor is not None:
        position, last_id = _decode_cursor(cursor, _CONVERSATIONS)
        after = _cursor_time(position)
        rows = rows.filter(Q(updated_at__lt=after) | Q(updated_at=after, id__lt=last_id))
    rows = rows.order_by("-updated_at", "-id")
    return _page(
        rows,
        limit,
        lambda c: _encode_cursor(_CONVERSATIONS, c.updated_at.isoformat(), c.pk),
    )


def conversation_get(*, workspace: Workspace, conversation_id: int) -> Conversation:
    """One conversation with its participants; 404 when absent or of another workspace."""
    if not _valid_id(conversation_id):
        raise _conversation_not_found()
    conversation = _conversations(workspace).filter(pk=conversation_id).first()
    if conversation is None:
        raise _conversation_not_found()
    if conversation.is_group:  # one-to-one threads have none: save the query
        participants = Contact.objects.filter(workspace=workspace).order_by("id")
        prefetch_related_objects([conversation], Prefetch("participants", queryset=participants))
    return conversation


def _conversations(workspace: Workspace) -> QuerySet[Conversation]:
    labels = Label.objects.filter(workspace=workspace).order_by("name")
    return (
        Conversation.objects.filter(workspace=workspace)
        .select_related("channel", "contact", "assignee", "team")
        .prefetch_related(Prefetch("labels", queryset=labels))
    )


def _conversation_not_found() -> PagedeskError:
    return PagedeskError("not_found", "No conversation with this id in your workspace.", status=404)


# --- messages ------------------------------------------------------------------------


def message_list(
    *,
    workspace: Workspace,
    conversation_id: int,
    cursor: str | None = None,
    limit: int = 100,
) -> Page[Message]:
    """A conversation's messages, oldest first (Meta's timestamp, then arrival order)."""
    if not _valid_id(conversation_id) or not (
        Conversation.objects.filter(workspace=workspace, pk=conversation_id).exists()
    ):
        raise _conversation_not_found()
    rows = Message.objects.filter(workspace=workspace, conversation_id=conversation_id)
    if cursor is not None:
        timestamp_ms, last_id = _decode_cursor(cursor, _MESSAGES)
        if type(timestamp_ms) is not int or abs(timestamp_ms) > MAX_ID:
            raise _invalid_cursor()
        rows = rows.filter(
            Q(timestamp_ms__gt=timestamp_ms) | Q(timestamp_ms=timestamp_ms, id__gt=last_id)
        )
    rows = rows.prefetch_related(
        "attachments",
        Prefetch("reactions", queryset=Reaction.objects.order_by("reacted_at", "id")),
    ).order_by("timestamp_ms", "id")
    return _page(rows, limit, lambda m: _encode_cursor(_MESSAGES, m.timestamp_ms, m.pk))


# --- contacts ------------------------------------------------------------------------


def contact_get(*, workspace: Workspace, contact_id: int) -> Contact:
    """One contact; 404 when absent or of another workspace."""
    contact = None
    if _valid_id(contact_id):
        contact = (
            Contact.objects.filter(workspace=workspace, pk=contact_id)
            .select_related("channel")
            .first()
        )
    if contact is None:
        raise PagedeskError("not_found", "No contact with this id in your workspace.", status=404)
    return contact


# --- pagination ----------------------------------------------------------------------


def _page(rows: QuerySet[T], limit: int, cursor_of: Callable[[T], str]) -> Page[T]:
    if not 1 <= limit <= MAX_LIMIT:
        raise PagedeskError(
            "invalid_request", f"limit must be between 1 and {MAX_LIMIT}.", status=422
        )
    items = list(rows[: limit + 1])  # one more than asked: is there a next page?
    if len(items) <= limit:
        return Page(items=items, next_cursor=None)
    items = items[:limit]
    return Page(items=items, next_cursor=cursor_of(items[-1]))


def _encode_cursor(kind: str, position: str | int, row_id: int) -> str:
    raw = json.dumps([kind, position, row_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str, kind: str) -> tuple[object, int]:
    """The (position, id) of a cursor of this kind of list, or a 422 error."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        found_kind, position, row_id = json.loads(raw)
    except (binascii.Error, ValueError, TypeError):
        raise _invalid_cursor() from None
    if found_kind != kind or type(row_id) is not int or not _valid_id(row_id):
        raise _invalid_cursor()
    return position, row_id


def _cursor_time(position: object) -> datetime:
    try:
        moment = datetime.fromisoformat(position)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise _invalid_cursor() from None
    if timezone.is_naive(moment):
        raise _invalid_cursor()
    return moment


def _invalid_cursor() -> PagedeskError:
    return PagedeskError(
        "invalid_cursor",
        "This cursor was not issued by this list; pass next_cursor exactly as returned.",
        status=422,
    )


def _valid_id(value: int) -> bool:
    return 0 < value <= MAX_ID


def _aware(moment: datetime) -> datetime:
    return moment if timezone.is_aware(moment) else moment.replace(tzinfo=UTC)


def attachment_file_get(*, workspace: Workspace, attachment_id: int) -> Attachment:
    """A downloaded attachment of the workspace (404 otherwise, like every other read)."""
    attachment = (
        Attachment.objects.filter(
            pk=attachment_id,
            message__workspace=workspace,
            download=Attachment.Download.DONE,
        )
        .exclude(file="")
        .first()
    )
    if attachment is None:
        raise PagedeskError(
            "not_found", "No stored attachment with this id in your workspace.", status=404
        )
    return attachment
