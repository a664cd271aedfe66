"""Reads shared by a batch of events that ingestion handles in one transaction.

Handling a message event one by one costs a query to see whether its ``mid`` is
stored already and one to load its conversation. For a batch, both are read up
front, two queries in all (per workspace and channel), which is most of what
saves the worker's time when it catches up with a backlog.

Likewise the new messages of plain message events are inserted together, in one
statement, and their conversations' "customer spoke" updates are written in one
more (``pagedesk.inbox.customer_spoke``): before any other kind of event is
handled (it might read them), before a conversation is read again, and at the
end of the batch. About a third of the cost of writing them one by one.

Correct because the reads happen after the batch's lanes are held: inbound
messages and the conversations of those threads are written only by the lane's
holder. A conversation is handed out once, to the first event of its thread;
later events of the thread load it again, since the first may have changed it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence

from django.db.models import Q

from pagedesk.core import inserts
from pagedesk.inbox import customer_spoke, ingest_sql
from pagedesk.inbox.models import Conversation, InboundEvent, Message
from pagedesk.messenger.events import EventKind

Lane = tuple[int, str]  # (channel id, thread key)

# What the handlers read of a known conversation and its contact: fetching only these
# halves the cost of the query (more are loaded on first use, should a handler need them).
CONVERSATION_FIELDS = (
    *("id", "workspace_id", "channel_id", "thread_key", "contact_id", "is_group", "status"),
    *("last_customer_message_at", "last_message_at", "delivery_watermark", "read_watermark"),
    *("contact__id", "contact__workspace_id", "contact__channel_id", "contact__psid"),
    *("contact__profile_fetched_at", "contact__first_source", "contact__first_ref"),
    *("contact__latest_source", "contact__latest_referral_at"),
)


def lane_filter(lanes: Iterable[Lane]) -> Q:
    """Rows of these threads, as a ``Q`` (``ingest_sql.lane_where`` is the SQL)."""
    where = Q(pk__in=[])
    for channel_id, thread_keys in ingest_sql.lanes_by_channel(lanes).items():
        where |= Q(channel_id=channel_id, thread_key__in=thread_keys)
    return where


class BatchReads:
    def __init__(self, rows: Sequence[InboundEvent]) -> None:
        mids: dict[int, set[str]] = defaultdict(set)  # by workspace
        for row in rows:
            if row.kind == EventKind.MESSAGE:
                mid = (row.payload.get("message") or {}).get("mid")
                if isinstance(mid, str) and mid:
                    mids[row.workspace_id].add(mid)
        self._checked = {(w, mid) for w, found in mids.items() for mid in found}
        self._stored: set[tuple[int, str]] = set()
        for workspace_id, wanted in mids.items():
            stored = ingest_sql.stored_mids(workspace_id, wanted)
            self._stored.update((workspace_id, mid) for mid in stored)
        self._conversations: dict[Lane, Conversation | None] = {}
        self._unsaved: list[tuple[Message, Callable[[Message], None]]] = []
        self._spoken: list[customer_spoke.Spoke] = []
        # A group thread's events touch contacts of other threads: no read-ahead then.
        if not any(isinstance(row.payload.get("thread"), dict) for row in rows):
            self._read_conversations({(row.channel_id, row.thread_key) for row in rows})

    def _read_conversations(self, lanes: set[Lane]) -> None:
        found = Conversation.objects.select_related("contact").only(*CONVERSATION_FIELDS)
        self._conversations = dict.fromkeys(lanes)
        for conversation in found.filter(lane_filter(lanes)):
            self._conversations[(conversation.channel_id, conversation.thread_key)] = conversation

    def message_stored(self, workspace_id: int, mid: str) -> bool | None:
        """Whether a message with this mid is stored; None: not read ahead, ask the database."""
        key = (workspace_id, mid)
        return key in self._stored if key in self._checked else None

    def message_added(self, workspace_id: int, mid: str) -> None:
        self._stored.add((workspace_id, mid))

    def insert_later(self, message: Message, then: Callable[[Message], None]) -> None:
        """Queue a new message for the batch's one INSERT; ``then(message)`` runs after it."""
        self._unsaved.append((message, then))

    def spoke_later(self, action: customer_spoke.Spoke) -> None:
        """Queue a conversation's "customer spoke" update for the batch's one UPDATE."""
        self._spoken.append(action)

    def flush(self) -> None:
        """Insert the queued messages, in order, in one statement (ids come back), then
        write the queued conversation updates in one more.

        Called before any event that might read what they write, and at the end of
        the batch.
        """
        unsaved, self._unsaved = self._unsaved, []
        if unsaved:
            inserts.insert([message for message, _ in unsaved])
            for message, then in unsaved:
                then(message)
        self.write_spoken()

    def write_spoken(self) -> None:
        """Write the queued conversation updates (before a conversation is read again)."""
        spoken, self._spoken = self._spoken, []
        customer_spoke.write(spoken)

    def take_conversation(self, lane: Lane) -> tuple[bool, Conversation | None]:
        """(read ahead?, the thread's conversation or None if it has none yet); once a lane."""
        if lane not in self._conversations:
            return False, None
        return True, self._conversations.pop(lane)
