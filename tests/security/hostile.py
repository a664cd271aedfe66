"""A customer who writes to the page through the sandbox's customer phone with HTML
and script payloads in their name and messages; an admin who puts payloads in a
label, a note and a contact attribute. Everything reaches pagedesk the real way:
signed webhooks, the worker's ingestion, the profile fetch from the Graph API."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from pagedesk.core.actions import do_add_channel, do_create_workspace
from pagedesk.core.models import Membership
from pagedesk.inbox.models import Conversation
from tests.browser.conftest import PASSWORD, Shop
from tests.security.conftest import csrf_token as _csrf

VERIFY_TOKEN = "hostile-verify-token"
# Each payload sets window.__xss (or opens a dialog) if it ever runs.
FIRST_NAME = "<script>window.__xss='name'</script>"
LAST_NAME = "<img src=x onerror=\"window.__xss='last name'\">"
MESSAGE = "<img src=x onerror=\"window.__xss='message'\"><script>alert('message')</script>"
POSTBACK = "<svg onload=\"window.__xss='postback'\">"
REF = "<iframe srcdoc=\"<script>parent.__xss='ref'</script>\">"
NOTE = "<script>window.__xss='note'</script> @nobody"
LABEL = "<b onmouseover=\"window.__xss='label'\">vip</b>"
ATTRIBUTE = "<img src=x onerror=\"window.__xss='attribute'\">"
CUSTOMER_PAYLOADS = [FIRST_NAME, LAST_NAME, MESSAGE, POSTBACK, REF]
AGENT_PAYLOADS = [NOTE, LABEL, ATTRIBUTE]
ALL_PAYLOADS = CUSTOMER_PAYLOADS + AGENT_PAYLOADS


@pytest.fixture
def hostile(pagedesk_server: str, sandbox_url: str, task_queue: object, settings: Any) -> Shop:
    settings.PAGEDESK_GRAPH_URL = sandbox_url
    control = httpx.Client(base_url=f"{sandbox_url}/_sandbox", timeout=10)
    app = control.get("/app").json()
    page = control.post(
        "/pages",
        json={
            "name": "Acme Bikes",
            "subscribed_fields": ["messages", "messaging_postbacks", "messaging_referrals"],
        },
    ).json()
    workspace = do_create_workspace(name="Acme Bikes", owner_email="owner@acme.test")
    do_add_channel(
        workspace=workspace,
        page_id=page["page_id"],
        page_token=page["access_token"],
        app_secret=app["app_secret"],
        verify_token=VERIFY_TOKEN,
        name="Acme Bikes",
    )
    owner = Membership.objects.get(workspace=workspace).user
    owner.set_password(PASSWORD)
    owner.save()
    control.post(
        "/app",
        json={
            "callback_url": f"{pagedesk_server}/webhooks/messenger",
            "verify_token": VERIFY_TOKEN,
        },
    ).raise_for_status()
    psid = control.post(
        f"/pages/{page['page_id']}/customers",
        json={"first_name": FIRST_NAME, "last_name": LAST_NAME},
    ).json()["psid"]
    shop = Shop(pagedesk_server, control, workspace, owner, psid, task_queue)
    customer = f"/customers/{psid}"
    control.post(f"{customer}/open_link", json={"ref": REF}).raise_for_status()
    shop.settle()
    control.post(f"{customer}/messages", json={"text": MESSAGE}).raise_for_status()
    control.post(f"{customer}/postback", json={"title": POSTBACK, "payload": "P"})
    shop.settle()

    # The team's own inputs, through the pages.
    with httpx.Client(base_url=pagedesk_server, timeout=10) as browser:
        sign_in_page = browser.get("/sign-in/")
        token = _csrf(sign_in_page.text)
        browser.post(
            "/sign-in/",
            data={"email": "owner@acme.test", "password": PASSWORD, "csrfmiddlewaretoken": token},
        )
        conversation = Conversation.objects.get(workspace=workspace)
        base = f"/inbox/c/{conversation.pk}"
        token = _csrf(browser.get(f"{base}/").text)
        for url, data in (
            (f"{base}/compose/", {"text": NOTE, "note": "on"}),
            (f"{base}/labels/", {"new_label": LABEL}),
            (f"{base}/attributes/", {"key": "plan", "value": ATTRIBUTE}),
        ):
            response = browser.post(url, data={**data, "csrfmiddlewaretoken": token})
            assert response.status_code in (200, 302), (url, response.status_code)
    return shop
