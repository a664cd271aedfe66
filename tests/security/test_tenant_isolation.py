"""A member (or API token) of workspace Acme gets 404 for every object id of Globex,
on every route. Routes are enumerated from the URL configuration and the OpenAPI
schema: a route added without a case here fails ``test_every_route_has_a_case``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.test import Client

from pagedesk.core.actions import do_create_api_token
from pagedesk.core.models import Invite, Membership, Team
from pagedesk.delivery.models import Persona
from pagedesk.inbox.models import Conversation, Label
from pagedesk.web.models import CannedReply
from tests.security.conftest import World, api_operations, django_routes
from tests.web.conftest import client_for


@dataclass(frozen=True)
class Probe:
    method: str
    url: str
    data: dict[str, Any] = field(default_factory=dict)


def _object_probes(w: World) -> dict[str, list[Probe]]:
    """Routes naming an object: Acme's owner asks for Globex's object."""
    b, bx = w.b, w.b_extra
    c = f"/inbox/c/{b.conversation.pk}"
    team = f"/settings/teams/{b.team.pk}"
    label = f"/settings/labels/{b.label.pk}"
    channel = f"/settings/channels/{b.channel.pk}"
    member = f"/settings/members/{bx.agent_membership.pk}"
    return {
        "web:conversation": [Probe("GET", f"{c}/")],
        "web:compose": [
            Probe("POST", f"{c}/compose/", {"text": "hi"}),
            Probe("POST", f"{c}/compose/", {"text": "a note", "note": "on"}),
        ],
        "web:assign": [Probe("POST", f"{c}/assign/", {"assignee": "me"})],
        "web:labels": [Probe("POST", f"{c}/labels/", {"labels": [b.label.pk]})],
        "web:status": [Probe("POST", f"{c}/status/", {"status": "done"})],
        "web:contact-attributes": [
            Probe("POST", f"{c}/attributes/", {"key": "plan", "value": "gold"})
        ],
        "web:typing": [Probe("POST", f"{c}/typing/")],
        "web:retry": [
            Probe("POST", f"{c}/m/{b.message.pk}/retry/"),
            # Acme's own conversation in the path does not reach Globex's message.
            Probe("POST", f"/inbox/c/{w.a.conversation.pk}/m/{b.message.pk}/retry/"),
        ],
        "web:allow-tagged": [Probe("POST", f"{c}/allow-tagged/")],
        "web:canned-reply-delete": [Probe("POST", f"/inbox/canned/{bx.canned.pk}/delete/")],
        "web:attachment": [Probe("GET", f"/inbox/attachments/{b.image.pk}/")],
        "web:settings-member-role": [Probe("POST", f"{member}/role/", {"role": "admin"})],
        "web:settings-member-remove": [Probe("POST", f"{member}/remove/")],
        "web:settings-invite-revoke": [Probe("POST", f"/settings/invites/{bx.invite.pk}/revoke/")],
        "web:settings-team-edit": [
            Probe("POST", f"{team}/rename/", {"name": "Taken over"}),
            Probe("POST", f"{team}/delete/"),
            Probe("POST", f"{team}/add/", {"user": w.a.agent.pk}),
            Probe("POST", f"{team}/remove/", {"user": b.agent.pk}),
            Probe("POST", f"{team}/channels/", {"channels": [b.channel.pk]}),
        ],
        "web:settings-label-edit": [
            Probe("POST", f"{label}/update/", {"name": "Taken over", "color": "#123456"}),
            Probe("POST", f"{label}/delete/"),
        ],
        "web:settings-channel": [
            Probe("GET", f"{channel}/"),
            Probe("POST", f"{channel}/", {"name": "Taken over"}),
        ],
        "web:settings-channel-token": [
            Probe("POST", f"{channel}/token/", {"page_token": "EAAG-attacker-token"})
        ],
        "web:settings-personas": [
            Probe("GET", f"{channel}/personas/"),
            Probe(
                "POST",
                f"{channel}/personas/",
                {"user": b.agent.pk, "name": "Mallory", "picture_url": "https://x.test/p.png"},
            ),
        ],
        "web:settings-persona-deactivate": [
            Probe("POST", f"{channel}/personas/{bx.persona.pk}/deactivate/"),
            # Acme's own channel in the path does not open Globex's persona either.
            Probe(
                "POST", f"/settings/channels/{w.a.channel.pk}/personas/{bx.persona.pk}/deactivate/"
            ),
        ],
    }


# Routes without an object id, shown or run for the current workspace only: Acme's
# owner loads them and must see nothing of Globex.
LISTS = {
    "home",
    "web:sign-in",
    "web:no-workspace",
    "web:password-change",
    "web:inbox",
    "web:inbox-list",
    "web:canned-replies",
    "web:settings",
    "web:settings-members",
    "web:settings-audit",
    "web:settings-teams",
    "web:settings-labels",
    "web:settings-channels",
}
# Writes about the person or the current workspace only (no object id in the URL).
OWN_WRITES: dict[str, Callable[[World], Probe]] = {
    "web:sign-out": lambda w: Probe("POST", "/sign-out/"),
    "web:language": lambda w: Probe("POST", "/account/language/", {"language": "de"}),
    "web:time-zone": lambda w: Probe("POST", "/account/time-zone/", {"time_zone": "UTC"}),
    "web:settings-invite": lambda w: Probe(
        "POST", "/settings/invites/", {"email": "x@example.com", "role": "agent"}
    ),
    "web:workspace-switch": lambda w: Probe(
        "POST", "/workspace/switch/", {"workspace": w.b.workspace.pk}
    ),
}
# Capability links: the unguessable token in the URL is the permission.
CAPABILITIES = {"web:invite", "web:outbound-media"}
# The raw webhook log spans all workspaces: Django staff (operators) only.
OPERATOR_ONLY = {"event-log", "event-detail"}

API_PROBES: dict[str, Callable[[World], tuple[str, dict[str, Any] | None]]] = {
    "GET /api/v1/conversations/{conversation_id}": lambda w: (
        f"/api/v1/conversations/{w.b.conversation.pk}",
        None,
    ),
    "PATCH /api/v1/conversations/{conversation_id}": lambda w: (
        f"/api/v1/conversations/{w.b.conversation.pk}",
        {"status": "done"},
    ),
    "GET /api/v1/conversations/{conversation_id}/messages": lambda w: (
        f"/api/v1/conversations/{w.b.conversation.pk}/messages",
        None,
    ),
    "POST /api/v1/conversations/{conversation_id}/messages": lambda w: (
        f"/api/v1/conversations/{w.b.conversation.pk}/messages",
        {"text": "hi"},
    ),
    "POST /api/v1/conversations/{conversation_id}/messages/{message_id}/retry": lambda w: (
        f"/api/v1/conversations/{w.b.conversation.pk}/messages/{w.b.message.pk}/retry",
        {},
    ),
    "POST /api/v1/conversations/{conversation_id}/notes": lambda w: (
        f"/api/v1/conversations/{w.b.conversation.pk}/notes",
        {"text": "a note", "author_email": w.a.owner.email},
    ),
    "GET /api/v1/contacts/{contact_id}": lambda w: (f"/api/v1/contacts/{w.b.contact.pk}", None),
    "PATCH /api/v1/contacts/{contact_id}": lambda w: (
        f"/api/v1/contacts/{w.b.contact.pk}",
        {"attributes": {"plan": "gold"}},
    ),
    "GET /api/v1/attachments/{attachment_id}/file": lambda w: (
        f"/api/v1/attachments/{w.b.image.pk}/file",
        None,
    ),
}
API_LISTS = {"GET /api/v1/conversations"}

NONEXISTENT = 987_654_321


def _markers(w: World) -> list[str]:
    """Strings only Globex's rows contain."""
    b = w.b
    return [
        b.contact.last_name,
        b.label.name,
        b.team.name,
        b.agent.email,
        b.channel.name,
        b.channel.page_id,
        w.b_extra.canned.text,
        w.b_extra.invite.email,
        w.b_extra.persona.name,
        b.message.text,
    ]


