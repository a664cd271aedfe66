"""Full-text search over message texts: SQLite FTS5, or PostgreSQL's tsvector.

Each search word matches a message word it begins ("ord" finds "order", "Bestellung"
is found by "bestell"), case and accents ignored on SQLite. The index follows the
``inbox_message`` table by itself (FTS5 triggers; a GIN expression index on
PostgreSQL), so writers need not know it exists. :func:`ensure_index` (run after
every ``migrate``) recreates what a table rebuild dropped and refills the index.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from django.db import DatabaseError, connection, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import BooleanField, Q, QuerySet
from django.db.models.expressions import RawSQL

from pagedesk.inbox.models import Contact, Conversation, Message

log = logging.getLogger(__name__)

WORD = re.compile(r"[^\W_]+")
MAX_TERM_CHARS = 64
SAMPLE = 1000  # newest rows probed to tell a common word from a rare one (see narrow)
COMMON_HITS = 10  # matches among them that make a word common (1 %)
WALK_LIMIT = 20_000  # conversations walked in order before asking for all matches at once
FTS_TABLE = "inbox_message_fts"
PG_INDEX = "inbox_message_text_search"

_SQLITE_TRIGGERS = {
    "inbox_message_fts_insert": """
        CREATE TRIGGER IF NOT EXISTS inbox_message_fts_insert AFTER INSERT ON inbox_message
        BEGIN INSERT INTO inbox_message_fts(rowid, text) VALUES (new.id, new.text); END""",
    "inbox_message_fts_delete": """
        CREATE TRIGGER IF NOT EXISTS inbox_message_fts_delete AFTER DELETE ON inbox_message
        BEGIN
          INSERT INTO inbox_message_fts(inbox_message_fts, rowid, text)
            VALUES ('delete', old.id, old.text);
        END""",
    "inbox_message_fts_update": """
        CREATE TRIGGER IF NOT EXISTS inbox_message_fts_update AFTER UPDATE OF text ON inbox_message
        BEGIN
          INSERT INTO inbox_message_fts(inbox_message_fts, rowid, text)
            VALUES ('delete', old.id, old.text);
          INSERT INTO inbox_message_fts(rowid, text) VALUES (new.id, new.text);
        END""",
}


def terms(q: str) -> list[str]:
    """The words of a search box entry (letters and digits; the rest separates)."""
    return [word[:MAX_TERM_CHARS] for word in WORD.findall(q.lower())]


def saying(term: str) -> Q:
    """A condition on ``inbox_message`` rows: the text has a word beginning with
    ``term`` (one word, as :func:`terms` gives it). Columns are left unqualified, so
    it holds in any query whose only table is ``inbox_message``, aliased or not."""
    if connection.vendor == "postgresql":
        matches = RawSQL(
            "to_tsvector('simple', text) @@ to_tsquery('simple', %s)",
            [f"{term}:*"],
            output_field=BooleanField(),
        )
    elif connection.vendor == "sqlite":
        phrase = '"' + term.replace('"', '""') + '"*'
        matches = RawSQL(
            "rowid IN (SELECT rowid FROM inbox_message_fts WHERE inbox_message_fts MATCH %s)",
            [phrase],
            output_field=BooleanField(),
        )
    else:  # another database: no index, but the same answers for whole-word prefixes
        return Q(text__icontains=term)
    return Q(matches)


def conversations_saying(*, workspace_id: int, term: str) -> QuerySet[Message, int]:
    """Ids of the workspace's conversations with a message saying ``term``."""
    return (
        Message.objects.filter(workspace_id=workspace_id)
        .filter(saying(term))
        .values_list("conversation_id", flat=True)
    )


def narrow(
    rows: QuerySet[Conversation], *, workspace_id: int, terms: list[str], want: int
) -> QuerySet[Conversation]:
    """``rows`` (conversations, in the list's order) that match every term: the
    contact's name contains it or one of the messages says it. Enough to fill a page
    of ``want`` rows; the order and any cursor of ``rows`` are kept.

    On PostgreSQL the best plan depends on how common a word is, which the planner
    cannot estimate for a prefix query. Two cheap probes per term decide: rare words
    and names become short id lists (an index each); when every term is common, the
    list is walked in its order and checked a growing slice at a time, which finds a
    page of matches after a few hundred rows instead of reading every matching
    message.
    """
    conditions = [_condition(workspace_id, term) for term in terms]
    matched = rows.filter(*(condition for condition, _ in conditions))
    if any(rare for _, rare in conditions):
        return matched  # every match is in a rare term's short id list: an index read
    in_order = rows.values_list("pk", flat=True)
    found: list[int] = []
    offset, size = 0, max(want * 4, 100)
    while len(found) < want:
        if offset >= WALK_LIMIT:
            return matched  # a long walk: let the database do it all at once
        chunk = list(in_order[offset : offset + size])
        hits = set(matched.filter(pk__in=chunk).values_list("pk", flat=True)) if chunk else set()
        found += [pk for pk in chunk if pk in hits]
        if len(chunk) < size:
            break  # the end of the list
        offset, size = offset + size, size * 4
    return rows.filter(pk__in=found[:want])


