"""The signature check on /webhooks/messenger cannot be bypassed: every forged or
malformed ``X-Hub-Signature-256`` is a 403 over real HTTP, the body is kept for
inspection and nothing is queued for ingestion."""

from __future__ import annotations

import hashlib
import hmac

import httpx
import pytest

from pagedesk.core.actions import do_add_channel, do_create_workspace
from pagedesk.core.models import Channel, RawWebhook
from pagedesk.messenger.signature import sign_body
from tests.edge.conftest import channel, fresh_channel_keys, workspace  # noqa: F401  (fixtures)
from tests.edge.helpers import APP_SECRET, PAGE_ID, message_body, post, queued_task_names

BODY = message_body("Signed for real")
VALID = sign_body(BODY, APP_SECRET)
HEX = VALID.removeprefix("sha256=")
SHA1 = "sha1=" + hmac.new(APP_SECRET.encode(), BODY, hashlib.sha1).hexdigest()
ONE_BYTE_CHANGED = BODY.replace(b"Signed for real", b"Signed for reaL")

FORGERIES: dict[str, tuple[bytes, dict[str, str]]] = {
    "missing header": (BODY, {}),
    "empty header": (BODY, {"X-Hub-Signature-256": ""}),
    "sha1 instead of sha256": (BODY, {"X-Hub-Signature-256": SHA1}),
    "sha1 header only": (BODY, {"X-Hub-Signature": SHA1}),
    "valid sha1 header, wrong sha256": (
        BODY,
        {"X-Hub-Signature": SHA1, "X-Hub-Signature-256": "sha256=" + "0" * 64},
    ),
    "no prefix": (BODY, {"X-Hub-Signature-256": HEX}),
    "other prefix": (BODY, {"X-Hub-Signature-256": "sha512=" + HEX}),
    "colon instead of =": (BODY, {"X-Hub-Signature-256": "sha256:" + HEX}),
    "non-hex": (BODY, {"X-Hub-Signature-256": "sha256=" + "zz" + HEX[2:]}),
    "truncated": (BODY, {"X-Hub-Signature-256": VALID[:-1]}),
    "half": (BODY, {"X-Hub-Signature-256": VALID[:39]}),
    "too long": (BODY, {"X-Hub-Signature-256": VALID + "0"}),
    "upper-case hex": (BODY, {"X-Hub-Signature-256": "sha256=" + HEX.upper()}),
    "upper-case prefix": (BODY, {"X-Hub-Signature-256": "SHA256=" + HEX}),
    "space after =": (BODY, {"X-Hub-Signature-256": "sha256= " + HEX}),
    "space before =": (BODY, {"X-Hub-Signature-256": "sha256 =" + HEX}),
    "two signatures": (BODY, {"X-Hub-Signature-256": f"{VALID},{VALID}"}),
    "empty secret": (BODY, {"X-Hub-Signature-256": sign_body(BODY, "")}),
    "other secret": (BODY, {"X-Hub-Signature-256": sign_body(BODY, APP_SECRET + "x")}),
    "body changed by one byte": (ONE_BYTE_CHANGED, {"X-Hub-Signature-256": VALID}),
    "body with a trailing newline": (BODY + b"\n", {"X-Hub-Signature-256": VALID}),
    "signature of the empty body": (BODY, {"X-Hub-Signature-256": sign_body(b"", APP_SECRET)}),
}


def _post(base_url: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(
        f"{base_url}/webhooks/messenger",
        content=body,
        headers={"Content-Type": "application/json", **headers},
    )


def test_the_genuine_signature_is_accepted(
    channel: Channel,  # noqa: F811
    pagedesk_server: str,
    task_queue: object,
) -> None:
    assert _post(pagedesk_server, BODY, {"X-Hub-Signature-256": VALID}).status_code == 200
    assert queued_task_names(task_queue) == ["ingest_webhook"]


@pytest.mark.parametrize("case", sorted(FORGERIES))
def test_forged_signatures_are_refused(
    channel: Channel,  # noqa: F811
    pagedesk_server: str,
    task_queue: object,
    case: str,
) -> None:
    body, headers = FORGERIES[case]
    response = _post(pagedesk_server, body, headers)
    assert response.status_code == 403, response.text
    assert "signature" in response.text
    row = RawWebhook.objects.get()
    assert row.status == RawWebhook.Status.BAD_SIGNATURE and not row.signature_valid
    assert bytes(row.body) == body  # kept for inspection
    assert queued_task_names(task_queue) == []


def test_a_channel_with_an_empty_app_secret_accepts_nothing(
    workspace: object,  # noqa: F811
    pagedesk_server: str,
    task_queue: object,
) -> None:
    """A row written around the action (no secret) must not make "" a valid key."""
    Channel.objects.create(
        workspace=workspace, page_id=PAGE_ID, name="No secret", app_secret="", page_access_token=""
    )
    response = _post(pagedesk_server, BODY, {"X-Hub-Signature-256": sign_body(BODY, "")})
    assert response.status_code == 403
    assert queued_task_names(task_queue) == []


def test_another_workspaces_app_secret_cannot_sign_for_this_page(
    channel: Channel,  # noqa: F811
    pagedesk_server: str,
    task_queue: object,
) -> None:
    """Globex connected its own app; its secret must not inject events into Acme's page."""
    globex = do_create_workspace(name="Globex", owner_email="owner@globex.example")
    do_add_channel(
        workspace=globex,
        page_id="104857600077777",
        page_token="EAAG-globex-token",
        app_secret="globex-app-secret",
        verify_token="globex-verify-token",
    )
    response = post(pagedesk_server, BODY, sign_body(BODY, "globex-app-secret"))
    assert response.status_code == 403
    assert PAGE_ID in response.text
    assert RawWebhook.objects.get().status == RawWebhook.Status.UNKNOWN_PAGE
    assert queued_task_names(task_queue) == []
