"""``POST /me/messages``: Meta's checks in Meta's order, then the message and its webhooks."""

from __future__ import annotations

import re
from typing import Any

from pagedesk.sandbox import errors, ids, payloads
from pagedesk.sandbox.models import RETIRED_TAGS, Customer, Page, ThreadMessage
from pagedesk.sandbox.state import SandboxState
from pagedesk.sandbox.validation import SendRequest, parse_send_request

HOUR_MS = 3600 * 1000
DAY_MS = 24 * HOUR_MS
STANDARD_WINDOW_MS = DAY_MS
TAG_WINDOW_MS = 7 * DAY_MS  # HUMAN_AGENT and CUSTOMER_FEEDBACK
AD_WINDOW_MS = 7 * DAY_MS  # first message after a click-to-Messenger ad
PRIVATE_REPLY_MS = 7 * DAY_MS
FREQUENCY_MS = {"DAILY": DAY_MS, "WEEKLY": 7 * DAY_MS, "MONTHLY": 30 * DAY_MS}


def send(state: SandboxState, page: Page, params: dict[str, Any]) -> dict[str, Any]:
    """Run one Send API call for ``page``; returns Meta's success body or raises GraphError."""
    if page.restricted:
        raise errors.page_restricted()
    if not state.take_send_slot(page):
        raise errors.rate_limited()
    if page.fail_next_sends > 0:
        page.fail_next_sends -= 1
        raise errors.temporary_failure()
    request = parse_send_request(params)
    _check_tag(page, request)
    _check_references(state, page, request)

    if request.recipient_kind == "id" and request.recipient_value in state.groups:
        return _to_group(state, page, request)
    handler = _RECIPIENT_HANDLERS[request.recipient_kind]
    return handler(state, page, request)


# -- request-level checks -----------------------------------------------------------


def _check_tag(page: Page, request: SendRequest) -> None:
    if request.messaging_type != "MESSAGE_TAG" or request.tag is None:
        return
    tag = request.tag
    allowed = ", ".join(page.allowed_tags)
    if tag in RETIRED_TAGS and tag not in page.allowed_tags:
        raise errors.param(
            f"The tag {tag} is no longer supported (retired on 27 April 2026). "
            f"Param tag must be one of {{{allowed}}}"
        )
    if tag not in page.allowed_tags:
        raise errors.param(f"Param tag must be one of {{{allowed}}}")
    if tag == "HUMAN_AGENT" and not page.human_agent_approved:
        raise errors.human_agent_not_approved()
    if page.tag_misuse_flagged:
        raise errors.tag_misuse()
    if tag == "CUSTOMER_FEEDBACK":
        attachment = (request.message or {}).get("attachment") or {}
        template = attachment.get("payload") or {}
        if template.get("template_type") != "customer_feedback":
            raise errors.param(
                "The CUSTOMER_FEEDBACK tag can only be used with the customer feedback template"
            )


def _check_references(state: SandboxState, page: Page, request: SendRequest) -> None:
    if request.persona_id is not None:
        persona = state.personas.get(request.persona_id)
        if persona is None or persona.page_id != page.page_id or persona.deleted:
            raise errors.param(f"Invalid persona_id: {request.persona_id}")
    attachment = (request.message or {}).get("attachment") or {}
    attachment_id = (attachment.get("payload") or {}).get("attachment_id")
    if attachment_id not in (None, ""):
        uploaded = state.attachments.get(str(attachment_id))
        if uploaded is None or uploaded.page_id != page.page_id:
            raise errors.param(
                "Invalid attachment_id: the attachment could not be found", subcode=2018047
            )


def _reachable(state: SandboxState, customer: Customer) -> None:
    if customer.blocked:
        raise errors.person_unavailable()
    if customer.unavailable:
        raise errors.recipient_unavailable_now()
    if not state.owned_by_us(customer):
        raise errors.thread_owned_by_other_app(customer.thread_owner_app_id or "")


def window_state(customer: Customer, now_ms: int) -> dict[str, Any]:
    """What the policy allows right now (also shown by the control API)."""
    return window_from(customer.last_interaction_ms, customer.ad_window_from_ms, now_ms)