def _condition(workspace_id: int, term: str) -> tuple[Q, bool]:
    """The condition for one term, and whether it is rare (see narrow)."""
    name = Q(first_name__icontains=term) | Q(last_name__icontains=term)
    if connection.vendor != "postgresql":
        said = Q(pk__in=conversations_saying(workspace_id=workspace_id, term=term))
        return _on_contact(name) | said, True
    contacts = Contact.objects.filter(workspace_id=workspace_id)
    messages = Message.objects.filter(workspace_id=workspace_id)
    common_name = _common_name(contacts, term)
    common_word = _common(messages, saying(term))
    if common_name:
        named = _on_contact(name)  # checked on each row walked
    else:
        named = Q(contact_id__in=list(contacts.filter(name).values_list("pk", flat=True)))
    if common_word:
        said = Q(_said_in_thread(term))
    else:
        said = Q(
            pk__in=set(messages.filter(saying(term)).values_list("conversation_id", flat=True))
        )
    return named | said, not (common_name or common_word)


def _on_contact(condition: Q) -> Q:
    """A condition on contacts, as one on their conversations."""
    return Q(
        *[(f"contact__{name}", value) for name, value in condition.children],
        _connector=condition.connector,
    )


def _common(rows: QuerySet[Any], condition: Q) -> bool:
    """Does the condition hold for at least COMMON_HITS of the newest SAMPLE rows? (A
    read of a fixed size, whatever the table's: a rare word's matches are then few
    enough to list, a common one's are met soon when walking the list.)"""
    newest = rows.order_by("-pk").values("pk")[:SAMPLE]
    hits = rows.filter(pk__in=newest).filter(condition).values("pk")[:COMMON_HITS]
    return len(hits) >= COMMON_HITS


def _common_name(contacts: QuerySet[Contact], term: str) -> bool:
    """_common for names, checked here: a few thousand short strings are cheaper to
    read than to make PostgreSQL plan a LIKE over a sorted subquery."""
    newest = contacts.order_by("-pk").values_list("first_name", "last_name")[:SAMPLE]
    hits = sum(1 for first, last in newest if term in first.lower() or term in last.lower())
    return hits >= COMMON_HITS


def _said_in_thread(term: str) -> RawSQL:
    """Checked row by row on a slice of the list: OFFSET 0 keeps PostgreSQL from
    turning this EXISTS into a hash of every message saying the word."""
    return RawSQL(
        "EXISTS (SELECT 1 FROM inbox_message m WHERE m.conversation_id = inbox_conversation.id"
        " AND to_tsvector('simple', m.text) @@ to_tsquery('simple', %s) OFFSET 0)",
        [f"{term}:*"],
        output_field=BooleanField(),
    )


def ensure_index(db: BaseDatabaseWrapper | None = None) -> None:
    """Create the search index if missing; refill it when its triggers had gone."""
    db = db or connection
    with db.cursor() as cursor:
        if "inbox_message" not in db.introspection.table_names(cursor):
            return  # the inbox is not migrated yet (``migrate core``, say)
        if db.vendor == "postgresql":
            cursor.execute(
                f"CREATE INDEX IF NOT EXISTS {PG_INDEX} ON inbox_message"
                " USING gin (to_tsvector('simple', text))"
            )
            _name_indexes(db, cursor)
        elif db.vendor == "sqlite":
            cursor.execute(
                f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} USING fts5("
                "text, content='inbox_message', content_rowid='id',"
                " tokenize='unicode61 remove_diacritics 2')"
            )
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name IN (%s, %s, %s)",
                list(_SQLITE_TRIGGERS),
            )
            present = {name for (name,) in cursor.fetchall()}
            for sql in _SQLITE_TRIGGERS.values():
                cursor.execute(sql)
            if present != set(_SQLITE_TRIGGERS):
                # New, or the table was rebuilt by a migration (which drops triggers).
                log.info("rebuilding the message search index")
                cursor.execute(
                    "INSERT INTO inbox_message_fts(inbox_message_fts) VALUES ('rebuild')"
                )


def _name_indexes(db: BaseDatabaseWrapper, cursor: Any) -> None:
    """Trigram indexes for "name contains" (Django's icontains: UPPER(…) LIKE). They
    need the pg_trgm extension; where the database user may not create it, names are
    still searched, only by reading the contacts."""
    try:
        with transaction.atomic(using=db.alias):
            cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except DatabaseError as exc:
        log.warning("no pg_trgm (%s): contact names are searched without an index", exc)
        return
    for column in ("first_name", "last_name"):
        cursor.execute(
            f"CREATE INDEX IF NOT EXISTS inbox_contact_{column}_trgm ON inbox_contact"
            f' USING gin ((UPPER("{column}"::text)) gin_trgm_ops)'
        )


def drop_index(db: BaseDatabaseWrapper) -> None:
    with db.cursor() as cursor:
        if db.vendor == "postgresql":
            cursor.execute(f"DROP INDEX IF EXISTS {PG_INDEX}")
            cursor.execute("DROP INDEX IF EXISTS inbox_contact_first_name_trgm")
            cursor.execute("DROP INDEX IF EXISTS inbox_contact_last_name_trgm")
        elif db.vendor == "sqlite":
            for name in _SQLITE_TRIGGERS:
                cursor.execute(f"DROP TRIGGER IF EXISTS {name}")
            cursor.execute(f"DROP TABLE IF EXISTS {FTS_TABLE}")
