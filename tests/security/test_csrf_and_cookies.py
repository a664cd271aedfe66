"""CSRF on every form (every route, enumerated), cookie flags, and the REST API never
taking the session cookie as a credential."""

from __future__ import annotations

import re

import httpx
import pytest
from django.test import Client
from django.urls import reverse

from pagedesk.core.models import Membership
from pagedesk.inbox.models import Conversation
from tests.security.conftest import World, django_routes
from tests.web.conftest import PASSWORD, Side

_PARAM = re.compile(r"<(?:(?P<converter>\w+):)?(?P<name>\w+)>")
CSRF_FAILURE = "CSRF verification failed"


def _url(name: str, route: str, world: World) -> str:
    """The route with Acme's ids (ints) or plausible strings filled in."""
    kwargs: dict[str, object] = {}
    for match in _PARAM.finditer(route):
        converter, param = match["converter"], match["name"]
        if converter == "int":
            kwargs[param] = world.a.conversation.pk if param == "pk" else 1
        else:
            kwargs[param] = "rename" if param == "op" else "x"
    return reverse(name, kwargs=kwargs)


def test_every_post_without_the_token_is_refused(world: World) -> None:
    signed_in = Client(enforce_csrf_checks=True)
    signed_in.force_login(world.a.owner)
    anonymous = Client(enforce_csrf_checks=True)
    before = Conversation.objects.get(pk=world.a.conversation.pk).status
    routes = django_routes()
    assert len(routes) > 30
    for name, route in routes.items():
        url = _url(name, route, world)
        for client in (signed_in, anonymous):
            response = client.post(url, {"status": "done", "text": "x", "name": "x"})
            assert response.status_code == 403, (name, response.status_code)
            assert CSRF_FAILURE in response.content.decode(), name
    assert Conversation.objects.get(pk=world.a.conversation.pk).status == before
    assert Membership.objects.get(user=world.a.owner).role == Membership.Role.OWNER


def test_a_token_from_another_session_is_refused(acme: Side) -> None:
    """The token is bound to the session's CSRF cookie, not just any valid token."""
    attacker = Client(enforce_csrf_checks=True)
    attacker.get("/sign-in/")
    page = attacker.get("/sign-in/").content.decode()
    stolen = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)[1]  # type: ignore[index]
    victim = Client(enforce_csrf_checks=True)
    victim.force_login(acme.owner)
    url = f"/inbox/c/{acme.conversation.pk}/status/"
    response = victim.post(url, {"status": "done", "csrfmiddlewaretoken": stolen})
    assert response.status_code == 403
    assert Conversation.objects.get(pk=acme.conversation.pk).status == "open"


def test_the_api_ignores_the_session_cookie(acme: Side) -> None:
    """A signed-in browser cannot be made to call the API: only bearer tokens count."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(acme.owner)
    url = f"/api/v1/conversations/{acme.conversation.pk}"
    assert client.get(url).status_code == 401
    response = client.patch(url, '{"status": "done"}', content_type="application/json")
    assert response.status_code == 401
    assert Conversation.objects.get(pk=acme.conversation.pk).status == "open"


# --- cookies ---------------------------------------------------------------------------


def _sign_in(client: Client, side: Side, *, secure: bool = False) -> dict[str, object]:
    response = client.post(
        "/sign-in/", {"email": side.agent.email, "password": PASSWORD}, secure=secure
    )
    assert response.status_code == 302
    return {name: morsel for name, morsel in response.cookies.items()}


def test_session_and_csrf_cookies_are_http_only_and_same_site(acme: Side) -> None:
    cookies = _sign_in(Client(), acme)
    for name in ("sessionid", "csrftoken"):
        morsel = cookies[name]
        assert morsel["httponly"] is True, name  # type: ignore[index]
        assert morsel["samesite"] == "Lax", name  # type: ignore[index]
        # Plain http (the demo on 127.0.0.1): a Secure cookie would never come back.
        assert not morsel["secure"], name  # type: ignore[index]


def test_cookies_are_secure_over_https(acme: Side) -> None:
    cookies = _sign_in(Client(), acme, secure=True)
    for name in ("sessionid", "csrftoken"):
        assert cookies[name]["secure"] is True, name  # type: ignore[index]


def test_cookies_are_secure_behind_a_tls_proxy(acme: Side, pagedesk_server: str) -> None:
    """Through the real server: a local reverse proxy says the request came over TLS."""
    with httpx.Client(base_url=pagedesk_server) as http:
        plain = http.get("/sign-in/")
        proxied = http.get("/sign-in/", headers={"X-Forwarded-Proto": "https"})
    assert "csrftoken=" in plain.headers["set-cookie"]
    assert "secure" not in plain.headers["set-cookie"].lower()
    cookie = proxied.headers["set-cookie"].lower()
    assert "csrftoken=" in cookie and "secure" in cookie and "httponly" in cookie


def test_pages_cannot_be_framed(acme: Side) -> None:
    response = Client().get("/sign-in/")
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example/",
        "\\\\evil.example",
        "javascript:alert(1)",
        "http:evil.example",
        " //evil.example",
    ],
)
def test_redirects_after_sign_in_and_language_stay_on_the_site(acme: Side, target: str) -> None:
    client = Client()
    signed_in = client.post(
        "/sign-in/", {"email": acme.agent.email, "password": PASSWORD, "next": target}
    )
    assert signed_in["Location"] == "/inbox/"
    language = client.post("/account/language/", {"language": "de", "next": target})
    assert language["Location"] == "/inbox/"