def window_from(last: int | None, ad_from: int | None, now_ms: int) -> dict[str, Any]:
    standard = last is not None and now_ms - last < STANDARD_WINDOW_MS
    ad = ad_from is not None and now_ms - ad_from < AD_WINDOW_MS
    tagged = last is not None and now_ms - last < TAG_WINDOW_MS
    return {
        "open": standard or ad,
        "closes_at_ms": max(
            (last + STANDARD_WINDOW_MS) if last is not None else 0,
            (ad_from + AD_WINDOW_MS) if ad_from is not None else 0,
        )
        or None,
        "human_agent_until_ms": (last + TAG_WINDOW_MS) if last is not None else None,
        "human_agent_allowed": tagged,
    }


def _check_window(customer: Customer, request: SendRequest, now_ms: int) -> None:
    if customer.request_state == "pending":
        raise errors.outside_window("The person has not accepted your message request yet.")
    _require_open(window_state(customer, now_ms), request)


def _require_open(state: dict[str, Any], request: SendRequest) -> None:
    if state["open"]:
        return
    if request.messaging_type == "MESSAGE_TAG" and request.sender_action is None:
        if state["human_agent_allowed"]:
            return
        raise errors.outside_window(
            f"The {request.tag} tag is only allowed within 7 days of the person's last message."
        )
    raise errors.outside_window()


# -- recipients ------------------------------------------------------------------------


def _to_psid(state: SandboxState, page: Page, request: SendRequest) -> dict[str, Any]:
    customer = state.customers.get(request.recipient_value)
    if customer is None or customer.page_id != page.page_id:
        raise errors.no_matching_user()
    _reachable(state, customer)
    _check_reply_to(state, customer, request)
    _check_window(customer, request, state.clock.now_ms())
    if request.sender_action is not None:
        return _sender_action(state, customer, request)
    message = record_page_message(state, page, customer, request)
    return {"recipient_id": customer.psid, "message_id": message.mid}


def _to_comment(state: SandboxState, page: Page, request: SendRequest) -> dict[str, Any]:
    comment = state.comments.get(request.recipient_value)
    if comment is None or comment.page_id != page.page_id:
        raise errors.private_reply_invalid("the comment does not exist on this Page")
    if comment.private_reply_mid is not None:
        raise errors.private_reply_invalid("a private reply was already sent to this comment")
    if state.clock.now_ms() - comment.created_time * 1000 > PRIVATE_REPLY_MS:
        raise errors.private_reply_invalid("the comment is more than 7 days old")
    customer = state.customers[comment.psid]
    _reachable(state, customer)
    message = record_page_message(state, page, customer, request, kind="private_reply")
    comment.private_reply_mid = message.mid
    return {"recipient_id": customer.psid, "message_id": message.mid}


def _to_post(state: SandboxState, page: Page, request: SendRequest) -> dict[str, Any]:
    post = state.posts.get(request.recipient_value)
    if post is None or post.page_id != page.page_id or post.author_psid is None:
        raise errors.private_reply_invalid("the post is not a visitor post on this Page")
    if post.private_reply_mid is not None:
        raise errors.private_reply_invalid("a private reply was already sent to this post")
    if state.clock.now_ms() - post.created_time * 1000 > PRIVATE_REPLY_MS:
        raise errors.private_reply_invalid("the post is more than 7 days old")
    customer = state.customers[post.author_psid]
    _reachable(state, customer)
    message = record_page_message(state, page, customer, request, kind="private_reply")
    post.private_reply_mid = message.mid
    return {"recipient_id": customer.psid, "message_id": message.mid}


def _to_user_ref(state: SandboxState, page: Page, request: SendRequest) -> dict[str, Any]:
    user_ref = state.user_refs.get(request.recipient_value)
    if user_ref is None or user_ref.page_id != page.page_id:
        raise errors.no_matching_user()
    customer = state.customers[user_ref.psid]
    _reachable(state, customer)
    if request.sender_action is not None:
        _sender_action(state, customer, request)
        return {}
    if user_ref.used and not window_state(customer, state.clock.now_ms())["open"]:
        raise errors.outside_window(
            "A user_ref can receive one message; later messages need the person's PSID."
        )
    message = record_page_message(state, page, customer, request)
    user_ref.used = True
    return {"message_id": message.mid}


