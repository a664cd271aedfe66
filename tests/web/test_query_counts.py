"""The number of SQL queries per page does not grow with the data: a list of 50
conversations, a long thread or a search costs what a tiny one does."""

from __future__ import annotations

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from pagedesk.inbox.models import Attachment, Note
from tests.api.factories import (
    make_attachment,
    make_contact,
    make_conversation,
    make_label,
    make_message,
    make_reaction,
)
from tests.web.conftest import Side, client_for

# Upper bounds, with a little room: a change that adds a query per row breaks them.
MAX_LIST_QUERIES = 11  # 10 today: 3 for the session and workspace, 1 for all four tab counts
MAX_SEARCH_QUERIES = 25  # two words; PostgreSQL probes each word (pagedesk.inbox.search)
MAX_CONVERSATION_QUERIES = 22  # 20 today for the full page, 16 for the pane
PANE = {"HX-Request": "true", "HX-Target": "pane"}


def _queries(client: Client, url: str, **kwargs: object) -> int:
    client.get(url, **kwargs)  # the session's first request caches its language etc.
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, **kwargs)
    assert response.status_code == 200
    return len(queries)


def _grow(side: Side, conversations: int, messages: int) -> None:
    labels = [make_label(side.workspace, f"grow-{n}") for n in range(3)]
    for n in range(conversations):
        contact = make_contact(side.channel, first_name=f"Customer{n}")
        conversation = make_conversation(
            contact, labels=tuple(labels[: n % 4]), assignee=side.agent if n % 2 else None
        )
        for k in range(2):
            make_message(conversation, text=f"parcel question {k}")
    for k in range(messages):
        message = make_message(side.conversation, text=f"parcel update {k}")
        make_attachment(message, download=Attachment.Download.NOT_NEEDED)
        make_reaction(message, side.contact)
        Note.objects.create(conversation=side.conversation, author=side.owner, text=f"note {k}")


def test_list_search_and_conversation_queries_do_not_grow_with_the_data(acme: Side) -> None:
    client = client_for(acme.owner)
    make_message(acme.conversation, text="a parcel question")  # the search finds a row
    pages = {
        "list": ("/inbox/list/", {}),
        "mine": ("/inbox/list/?tab=mine", {}),
        "search": ("/inbox/list/?q=parcel+question", {}),
        "page": (f"/inbox/c/{acme.conversation.pk}/", {}),
        "pane": (f"/inbox/c/{acme.conversation.pk}/", {"headers": PANE}),
    }
    small = {name: _queries(client, url, **kw) for name, (url, kw) in pages.items()}
    _grow(acme, conversations=60, messages=40)
    large = {name: _queries(client, url, **kw) for name, (url, kw) in pages.items()}

    assert large == small
    for name in ("list", "mine"):
        assert large[name] <= MAX_LIST_QUERIES, (name, large[name])
    assert large["search"] <= MAX_SEARCH_QUERIES
    for name in ("page", "pane"):
        assert large[name] <= MAX_CONVERSATION_QUERIES, (name, large[name])
