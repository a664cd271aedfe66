"""Agents see only the channels and teams they belong to; filters by team and source;
full-text search over names and messages."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from pagedesk.core.models import Membership
from pagedesk.inbox import search
from pagedesk.inbox.models import Conversation, Message
from tests.api.factories import make_channel, make_contact, make_conversation, make_message
from tests.web.conftest import Side, client_for, make_member


def _listed(client: Client, query: str = "") -> set[int]:
    response = client.get(f"/inbox/list/?{query}")
    assert response.status_code == 200
    return {
        row.pk
        for row in Conversation.objects.all()
        if f'data-id="{row.pk}"' in response.content.decode()
    }


def _second_page(acme: Side) -> tuple[Any, Conversation]:
    """A second page of Acme's with a conversation of its own."""
    shop = make_channel(acme.workspace, name="Acme Shop")
    contact = make_contact(shop, first_name="Grace", last_name="Shopper")
    conversation = make_conversation(contact)
    make_message(conversation, text="Where is my parcel?")
    return shop, conversation


def test_an_agent_in_a_team_sees_only_the_teams_pages_and_what_is_handed_to_them(
    acme: Side,
) -> None:
    shop, shop_conversation = _second_page(acme)
    acme.team.members.add(acme.agent)
    acme.team.channels.add(shop)
    agent = client_for(acme.agent)

    assert _listed(agent) == {shop_conversation.pk}
    assert agent.get(f"/inbox/c/{acme.conversation.pk}/").status_code == 404
    assert agent.get(f"/inbox/attachments/{acme.image.pk}/").status_code == 404
    assert (
        agent.post(f"/inbox/c/{acme.conversation.pk}/status/", {"status": "done"}).status_code
        == 404
    )
    assert Conversation.objects.get(pk=acme.conversation.pk).status == "open"
    page = agent.get("/inbox/").content.decode()
    assert "Acme Shop" in page and f'data-id="{acme.conversation.pk}"' not in page

    # Handed to the team, or assigned to the agent: visible again.
    Conversation.objects.filter(pk=acme.conversation.pk).update(team=acme.team)
    assert _listed(agent) == {shop_conversation.pk, acme.conversation.pk}
    Conversation.objects.filter(pk=acme.conversation.pk).update(team=None, assignee=acme.agent)
    assert agent.get(f"/inbox/c/{acme.conversation.pk}/").status_code == 200

    # Owners and admins, and agents in no team, see everything.
    other_agent = make_member(acme.workspace, "free@acme.test", Membership.Role.AGENT)
    everything = {acme.conversation.pk, shop_conversation.pk}
    assert _listed(client_for(other_agent)) == everything
    assert _listed(client_for(acme.owner)) == everything


def test_tab_counts_follow_what_the_agent_may_see(acme: Side) -> None:
    shop, _ = _second_page(acme)
    acme.team.members.add(acme.agent)
    acme.team.channels.add(shop)
    page = client_for(acme.agent).get("/inbox/").content.decode()
    assert 'data-tab="all"' in page
    all_tab = page.split('data-tab="all"', 1)[1].split("</a>", 1)[0]
    assert '<span class="count">1</span>' in all_tab


def test_admin_sets_the_pages_a_team_answers(acme: Side, globex: Side) -> None:
    owner = client_for(acme.owner)
    url = f"/settings/teams/{acme.team.pk}/channels/"
    response = owner.post(url, {"channels": [acme.channel.pk]})
    assert response.status_code == 302
    assert list(acme.team.channels.all()) == [acme.channel]
    assert "Pages this team answers" in owner.get("/settings/teams/").content.decode()
    # Another workspace's page cannot be attached; nothing changes.
    owner.post(url, {"channels": [globex.channel.pk]})
    assert list(acme.team.channels.all()) == [acme.channel]
    # Agents may not change teams.
    assert client_for(acme.agent).post(url, {"channels": []}).status_code == 403
    assert list(acme.team.channels.all()) == [acme.channel]
    owner.post(url, {})
    assert not acme.team.channels.exists()


def test_filter_by_team_and_by_source(acme: Side) -> None:
    owner = client_for(acme.owner)
    _, shop_conversation = _second_page(acme)
    Conversation.objects.filter(pk=shop_conversation.pk).update(team=acme.team)
    assert _listed(owner, f"team={acme.team.pk}") == {shop_conversation.pk}

    shop_conversation.contact.__class__.objects.filter(pk=shop_conversation.contact_id).update(
        first_source="ADS", first_ad_id="6045", latest_source="SHORTLINK", latest_ref="spring"
    )
    acme.contact.__class__.objects.filter(pk=acme.contact.pk).update(
        first_source="CUSTOMER_CHAT_PLUGIN", latest_source="CUSTOMER_CHAT_PLUGIN"
    )
    assert _listed(owner, "source=ad") == {shop_conversation.pk}
    assert _listed(owner, "source=link") == {shop_conversation.pk}
    assert _listed(owner, "source=widget") == {acme.conversation.pk}
    assert _listed(owner, "source=qr") == set()
    # An unknown source is ignored rather than an error.
    assert _listed(owner, "source=%3Cscript%3E") == {acme.conversation.pk, shop_conversation.pk}
    page = owner.get("/inbox/?source=ad").content.decode()
    assert '<option value="ad" selected>' in page


