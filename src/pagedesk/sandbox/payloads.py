"""Webhook payloads in Meta's shapes, and the exact bytes that get signed."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from pagedesk.sandbox.models import (
    Comment,
    Customer,
    GroupThread,
    Post,
    QueuedEvent,
    ThreadMessage,
)

# Until this date a sticker also arrives as an ``image`` attachment (Meta's transition).
STICKER_TRANSITION_END = datetime(2026, 8, 30, tzinfo=UTC).timestamp()


def encode_body(payload: dict[str, Any]) -> bytes:
    """Compact, ASCII-escaped JSON: the exact bytes Meta signs and sends."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def envelope(events: list[QueuedEvent], time_ms: int) -> dict[str, Any]:
    """Group events into entries, one per page and container, in first-seen order."""
    entries: list[dict[str, Any]] = []
    index: dict[tuple[str, str], dict[str, Any]] = {}
    for queued in events:
        key = (queued.page_id, queued.container)
        entry = index.get(key)
        if entry is None:
            entry = {"id": queued.page_id, "time": time_ms, queued.container: []}
            index[key] = entry
            entries.append(entry)
        entry[queued.container].append(queued.event)
    return {"object": "page", "entry": entries}


def _base(customer: Customer, timestamp: int) -> dict[str, Any]:
    return {
        "sender": {"id": customer.psid},
        "recipient": {"id": customer.page_id},
        "timestamp": timestamp,
    }


def sticker_url(sticker_id: int) -> str:
    return f"https://scontent.xx.fbcdn.net/v/t39.1997-6/{sticker_id}_n.png"


def sticker_attachments(sticker_id: int, now: float) -> list[dict[str, Any]]:
    url = sticker_url(sticker_id)
    sticker = {"type": "sticker", "payload": {"url": url, "sticker_id": sticker_id}}
    if now < STICKER_TRANSITION_END:
        return [sticker, {"type": "image", "payload": {"url": url, "sticker_id": sticker_id}}]
    return [sticker]


# -- customer → page ------------------------------------------------------------


def message_event(
    customer: Customer, message: ThreadMessage, *, is_self_reply: bool = False
) -> dict[str, Any]:
    return {
        **_base(customer, message.timestamp),
        "message": _message_body(message, is_self_reply=is_self_reply),
    }


def group_message_event(group: GroupThread, message: ThreadMessage) -> dict[str, Any]:
    """A member's message in a group thread: a normal message event from the member,
    plus ``thread.id`` (pagedesk's modelling; Meta does not document this payload)."""
    return {
        "sender": {"id": message.author_psid},
        "recipient": {"id": group.page_id},
        "timestamp": message.timestamp,
        "thread": {"id": group.thread_id},
        "message": _message_body(message),
    }


