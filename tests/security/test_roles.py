"""Role checks for every admin page and action: agents are refused everywhere under
/settings/ (enumerated from the URL configuration), admins cannot do what only
owners may, and nobody signed out gets in."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.test import Client
from django.urls import reverse

from pagedesk.core.models import Invite, Membership, Team
from pagedesk.delivery.models import Persona
from pagedesk.inbox.models import Label
from pagedesk.web.models import CannedReply
from tests.security.conftest import World, django_routes
from tests.web.conftest import client_for, make_member

# Every settings route, with Acme's own ids (so only the role can be the reason).
SETTINGS: dict[str, Callable[[World], list[dict[str, Any]]]] = {
    "web:settings": lambda w: [{}],
    "web:settings-members": lambda w: [{}],
    "web:settings-audit": lambda w: [{}],
    "web:settings-invite": lambda w: [{}],
    "web:settings-teams": lambda w: [{}],
    "web:settings-labels": lambda w: [{}],
    "web:settings-channels": lambda w: [{}],
    "web:settings-member-role": lambda w: [{"pk": w.a_extra.agent_membership.pk}],
    "web:settings-member-remove": lambda w: [{"pk": w.a_extra.agent_membership.pk}],
    "web:settings-invite-revoke": lambda w: [{"pk": w.a_extra.invite.pk}],
    "web:settings-team-edit": lambda w: [
        {"pk": w.a.team.pk, "op": op} for op in ("rename", "delete", "add", "remove", "channels")
    ],
    "web:settings-label-edit": lambda w: [
        {"pk": w.a.label.pk, "op": op} for op in ("update", "delete")
    ],
    "web:settings-channel": lambda w: [{"pk": w.a.channel.pk}],
    "web:settings-channel-token": lambda w: [{"pk": w.a.channel.pk}],
    "web:settings-personas": lambda w: [{"pk": w.a.channel.pk}],
    "web:settings-persona-deactivate": lambda w: [
        {"pk": w.a.channel.pk, "persona_pk": w.a_extra.persona.pk}
    ],
}
# Admin writes outside /settings/: canned replies (adding one, deleting one), lifting
# the stop on tagged messages after Meta's warning.
OTHER_ADMIN_WRITES: dict[str, Callable[[World], tuple[str, dict[str, Any]]]] = {
    "web:allow-tagged": lambda w: (
        reverse("web:allow-tagged", kwargs={"pk": w.a.conversation.pk}),
        {},
    ),
    "web:canned-replies": lambda w: (
        reverse("web:canned-replies"),
        {"shortcut": "refund", "text": "We refund within 14 days."},
    ),
    "web:canned-reply-delete": lambda w: (
        reverse("web:canned-reply-delete", kwargs={"pk": w.a_extra.canned.pk}),
        {},
    ),
}
# Whatever a form could hold: enough for every admin form to be valid.
EVERYTHING = {
    "name": "Renamed",
    "role": "owner",
    "email": "someone@example.com",
    "color": "#123456",
    "user": 1,
    "channels": [],
    "page_token": "EAAG-agent-wants-this-token",
    "picture_url": "https://example.com/p.png",
    "allowed_tags": ["HUMAN_AGENT"],
}


def _urls(world: World) -> list[str]:
    return [
        reverse(name, kwargs=kwargs) for name, make in SETTINGS.items() for kwargs in make(world)
    ]


def _state(w: World) -> Any:
    workspace = w.a.workspace
    return (
        sorted(Membership.objects.filter(workspace=workspace).values_list("user_id", "role")),
        sorted(Invite.objects.filter(workspace=workspace).values_list("pk", "email", "role")),
        sorted(Team.objects.filter(workspace=workspace).values_list("pk", "name")),
        sorted(Label.objects.filter(workspace=workspace).values_list("pk", "name", "color")),
        sorted(Persona.objects.filter(workspace=workspace).values_list("pk", "active")),
        sorted(CannedReply.objects.filter(workspace=workspace).values_list("pk", "shortcut")),
        type(w.a.channel).objects.get(pk=w.a.channel.pk).page_access_token,
        type(w.a.channel).objects.get(pk=w.a.channel.pk).name,
    )


def test_every_settings_route_is_listed(world: World) -> None:
    settings_routes = {
        name for name, route in django_routes().items() if route.startswith("settings/")
    }
    assert settings_routes == set(SETTINGS), "add the new settings route to SETTINGS"


def test_agents_get_403_on_every_admin_page_and_post(world: World) -> None:
    before = _state(world)
    client = client_for(world.a.agent)
    for url in _urls(world):
        assert client.get(url).status_code in (403, 405), url
        assert client.post(url, EVERYTHING).status_code == 403, url
    for name, make in OTHER_ADMIN_WRITES.items():
        url, data = make(world)
        assert client.post(url, data).status_code == 403, name
    assert _state(world) == before
    assert 'href="/settings/"' not in client.get("/inbox/").content.decode()


def test_signed_out_people_are_sent_to_sign_in(world: World) -> None:
    before = _state(world)
    client = Client()
    for url in _urls(world):
        for response in (client.get(url), client.post(url, EVERYTHING)):
            assert response.status_code in (302, 405), url
            if response.status_code == 302:
                assert response["Location"].startswith("/sign-in/?next="), url
    assert _state(world) == before


def test_admins_reach_every_settings_page(world: World) -> None:
    admin = make_member(world.a.workspace, "admin@acme.test", Membership.Role.ADMIN)
    client = client_for(admin)
    for name, make in SETTINGS.items():
        for kwargs in make(world):
            if "op" in kwargs or name.endswith(
                ("-role", "-remove", "-revoke", "-token", "-deactivate", "-invite")
            ):
                continue  # POST-only actions
            response = client.get(reverse(name, kwargs=kwargs), follow=True)
            assert response.status_code == 200, name


def test_admins_cannot_do_what_only_owners_may(world: World) -> None:
    a = world.a
    admin = make_member(a.workspace, "admin@acme.test", Membership.Role.ADMIN)
    client = client_for(admin)
    owner = Membership.objects.get(workspace=a.workspace, user=a.owner)
    agent = world.a_extra.agent_membership
    attempts = [
        (f"/settings/members/{agent.pk}/role/", {"role": "owner"}),  # make an owner
        (f"/settings/members/{owner.pk}/role/", {"role": "agent"}),  # demote an owner
        (f"/settings/members/{owner.pk}/remove/", {}),  # remove an owner
    ]
    for url, data in attempts:
        page = client.post(url, data, follow=True).content.decode()
        assert "Only an owner can do that." in page, url
    invite = client.post("/settings/invites/", {"email": "boss@example.com", "role": "owner"})
    assert "Only an owner can do that." in invite.content.decode()
    assert not Invite.objects.filter(email="boss@example.com").exists()
    assert Membership.objects.get(pk=owner.pk).role == Membership.Role.OWNER
    assert Membership.objects.get(pk=agent.pk).role == Membership.Role.AGENT

    # The owner may.
    owner_client = client_for(a.owner)
    owner_client.post(f"/settings/members/{agent.pk}/role/", {"role": "owner"})
    assert Membership.objects.get(pk=agent.pk).role == Membership.Role.OWNER
