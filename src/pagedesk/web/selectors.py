"""Reads for the agent web app. Every selector that touches customer data takes the
caller's ``workspace`` keyword-only and filters by it, so another workspace's row is
indistinguishable from a row that does not exist (404)."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import (
    Count,
    Exists,
    F,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.functions import Coalesce
from django.http import Http404
from django.utils import timezone

from pagedesk.core.errors import PagedeskError
from pagedesk.core.models import Channel, Membership, Team, Workspace
from pagedesk.inbox import selectors as inbox_selectors
from pagedesk.inbox.models import Attachment, Conversation, Label, Message, Note, Reaction
from pagedesk.web.models import CannedReply, UserPreference

MAX_ID = inbox_selectors.MAX_ID
TABS = ("mine", "unassigned", "all", "done")
THREAD_LIMIT = 200
MAX_SEARCH_TERMS = 6


# --- people and workspaces --------------------------------------------------------------


def memberships_of(*, user: AbstractBaseUser) -> list[Membership]:
    """The person's workspaces, by name (the switcher's order)."""
    return list(
        Membership.objects.filter(user=user)
        .select_related("workspace")
        .order_by("workspace__name", "workspace_id")
    )


def preferred_language(*, user: AbstractBaseUser) -> str:
    language = UserPreference.objects.filter(user=user).values_list("language", flat=True).first()
    return language or ""


def members(*, workspace: Workspace) -> list[Membership]:
    return list(
        Membership.objects.filter(workspace=workspace)
        .select_related("user")
        .order_by("user__first_name", "user__email", "user_id")
    )


def member_user(*, workspace: Workspace, user_id: int) -> AbstractBaseUser:
    membership = (
        Membership.objects.filter(workspace=workspace, user_id=user_id)
        .select_related("user")
        .first()
        if _valid_id(user_id)
        else None
    )
    if membership is None:
        raise PagedeskError("not_found", "No such member in this workspace.", status=404)
    return membership.user


def teams(*, workspace: Workspace) -> list[Team]:
    return list(Team.objects.filter(workspace=workspace).order_by("name"))


def team_get(*, workspace: Workspace, team_id: int) -> Team:
    team = (
        Team.objects.filter(workspace=workspace, pk=team_id).first() if _valid_id(team_id) else None
    )
    if team is None:
        raise PagedeskError("not_found", "No such team in this workspace.", status=404)
    return team


def labels(*, workspace: Workspace) -> list[Label]:
    return list(Label.objects.filter(workspace=workspace).order_by("name"))


def labels_by_ids(*, workspace: Workspace, ids: Sequence[int]) -> list[Label]:
    wanted = {i for i in ids if _valid_id(i)}
    found = list(Label.objects.filter(workspace=workspace, pk__in=wanted).order_by("name"))
    if len(found) != len(wanted):
        raise PagedeskError("not_found", "No such label in this workspace.", status=404)
    return found


def label_named(*, workspace: Workspace, name: str) -> Label | None:
    return Label.objects.filter(workspace=workspace, name=name).first()


def channels(*, workspace: Workspace) -> list[Channel]:
    return list(Channel.objects.filter(workspace=workspace).order_by("name", "id"))


# --- the conversation list ----------------------------------------------------------------


@dataclass(frozen=True)
class InboxFilters:
    tab: str = "all"
    channel_id: int | None = None
    label_id: int | None = None
    q: str = ""

    def query(self) -> dict[str, str]:
        """The non-default filters, for links that keep them."""
        params = {"tab": self.tab} if self.tab != "all" else {}
        if self.channel_id is not None:
            params["channel"] = str(self.channel_id)
        if self.label_id is not None:
            params["label"] = str(self.label_id)
        if self.q:
            params["q"] = self.q
        return params


@dataclass(frozen=True)
class InboxPage:
    rows: list[Conversation]
    next_cursor: str | None


def inbox_page(
    *,
    workspace: Workspace,
    user: AbstractBaseUser,
    filters: InboxFilters,
    cursor: str | None = None,
    limit: int = 50,
) -> InboxPage:
    """Conversations of one tab, most recent activity first (ties: higher id first).

    Search is a plain ``icontains`` over the contact's names and the message texts;
    every word must match somewhere (full-text search is a follow-up).
    """
    rows = _tab(Conversation.objects.filter(workspace=workspace), filters.tab, user)
    if filters.channel_id is not None:
        rows = rows.filter(channel_id=filters.channel_id)
    if filters.label_id is not None:
        rows = rows.filter(
            labels__in=Label.objects.filter(workspace=workspace, pk=filters.label_id)
        )
    for term in filters.q.split()[:MAX_SEARCH_TERMS]:
        said = Message.objects.filter(
            workspace=workspace, conversation=OuterRef("pk"), text__icontains=term
        )
        rows = rows.filter(
            Q(contact__first_name__icontains=term)
            | Q(contact__last_name__icontains=term)
            | Q(Exists(said))
        )
    latest = Message.objects.filter(conversation=OuterRef("pk")).exclude(
        direction=Message.Direction.SYSTEM
    )
    latest = latest.order_by("-timestamp_ms", "-id")
    rows = rows.annotate(
        activity=Coalesce("last_message_at", "created_at"),
        last_text=Subquery(latest.values("text")[:1]),
        last_direction=Subquery(latest.values("direction")[:1]),
    )
    if cursor:
        at, last_id = _decode_cursor(cursor)
        rows = rows.filter(Q(activity__lt=at) | Q(activity=at, id__lt=last_id))
    label_rows = Label.objects.filter(workspace=workspace).order_by("name")
    rows = (
        rows.select_related("contact", "channel", "assignee", "team")
        .prefetch_related(Prefetch("labels", queryset=label_rows))
        .order_by(F("activity").desc(), "-id")
    )
    found = list(rows[: limit + 1])
    if len(found) <= limit:
        return InboxPage(rows=found, next_cursor=None)
    found = found[:limit]
    return InboxPage(rows=found, next_cursor=_encode_cursor(found[-1]))


def tab_counts(*, workspace: Workspace, user: AbstractBaseUser) -> dict[str, int]:
    open_ = Q(status=Conversation.Status.OPEN)
    return Conversation.objects.filter(workspace=workspace).aggregate(
        mine=Count("id", filter=open_ & Q(assignee=user)),
        unassigned=Count("id", filter=open_ & Q(assignee__isnull=True)),
        all=Count("id", filter=open_),
        done=Count("id", filter=Q(status=Conversation.Status.DONE)),
    )


def _tab(rows: QuerySet[Conversation], tab: str, user: AbstractBaseUser) -> QuerySet[Conversation]:
    if tab == "done":
        return rows.filter(status=Conversation.Status.DONE)
    rows = rows.filter(status=Conversation.Status.OPEN)
    if tab == "mine":
        return rows.filter(assignee=user)
    if tab == "unassigned":
        return rows.filter(assignee__isnull=True)
    return rows


def _encode_cursor(row: Conversation) -> str:
    raw = json.dumps([row.activity.isoformat(), row.pk]).encode()  # type: ignore[attr-defined]
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at, last_id = json.loads(raw)
        moment = datetime.fromisoformat(at)
    except (binascii.Error, ValueError, TypeError):
        raise Http404 from None
    if type(last_id) is not int or not _valid_id(last_id) or timezone.is_naive(moment):
        raise Http404
    return moment, last_id


# --- one conversation ------------------------------------------------------------------------


def conversation_get(*, workspace: Workspace, conversation_id: int) -> Conversation:
    try:
        return inbox_selectors.conversation_get(
            workspace=workspace, conversation_id=conversation_id
        )
    except PagedeskError as exc:
        raise Http404(exc.message) from None


@dataclass(frozen=True)
class Thread:
    messages: list[Message]
    notes: list[Note] = field(default_factory=list)
    truncated: bool = False


def thread(
    *, workspace: Workspace, conversation: Conversation, limit: int = THREAD_LIMIT
) -> Thread:
    """The newest ``limit`` messages (oldest first) and the notes of that stretch."""
    reactions = Reaction.objects.select_related("contact").order_by("reacted_at", "id")
    newest = list(
        Message.objects.filter(workspace=workspace, conversation=conversation)
        .select_related("sender_user")
        .prefetch_related("attachments", Prefetch("reactions", queryset=reactions))
        .order_by("-timestamp_ms", "-id")[: limit + 1]
    )
    truncated = len(newest) > limit
    messages = list(reversed(newest[:limit]))
    since = messages[0].sent_at if truncated and messages else None
    return Thread(
        messages=messages, notes=_notes(conversation=conversation, since=since), truncated=truncated
    )


def _notes(*, conversation: Conversation, since: datetime | None) -> list[Note]:
    rows = Note.objects.filter(conversation=conversation).select_related("author")
    if since is not None:
        rows = rows.filter(created_at__gte=since)
    return list(rows.order_by("created_at", "id"))


def other_conversations(
    *, workspace: Workspace, conversation: Conversation, limit: int = 10
) -> list[Conversation]:
    """The contact's other threads in this workspace (one-to-one and groups)."""
    contact = conversation.contact
    return list(
        Conversation.objects.filter(workspace=workspace)
        .filter(Q(contact=contact) | Q(participants=contact))
        .exclude(pk=conversation.pk)
        .select_related("channel", "contact")
        .distinct()
        .order_by("-updated_at", "-id")[:limit]
    )