def _message_body(message: ThreadMessage, *, is_self_reply: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {"mid": message.mid}
    if message.text is not None:
        body["text"] = message.text
    if message.quick_reply_payload is not None:
        body["quick_reply"] = {"payload": message.quick_reply_payload}
    if message.reply_to_mid:
        body["reply_to"] = {"mid": message.reply_to_mid, "is_self_reply": is_self_reply}
    if message.attachments:
        body["attachments"] = message.attachments
    if message.referral:
        body["referral"] = message.referral
    return body


def postback_event(customer: Customer, message: ThreadMessage) -> dict[str, Any]:
    body: dict[str, Any] = {
        "mid": message.mid,
        "title": message.text or "",
        "payload": message.postback_payload or "",
    }
    if message.referral:
        body["referral"] = message.referral
    return {**_base(customer, message.timestamp), "postback": body}


def referral_event(customer: Customer, referral: dict[str, Any], ts: int) -> dict[str, Any]:
    return {**_base(customer, ts), "referral": referral}


def shortlink_referral(ref: str) -> dict[str, Any]:
    return {"ref": ref, "source": "SHORTLINK", "type": "OPEN_THREAD"}


def ads_referral(
    ad_id: str,
    *,
    ref: str | None = None,
    ad_title: str | None = None,
    photo_url: str | None = None,
    video_url: str | None = None,
    post_id: str | None = None,
    product_id: str | None = None,
) -> dict[str, Any]:
    referral: dict[str, Any] = {}
    if ref:
        referral["ref"] = ref
    referral.update({"ad_id": ad_id, "source": "ADS", "type": "OPEN_THREAD"})
    context = {
        key: value
        for key, value in (
            ("ad_title", ad_title),
            ("photo_url", photo_url),
            ("video_url", video_url),
            ("post_id", post_id),
            ("product_id", product_id),
        )
        if value
    }
    if context:
        referral["ads_context_data"] = context
    return referral


def read_event(customer: Customer, watermark: int, ts: int) -> dict[str, Any]:
    return {**_base(customer, ts), "read": {"watermark": watermark}}


def reaction_event(
    customer: Customer, mid: str, action: str, reaction: str | None, emoji: str | None, ts: int
) -> dict[str, Any]:
    body: dict[str, Any] = {"mid": mid, "action": action}
    if action == "react":
        body["reaction"] = reaction or "other"
        if emoji:
            body["emoji"] = emoji
    return {**_base(customer, ts), "reaction": body}


def edit_event(customer: Customer, mid: str, text: str, num_edit: int, ts: int) -> dict[str, Any]:
    return {**_base(customer, ts), "message_edit": {"mid": mid, "text": text, "num_edit": num_edit}}


def optin_event(customer: Customer, optin: dict[str, Any], ts: int) -> dict[str, Any]:
    return {**_base(customer, ts), "optin": optin}


def checkbox_optin_event(page_id: str, ref: str, user_ref: str, ts: int) -> dict[str, Any]:
    """The checkbox plugin's opt-in: the person has no PSID for the page yet."""
    return {
        "recipient": {"id": page_id},
        "timestamp": ts,
        "optin": {"ref": ref, "user_ref": user_ref},
    }


# -- page → customer ------------------------------------------------------------


def echo_event(customer: Customer, message: ThreadMessage, app_id: str) -> dict[str, Any]:
    return {
        "sender": {"id": customer.page_id},
        "recipient": {"id": customer.psid},
        "timestamp": message.timestamp,
        "message": _echo_body(message, app_id),
    }


def group_echo_event(group: GroupThread, message: ThreadMessage, app_id: str) -> dict[str, Any]:
    return {
        "sender": {"id": group.page_id},
        "recipient": {"id": group.thread_id},
        "timestamp": message.timestamp,
        "thread": {"id": group.thread_id},
        "message": _echo_body(message, app_id),
    }


def _echo_body(message: ThreadMessage, app_id: str) -> dict[str, Any]:
    body: dict[str, Any] = {"mid": message.mid, "is_echo": True, "app_id": int(app_id)}
    if message.metadata is not None:
        body["metadata"] = message.metadata
    if message.text is not None:
        body["text"] = message.text
    if message.attachments:
        body["attachments"] = message.attachments
    if message.reply_to_mid:
        body["reply_to"] = {"mid": message.reply_to_mid}
    return body


def delivery_event(customer: Customer, mids: list[str], watermark: int, ts: int) -> dict[str, Any]:
    return {**_base(customer, ts), "delivery": {"mids": mids, "watermark": watermark}}


# -- pages, apps, feed -------------------------------------------------------------


def handover_event(customer: Customer, kind: str, body: dict[str, Any], ts: int) -> dict[str, Any]:
    return {**_base(customer, ts), kind: body}


def app_roles_event(page_id: str, roles: dict[str, list[str]], ts: int) -> dict[str, Any]:
    return {"recipient": {"id": page_id}, "timestamp": ts, "app_roles": roles}


def policy_enforcement_event(
    page_id: str, action: str, reason: str | None, ts: int
) -> dict[str, Any]:
    body: dict[str, Any] = {"action": action}
    if reason and action != "unblock":
        body["reason"] = reason
    return {"recipient": {"id": page_id}, "timestamp": ts, "policy_enforcement": body}


def post_summary(post: Post) -> dict[str, Any]:
    updated = datetime.fromtimestamp(post.created_time, UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")
    return {
        "status_type": post.status_type,
        "is_published": True,
        "updated_time": updated,
        "permalink_url": post.permalink_url,
        "promotion_status": "inactive",
        "id": post.post_id,
    }


def comment_change(
    comment: Comment, post: Post, customer: Customer, verb: str = "add"
) -> dict[str, Any]:
    value: dict[str, Any] = {
        "from": {"id": customer.user_id, "name": customer.name},
        "post": post_summary(post),
        "message": comment.message,
        "post_id": comment.post_id,
        "comment_id": comment.comment_id,
        "created_time": comment.created_time,
        "item": "comment",
        "parent_id": comment.parent_id or comment.post_id,
        "verb": verb,
    }
    return {"field": "feed", "value": value}


def visitor_post_change(post: Post, customer: Customer) -> dict[str, Any]:
    value = {
        "from": {"id": customer.user_id, "name": customer.name},
        "post": post_summary(post),
        "message": post.message,
        "post_id": post.post_id,
        "created_time": post.created_time,
        "item": "post",
        "verb": "add",
    }
    return {"field": "feed", "value": value}
