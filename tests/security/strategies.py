"""Hypothesis strategies for webhook bodies: arbitrary JSON, and Meta-shaped envelopes
whose fields hold anything (the interesting inputs sit close to the real shape)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
JSON = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=12,
)

_FIELDS = [
    "mid", "text", "attachments", "quick_reply", "reply_to", "is_echo", "is_deleted",
    "app_id", "metadata", "sticker_id", "payload", "title", "referral", "ref", "source",
    "type", "watermark", "reaction", "emoji", "action", "mids", "url", "id", "commands",
    "referer_uri", "ad_id", "new_owner_app_id", "previous_owner_app_id", "message",
    "num_edit", "reason", "one_time_notif_token", "notification_messages_token",
]  # fmt: skip
_KINDS = [
    "message", "postback", "referral", "delivery", "read", "reaction", "optin",
    "pass_thread_control", "take_thread_control", "request_thread_control", "app_roles",
    "policy_enforcement", "policy-enforcement", "message_edit", "game_play", "account_linking",
]  # fmt: skip
_ATTACHMENT_TYPES = [
    "image", "audio", "video", "file", "template", "fallback", "location", "sticker",
    "reel", "ig_reel", "story_mention", "share", "product", "unknown",
]  # fmt: skip


def _ids(page_id: str) -> st.SearchStrategy[Any]:
    return st.sampled_from([page_id, "6785432109876543", "", "t_123"]) | SCALARS


ATTACHMENT = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(_ATTACHMENT_TYPES) | SCALARS,
        "payload": st.dictionaries(st.sampled_from(_FIELDS), JSON, max_size=4) | JSON,
        "title": SCALARS,
    },
)
PAYLOAD = st.dictionaries(
    st.sampled_from(_FIELDS) | st.text(max_size=5),
    JSON | st.lists(ATTACHMENT, max_size=2) | st.dictionaries(st.sampled_from(_FIELDS), JSON),
    max_size=5,
)


def events(page_id: str) -> st.SearchStrategy[Any]:
    party = st.fixed_dictionaries({"id": _ids(page_id)}) | JSON
    return st.fixed_dictionaries(
        {},
        optional={
            "sender": party,
            "recipient": party,
            "timestamp": st.integers(min_value=-1, max_value=2**64) | SCALARS,
            "thread": party,
        },
    ).flatmap(
        lambda header: st.dictionaries(st.sampled_from(_KINDS), PAYLOAD | JSON, max_size=2).map(
            lambda kinds: {**header, **kinds}
        )
    )


def changes() -> st.SearchStrategy[Any]:
    return st.fixed_dictionaries(
        {
            "field": st.sampled_from(["feed", "comments", "live_comments", "mention"]) | SCALARS,
            "value": st.dictionaries(
                st.sampled_from(
                    [
                        "item",
                        "verb",
                        "comment_id",
                        "post_id",
                        "from",
                        "message",
                        "created_time",
                        "id",
                        "text",
                        "media",
                        "parent_id",
                    ]
                ),
                st.sampled_from(["comment", "add", "edited", "remove"]) | JSON,
                max_size=6,
            )
            | JSON,
        }
    )


def envelopes(page_id: str) -> st.SearchStrategy[Any]:
    entry = st.fixed_dictionaries(
        {"id": _ids(page_id)},
        optional={
            "time": st.integers(min_value=-1, max_value=2**64) | SCALARS,
            "messaging": st.lists(events(page_id), max_size=3) | JSON,
            "standby": st.lists(events(page_id), max_size=2),
            "changes": st.lists(changes(), max_size=2) | JSON,
        },
    )
    return st.fixed_dictionaries(
        {
            "object": st.sampled_from(["page", "instagram"]) | SCALARS,
            "entry": st.lists(entry, max_size=3) | JSON,
        }
    )


def bodies(page_id: str) -> st.SearchStrategy[bytes]:
    """Raw bytes, JSON of any shape, and Meta-shaped envelopes (compact or escaped)."""
    as_json = (JSON | envelopes(page_id)).flatmap(
        lambda doc: st.sampled_from([True, False]).map(
            lambda ascii_only: json.dumps(doc, ensure_ascii=ascii_only).encode()
        )
    )
    nested = st.integers(min_value=1, max_value=50_000).map(lambda n: b"[" * n + b"]" * n)
    return (
        st.binary(max_size=200)
        | as_json
        | envelopes(page_id).map(lambda doc: json.dumps(doc).encode())
        | nested
    )
