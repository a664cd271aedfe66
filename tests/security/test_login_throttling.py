"""Login throttling (django-axes) over real HTTP: five failures lock the account from
that address, with the message people read; a client cannot dodge it by inventing
X-Forwarded-For addresses behind the reverse proxy; the invitation page's sign-in
is throttled too."""

from __future__ import annotations

from datetime import timedelta

import httpx
from django.contrib.auth import get_user_model
from django.utils import timezone

from pagedesk.core.actions import do_create_workspace, hash_token
from pagedesk.core.models import Invite
from tests.security.conftest import csrf_token as _csrf

PASSWORD = "the right passphrase"
EMAIL = "agent@acme.test"
LOCKED_EN = "Too many failed sign-in attempts."
LOCKED_DE = "Zu viele fehlgeschlagene Anmeldeversuche."


def _person() -> None:
    workspace = do_create_workspace(name="Acme", owner_email=EMAIL)
    user = get_user_model().objects.get(username=EMAIL)
    user.set_password(PASSWORD)
    user.save()
    Invite.objects.create(
        workspace=workspace,
        email=EMAIL,
        token_hash=hash_token("invite-token-for-the-agent"),
        expires_at=timezone.now() + timedelta(days=1),
    )


def _attempt(http: httpx.Client, password: str, **headers: str) -> httpx.Response:
    token = _csrf(http.get("/sign-in/", headers=headers).text)
    return http.post(
        "/sign-in/",
        data={"email": EMAIL, "password": password, "csrfmiddlewaretoken": token},
        headers=headers,
    )


def test_five_failures_lock_even_the_right_password(pagedesk_server: str) -> None:
    _person()
    with httpx.Client(base_url=pagedesk_server, headers={"Accept-Language": "de"}) as http:
        for _ in range(4):
            assert _attempt(http, "wrong").status_code == 200
        assert _attempt(http, "wrong").status_code == 429
        locked = _attempt(http, PASSWORD)
        assert locked.status_code == 429
        assert LOCKED_DE in locked.text and "15 Minuten" in locked.text
        assert "sessionid" not in http.cookies


def test_made_up_forwarded_addresses_do_not_reset_the_count(pagedesk_server: str) -> None:
    """Behind a proxy that appends the real client (nginx' $proxy_add_x_forwarded_for),
    addresses the client adds in front are ignored."""
    _person()
    with httpx.Client(base_url=pagedesk_server) as http:
        statuses = [
            _attempt(http, "wrong", **{"X-Forwarded-For": f"10.9.8.{n}, 203.0.113.7"}).status_code
            for n in range(6)
        ]
        assert statuses == [200, 200, 200, 200, 429, 429]
        locked = _attempt(http, PASSWORD, **{"X-Forwarded-For": "10.0.0.99, 203.0.113.7"})
        assert locked.status_code == 429 and LOCKED_EN in locked.text
        # The same person from their own, different address is not locked out.
        ok = _attempt(http, PASSWORD, **{"X-Forwarded-For": "198.51.100.20"})
        assert ok.status_code == 302


def test_the_invitation_sign_in_is_throttled_too(pagedesk_server: str) -> None:
    _person()
    url = "/invite/invite-token-for-the-agent/"
    with httpx.Client(base_url=pagedesk_server) as http:
        statuses = []
        for _ in range(6):
            token = _csrf(http.get(url).text)
            response = http.post(url, data={"password": "wrong", "csrfmiddlewaretoken": token})
            statuses.append(response.status_code)
        assert statuses[-1] == 429, statuses
        token = _csrf(http.get("/sign-in/").text)
        right = http.post(url, data={"password": PASSWORD, "csrfmiddlewaretoken": token})
        assert right.status_code == 429
        assert Invite.objects.get().accepted_at is None
