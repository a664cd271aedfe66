"""Reads for the agent web app. Every selector that touches customer data takes the
caller's ``workspace`` (or ``viewer``, their membership) keyword-only and filters by
it, so another workspace's row is indistinguishable from a row that does not exist
(404). Conversations are further narrowed to what the viewer may see
(:func:`visible_conversations`)."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection
from django.db.models import (
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
from pagedesk.inbox import search
from pagedesk.inbox import selectors as inbox_selectors
from pagedesk.inbox.models import (
    Attachment,
    Conversation,
    Label,
    Message,
    Note,
    Participant,
    Reaction,
)
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


def preferred_time_zone(*, user: AbstractBaseUser) -> str:
    zone = UserPreference.objects.filter(user=user).values_list("time_zone", flat=True).first()
    return zone or ""


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


# --- who sees what -----------------------------------------------------------------------


def visible_conversations(*, viewer: Membership) -> QuerySet[Conversation]:
    """The conversations a member may see.

    Owners and admins see the whole workspace. An agent who belongs to a team sees
    the conversations of the channels their teams answer, those handed to one of
    their teams, and those assigned to them. An agent in no team sees the whole
    workspace, so a small shop without teams works as one shared inbox.
    """
    rows = Conversation.objects.filter(workspace_id=viewer.workspace_id)
    if not _sees_by_team(viewer):
        return rows
    my_teams = Team.objects.filter(workspace_id=viewer.workspace_id, members=viewer.user_id)
    team_channels = Channel.objects.filter(workspace_id=viewer.workspace_id, teams__in=my_teams)
    return rows.filter(
        Q(assignee_id=viewer.user_id) | Q(team__in=my_teams) | Q(channel__in=team_channels)
    )


def visible_channels(*, viewer: Membership) -> list[Channel]:
    """The channels whose conversations the viewer may see (for the channel filter)."""
    rows = Channel.objects.filter(workspace_id=viewer.workspace_id)
    if _sees_by_team(viewer):
        my_teams = Team.objects.filter(workspace_id=viewer.workspace_id, members=viewer.user_id)
        rows = rows.filter(teams__in=my_teams).distinct()
    # A filter needs names, not credentials: do not decrypt them.
    return list(rows.defer("page_access_token", "app_secret").order_by("name", "id"))


# --- the conversation list ----------------------------------------------------------------


SOURCES = ("link", "ad", "qr", "comment", "widget")


@dataclass(frozen=True)
class InboxFilters:
    tab: str = "all"
    channel_id: int | None = None
    label_id: int | None = None
    team_id: int | None = None
    source: str = ""  # one of SOURCES: how the customer came into the thread
    q: str = ""

    def query(self) -> dict[str, str]:
        """The non-default filters, for links that keep them."""
        params = {"tab": self.tab} if self.tab != "all" else {}
        for name, value in (
            ("channel", self.channel_id),
            ("label", self.label_id),
            ("team", self.team_id),
        ):
            if value is not None:
                params[name] = str(value)
        if self.source:
            params["source"] = self.source
        if self.q:
            params["q"] = self.q
        return params


# The columns a list row reads (see presenters.list_rows).
LIST_COLUMNS = (
    "id",
    "status",
    "is_group",
    "unread_count",
    "last_message_at",
    "created_at",
    "contact__first_name",
    "contact__last_name",
    "contact__psid",
    "channel__name",
    "assignee__username",
    "assignee__first_name",
    "assignee__last_name",
    "assignee__email",
)


@dataclass(frozen=True)
class LabelChip:
    name: str
    color: str


@dataclass(frozen=True)
class InboxPage:
    rows: list[Conversation]
    labels: dict[int, list[LabelChip]]  # by conversation id
    next_cursor: str | None


def inbox_page(
    *,
    viewer: Membership,
    filters: InboxFilters,
    cursor: str | None = None,
    limit: int = 50,
) -> InboxPage:
    """Conversations of one tab the viewer may see, most recent activity first (ties:
    higher id first). Every search word must match the contact's name or a message
    (full text: FTS5 on SQLite, tsvector on PostgreSQL; see pagedesk.inbox.search)."""
    workspace_id = viewer.workspace_id
    rows = _tab(visible_conversations(viewer=viewer), filters.tab, viewer.user_id)
    if filters.channel_id is not None:
        rows = rows.filter(channel_id=filters.channel_id)
    if filters.label_id is not None:
        rows = rows.filter(
            labels__in=Label.objects.filter(workspace_id=workspace_id, pk=filters.label_id)
        )
    if filters.team_id is not None:
        rows = rows.filter(team_id=filters.team_id)
    if filters.source:
        rows = rows.filter(_came_through(filters.source))
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
    rows = rows.order_by(F("activity").desc(), "-id")
    terms = search.terms(filters.q)[:MAX_SEARCH_TERMS]
    if terms:
        rows = search.narrow(rows, workspace_id=workspace_id, terms=terms, want=limit + 1)
    rows = (
        rows.select_related("contact", "channel", "assignee")
        # Only what a row shows: loading whole rows (a page's credentials, a dozen
        # timestamps per conversation) cost the list more than its SQL.
        .only(*LIST_COLUMNS)
        .order_by(F("activity").desc(), "-id")
    )
    found = list(rows[: limit + 1])
    next_cursor = None
    if len(found) > limit:
        found = found[:limit]
        next_cursor = _encode_cursor(found[-1])
    return InboxPage(rows=found, labels=_label_chips(workspace_id, found), next_cursor=next_cursor)


def _label_chips(workspace_id: int, rows: list[Conversation]) -> dict[int, list[LabelChip]]:
    """Each row's labels by name, in one query (a prefetch built a manager per row)."""
    through = Conversation.labels.through.objects.filter(
        conversation_id__in=[row.pk for row in rows], label__workspace_id=workspace_id
    )
    chips: dict[int, list[LabelChip]] = {}
    for conversation_id, name, color in through.order_by("label__name", "label_id").values_list(
        "conversation_id", "label__name", "label__color"
    ):
        chips.setdefault(conversation_id, []).append(LabelChip(name=name, color=color))
    return chips