def normalize_phone(number: str) -> str:
    digits = re.sub(r"\D", "", number)
    return f"+{digits}" if digits else ""


def _to_phone(state: SandboxState, page: Page, request: SendRequest) -> dict[str, Any]:
    if not page.customer_matching_enabled:
        raise errors.customer_matching_not_enabled()
    phone = normalize_phone(request.recipient_value)
    if not phone:
        raise errors.param("Param recipient[phone_number] must be a valid phone number")
    customer = next(
        (
            c
            for c in state.customers_of(page.page_id)
            if c.phone_number and normalize_phone(c.phone_number) == phone
        ),
        None,
    )
    if customer is None:
        # Every number belongs to someone on Messenger in the sandbox.
        name = request.recipient_name or {}
        customer = state.add_customer(
            page.page_id,
            first_name=str(name.get("first_name") or "Messenger"),
            last_name=str(name.get("last_name") or "User"),
            phone_number=phone,
        )
    _reachable(state, customer)
    if request.sender_action is not None:
        _check_window(customer, request, state.clock.now_ms())
        _sender_action(state, customer, request)
        return {}
    if customer.request_state == "none" and not customer.thread_started:
        customer.request_state = "pending"
        message = record_page_message(state, page, customer, request, kind="message_request")
    else:
        _check_window(customer, request, state.clock.now_ms())
        message = record_page_message(state, page, customer, request)
    return {"message_id": message.mid}


def _to_notification_token(state: SandboxState, page: Page, request: SendRequest) -> dict[str, Any]:
    token = state.notification_tokens.get(request.recipient_value)
    expected = "one_time" if request.recipient_kind == "one_time_notif_token" else "recurring"
    now_ms = state.clock.now_ms()
    if token is None or token.page_id != page.page_id or token.kind != expected:
        raise errors.param(f"Invalid {request.recipient_kind}")
    if token.expires_ms <= now_ms:
        raise errors.param(f"The {request.recipient_kind} has expired")
    if token.kind == "one_time" and token.used:
        raise errors.param("The one_time_notif_token has already been used")
    if token.kind == "recurring":
        if token.stopped:
            raise errors.param("The person stopped these notifications")
        period = FREQUENCY_MS.get(token.frequency or "DAILY", DAY_MS)
        if token.last_sent_ms is not None and now_ms - token.last_sent_ms < period:
            raise errors.outside_window(
                f"A {token.frequency} notification_messages_token allows one message per period."
            )
    customer = state.customers[token.psid]
    _reachable(state, customer)
    message = record_page_message(state, page, customer, request)
    token.used = True
    token.last_sent_ms = now_ms
    return {"recipient_id": customer.psid, "message_id": message.mid}


def _to_group(state: SandboxState, page: Page, request: SendRequest) -> dict[str, Any]:
    """``recipient: {"id": "t_..."}``: the page writes in a group thread. The window
    counts from the last message any member wrote there."""
    group = state.groups[request.recipient_value]
    if group.page_id != page.page_id:
        raise errors.no_matching_user()
    if request.reply_to_mid is not None:
        quoted = state.messages.get(request.reply_to_mid)
        if quoted is None or quoted.psid != group.thread_id:
            raise errors.param("Param reply_to[mid] must be a message in this conversation")
    _require_open(window_from(group.last_interaction_ms, None, state.clock.now_ms()), request)
    if request.sender_action is not None:
        if request.sender_action != "mark_seen":
            group.typing = request.sender_action == "typing_on"
        return {"recipient_id": group.thread_id}
    message = _new_page_message(state, page, group.thread_id, request, kind="message")
    group.typing = False
    echo = payloads.group_echo_event(group, message, state.app.app_id)
    state.emit(page.page_id, echo)
    return {"recipient_id": group.thread_id, "message_id": message.mid}


