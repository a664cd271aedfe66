"""Seed the demo: a sandbox page connected to pagedesk, a few customers, an admin.

Runs inside ``pagedesk up --demo`` once the web server answers. Every step is
idempotent, so restarting the demo keeps what was there (the sandbox keeps its
state in a snapshot file in the data dir).
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass

import httpx

DEMO_PAGE_ID = "108420531234567"
DEMO_PAGE_NAME = "Acme Bikes"
DEMO_USERNAME = "acmebikes"
DEMO_VERIFY_TOKEN = "pagedesk-demo-verify-token"
DEMO_EMAIL = "admin@example.com"
DEMO_PASSWORD = "pagedesk-demo"
SUBSCRIBED_FIELDS = (
    "messages,message_echoes,message_deliveries,message_reads,message_reactions,"
    "message_edits,messaging_postbacks,messaging_referrals,messaging_optins,"
    "messaging_handovers,messaging_policy_enforcement,standby,feed"
)
DEMO_CUSTOMERS = (  # first name, last name, locale, their message, the page's reply
    ("Mia", "Schneider", "de_DE", "Hallo! Habt ihr das Trek FX 3 in Größe M?", None),
    (
        "James",
        "Carter",
        "en_US",
        "Hi, is my repair ready for pick-up?",
        "Hi James! Yes, your bike is ready. We're open until 6 pm.",
    ),
    ("Sofia", "Rossi", "it_IT", None, None),
)


@dataclass(frozen=True)
class Credentials:
    email: str
    password: str


def wait_until_up(
    base_url: str, children: Sequence[subprocess.Popen[bytes]], timeout: float
) -> bool:
    """Poll /healthz until the web server answers (False if a child died or time ran out)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(child.poll() is not None for child in children):
            return False
        try:
            if httpx.get(f"{base_url}/healthz", timeout=2).status_code == 200:
                return True
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    return False


def seed_demo(base_url: str) -> Credentials:
    from pagedesk.core.actions import do_add_channel, do_create_workspace
    from pagedesk.core.models import Channel, Workspace

    workspace = Workspace.objects.filter(slug="acme-bikes").first() or do_create_workspace(
        name=DEMO_PAGE_NAME, owner_email=DEMO_EMAIL
    )
    sandbox = f"{base_url}/sandbox"
    with httpx.Client(base_url=sandbox, timeout=15) as http:
        app = _ok(http.get("/_sandbox/app"))
        pages = _ok(http.get("/_sandbox/pages"))["data"]
        page = next((p for p in pages if p["page_id"] == DEMO_PAGE_ID), None)
        if page is None:
            page = _ok(
                http.post(
                    "/_sandbox/pages",
                    json={
                        "name": DEMO_PAGE_NAME,
                        "username": DEMO_USERNAME,
                        "page_id": DEMO_PAGE_ID,
                    },
                )
            )
        channel = Channel.objects.filter(page_id=DEMO_PAGE_ID).first()
        if channel is None:
            do_add_channel(
                workspace=workspace,
                page_id=DEMO_PAGE_ID,
                page_token=page["access_token"],
                app_secret=app["app_secret"],
                verify_token=DEMO_VERIFY_TOKEN,
                name=DEMO_PAGE_NAME,
                username=DEMO_USERNAME,
            )
        # Meta's handshake: the sandbox calls our GET /webhooks/messenger with the token.
        _ok(
            http.post(
                "/_sandbox/app",
                json={
                    "callback_url": f"{base_url}/webhooks/messenger",
                    "verify_token": DEMO_VERIFY_TOKEN,
                },
            )
        )
        _ok(
            http.post(
                f"/v25.0/{DEMO_PAGE_ID}/subscribed_apps",
                params={"subscribed_fields": SUBSCRIBED_FIELDS},
                headers={"Authorization": f"Bearer {page['access_token']}"},
            )
        )
        customers = _ok(http.get(f"/_sandbox/pages/{DEMO_PAGE_ID}/customers"))["data"]
        if not customers:
            for first, last, locale, text, reply in DEMO_CUSTOMERS:
                customer = _ok(
                    http.post(
                        f"/_sandbox/pages/{DEMO_PAGE_ID}/customers",
                        json={"first_name": first, "last_name": last, "locale": locale},
                    )
                )
                if text:
                    _ok(
                        http.post(
                            f"/_sandbox/customers/{customer['psid']}/messages", json={"text": text}
                        )
                    )
                if reply:
                    _ok(
                        http.post(
                            "/v25.0/me/messages",
                            headers={"Authorization": f"Bearer {page['access_token']}"},
                            json={
                                "recipient": {"id": customer["psid"]},
                                "messaging_type": "RESPONSE",
                                "message": {"text": reply},
                            },
                        )
                    )
    _ensure_admin()
    return Credentials(DEMO_EMAIL, DEMO_PASSWORD)


def _ensure_admin() -> None:
    """The workspace owner doubles as the demo's site admin, with a known password."""
    from django.contrib.auth import get_user_model

    user, _ = get_user_model().objects.get_or_create(
        username=DEMO_EMAIL, defaults={"email": DEMO_EMAIL}
    )
    if not user.is_superuser or not user.check_password(DEMO_PASSWORD):
        user.is_staff = user.is_superuser = True
        user.set_password(DEMO_PASSWORD)
        user.save()


def _ok(response: httpx.Response) -> dict:  # type: ignore[type-arg]
    if response.status_code >= 300:
        raise RuntimeError(
            f"sandbox {response.request.method} {response.request.url.path} answered "
            f"{response.status_code}: {response.text[:300]}"
        )
    return response.json()  # type: ignore[no-any-return]
