"""The sandbox's webhooks have the shape of the recorded fixtures and parse into
the same kinds with pagedesk.messenger: the sandbox is only useful if it is faithful."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from pagedesk.messenger import parse_webhook
from tests.messenger.fixtures import load_fixture
from tests.sandbox.helpers import Sandbox


def key_paths(value: Any, prefix: str = "") -> set[str]:
    """Every key path in a JSON value, lists folded (``entry[].messaging[].sender.id``)."""
    paths: set[str] = set()
    if isinstance(value, dict):
        for key, child in value.items():
            path = f"{prefix}.{key}" if prefix else key
            paths.add(path)
            paths |= key_paths(child, path)
    elif isinstance(value, list):
        for child in value:
            paths |= key_paths(child, f"{prefix}[]")
    return paths


def _event_of(body: dict[str, Any], container: str) -> dict[str, Any]:
    return body["entry"][0][container][0]


Scenario = Callable[[Sandbox, dict[str, Any], dict[str, Any]], None]


def _reply(sandbox: Sandbox, page: dict[str, Any], customer: dict[str, Any]) -> None:
    sandbox.text(page, customer["psid"], "Sure!", message={"text": "Sure!", "metadata": "m1"})


SCENARIOS: dict[str, tuple[str, str, Scenario]] = {
    # fixture: (kind, container, what the customer / page does)
    "message_text": ("message", "messaging", lambda s, p, c: s.say(c["psid"], "Hi")),
    "message_quick_reply": (
        "message",
        "messaging",
        lambda s, p, c: s.say(c["psid"], "Red", quick_reply_payload="COLOR_RED"),
    ),
    "message_image": (
        "message",
        "messaging",
        lambda s, p, c: s.act(
            c["psid"], "messages", attachments=[{"type": "image", "url": "https://x.test/a.jpg"}]
        ),
    ),
    "postback_button": (
        "postback",
        "messaging",
        lambda s, p, c: s.act(c["psid"], "postback", title="Order", payload="ORDER"),
    ),
    "referral_shortlink": (
        "referral",
        "messaging",
        lambda s, p, c: s.act(c["psid"], "open_link", ref="summer-sale"),
    ),
    "referral_ads": (
        "referral",
        "messaging",
        lambda s, p, c: s.act(c["psid"], "ad_click", ad_id="6045246247433", ad_title="Bikes"),
    ),
    "read": ("read", "messaging", lambda s, p, c: s.act(c["psid"], "read")),
    "echo_own_app": ("echo", "messaging", _reply),
    "feed_comment_add": (
        "comment",
        "changes",
        lambda s, p, c: s.act(c["psid"], "comment", message="Nice bike!"),
    ),
}


# Fields Meta sends only sometimes (an ad without a video has no video_url, ...).
OPTIONAL = {
    "referral_ads": {
        "referral.ref",
        "referral.ads_context_data.photo_url",
        "referral.ads_context_data.video_url",
        "referral.ads_context_data.post_id",
        "referral.ads_context_data.product_id",
    },
}


@pytest.mark.parametrize("fixture_name", sorted(SCENARIOS))
def test_sandbox_event_matches_recorded_fixture(sandbox: Sandbox, fixture_name: str) -> None:
    kind, container, scenario = SCENARIOS[fixture_name]
    page = sandbox.page("Acme Bikes")
    customer = sandbox.customer(page, "Ada")
    sandbox.say(customer["psid"], "first message")  # an existing thread
    sandbox.flush()
    sandbox.receiver.reset()

    scenario(sandbox, page, customer)
    sandbox.flush()

    received = sandbox.receiver.accepted
    parsed = [event for r in received for event in parse_webhook(r.body)]
    matching = [e for e in parsed if e.kind == kind]
    assert matching, f"no {kind} event among {[e.kind for e in parsed]}"

    fixture_event = _event_of(load_fixture(fixture_name).body, container)
    sandbox_event = matching[0].raw
    missing = (
        key_paths(fixture_event) - key_paths(sandbox_event) - OPTIONAL.get(fixture_name, set())
    )
    invented = key_paths(sandbox_event) - key_paths(fixture_event)
    assert not missing, f"sandbox {kind} lacks {sorted(missing)}"
    assert not invented, f"sandbox {kind} has fields Meta does not send: {sorted(invented)}"
