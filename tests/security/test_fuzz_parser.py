"""Fuzzing ``parse_webhook``: whatever the bytes, it returns events or raises
``WebhookParseError``, never anything else; every event it returns can be stored
and parsed again on its own (what the worker does)."""

from __future__ import annotations

from hypothesis import HealthCheck, example, given, settings

from pagedesk.messenger.webhook import (
    WebhookBatch,
    WebhookParseError,
    container_of,
    parse_event,
    parse_webhook,
)
from tests.security.strategies import bodies

PAGE_ID = "104857600012345"
FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _check(body: bytes) -> None:
    try:
        batch = parse_webhook(body)
    except WebhookParseError as exc:
        assert exc.code in (
            "invalid_json",
            "invalid_envelope",
            "unsupported_object",
            "invalid_entry",
            "invalid_event",
        )
        assert str(exc)
        return
    assert isinstance(batch, WebhookBatch)
    for event in batch:
        again = parse_event(event.object, event.page_id, event.raw, container=container_of(event))
        assert again.kind == event.kind
        str(event.kind), event.sender_id, event.timestamp


@FUZZ
@given(bodies(PAGE_ID))
# Regressions: shapes that once looked risky.
@example(b"[" * 100_000 + b"]" * 100_000)
@example(b'{"object":"page","entry":[{"id":"1","messaging":[{"message":{"attachments":{}}}]}]}')
@example(b'{"object":"page","entry":[{"id":1e400}]}')
@example(b'{"object":"page","entry":[{"id":"' + b"9" * 5000 + b'"}]}')
@example(b'{"object":"page","entry":[{"id":' + b"9" * 5000 + b"}]}")
@example(b'{"object":"page","entry":[{"id":"1","messaging":[{"message":{"text":"\\ud800"}}]}]}')
@example(b"\xef\xbb\xbf{}")
def test_parse_webhook_returns_events_or_a_parse_error(body: bytes) -> None:
    _check(body)