_RECIPIENT_HANDLERS = {
    "id": _to_psid,
    "comment_id": _to_comment,
    "post_id": _to_post,
    "user_ref": _to_user_ref,
    "phone_number": _to_phone,
    "one_time_notif_token": _to_notification_token,
    "notification_messages_token": _to_notification_token,
}


def _check_reply_to(state: SandboxState, customer: Customer, request: SendRequest) -> None:
    if request.reply_to_mid is None:
        return
    quoted = state.messages.get(request.reply_to_mid)
    if quoted is None or quoted.psid != customer.psid:
        raise errors.param("Param reply_to[mid] must be a message in this conversation")


def _sender_action(state: SandboxState, customer: Customer, request: SendRequest) -> dict[str, Any]:
    if request.sender_action == "typing_on":
        customer.typing = True
    elif request.sender_action == "typing_off":
        customer.typing = False
    return {"recipient_id": customer.psid}


# -- recording and webhooks --------------------------------------------------------------


def webhook_attachments(state: SandboxState, message: dict[str, Any]) -> list[dict[str, Any]]:
    """The attachments as the echo shows them."""
    if message.get("sticker_id") is not None:
        return payloads.sticker_attachments(int(message["sticker_id"]), state.clock.now())
    attachment = message.get("attachment")
    if not attachment:
        return []
    payload = dict(attachment["payload"])
    if attachment["type"] == "template":
        return [{"type": "template", "payload": payload}]
    url = payload.get("url")
    if url is None:
        uploaded = state.attachments[str(payload["attachment_id"])]
        url = uploaded.url
    return [{"type": attachment["type"], "payload": {"url": url}}]


def record_page_message(
    state: SandboxState,
    page: Page,
    customer: Customer,
    request: SendRequest,
    *,
    kind: str = "message",
) -> ThreadMessage:
    record = _new_page_message(state, page, customer.psid, request, kind=kind)
    customer.thread_started = True
    customer.typing = False
    publish_page_message(state, page, customer, record)
    return record


def _new_page_message(
    state: SandboxState, page: Page, conversation: str, request: SendRequest, *, kind: str
) -> ThreadMessage:
    """Record what the page sent in a conversation (a PSID or a group thread id)."""
    message = request.message or {}
    sticker_id = message.get("sticker_id")
    record = ThreadMessage(
        mid=ids.mid(),
        page_id=page.page_id,
        psid=conversation,
        sender="page",
        timestamp=state.clock.tick_ms(),
        kind=kind,
        text=message.get("text"),
        attachments=webhook_attachments(state, message),
        quick_replies=list(message.get("quick_replies") or []),
        reply_to_mid=request.reply_to_mid,
        sticker_id=int(sticker_id) if sticker_id is not None else None,
        persona_id=request.persona_id,
        metadata=message.get("metadata"),
        messaging_type=request.messaging_type,
        tag=request.tag if request.messaging_type == "MESSAGE_TAG" else None,
        app_id=state.app.app_id,
    )
    state.messages[record.mid] = record
    return record


def publish_page_message(
    state: SandboxState, page: Page, customer: Customer, message: ThreadMessage
) -> list[dict[str, Any]]:
    """Echo, then delivery receipt (and a read receipt when the page auto-reads)."""
    standby = not state.owned_by_us(customer)
    now = max(state.clock.now_ms(), message.timestamp)
    events = [
        payloads.echo_event(customer, message, message.app_id or state.app.app_id),
        payloads.delivery_event(customer, [message.mid], message.timestamp, now),
    ]
    message.delivered = True
    if page.auto_read:
        mark_read(state, customer, now)
        events.append(payloads.read_event(customer, now, now))
    for event in events:
        state.emit(page.page_id, event, standby=standby)
    return events


def mark_read(state: SandboxState, customer: Customer, watermark: int) -> None:
    for message in state.thread(customer.psid):
        if message.sender == "page" and message.timestamp <= watermark:
            message.delivered = True
            message.read = True