def _send(client: Client, probe: Probe) -> Any:
    if probe.method == "GET":
        return client.get(probe.url)
    return client.post(probe.url, probe.data)


def _globex_state(w: World) -> dict[str, Any]:
    b, bx = w.b, w.b_extra
    conversation = Conversation.objects.get(pk=b.conversation.pk)
    return {
        "conversation": (
            conversation.status,
            conversation.assignee_id,
            conversation.team_id,
            sorted(conversation.labels.values_list("pk", flat=True)),
            conversation.messages.count(),
            conversation.notes.count(),
            conversation.unread_count,
        ),
        "contact": conversation.contact.attributes,
        "members": sorted(
            Membership.objects.filter(workspace=b.workspace).values_list("user_id", "role")
        ),
        "invites": sorted(
            Invite.objects.filter(workspace=b.workspace).values_list("pk", flat=True)
        ),
        "teams": sorted(Team.objects.filter(workspace=b.workspace).values_list("pk", "name")),
        "team_members": sorted(Team.objects.get(pk=b.team.pk).members.values_list("pk", flat=True)),
        "labels": sorted(Label.objects.filter(workspace=b.workspace).values_list("pk", "name")),
        "channel": (
            type(b.channel).objects.get(pk=b.channel.pk).name,
            type(b.channel).objects.get(pk=b.channel.pk).page_access_token,
        ),
        "personas": sorted(
            Persona.objects.filter(workspace=b.workspace).values_list("pk", "active")
        ),
        "canned": CannedReply.objects.filter(pk=bx.canned.pk).exists(),
    }


