"""parse_webhook: envelopes, ordering, errors, and robustness against arbitrary input."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pagedesk.messenger import EventKind, WebhookBatch, WebhookParseError, parse_webhook
from pagedesk.messenger.events import Message
from tests.messenger.fixtures import all_fixture_names, load_fixture, serialise_body

PAGE = "1234567890123456"
PSID = "7012345678901234"


def body(document: Any) -> bytes:
    return serialise_body(document)


def text_event(mid: str = "m_1", psid: str = PSID, ts: int = 1773480067000) -> dict[str, Any]:
    return {
        "sender": {"id": psid},
        "recipient": {"id": PAGE},
        "timestamp": ts,
        "message": {"mid": mid, "text": "hi"},
    }


def page_body(*events: dict[str, Any], **entry: Any) -> bytes:
    return body(
        {"object": "page", "entry": [{"id": PAGE, "time": 1, "messaging": list(events), **entry}]}
    )


# --- well-formed bodies ----------------------------------------------------------


@pytest.mark.parametrize("name", all_fixture_names())
def test_every_fixture_parses_into_events(name: str) -> None:
    fixture = load_fixture(name)
    batch = parse_webhook(fixture.raw_body)
    assert batch.object == fixture.body["object"]
    assert [entry.id for entry in batch.entries] == [e["id"] for e in fixture.body["entry"]]
    assert len(batch.events) >= 1
    for event in batch:
        assert event.page_id in {e["id"] for e in fixture.body["entry"]}
        assert event.object == batch.object
        assert isinstance(event.raw, dict)


def test_batch_yields_messaging_then_standby_then_changes_entries_in_order() -> None:
    batch = parse_webhook(load_fixture("batched_multi_entry").raw_body)
    got = [(e.page_id, e.kind, e.is_standby, e.sender_id) for e in batch]
    assert got == [
        ("1234567890123456", EventKind.MESSAGE, False, "7012345678901234"),
        ("1234567890123456", EventKind.DELIVERY, False, "7198765432109876"),
        ("1234567890123456", EventKind.READ, False, "6843210987654321"),
        ("2345678901234567", EventKind.POSTBACK, False, "7345601928374650"),
        ("2345678901234567", EventKind.ECHO, False, "2345678901234567"),
        ("2345678901234567", EventKind.MESSAGE, True, "7456123098712345"),
        ("1234567890123456", EventKind.COMMENT, False, "6029384756102938"),
    ]
    assert len(batch) == 7
    assert batch.events == list(batch)
    assert [len(entry.events) for entry in batch.entries] == [3, 3, 1]
    assert batch.entries[1].time == 1774623600950


def test_event_order_inside_an_entry_follows_the_body_not_the_timestamps() -> None:
    # Meta may deliver out of order; the parser keeps the order, ingestion sorts.
    batch = parse_webhook(page_body(text_event("m_late", ts=2000), text_event("m_early", ts=1000)))
    assert [e.payload_as(Message).mid for e in batch] == [
        "m_late",
        "m_early",
    ]
    assert [e.timestamp for e in batch] == [2000, 1000]


def test_standby_entry_marks_events_as_standby() -> None:
    events = parse_webhook(load_fixture("standby_message").raw_body).events
    assert [(e.kind, e.is_standby) for e in events] == [
        (EventKind.MESSAGE, True),
        (EventKind.ECHO, True),
    ]


def test_thread_key_partitions_customer_events_and_echoes_together() -> None:
    batch = parse_webhook(load_fixture("batched_multi_entry").raw_body)
    keys = [e.thread_key for e in batch]
    assert keys[:6] == [
        "7012345678901234",
        "7198765432109876",
        "6843210987654321",
        "7345601928374650",
        "7345601928374650",  # the echo belongs to the customer it was sent to
        "7456123098712345",
    ]
    assert keys[6].startswith("post:1234567890123456_")


@pytest.mark.parametrize(
    ("name", "thread_key", "customer_id"),
    [
        ("echo_own_app", "7012345678901234", "7012345678901234"),
        ("policy_enforcement_block", "page:1234567890123456", None),
        ("app_roles", "page:1234567890123456", None),
        ("optin_plugin_user_ref", "user_ref:pd-guest-YV6lxQg3V8LMEXvohepSAwzF", None),
        ("instagram_message", "1783254019283746", "1783254019283746"),
        ("instagram_comment", "post:18023456789012345", None),
        ("feed_comment_remove", "post:1234567890123456_627821277897555", None),
        ("unknown_event_kind", "7198765432109876", "7198765432109876"),
    ],
)
def test_thread_key_and_customer_id(name: str, thread_key: str, customer_id: str | None) -> None:
    (event,) = parse_webhook(load_fixture(name).raw_body)
    assert event.thread_key == thread_key
    assert event.customer_id == customer_id


def test_instagram_object_is_accepted() -> None:
    batch = parse_webhook(load_fixture("instagram_message").raw_body)
    assert batch.object == "instagram"
    assert batch.entries[0].id == "17841400123456789"


def test_empty_entry_list_and_entries_without_events_are_fine() -> None:
    assert parse_webhook(body({"object": "page", "entry": []})).events == []
    batch = parse_webhook(body({"object": "page", "entry": [{"id": PAGE, "time": 5}]}))
    assert len(batch.entries) == 1 and batch.events == []


def test_numeric_entry_id_becomes_a_string() -> None:
    batch = parse_webhook(body({"object": "page", "entry": [{"id": 1234567890123456}]}))
    assert batch.entries[0].id == "1234567890123456"


def test_change_placed_directly_on_the_entry_is_read_as_one_change() -> None:
    change = load_fixture("instagram_comment").body["entry"][0]["changes"][0]
    entry = {"id": "17841400123456789", "time": 1, "field": "comments", "value": change["value"]}
    (event,) = parse_webhook(body({"object": "instagram", "entry": [entry]}))
    assert event.kind is EventKind.COMMENT


def test_unknown_change_field_and_non_comment_feed_items_are_unsupported() -> None:
    changes = [
        {"field": "feed", "value": {"item": "reaction", "verb": "add", "reaction_type": "like"}},
        {"field": "mention", "value": {"post_id": "1_2"}},
        {"field": "feed", "value": None},
    ]
    batch = parse_webhook(body({"object": "page", "entry": [{"id": PAGE, "changes": changes}]}))
    assert [e.kind for e in batch] == [EventKind.UNSUPPORTED] * 3
    assert [e.payload.key for e in batch] == ["feed", "mention", "feed"]  # type: ignore[union-attr]
    assert [e.raw for e in batch] == changes


def test_parse_accepts_bytes_exactly_as_received_with_whitespace() -> None:
    pretty = json.dumps(
        {"object": "page", "entry": [{"id": PAGE, "messaging": [text_event()]}]}, indent=2
    )
    (event,) = parse_webhook(("\n" + pretty + "\n").encode())
    assert event.kind is EventKind.MESSAGE


def test_text_no_database_can_store_is_cleaned_where_it_is_decoded() -> None:
    """NUL is dropped and a lone surrogate becomes U+FFFD, in keys too; pairs stay."""
    event = text_event(psid="70123\x00")
    event["message"] |= {"text": "a\x00b \ud800 \U0001f600", "x\udc00": 1}
    raw = body({"object": "page", "entry": [{"id": PAGE, "time": 1, "messaging": [event]}]})
    assert b"\\u0000" in raw and b"\\ud83d\\ude00" in raw  # as Meta writes them: escaped
    (parsed,) = parse_webhook(raw)
    assert isinstance(parsed.payload, Message)
    assert parsed.payload.text == "ab \ufffd \U0001f600"
    assert parsed.customer_id == "70123"
    assert parse_webhook(raw).raw["entry"][0]["messaging"][0]["message"]["x\ufffd"] == 1


# --- malformed bodies ------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "code", "fragment"),
    [
        (b"", "invalid_json", "empty"),
        (b"object=page", "invalid_json", "not valid JSON"),
        (b'{"object": "page", "entry": [', "invalid_json", "not valid JSON"),
        (b"\xff\xfe\x00garbage", "invalid_json", "not valid JSON"),
        (b'{"object": "page", "entry": ["\xed\xa0\x80"]}', "invalid_json", "not valid JSON"),
        ('{"object": "page", "entry": []}'.encode("utf-16"), "invalid_json", "not valid JSON"),
        (b'{"object":"page","entry":[{"id":"1","time":NaN}]}', "invalid_json", "NaN"),
        (b"[" * 100_000 + b"]" * 100_000, "invalid_json", "nested too deeply"),
        (b"[]", "invalid_envelope", "expected a JSON object, got a list"),
        (b'"page"', "invalid_envelope", "expected a JSON object, got a string"),
        (b"null", "invalid_envelope", "got null"),
        (b'{"entry": []}', "invalid_envelope", 'missing "object"'),
        (b'{"object": "user", "entry": []}', "unsupported_object", '"object" is "user"'),
        (b'{"object": 7, "entry": []}', "unsupported_object", '"object" is a number'),
        (b'{"object": "page"}', "invalid_envelope", '"entry" must be a list, but is missing'),
        (b'{"object": "page", "entry": {}}', "invalid_envelope", "but is an object"),
        (b'{"object": "page", "entry": ["x"]}', "invalid_entry", "entry[0]: expected an object"),
        (
            b'{"object": "page", "entry": [{"time": 1}]}',
            "invalid_entry",
            "entry[0].id: Field required",
        ),
        (b'{"object": "page", "entry": [{"id": ""}]}', "invalid_entry", "entry[0].id"),
        (b'{"object": "page", "entry": [{"id": true}]}', "invalid_entry", "entry[0].id"),
        (
            b'{"object": "page", "entry": [{"id": "1", "messaging": {}}]}',
            "invalid_entry",
            "entry[0].messaging: expected a list, got an object",
        ),
        (
            b'{"object": "page", "entry": [{"id": "1", "standby": "x"}]}',
            "invalid_entry",
            "entry[0].standby: expected a list",
        ),
        (
            b'{"object": "page", "entry": [{"id": "1", "messaging": [42]}]}',
            "invalid_event",
            "entry[0].messaging[0]: expected an object, got a number",
        ),
        (
            b'{"object": "page", "entry": [{"id": "1", "changes": [[]]}]}',
            "invalid_event",
            "entry[0].changes[0]: expected an object, got a list",
        ),
    ],
)
def test_malformed_bodies_raise_a_clear_error(raw: bytes, code: str, fragment: str) -> None:
    with pytest.raises(WebhookParseError) as caught:
        parse_webhook(raw)
    assert caught.value.code == code
    assert fragment in str(caught.value)
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    ("event_patch", "path", "fragment"),
    [
        (
            {"timestamp": {"ms": 1}},
            "entry[0].messaging[0].timestamp",
            "valid integer (got an object)",
        ),
        (
            {"timestamp": "soon"},
            "entry[0].messaging[0].timestamp",
            "unable to parse string as an integer (got a string)",
        ),
        ({"timestamp": True}, "entry[0].messaging[0].timestamp", "not a boolean"),
        ({"timestamp": -5}, "entry[0].messaging[0].timestamp", "greater than or equal to 0"),
        ({"sender": "7012345678901234"}, "entry[0].messaging[0].sender", "(got a string)"),
        ({"message": "hi"}, "entry[0].messaging[0].message", "(got a string)"),
        ({"message": {"text": "hi"}}, "entry[0].messaging[0].message.mid", "Field required"),
        (
            {"message": {"mid": "m_1", "text": 5}},
            "entry[0].messaging[0].message.text",
            "(got a number)",
        ),
        (
            {"message": {"mid": "m_1", "attachments": [{"type": "image", "payload": {"url": 3}}]}},
            "entry[0].messaging[0].message.attachments[0]",
            "(got a number)",
        ),
        (
            {"message": {"mid": "m_1", "attachments": "image"}},
            "entry[0].messaging[0].message.attachments",
            "valid list",
        ),
    ],
)
def test_wrongly_typed_fields_raise_invalid_event_with_their_path(
    event_patch: dict[str, Any], path: str, fragment: str
) -> None:
    with pytest.raises(WebhookParseError) as caught:
        parse_webhook(page_body({**text_event(), **event_patch}))
    assert caught.value.code == "invalid_event"
    assert caught.value.path is not None and caught.value.path.startswith(path)
    assert fragment in str(caught.value)


def test_wrongly_typed_delivery_and_comment_fields_are_reported() -> None:
    bad_delivery = {**text_event(), "delivery": {"watermark": "never"}}
    del bad_delivery["message"]
    with pytest.raises(WebhookParseError, match=r"messaging\[0\]\.delivery\.watermark"):
        parse_webhook(page_body(bad_delivery))
    bad_comment = {"field": "feed", "value": {"item": "comment", "verb": "add"}}
    with pytest.raises(WebhookParseError, match=r"changes\[0\]\.value\.comment_id: Field required"):
        parse_webhook(body({"object": "page", "entry": [{"id": PAGE, "changes": [bad_comment]}]}))


# --- robustness --------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=25,
)

# Keys that steer the parser into its interesting branches.
KNOWN_KEYS = [
    "object", "entry", "id", "time", "messaging", "standby", "changes", "field", "value",
    "sender", "recipient", "timestamp", "message", "postback", "referral", "delivery", "read",
    "reaction", "optin", "pass_thread_control", "take_thread_control", "request_thread_control",
    "app_roles", "policy_enforcement", "message_edit", "mid", "text", "attachments", "type",
    "payload", "url", "sticker_id", "is_echo", "app_id", "watermark", "mids", "item", "verb",
    "comment_id", "from", "quick_reply", "reply_to", "story", "ads_context_data",
]  # fmt: skip

webhookish = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.text(max_size=8)
    | st.sampled_from(["page", "instagram", "image", "sticker", "feed", "comment", "comments"]),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(KNOWN_KEYS) | st.text(max_size=6), children, max_size=5)
    ),
    max_leaves=40,
)


def assert_batch_or_parse_error(raw: bytes) -> None:
    try:
        batch = parse_webhook(raw)
    except WebhookParseError as exc:
        assert exc.code in {
            "invalid_json",
            "invalid_envelope",
            "unsupported_object",
            "invalid_entry",
            "invalid_event",
        }
        assert str(exc)
    else:
        assert isinstance(batch, WebhookBatch)
        for event in batch:
            assert isinstance(event.kind, EventKind)
            assert isinstance(event.thread_key, str)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_raise_anything_but_parse_errors(raw: bytes) -> None:
    assert_batch_or_parse_error(raw)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_arbitrary_json_never_raises_anything_but_parse_errors(document: Any) -> None:
    assert_batch_or_parse_error(body(document))


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(["page", "instagram"]),
    st.lists(
        st.fixed_dictionaries(
            {"id": st.sampled_from([PAGE, 17841400123456789])},
            optional={
                "messaging": st.lists(webhookish, max_size=3),
                "standby": webhookish,
                "changes": st.lists(webhookish, max_size=3),
            },
        ),
        max_size=3,
    ),
)
def test_webhook_shaped_json_never_raises_anything_but_parse_errors(
    obj: str, entries: list[Any]
) -> None:
    assert_batch_or_parse_error(body({"object": obj, "entry": entries}))


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(all_fixture_names()), st.data())
def test_mutated_fixtures_never_raise_anything_but_parse_errors(
    name: str, data: st.DataObject
) -> None:
    document: Any = load_fixture(name).body
    # Replace one value somewhere in a real body with an arbitrary one.
    path: list[Any] = []
    node: Any = document
    while isinstance(node, dict | list) and node and data.draw(st.booleans()):
        key = data.draw(
            st.sampled_from(sorted(node) if isinstance(node, dict) else range(len(node)))
        )
        path.append(key)
        node = node[key]
    replacement = data.draw(webhookish)
    if not path:
        document = replacement
    else:
        parent = document
        for key in path[:-1]:
            parent = parent[key]
        parent[path[-1]] = replacement
    assert_batch_or_parse_error(body(document))
