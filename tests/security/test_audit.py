"""The audit log: every admin write leaves an entry saying who, what, from where and
when, without credentials; owners and admins read it at /settings/audit/, agents do
not, and nobody can change it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from django.test import Client

from pagedesk.audit.actions import record
from pagedesk.audit.models import AuditEntry
from pagedesk.core.actions import (
    do_add_channel,
    do_create_api_token,
    do_revoke_api_token,
    do_update_channel_credentials,
)
from pagedesk.core.models import Invite, Membership
from pagedesk.delivery.models import Persona
from pagedesk.sandbox.app import create_app
from tests.servers import ServerThread
from tests.web.conftest import PASSWORD, Side, client_for, make_member

ADDRESS = "203.0.113.9"


def _owner(side: Side) -> Client:
    client = Client(REMOTE_ADDR=ADDRESS)
    client.force_login(side.owner)
    return client


def _entries(side: Side) -> list[tuple[str, str, str]]:
    return [
        (e.action, e.target, e.actor_label)
        for e in AuditEntry.objects.filter(workspace=side.workspace).order_by("id")
        if e.action != "workspace.created" and e.action != "channel.added"
    ]


@pytest.fixture
def sandbox_url(settings: Any) -> Iterator[str]:
    server = ServerThread(create_app()).start()
    settings.PAGEDESK_GRAPH_URL = server.url
    try:
        yield server.url
    finally:
        server.stop()


def test_every_admin_page_action_is_recorded(acme: Side, sandbox_url: str) -> None:
    owner = acme.owner.email
    client = _owner(acme)
    agent = Membership.objects.get(user=acme.agent)
    colleague = make_member(acme.workspace, "colleague@acme.test")

    client.post(f"/settings/members/{agent.pk}/role/", {"role": "admin"})
    client.post(f"/settings/members/{Membership.objects.get(user=colleague).pk}/remove/")
    client.post("/settings/invites/", {"email": "new@acme.test", "role": "agent"})
    invite = Invite.objects.get(email="new@acme.test")
    client.post(f"/settings/invites/{invite.pk}/revoke/")
    client.post("/settings/teams/", {"name": "Sales"})
    team = acme.workspace.teams.get(name="Sales")
    client.post(f"/settings/teams/{team.pk}/rename/", {"name": "Field sales"})
    client.post(f"/settings/teams/{team.pk}/add/", {"user": acme.agent.pk})
    client.post(f"/settings/teams/{team.pk}/remove/", {"user": acme.agent.pk})
    client.post(f"/settings/teams/{team.pk}/channels/", {"channels": [acme.channel.pk]})
    client.post(f"/settings/teams/{team.pk}/delete/")
    client.post("/settings/labels/", {"name": "refund", "color": "#aa0000"})
    label = acme.workspace.labels.get(name="refund")
    client.post(f"/settings/labels/{label.pk}/update/", {"name": "refunds", "color": "#aa0000"})
    client.post(f"/settings/labels/{label.pk}/delete/")
    client.post(
        f"/settings/channels/{acme.channel.pk}/",
        {"name": "Acme Shop", "allowed_tags": ["HUMAN_AGENT"], "personas_enabled": "on"},
    )
    client.post(
        f"/settings/channels/{acme.channel.pk}/token/", {"page_token": "EAAG-rotated-secret-77"}
    )
    client.post("/inbox/canned/", {"shortcut": "hours", "text": "9 to 5"})
    canned = acme.workspace.canned_replies.get()
    client.post(f"/inbox/canned/{canned.pk}/delete/")

    with httpx.Client(base_url=sandbox_url) as http:
        page = http.post("/_sandbox/pages", json={"name": "Persona Page"}).json()
    channel = do_add_channel(
        workspace=acme.workspace,
        page_id=page["page_id"],
        page_token=page["access_token"],
        app_secret="persona-app-secret",
        verify_token="verify-123456",
    )
    personas = f"/settings/channels/{channel.pk}/personas/"
    form = {"user": acme.agent.pk, "name": "Ada", "picture_url": "https://example.com/a.png"}
    assert client.post(personas, form).status_code == 302
    client.post(f"{personas}{Persona.objects.get(channel=channel).pk}/deactivate/")

    assert _entries(acme) == [
        ("member.role_changed", acme.agent.email, owner),
        ("member.removed", "colleague@acme.test", owner),
        ("invite.created", "new@acme.test", owner),
        ("invite.revoked", "new@acme.test", owner),
        ("team.created", "Sales", owner),
        ("team.renamed", "Field sales", owner),
        ("team.member_added", acme.agent.email, owner),
        ("team.member_removed", acme.agent.email, owner),
        ("team.channels_changed", "Field sales", owner),
        ("team.deleted", "Field sales", owner),
        ("label.created", "refund", owner),
        ("label.changed", "refunds", owner),
        ("label.deleted", "refunds", owner),
        ("channel.changed", f"Acme Shop ({acme.channel.page_id})", owner),
        ("channel.credentials_replaced", f"Acme Shop ({acme.channel.page_id})", owner),
        ("canned_reply.created", "/hours", owner),
        ("canned_reply.deleted", "/hours", owner),
        ("persona.created", "Ada", owner),
        ("persona.deactivated", "Ada", owner),
    ]
    by_action = {e.action: e for e in AuditEntry.objects.filter(workspace=acme.workspace)}
    assert by_action["member.role_changed"].details == {"from": "agent", "to": "admin"}
    assert by_action["team.renamed"].details == {"from": "Sales", "to": "Field sales"}
    assert by_action["label.changed"].details == {"name": ["refund", "refunds"]}
    assert by_action["channel.changed"].details["name"] == ["Acme Page", "Acme Shop"]
    assert by_action["channel.credentials_replaced"].details == {"replaced": ["page_access_token"]}
    assert {e.ip for e in by_action.values() if e.action != "channel.added"} == {ADDRESS}
    everything = repr(list(AuditEntry.objects.values()))
    for secret in ("EAAG-rotated-secret-77", page["access_token"], "persona-app-secret"):
        assert secret not in everything


def test_joining_by_invitation_is_recorded_as_the_new_member(acme: Side) -> None:
    page = _owner(acme).post(
        "/settings/invites/", {"email": "new@acme.test", "role": "agent"}, follow=True
    )
    link = re.search(r"/invite/[A-Za-z0-9_-]{20,}/", page.content.decode())[0]  # type: ignore[index]
    newcomer = Client(REMOTE_ADDR="198.51.100.4")
    newcomer.post(link, {"password1": PASSWORD, "password2": PASSWORD})
    entry = AuditEntry.objects.get(action="invite.accepted")
    assert (entry.actor_label, entry.target, entry.ip) == (
        "new@acme.test",
        "new@acme.test",
        "198.51.100.4",
    )


def test_command_line_changes_are_recorded_without_a_person(acme: Side) -> None:
    new = do_create_api_token(workspace=acme.workspace, name="zapier")
    do_revoke_api_token(prefix=new.token.prefix)
    do_update_channel_credentials(channel=acme.channel, app_secret="a-new-app-secret-1")
    rows = AuditEntry.objects.filter(workspace=acme.workspace).order_by("id")
    assert [r.action for r in rows][-3:] == [
        "api_token.created",
        "api_token.revoked",
        "channel.credentials_replaced",
    ]
    for row in list(rows)[-3:]:
        assert row.actor is None and row.actor_label == "" and row.ip is None
    assert rows.last().details == {"replaced": ["app_secret"]}  # type: ignore[union-attr]
    assert new.secret not in repr(list(rows.values()))
    page = client_for(acme.owner).get("/settings/audit/").content.decode()
    assert "API token revoked" in page and "command line" in page


def test_a_refused_change_leaves_no_entry(acme: Side) -> None:
    owner = Membership.objects.get(user=acme.owner)
    before = AuditEntry.objects.count()
    _owner(acme).post(f"/settings/members/{owner.pk}/role/", {"role": "agent"})  # last owner
    assert Membership.objects.get(pk=owner.pk).role == Membership.Role.OWNER
    assert AuditEntry.objects.count() == before


def test_credentials_cannot_be_put_into_an_entry(acme: Side) -> None:
    for key in ("page_token", "app_secret", "password", "access_token", "token"):
        with pytest.raises(ValueError, match="credentials"):
            record(workspace_id=acme.workspace.pk, action="x", target="y", details={key: "v"})


def test_owners_and_admins_read_the_log_of_their_workspace_only(acme: Side, globex: Side) -> None:
    _owner(acme).post("/settings/teams/", {"name": "Acme night shift"})
    _owner(globex).post("/settings/teams/", {"name": "Globex night shift"})
    admin = make_member(acme.workspace, "admin@acme.test", Membership.Role.ADMIN)
    for person in (acme.owner, admin):
        response = client_for(person).get("/settings/audit/")
        assert response.status_code == 200
        page = response.content.decode()
        assert "Acme night shift" in page and "Team created" in page and ADDRESS in page
        assert "Globex night shift" not in page
        assert 'href="/settings/audit/"' in page
    assert client_for(acme.agent).get("/settings/audit/").status_code == 403
    assert client_for(admin).post("/settings/audit/").status_code == 405  # read-only


def test_the_log_filters_by_action_and_pages(acme: Side) -> None:
    client = _owner(acme)
    for n in range(55):
        record(workspace_id=acme.workspace.pk, action="label.created", target=f"label-{n:02}")
    client.post("/settings/teams/", {"name": "Sales"})
    first = client.get("/settings/audit/").content.decode()
    assert "Sales" in first and "label-54" in first and "label-04" not in first
    assert "page 1 of 2" in first
    teams = client.get("/settings/audit/", {"action": "team.created"}).content.decode()
    assert "Sales" in teams and "label-54" not in teams
    older = client.get("/settings/audit/", {"page": 2}).content.decode()
    assert "label-00" in older


def test_the_log_speaks_german(acme: Side) -> None:
    _owner(acme).post("/settings/teams/", {"name": "Vertrieb"})
    client = client_for(acme.owner)
    client.post("/account/language/", {"language": "de"})
    page = client.get("/settings/audit/").content.decode()
    assert "Protokoll" in page and "Team angelegt" in page and "Wer" in page


def test_admin_writes_from_the_inbox_are_recorded(acme: Side) -> None:
    client = _owner(acme)
    base = f"/inbox/c/{acme.conversation.pk}"
    client.post(f"{base}/labels/", {"new_label": "urgent"})
    client.post(f"{base}/allow-tagged/")
    rows = list(AuditEntry.objects.filter(workspace=acme.workspace).order_by("id"))[-2:]
    assert [(r.action, r.target, r.actor_label, r.ip) for r in rows] == [
        ("label.created", "urgent", acme.owner.email, ADDRESS),
        ("contact.tagged_sends_allowed", str(acme.contact), acme.owner.email, ADDRESS),
    ]
    page = client.get("/settings/audit/").content.decode()
    assert "Tagged messages allowed again" in page and "urgent" in page


def test_through_the_real_server_the_person_and_address_are_recorded(
    pagedesk_server: str,
) -> None:
    """Under the ASGI server (not the test client): the request context reaches the
    action, and the address is the one the proxy vouches for."""
    from pagedesk.core.actions import do_create_workspace
    from tests.security.conftest import csrf_token as _csrf

    workspace = do_create_workspace(name="Acme", owner_email="owner@acme.test")
    owner = workspace.memberships.get().user
    owner.set_password(PASSWORD)
    owner.save()
    proxy = {"X-Forwarded-For": "192.0.2.44"}  # a local reverse proxy in front
    with httpx.Client(base_url=pagedesk_server, headers=proxy) as http:
        token = _csrf(http.get("/sign-in/").text)
        http.post(
            "/sign-in/",
            data={"email": "owner@acme.test", "password": PASSWORD, "csrfmiddlewaretoken": token},
        )
        token = _csrf(http.get("/settings/teams/").text)
        response = http.post(
            "/settings/teams/", data={"name": "Night shift", "csrfmiddlewaretoken": token}
        )
        assert response.status_code == 302
    entry = AuditEntry.objects.get(action="team.created")
    assert (entry.actor, entry.actor_label, entry.ip) == (owner, "owner@acme.test", "192.0.2.44")