# --- completeness ---------------------------------------------------------------------


def test_every_route_has_a_case(world: World) -> None:
    covered = set(_object_probes(world)) | LISTS | set(OWN_WRITES) | CAPABILITIES | OPERATOR_ONLY
    routes = set(django_routes())
    assert routes - covered == set(), "new routes need a tenant-isolation case here"
    assert covered - routes == set(), "cases for routes that no longer exist"
    operations = api_operations()
    api_covered = set(API_PROBES) | API_LISTS
    assert operations - api_covered == set(), "new API operations need a case here"
    assert api_covered - operations == set()


# --- web ------------------------------------------------------------------------------


def test_every_object_of_another_workspace_is_404(world: World) -> None:
    before = _globex_state(world)
    client = client_for(world.a.owner)
    for name, probes in _object_probes(world).items():
        for probe in probes:
            response = _send(client, probe)
            assert response.status_code == 404, (name, probe, response.status_code)
            body = response.content.decode()
            for marker in _markers(world):
                assert marker not in body, (name, marker)
    assert _globex_state(world) == before


def test_a_nonexistent_id_answers_the_same_404(world: World) -> None:
    """No existence oracle: Globex's ids look exactly like ids that do not exist."""
    client = client_for(world.a.owner)
    for name, probes in _object_probes(world).items():
        for probe in probes:
            foreign = _send(client, probe)
            missing = _send(client, _with_ids_replaced(world, probe))
            assert (foreign.status_code, foreign.content) == (
                missing.status_code,
                missing.content,
            ), (
                name,
                probe,
            )


def _with_ids_replaced(w: World, probe: Probe) -> Probe:
    ids = {
        w.b.conversation.pk,
        w.b.message.pk,
        w.b.image.pk,
        w.b.team.pk,
        w.b.label.pk,
        w.b.channel.pk,
        w.b_extra.canned.pk,
        w.b_extra.invite.pk,
        w.b_extra.persona.pk,
        w.b_extra.agent_membership.pk,
    }
    parts = [
        str(NONEXISTENT)
        if part.isdigit() and int(part) in ids and part != str(w.a.channel.pk)
        else part
        for part in probe.url.split("/")
    ]
    return Probe(probe.method, "/".join(parts), probe.data)


def test_pages_without_ids_show_nothing_of_another_workspace(world: World) -> None:
    client = client_for(world.a.owner)
    routes = django_routes()
    for name in sorted(LISTS):
        url = "/" + routes[name]
        response = client.get(url, follow=True)
        assert response.status_code == 200, (name, response.status_code)
        body = response.content.decode()
        for marker in _markers(world):
            assert marker not in body, (name, marker)
        assert world.a.contact.last_name in client.get("/inbox/").content.decode()


def test_writes_without_ids_stay_in_the_own_workspace(world: World) -> None:
    before = _globex_state(world)
    for name, make in OWN_WRITES.items():
        client = client_for(world.a.owner)
        response = _send(client, make(world))
        assert response.status_code in (200, 302), (name, response.status_code)
    assert _globex_state(world) == before
    # Switching to Globex was refused: Acme's owner still sees only Acme.
    client = client_for(world.a.owner)
    client.post("/workspace/switch/", {"workspace": world.b.workspace.pk})
    assert client.get(f"/inbox/c/{world.b.conversation.pk}/").status_code == 404
    assert Invite.objects.filter(email="x@example.com").get().workspace == world.a.workspace