def _came_through(source: str) -> Q:
    """Contacts who came into the thread through ``source``, first or most recently."""

    def either(**lookup: str) -> Q:
        ((name, value),) = lookup.items()
        return Q(**{f"contact__first_{name}": value}) | Q(**{f"contact__latest_{name}": value})

    if source == "link":
        return either(source="SHORTLINK")
    if source == "ad":
        return either(source="ADS") | (~Q(contact__first_ad_id="") | ~Q(contact__latest_ad_id=""))
    if source == "qr":
        return either(source="MESSENGER_CODE")
    if source == "comment":
        return ~Q(contact__first_comment_id="") | ~Q(contact__latest_comment_id="")
    if source == "widget":
        return either(source="CUSTOMER_CHAT_PLUGIN")
    return Q(pk__in=[])


TAB_COUNT_CAP = 999  # a tab's badge says "999+" beyond this


def tab_counts(*, viewer: Membership) -> dict[str, int]:
    """Each tab's conversations, counted up to ``TAB_COUNT_CAP + 1`` (see ``count_badge``).

    Four small counts, each stopping at the cap: counting a workspace's 100,000
    conversations exactly cost every inbox page about 20 ms.
    """
    rows = visible_conversations(viewer=viewer)
    counts, params = [], []
    for tab in TABS:
        capped = _tab(rows, tab, viewer.user_id).order_by().values("pk")[: TAB_COUNT_CAP + 1]
        sql, tab_params = capped.query.sql_with_params()
        counts.append(f"(SELECT COUNT(*) FROM ({sql}) AS {tab}_rows)")  # noqa: S608 - ORM SQL
        params.extend(tab_params)
    # One statement, not four: each round trip to the database cost about 1 ms.
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(counts), params)
        return dict(zip(TABS, cursor.fetchone(), strict=True))


def _tab(rows: QuerySet[Conversation], tab: str, user_id: int) -> QuerySet[Conversation]:
    if tab == "done":
        return rows.filter(status=Conversation.Status.DONE)
    rows = rows.filter(status=Conversation.Status.OPEN)
    if tab == "mine":
        return rows.filter(assignee_id=user_id)
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


def conversation_get(*, viewer: Membership, conversation_id: int) -> Conversation:
    """One conversation the viewer may see; 404 for any other id (even of their
    workspace: an agent cannot tell a hidden conversation from a missing one)."""
    try:
        found = inbox_selectors.conversation_get(
            workspace=viewer.workspace, conversation_id=conversation_id
        )
    except PagedeskError as exc:
        raise Http404(exc.message) from None
    if not _may_see(viewer, found.pk):
        raise Http404
    return found


def _sees_by_team(viewer: Membership) -> bool:
    """Whether the member is an agent in a team, so sees only what the team answers.

    Asked once per membership object (one per request), not by every selector: an
    inbox page asked it five times.
    """
    if viewer.role != Membership.Role.AGENT:
        return False
    cache = viewer.__dict__
    if "_pagedesk_sees_by_team" not in cache:
        teams = Team.objects.filter(workspace_id=viewer.workspace_id, members=viewer.user_id)
        cache["_pagedesk_sees_by_team"] = teams.exists()
    return bool(cache["_pagedesk_sees_by_team"])


def _may_see(viewer: Membership, conversation_id: int) -> bool:
    if not _sees_by_team(viewer):
        return True
    return visible_conversations(viewer=viewer).filter(pk=conversation_id).exists()


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
    *, viewer: Membership, conversation: Conversation, limit: int = 10
) -> list[Conversation]:
    """The contact's other threads the viewer may see (one-to-one and groups)."""
    contact_id = conversation.contact_id
    # Two index reads rather than one OR over a join, which makes PostgreSQL scan.
    ids = set(
        Conversation.objects.filter(contact_id=contact_id)
        .order_by("-updated_at")
        .values_list("pk", flat=True)[: limit + 1]
    )
    ids |= set(
        Participant.objects.filter(contact_id=contact_id)
        .order_by("-conversation_id")
        .values_list("conversation_id", flat=True)[: limit + 1]
    )
    ids.discard(conversation.pk)
    if not ids:  # most contacts have one thread
        return []
    return list(
        visible_conversations(viewer=viewer)
        .filter(pk__in=ids)
        .select_related("channel", "contact")
        .defer("channel__page_access_token", "channel__app_secret")
        .order_by("-updated_at", "-id")[:limit]
    )


def attachment_get(*, viewer: Membership, attachment_id: int) -> Attachment:
    if not _valid_id(attachment_id):
        raise Http404
    try:
        found = inbox_selectors.attachment_file_get(
            workspace=viewer.workspace, attachment_id=attachment_id
        )
    except PagedeskError as exc:
        raise Http404(exc.message) from None
    if not _may_see(viewer, found.message.conversation_id):
        raise Http404
    return found


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
