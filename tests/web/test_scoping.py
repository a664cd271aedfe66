"""Workspace scoping: a member of Acme gets 404 for every id of Globex, on every view."""

from __future__ import annotations

import pytest

from pagedesk.inbox.models import Conversation, Note
from tests.web.conftest import Side, client_for, make_member


def test_reads_of_another_workspace_are_404(acme: Side, globex: Side) -> None:
    client = client_for(acme.agent)
    foreign = globex.conversation.pk
    for url in (
        f"/inbox/c/{foreign}/",
        f"/inbox/attachments/{globex.image.pk}/",
    ):
        assert client.get(url).status_code == 404, url
        assert (
            client.get(url, headers={"HX-Request": "true", "HX-Target": "pane"}).status_code == 404
        )
    # Its own rows are there.
    assert client.get(f"/inbox/c/{acme.conversation.pk}/").status_code == 200
    assert client.get(f"/inbox/attachments/{acme.image.pk}/").status_code == 200


@pytest.mark.parametrize(
    ("action", "data"),
    [
        ("compose", {"text": "hi", "note": "on"}),
        ("compose", {"text": "hi"}),
        ("assign", {"assignee": "me"}),
        ("labels", {"labels": []}),
        ("status", {"status": "done"}),
    ],
)
def test_writes_to_another_workspace_are_404(
    acme: Side, globex: Side, action: str, data: dict[str, object]
) -> None:
    client = client_for(acme.owner)
    response = client.post(f"/inbox/c/{globex.conversation.pk}/{action}/", data)
    assert response.status_code == 404
    fresh = Conversation.objects.get(pk=globex.conversation.pk)
    assert fresh.status == "open" and fresh.assignee is None
    assert not Note.objects.filter(conversation=fresh).exists()
    assert fresh.messages.count() == 1


def test_foreign_assignee_team_and_label_ids_are_404(acme: Side, globex: Side) -> None:
    client = client_for(acme.owner)
    url = f"/inbox/c/{acme.conversation.pk}/"
    assert client.post(url + "assign/", {"assignee": globex.agent.pk}).status_code == 404
    assert client.post(url + "assign/", {"team": globex.team.pk}).status_code == 404
    assert client.post(url + "labels/", {"labels": [globex.label.pk]}).status_code == 404
    fresh = Conversation.objects.get(pk=acme.conversation.pk)
    assert fresh.assignee is None and fresh.team is None and not fresh.labels.exists()


def test_nonexistent_and_huge_ids_are_404(acme: Side) -> None:
    client = client_for(acme.agent)
    for url in ("/inbox/c/999999/", f"/inbox/c/{2**70}/", f"/inbox/attachments/{2**70}/"):
        assert client.get(url).status_code == 404, url


def test_list_and_search_show_only_the_current_workspace(acme: Side, globex: Side) -> None:
    client = client_for(acme.agent)
    page = client.get("/inbox/").content.decode()
    assert "Ada of Acme" in page and "Ada of Globex" not in page
    found = client.get("/inbox/", {"q": "Globex"}).content.decode()
    assert "Ada of Globex" not in found and "Nothing matches your search." in found
    # Filters by another workspace's channel or label show nothing of it either.
    assert (
        "Ada of Globex"
        not in client.get("/inbox/", {"channel": globex.channel.pk}).content.decode()
    )
    assert "Ada of Globex" not in client.get("/inbox/", {"label": globex.label.pk}).content.decode()


def test_switching_to_a_workspace_you_are_not_in_is_refused(acme: Side, globex: Side) -> None:
    client = client_for(acme.agent)
    client.post("/workspace/switch/", {"workspace": globex.workspace.pk})
    assert client.get(f"/inbox/c/{globex.conversation.pk}/").status_code == 404


def test_a_member_of_both_switches_between_them(acme: Side, globex: Side) -> None:
    make_member(globex.workspace, acme.agent.email)
    client = client_for(acme.agent)
    page = client.get("/inbox/").content.decode()
    assert 'id="workspace-switch"' in page
    assert client.get(f"/inbox/c/{globex.conversation.pk}/").status_code == 404
    client.post("/workspace/switch/", {"workspace": globex.workspace.pk})
    assert client.get(f"/inbox/c/{globex.conversation.pk}/").status_code == 200
    assert client.get(f"/inbox/c/{acme.conversation.pk}/").status_code == 404