def test_ids_of_another_workspace_inside_forms_change_nothing(world: World) -> None:
    """Acme's own objects in the URL, Globex's ids in the body."""
    a, b = world.a, world.b
    client = client_for(a.owner)
    c = f"/inbox/c/{a.conversation.pk}"
    assert client.post(f"{c}/assign/", {"assignee": b.agent.pk}).status_code == 404
    assert client.post(f"{c}/assign/", {"team": b.team.pk}).status_code == 404
    assert client.post(f"{c}/labels/", {"labels": [b.label.pk]}).status_code == 404
    team = f"/settings/teams/{a.team.pk}"
    client.post(f"{team}/add/", {"user": b.agent.pk})
    client.post(f"{team}/channels/", {"channels": [b.channel.pk]})
    persona = client.post(
        f"/settings/channels/{a.channel.pk}/personas/",
        {"user": b.agent.pk, "name": "Mallory", "picture_url": "https://x.test/p.png"},
    )
    assert persona.status_code == 400
    fresh = Conversation.objects.get(pk=a.conversation.pk)
    assert fresh.assignee is None and fresh.team is None and not fresh.labels.exists()
    assert b.agent not in Team.objects.get(pk=a.team.pk).members.all()
    assert not Team.objects.get(pk=a.team.pk).channels.exists()
    assert not Persona.objects.filter(channel=a.channel, user=b.agent).exists()


def test_capability_links_need_the_exact_token(world: World) -> None:
    client = client_for(world.a.owner)
    upload = world.b_extra.upload
    assert Client().get(f"/media/outbound/{upload.token}/{upload.name}").status_code == 200
    assert client.get(f"/media/outbound/{upload.token}/other.pdf").status_code == 404
    assert client.get(f"/media/outbound/{upload.token[:-1]}/{upload.name}").status_code == 404
    assert client.get(f"/media/outbound/{world.a_extra.upload.token}/x.pdf").status_code == 404
    invite = client.get("/invite/not-a-real-token/")
    assert invite.status_code == 404
    assert world.b.workspace.name not in invite.content.decode()


def test_the_webhook_log_is_for_operators_only(world: World) -> None:
    from pagedesk.core.models import RawWebhook

    row = RawWebhook.objects.create(
        status=RawWebhook.Status.ACCEPTED, body=b"{}", body_size=2, page_ids=world.b.channel.page_id
    )
    client = client_for(world.a.owner)
    for url in ("/events/", f"/events/{row.pk}/"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/admin/login/")


# --- REST API -----------------------------------------------------------------------------


def _api(client: Client, token: str, method: str, url: str, body: Any) -> Any:
    headers = {"Authorization": f"Bearer {token}"}
    if method == "GET":
        return client.get(url, headers=headers)
    return client.generic(
        method, url, json.dumps(body), content_type="application/json", headers=headers
    )


def test_every_api_object_of_another_workspace_is_404(world: World) -> None:
    before = _globex_state(world)
    token = do_create_api_token(workspace=world.a.workspace, name="isolation").secret
    client = Client()
    for operation, make in API_PROBES.items():
        method = operation.split()[0]
        url, body = make(world)
        response = _api(client, token, method, url, body)
        assert response.status_code == 404, (operation, response.content)
        assert response.json()["code"] == "not_found", operation
        parts = url.split("/")
        parts[4] = str(NONEXISTENT)  # /api/v1/<kind>/<id>/…
        missing_url = "/".join(parts)
        missing = _api(client, token, method, missing_url, body)
        assert (missing.status_code, missing.content) == (404, response.content), operation
    # Acme's own conversation does not reach Globex's message either.
    own = f"/api/v1/conversations/{world.a.conversation.pk}/messages/{world.b.message.pk}/retry"
    assert _api(client, token, "POST", own, {}).status_code == 404
    listing = _api(client, token, "GET", "/api/v1/conversations?limit=200", None).json()
    assert [row["id"] for row in listing["data"]] == [world.a.conversation.pk]
    assert _globex_state(world) == before
