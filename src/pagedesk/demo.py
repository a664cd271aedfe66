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
DEMO_CUSTOMERS = (
    ("Mia", "Schneider", "de_DE", "Hallo! Habt ihr das Trek FX 3 in Größe M?"),
    ("James", "Carter", "en_US", "Hi, is my repair ready for pick-up?"),
    ("Sofia", "Rossi", "it_IT", None),
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
    from pagedesk.core.models import Channel

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
        Channel.objects.update_or_create(
            page_id=DEMO_PAGE_ID,
            defaults={
                "name": DEMO_PAGE_NAME,
                "username": DEMO_USERNAME,
                "page_access_token": page["access_token"],
                "app_secret": app["app_secret"],
                "verify_token": DEMO_VERIFY_TOKEN,
            },
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
            for first, last, locale, text in DEMO_CUSTOMERS:
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
    _ensure_admin()
    return Credentials(DEMO_EMAIL, DEMO_PASSWORD)


def _ensure_admin() -> None:
    from django.contrib.auth import get_user_model

    user_model = get_user_model()
    if not user_model.objects.filter(username=DEMO_EMAIL).exists():
        user_model.objects.create_superuser(
            username=DEMO_EMAIL, email=DEMO_EMAIL, password=DEMO_PASSWORD
        )


def _ok(response: httpx.Response) -> dict:  # type: ignore[type-arg]
    if response.status_code >= 300:
        raise RuntimeError(
            f"sandbox {response.request.method} {response.request.url.path} answered "
            f"{response.status_code}: {response.text[:300]}"
        )
    return response.json()  # type: ignore[no-any-return]