def test_search_finds_words_by_their_beginning_in_names_and_messages(acme: Side) -> None:
    owner = client_for(acme.owner)
    _, shop_conversation = _second_page(acme)
    make_message(acme.conversation, text="Ich möchte meine Bestellung stornieren")
    assert _listed(owner, "q=parc") == {shop_conversation.pk}  # "parcel"
    assert _listed(owner, "q=bestell") == {acme.conversation.pk}
    assert _listed(owner, "q=M%C3%96CHTE") == {acme.conversation.pk}  # "MÖCHTE": any case
    if connection.vendor == "sqlite":  # FTS5 also ignores accents (PostgreSQL's "simple" does not)
        assert _listed(owner, "q=MOCHTE") == {acme.conversation.pk}
    assert _listed(owner, "q=grace+parcel") == {shop_conversation.pk}  # every word must match
    assert _listed(owner, "q=grace+bestellung") == set()
    assert _listed(owner, "q=shopper") == {shop_conversation.pk}  # a contact's name
    # Search syntax is not interpreted: quotes, stars and operators are just separators.
    assert _listed(owner, "q=%22parcel%22+*+-(+%5E") == {shop_conversation.pk}
    assert _listed(owner, "q=%22%28") == {acme.conversation.pk, shop_conversation.pk}


def test_search_follows_edits_and_deletes(acme: Side) -> None:
    owner = client_for(acme.owner)
    message = make_message(acme.conversation, text="the invoice is wrong")
    assert _listed(owner, "q=invoice") == {acme.conversation.pk}
    Message.objects.filter(pk=message.pk).update(text="the receipt is wrong")
    assert _listed(owner, "q=invoice") == set()
    assert _listed(owner, "q=receipt") == {acme.conversation.pk}
    Message.objects.filter(pk=message.pk).delete()
    assert _listed(owner, "q=receipt") == set()


def test_search_stays_inside_the_workspace(acme: Side, globex: Side) -> None:
    # Both sides said "Hello from …"; only Acme's conversation is found by Acme.
    assert _listed(client_for(acme.owner), "q=hello") == {acme.conversation.pk}


@pytest.mark.parametrize("mode", ["rare", "common", "long walk"])
def test_search_pages_through_many_matches_in_order(
    acme: Side, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both ways PostgreSQL search can go (short id lists, or walking the list) give
    the same pages; on SQLite the walk is never needed, so all three are one."""
    if mode != "rare":
        monkeypatch.setattr(search, "COMMON_HITS", 1)
    if mode == "long walk":
        monkeypatch.setattr(search, "WALK_LIMIT", 100)
    owner = client_for(acme.owner)
    talkers = []
    for n in range(120):
        contact = make_contact(acme.channel, first_name=f"Buyer{n}")
        conversation = make_conversation(contact)
        make_message(conversation, text=f"my parcel number {n} is late" if n % 2 else "hello")
        talkers.append(conversation)
    saying_parcel = [c.pk for n, c in enumerate(talkers) if n % 2]
    first = owner.get("/inbox/list/?q=parcel+late").content.decode()
    assert "cursor=" in first  # 60 matches: two pages
    second_link = first.rsplit('hx-get="/inbox/list/?', 1)[-1].split('"', 1)[0]
    shown = [int(i) for i in re.findall(r'data-id="(\d+)"', first)]
    if second_link:
        more = owner.get("/inbox/list/?" + second_link.replace("&amp;", "&")).content.decode()
        shown += [int(i) for i in re.findall(r'data-id="(\d+)"', more)]
    ordered = list(
        Conversation.objects.filter(pk__in=saying_parcel)
        .order_by("-last_message_at", "-created_at", "-id")
        .values_list("pk", flat=True)
    )
    assert sorted(shown) == sorted(saying_parcel)
    assert len(shown) == 60
    assert shown == sorted(shown, key=ordered.index)
    # A name and a word together.
    assert _listed(owner, "q=buyer117+parcel") == {talkers[117].pk}


def test_a_tab_counts_up_to_999_then_says_999_plus(
    acme: Side, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Counting stops at the cap (exact counts of 100,000 conversations slowed every
    page): small here, so the test makes a few conversations."""
    from pagedesk.web import selectors

    monkeypatch.setattr(selectors, "TAB_COUNT_CAP", 2)
    page = client_for(acme.owner).get("/inbox/").content.decode()
    all_tab = page.split('data-tab="all"', 1)[1].split("</a>", 1)[0]
    assert '<span class="count">1</span>' in all_tab
    for _ in range(3):
        make_conversation(make_contact(acme.channel))
    page = client_for(acme.owner).get("/inbox/").content.decode()
    all_tab = page.split('data-tab="all"', 1)[1].split("</a>", 1)[0]
    assert '<span class="count">2+</span>' in all_tab