def attachment_get(*, workspace: Workspace, attachment_id: int) -> Attachment:
    if not _valid_id(attachment_id):
        raise Http404
    try:
        return inbox_selectors.attachment_file_get(workspace=workspace, attachment_id=attachment_id)
    except PagedeskError as exc:
        raise Http404(exc.message) from None


# --- the composer -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ComposerInfo:
    """What the composer shows: is the window open, until when, what else is allowed."""

    window_open: bool
    window_ends_at: datetime | None
    human_agent_open: bool  # outside the window, a person may reply tagged HUMAN_AGENT
    human_agent_ends_at: datetime | None
    can_reply: bool
    reason: str = ""  # why replying is limited or impossible ("" when it is not)


def composer_info(*, conversation: Conversation, now: datetime | None = None) -> ComposerInfo:
    from pagedesk.inbox.actions import composer_state

    state = composer_state(conversation=conversation, now=now or timezone.now())
    tagged = any(o.get("tag") == "HUMAN_AGENT" for o in state.options)
    return ComposerInfo(
        window_open=state.window_open,
        window_ends_at=state.window_ends_at,
        human_agent_open=not state.window_open and tagged,
        human_agent_ends_at=state.human_agent_ends_at,
        can_reply=state.can_reply,
        reason=state.reason,
    )


def _valid_id(value: int) -> bool:
    return 0 < value <= MAX_ID


def canned_replies(*, workspace: Workspace) -> list[CannedReply]:
    return list(CannedReply.objects.filter(workspace=workspace).order_by("shortcut"))


def canned_reply_get(*, workspace: Workspace, reply_id: int) -> CannedReply | None:
    if not _valid_id(reply_id):
        return None
    return CannedReply.objects.filter(workspace=workspace, pk=reply_id).first()
