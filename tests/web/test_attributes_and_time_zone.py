"""Custom attributes on the contact sidebar (and the API), and each person's time zone."""

from __future__ import annotations

from datetime import UTC, datetime

from django.test import Client

from pagedesk.inbox.models import Contact, Conversation
from pagedesk.live.models import LiveEvent
from tests.api.factories import make_token
from tests.web.conftest import Side, client_for

PANE = {"HX-Request": "true", "HX-Target": "pane"}


def _set(client: Client, side: Side, **data: str) -> str:
    response = client.post(f"/inbox/c/{side.conversation.pk}/attributes/", data, headers=PANE)
    assert response.status_code == 200
    return response.content.decode()


def test_an_agent_adds_changes_and_removes_attributes(acme: Side) -> None:
    agent = client_for(acme.agent)
    pane = _set(agent, acme, key="plan", value="gold")
    assert "<dt>plan</dt>" in pane and "gold" in pane
    _set(agent, acme, key="Order no", value="  A-1042 ")
    _set(agent, acme, key="plan", value="platinum")
    assert Contact.objects.get(pk=acme.contact.pk).attributes == {
        "Order no": "A-1042",
        "plan": "platinum",
    }
    # Everyone watching the conversation hears about it.
    assert LiveEvent.objects.filter(
        workspace=acme.workspace, kind="conversation.updated", data__contact_id=acme.contact.pk
    ).exists()
    pane = _set(agent, acme, key="plan", remove="on")
    assert "platinum" not in pane
    assert Contact.objects.get(pk=acme.contact.pk).attributes == {"Order no": "A-1042"}
    # The whole page shows them too.
    page = agent.get(f"/inbox/c/{acme.conversation.pk}/").content.decode()
    assert "<dt>Order no</dt>" in page


def test_bad_attribute_names_and_values_are_refused_with_a_reason(acme: Side) -> None:
    agent = client_for(acme.agent)
    pane = _set(agent, acme, key="<b>", value="x")
    assert "Attribute names are 1 to 40" in pane
    pane = _set(agent, acme, key="note", value="x" * 501)
    assert "at most 500 characters" in pane
    assert Contact.objects.get(pk=acme.contact.pk).attributes == {}
    # Values are text, never markup.
    pane = _set(agent, acme, key="tip", value="<script>alert(1)</script>")
    assert "<script>alert(1)</script>" not in pane
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in pane


def test_attributes_of_another_workspace_cannot_be_set(acme: Side, globex: Side) -> None:
    response = client_for(acme.owner).post(
        f"/inbox/c/{globex.conversation.pk}/attributes/", {"key": "plan", "value": "x"}
    )
    assert response.status_code == 404
    assert Contact.objects.get(pk=globex.contact.pk).attributes == {}


def test_the_api_reads_and_patches_attributes(acme: Side, globex: Side) -> None:
    token = make_token(acme.workspace)
    api = Client(headers={"Authorization": f"Bearer {token}"})
    url = f"/api/v1/contacts/{acme.contact.pk}"
    response = api.patch(
        url, {"attributes": {"plan": "gold", "city": "Berlin"}}, content_type="application/json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["attributes"] == {"city": "Berlin", "plan": "gold"}
    response = api.patch(url, {"attributes": {"city": None}}, content_type="application/json")
    assert response.json()["attributes"] == {"plan": "gold"}
    assert api.get(url).json()["attributes"] == {"plan": "gold"}
    bad = api.patch(url, {"attributes": {"": "x"}}, content_type="application/json")
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_attribute"
    foreign = api.patch(
        f"/api/v1/contacts/{globex.contact.pk}",
        {"attributes": {"plan": "x"}},
        content_type="application/json",
    )
    assert foreign.status_code == 404


def test_times_are_shown_in_the_persons_time_zone(acme: Side) -> None:
    # 23:30 UTC on 1 March is 00:30 on 2 March in Berlin.
    at = datetime(2025, 3, 1, 23, 30, tzinfo=UTC)
    Conversation.objects.filter(pk=acme.conversation.pk).update(updated_at=at)
    Contact.objects.filter(pk=acme.contact.pk).update(latest_referral_at=at, latest_ref="spring")
    agent = client_for(acme.agent)
    url = f"/inbox/c/{acme.conversation.pk}/"
    assert "1 Mar 2025" in agent.get(url).content.decode()

    response = agent.post("/account/time-zone/", {"time_zone": "Europe/Berlin"})
    assert response.status_code == 302
    assert "2 Mar 2025" in agent.get(url).content.decode()
    page = agent.get("/account/password/").content.decode()
    assert '<option value="Europe/Berlin" selected>' in page

    # The choice is the person's: it comes back after signing in again.
    again = client_for(acme.agent)
    assert "2 Mar 2025" in again.get(url).content.decode()
    # …and does not leak to a colleague.
    assert "1 Mar 2025" in client_for(acme.owner).get(url).content.decode()


def test_an_unknown_time_zone_is_refused(acme: Side) -> None:
    agent = client_for(acme.agent)
    response = agent.post("/account/time-zone/", {"time_zone": "Mars/Olympus"}, follow=True)
    assert "Pick a time zone from the list." in response.content.decode()
    page = agent.get("/account/password/").content.decode()
    assert " selected>" not in page.split('id="time-zone"', 1)[1]  # still UTC
    assert "Mars/Olympus" not in page
