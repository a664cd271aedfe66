"""The admin pages under /settings/ and invitation links."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from pagedesk.core.actions import do_add_channel
from pagedesk.core.models import Channel, Invite, Membership, Team
from pagedesk.delivery.models import Persona
from pagedesk.inbox.models import Label
from pagedesk.sandbox.app import create_app
from tests.servers import ServerThread
from tests.web.conftest import PASSWORD, Side, client_for, make_member

TOKEN = "EAAG-test-page-token-long"
SECRET = "secret-123456"


def _get_urls(side: Side) -> list[str]:
    return [
        "/settings/members/",
        "/settings/teams/",
        "/settings/labels/",
        "/settings/channels/",
        f"/settings/channels/{side.channel.pk}/",
        f"/settings/channels/{side.channel.pk}/personas/",
    ]


def _post_urls(side: Side) -> list[str]:
    membership = Membership.objects.get(workspace=side.workspace, user=side.agent)
    return [
        f"/settings/members/{membership.pk}/role/",
        f"/settings/members/{membership.pk}/remove/",
        "/settings/invites/",
        "/settings/teams/",
        f"/settings/teams/{side.team.pk}/rename/",
        f"/settings/teams/{side.team.pk}/delete/",
        f"/settings/teams/{side.team.pk}/add/",
        "/settings/labels/",
        f"/settings/labels/{side.label.pk}/update/",
        f"/settings/labels/{side.label.pk}/delete/",
        f"/settings/channels/{side.channel.pk}/",
        f"/settings/channels/{side.channel.pk}/token/",
        f"/settings/channels/{side.channel.pk}/personas/",
    ]


# --- who may ------------------------------------------------------------------------


def test_owners_and_admins_see_every_settings_page(acme: Side) -> None:
    admin = make_member(acme.workspace, "admin@acme.test", Membership.Role.ADMIN)
    for user in (acme.owner, admin):
        client = client_for(user)
        assert client.get("/settings/")["Location"] == "/settings/members/"
        for url in _get_urls(acme):
            assert client.get(url).status_code == 200, url
        assert 'href="/settings/"' in client.get("/inbox/").content.decode()


def test_agents_get_403_everywhere(acme: Side) -> None:
    client = client_for(acme.agent)
    assert 'href="/settings/"' not in client.get("/inbox/").content.decode()
    for url in ["/settings/", *_get_urls(acme)]:
        assert client.get(url).status_code == 403, url
    for url in _post_urls(acme):
        assert client.post(url, {"name": "x", "role": "owner"}).status_code == 403, url
    assert Membership.objects.get(user=acme.agent).role == Membership.Role.AGENT
    assert Team.objects.filter(pk=acme.team.pk).exists()
    assert Label.objects.filter(pk=acme.label.pk).exists()


def test_anonymous_people_are_sent_to_sign_in(acme: Side) -> None:
    client = Client()
    for url in _get_urls(acme):
        assert client.get(url)["Location"].startswith("/sign-in/?next="), url


def test_another_workspaces_rows_are_404(acme: Side, globex: Side) -> None:
    client = client_for(acme.owner)
    for url in _get_urls(globex)[4:]:
        assert client.get(url).status_code == 404, url
    for url in _post_urls(globex):
        if url in ("/settings/invites/", "/settings/teams/", "/settings/labels/"):
            continue
        assert client.post(url, {"name": "x", "role": "owner"}).status_code == 404, url
    assert Membership.objects.get(user=globex.agent).role == Membership.Role.AGENT
    assert Team.objects.get(pk=globex.team.pk).name == "Globex support"
    members = client.get("/settings/members/").content.decode()
    assert globex.agent.email not in members and acme.agent.email in members


def test_forms_need_csrf(acme: Side) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(acme.owner)
    assert client.post("/settings/labels/", {"name": "x", "color": "#123456"}).status_code == 403
    assert not Label.objects.filter(name="x").exists()


# --- members --------------------------------------------------------------------------


def test_changing_a_role_and_removing_a_member(acme: Side) -> None:
    client = client_for(acme.owner)
    agent = Membership.objects.get(user=acme.agent)
    client.post(f"/settings/members/{agent.pk}/role/", {"role": "admin"})
    agent.refresh_from_db()
    assert agent.role == Membership.Role.ADMIN
    acme.team.members.add(acme.agent)
    client.post(f"/settings/members/{agent.pk}/remove/")
    assert not Membership.objects.filter(pk=agent.pk).exists()
    assert not acme.team.members.filter(pk=acme.agent.pk).exists()


def test_the_last_owner_stays_an_owner(acme: Side) -> None:
    client = client_for(acme.owner)
    owner = Membership.objects.get(user=acme.owner)
    response = client.post(f"/settings/members/{owner.pk}/role/", {"role": "agent"}, follow=True)
    assert "at least one owner" in response.content.decode()
    client.post(f"/settings/members/{owner.pk}/remove/")
    owner.refresh_from_db()
    assert owner.role == Membership.Role.OWNER
    # With a second owner, the first may step down.
    second = make_member(acme.workspace, "second@acme.test", Membership.Role.OWNER)
    client.post(f"/settings/members/{owner.pk}/role/", {"role": "admin"})
    owner.refresh_from_db()
    assert owner.role == Membership.Role.ADMIN
    assert Membership.objects.get(user=second).role == Membership.Role.OWNER


def test_admins_cannot_touch_owners_or_make_owners(acme: Side) -> None:
    admin = make_member(acme.workspace, "admin@acme.test", Membership.Role.ADMIN)
    client = client_for(admin)
    owner = Membership.objects.get(user=acme.owner)
    agent = Membership.objects.get(user=acme.agent)
    client.post(f"/settings/members/{owner.pk}/role/", {"role": "agent"})
    client.post(f"/settings/members/{owner.pk}/remove/")
    client.post(f"/settings/members/{agent.pk}/role/", {"role": "owner"})
    assert Membership.objects.get(pk=owner.pk).role == Membership.Role.OWNER
    assert Membership.objects.get(pk=agent.pk).role == Membership.Role.AGENT
    response = client.post("/settings/invites/", {"email": "boss@acme.test", "role": "owner"})
    assert response.status_code == 400 and not Invite.objects.exists()


# --- invitations ----------------------------------------------------------------------


def _invite(client: Client, email: str, role: str = "agent") -> str:
    response = client.post("/settings/invites/", {"email": email, "role": role})
    assert response.status_code == 200
    link = str(response.context["invite_link"])
    assert link in response.content.decode()
    return link.removeprefix("http://testserver")


def test_a_new_person_sets_a_password_and_joins(acme: Side) -> None:
    path = _invite(client_for(acme.owner), "New.Person@Example.com", "admin")
    invite = Invite.objects.get()
    assert invite.email == "new.person@example.com"
    assert path.split("/")[2] not in invite.token_hash  # only the hash is stored
    assert path not in client_for(acme.owner).get("/settings/members/").content.decode()

    visitor = Client()
    page = visitor.get(path)
    assert page.status_code == 200 and "new.person@example.com" in page.content.decode()
    mismatch = visitor.post(path, {"password1": "a long passphrase", "password2": "other"})
    assert mismatch.status_code == 400
    response = visitor.post(
        path, {"password1": "a long new passphrase", "password2": "a long new passphrase"}
    )
    assert response["Location"] == "/inbox/"
    user = get_user_model().objects.get(username="new.person@example.com")
    assert user.check_password("a long new passphrase")
    assert Membership.objects.get(user=user, workspace=acme.workspace).role == "admin"
    assert visitor.get("/inbox/").status_code == 200
    # The link works once.
    used = Client().get(path)
    assert used.status_code == 410 and "already used" in used.content.decode()


def test_an_existing_person_signs_in_and_joins(acme: Side, globex: Side) -> None:
    path = _invite(client_for(acme.owner), globex.agent.email)
    visitor = Client()
    assert "Sign in as" in visitor.get(path).content.decode()
    wrong = visitor.post(path, {"password": "nope"})
    assert wrong.status_code == 400 and not Invite.objects.get().accepted_at
    response = visitor.post(path, {"password": PASSWORD})
    assert response["Location"] == "/inbox/"
    assert Membership.objects.get(user=globex.agent, workspace=acme.workspace).role == "agent"
    assert Invite.objects.get().accepted_at is not None
    # The joined workspace is the current one.
    assert "Ada of Acme" in visitor.get("/inbox/").content.decode()


def test_a_signed_in_person_joins_with_a_click(acme: Side, globex: Side) -> None:
    path = _invite(client_for(acme.owner), "someone@else.test")
    client = client_for(globex.owner)
    assert "Join the workspace" in client.get(path).content.decode()
    assert client.post(path)["Location"] == "/inbox/"
    assert Membership.objects.filter(user=globex.owner, workspace=acme.workspace).exists()


def test_expired_and_unknown_links_say_so(acme: Side) -> None:
    path = _invite(client_for(acme.owner), "late@example.com")
    Invite.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    response = Client().get(path)
    assert response.status_code == 410 and "expired" in response.content.decode()
    posted = Client().post(
        path, {"password1": "a long passphrase", "password2": "a long passphrase"}
    )
    assert posted.status_code == 410
    assert not get_user_model().objects.filter(username="late@example.com").exists()
    unknown = Client().get("/invite/not-a-real-token/")
    assert unknown.status_code == 404 and "not valid" in unknown.content.decode()


def test_invites_expire_after_seven_days_and_can_be_withdrawn(acme: Side) -> None:
    client = client_for(acme.owner)
    _invite(client, "maybe@example.com")
    invite = Invite.objects.get()
    assert timedelta(days=6, hours=23) < invite.expires_at - timezone.now() <= timedelta(days=7)
    assert invite.created_by == acme.owner
    client.post(f"/settings/invites/{invite.pk}/revoke/")
    assert not Invite.objects.exists()


def test_members_cannot_be_invited_twice(acme: Side) -> None:
    response = client_for(acme.owner).post(
        "/settings/invites/", {"email": acme.agent.email, "role": "agent"}
    )
    assert response.status_code == 400 and "already a member" in response.content.decode()


# --- teams and labels ------------------------------------------------------------------


def test_teams_crud(acme: Side) -> None:
    client = client_for(acme.owner)
    client.post("/settings/teams/", {"name": "Billing"})
    team = Team.objects.get(workspace=acme.workspace, name="Billing")
    dup = client.post("/settings/teams/", {"name": "Billing"})
    assert dup.status_code == 400 and "already used" in dup.content.decode()
    client.post(f"/settings/teams/{team.pk}/rename/", {"name": "Payments"})
    team.refresh_from_db()
    assert team.name == "Payments"
    client.post(f"/settings/teams/{team.pk}/add/", {"user": acme.agent.pk})
    assert list(team.members.all()) == [acme.agent]
    outsider = get_user_model().objects.create_user("out@x.test", "out@x.test", "x")
    client.post(f"/settings/teams/{team.pk}/add/", {"user": outsider.pk})
    assert list(team.members.all()) == [acme.agent]
    client.post(f"/settings/teams/{team.pk}/remove/", {"user": acme.agent.pk})
    assert not team.members.exists()
    client.post(f"/settings/teams/{team.pk}/delete/")
    assert not Team.objects.filter(pk=team.pk).exists()


def test_labels_crud(acme: Side) -> None:
    client = client_for(acme.owner)
    client.post("/settings/labels/", {"name": "Urgent", "color": "#FF0000"})
    label = Label.objects.get(workspace=acme.workspace, name="Urgent")
    assert label.color == "#ff0000"
    bad = client.post("/settings/labels/", {"name": "Bad", "color": "red"})
    assert bad.status_code == 400 and not Label.objects.filter(name="Bad").exists()
    client.post(f"/settings/labels/{label.pk}/update/", {"name": "Very urgent", "color": "#00ff00"})
    label.refresh_from_db()
    assert (label.name, label.color) == ("Very urgent", "#00ff00")
    client.post(f"/settings/labels/{label.pk}/delete/")
    assert not Label.objects.filter(pk=label.pk).exists()


# --- channels --------------------------------------------------------------------------


def test_channel_pages_never_render_secrets(acme: Side) -> None:
    client = client_for(acme.owner)
    for url in ("/settings/channels/", f"/settings/channels/{acme.channel.pk}/"):
        body = client.get(url).content.decode()
        assert acme.channel.name in body
        for secret in (TOKEN, SECRET, acme.channel.verify_token):
            assert secret not in body, url
    # A rejected token form does not echo the token back either.
    failed = client.post(f"/settings/channels/{acme.channel.pk}/token/", {"page_token": "short"})
    assert failed.status_code == 400 and 'value="short"' not in failed.content.decode()


def test_editing_a_channel(acme: Side) -> None:
    client = client_for(acme.owner)
    url = f"/settings/channels/{acme.channel.pk}/"
    page = client.get(url).content.decode()
    assert "retired by Meta" in page and "POST_PURCHASE_UPDATE" in page
    client.post(url, {"name": "Acme Shop", "allowed_tags": ["HUMAN_AGENT", "ACCOUNT_UPDATE"]})
    channel = Channel.objects.get(pk=acme.channel.pk)
    assert channel.name == "Acme Shop"
    assert channel.allowed_tags == ["HUMAN_AGENT", "ACCOUNT_UPDATE"]
    assert channel.personas_enabled is False
    bad = client.post(url, {"name": "Acme Shop", "allowed_tags": ["MADE_UP"]})
    assert bad.status_code == 400


def test_rotating_the_page_token_resumes_a_paused_channel(acme: Side) -> None:
    Channel.objects.filter(pk=acme.channel.pk).update(
        status=Channel.Status.PAUSED, status_reason="The page token expired."
    )
    client = client_for(acme.owner)
    page = client.get(f"/settings/channels/{acme.channel.pk}/").content.decode()
    assert "The page token expired." in page
    client.post(f"/settings/channels/{acme.channel.pk}/token/", {"page_token": "EAAG-a-new-token"})
    channel = Channel.objects.get(pk=acme.channel.pk)
    assert channel.page_access_token == "EAAG-a-new-token"
    assert channel.status == Channel.Status.ACTIVE


# --- personas (against the sandbox) ------------------------------------------------------


@pytest.fixture
def sandbox_url(settings: Any) -> Iterator[str]:
    server = ServerThread(create_app()).start()
    settings.PAGEDESK_GRAPH_URL = server.url
    try:
        yield server.url
    finally:
        server.stop()


def test_personas_are_created_and_deactivated_at_meta(acme: Side, sandbox_url: str) -> None:
    with httpx.Client(base_url=sandbox_url) as http:
        page = http.post("/_sandbox/pages", json={"name": "Persona Page"}).json()
        channel = do_add_channel(
            workspace=acme.workspace,
            page_id=page["page_id"],
            page_token=page["access_token"],
            app_secret=SECRET,
            verify_token="verify-123456",
        )
        client = client_for(acme.owner)
        url = f"/settings/channels/{channel.pk}/personas/"
        form = {"user": acme.agent.pk, "name": "Ada", "picture_url": "https://example.com/a.png"}
        assert client.post(url, form)["Location"] == url
        persona = Persona.objects.get(channel=channel)
        assert (persona.user, persona.name, persona.active) == (acme.agent, "Ada", True)
        remote = http.get(f"/{persona.persona_id}", params={"access_token": page["access_token"]})
        assert remote.json()["name"] == "Ada"

        again = client.post(url, form)
        assert again.status_code == 400 and "already has a persona" in again.content.decode()
        too_long = client.post(url, {**form, "user": acme.owner.pk, "name": "x" * 51})
        assert too_long.status_code == 400

        client.post(f"{url}{persona.pk}/deactivate/")
        persona.refresh_from_db()
        assert persona.active is False
        gone = http.get(f"/{persona.persona_id}", params={"access_token": page["access_token"]})
        assert gone.status_code >= 400


def test_graph_errors_are_shown_as_their_user_message(acme: Side, sandbox_url: str) -> None:
    with httpx.Client(base_url=sandbox_url) as http:
        page = http.post("/_sandbox/pages", json={"name": "Broken Page"}).json()
        channel = do_add_channel(
            workspace=acme.workspace,
            page_id=page["page_id"],
            page_token="EAAG-not-the-right-token",
            app_secret=SECRET,
            verify_token="verify-123456",
        )
    response = client_for(acme.owner).post(
        f"/settings/channels/{channel.pk}/personas/",
        {"user": acme.agent.pk, "name": "Ada", "picture_url": "https://example.com/a.png"},
    )
    assert response.status_code == 400
    assert 'role="alert"' in response.content.decode()
    assert "EAAG-not-the-right-token" not in response.content.decode()
    assert not Persona.objects.exists()


def test_owners_and_admins_see_a_paused_page_on_every_page(acme: Side) -> None:
    Channel.objects.filter(pk=acme.channel.pk).update(
        status=Channel.Status.PAUSED,
        status_reason="The page's access token is invalid. Reconnect the page.",
    )
    for url in ("/inbox/", f"/inbox/c/{acme.conversation.pk}/", "/account/password/"):
        page = client_for(acme.owner).get(url).content.decode()
        assert "Sending on Acme Page is paused" in page, url
        assert "access token is invalid" in page
        assert f"/settings/channels/{acme.channel.pk}/" in page
    assert "is paused" not in client_for(acme.agent).get("/inbox/").content.decode()
    Channel.objects.filter(pk=acme.channel.pk).update(status=Channel.Status.ACTIVE)
    assert "is paused" not in client_for(acme.owner).get("/inbox/").content.decode()
