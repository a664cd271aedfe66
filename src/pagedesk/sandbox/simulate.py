"""The simulated customers' side: each action records what happened and queues the
webhook events Meta would send, returning them so a caller can refer to them."""

from __future__ import annotations

from typing import Any

from pagedesk.sandbox import ids, payloads
from pagedesk.sandbox.errors import PAGE_INBOX_APP_ID, ControlError
from pagedesk.sandbox.media import MEDIA_KINDS, MediaLinks, find
from pagedesk.sandbox.models import (
    Comment,
    Customer,
    GroupThread,
    NotificationToken,
    Post,
    ThreadMessage,
    UserRef,
)
from pagedesk.sandbox.send_api import DAY_MS, mark_read, normalize_phone, publish_page_message
from pagedesk.sandbox.state import SandboxState

REACTIONS = ("smile", "angry", "sad", "wow", "love", "like", "dislike", "other")
REACTION_EMOJI = {
    "smile": "\U0001f606",
    "angry": "\U0001f620",
    "sad": "\U0001f622",
    "wow": "\U0001f62e",
    "love": "\u2764\ufe0f",
    "like": "\U0001f44d",
    "dislike": "\U0001f44e",
}
TOKEN_LIFETIME_MS = {"DAILY": 182 * DAY_MS, "WEEKLY": 273 * DAY_MS, "MONTHLY": 365 * DAY_MS}
ONE_TIME_LIFETIME_MS = 365 * DAY_MS
MAX_BURST = 1000

Result = dict[str, Any]


class CustomerActions:
    """Everything a person can do in the simulated Messenger app, for one customer."""

    def __init__(
        self, state: SandboxState, customer: Customer, media: MediaLinks | None = None
    ) -> None:
        self.state = state
        self.customer = customer
        self.page = state.pages[customer.page_id]
        self.media = media
        self.events: list[dict[str, Any]] = []

    # -- helpers ----------------------------------------------------------------------

    def _now(self) -> int:
        return self.state.clock.now_ms()

    def _emit(self, event: dict[str, Any]) -> None:
        """Queue a thread event; it goes to ``standby`` when another app owns the thread."""
        self.events.append(event)
        self.state.emit(self.page.page_id, event, standby=not self.state.owned_by_us(self.customer))

    def _result(self, **extra: Any) -> Result:
        return {"events": self.events, **extra}

    def _require_unblocked(self) -> None:
        if self.customer.blocked:
            raise ControlError(409, "The customer has blocked the page; unblock first.")

    def _opens_window(self, at: int) -> None:
        self.customer.last_interaction_ms = at
        self.customer.thread_started = True

    def _message(self, mid: str) -> ThreadMessage:
        if not mid:
            raise ControlError(400, "mid is required")
        message = self.state.messages.get(mid)
        if message is None or message.psid != self.customer.psid:
            raise ControlError(404, f"No message {mid} in this thread")
        return message

    def _take_pending_referral(self, at: int) -> dict[str, Any] | None:
        referral = self.customer.pending_referral
        if referral is not None:
            self.customer.pending_referral = None
            self.customer.ad_window_from_ms = at
        return referral

    def _accept_if_pending(self) -> None:
        # Answering a message request accepts it.
        if self.customer.request_state == "pending":
            self.accept_request()

    # -- messages ---------------------------------------------------------------------

    def send_message(
        self,
        *,
        text: str | None = None,
        attachments: list[dict[str, Any]] | None = None,
        sticker_id: int | None = None,
        quick_reply_payload: str | None = None,
        reply_to_mid: str | None = None,
        referral: dict[str, Any] | None = None,
    ) -> Result:
        self._require_unblocked()
        if not text and not attachments and sticker_id is None:
            raise ControlError(400, "Send text, attachments or a sticker_id")
        quoted = self._message(reply_to_mid) if reply_to_mid is not None else None
        webhook_attachments = [_attachment(item, self.media) for item in attachments or []]
        self._accept_if_pending()
        now = self.state.clock.tick_ms()
        if sticker_id is not None:
            webhook_attachments = payloads.sticker_attachments(
                int(sticker_id), self.state.clock.now()
            )
        message = ThreadMessage(
            mid=ids.mid(),
            page_id=self.page.page_id,
            psid=self.customer.psid,
            sender="customer",
            timestamp=now,
            text=text or None,
            attachments=webhook_attachments,
            quick_reply_payload=quick_reply_payload,
            reply_to_mid=reply_to_mid,
            sticker_id=int(sticker_id) if sticker_id is not None else None,
            referral=referral or self._take_pending_referral(now),
        )
        self.state.messages[message.mid] = message
        self._opens_window(now)
        self.customer.typing = False
        is_self_reply = quoted is not None and quoted.sender == "customer"
        self._emit(payloads.message_event(self.customer, message, is_self_reply=is_self_reply))
        return self._result(mid=message.mid)

    def send_burst(self, count: int, *, text: str | None = None, **options: Any) -> Result:
        """``count`` messages at once, texts ``"<text> #1"`` to ``"<text> #count"``, with
        strictly increasing timestamps (for load and ordering tests)."""
        if not 1 <= count <= MAX_BURST:
            raise ControlError(400, f"count must be between 1 and {MAX_BURST}")
        mids = [
            self.send_message(text=f"{text or 'Message'} #{n}", **options)["mid"]
            for n in range(1, count + 1)
        ]
        return self._result(mid=mids[-1], mids=mids)

    def postback(
        self, *, title: str, payload: str, referral: dict[str, Any] | None = None
    ) -> Result:
        self._require_unblocked()
        self._accept_if_pending()
        now = self.state.clock.tick_ms()
        message = ThreadMessage(
            mid=ids.mid(),
            page_id=self.page.page_id,
            psid=self.customer.psid,
            sender="customer",
            timestamp=now,
            kind="postback",
            text=title,
            postback_payload=payload,
            referral=referral or self._take_pending_referral(now),
        )
        self.state.messages[message.mid] = message
        self._opens_window(now)
        self._emit(payloads.postback_event(self.customer, message))
        return self._result(mid=message.mid)

    def edit(self, *, mid: str, text: str) -> Result:
        message = self._message(mid)
        if message.sender != "customer" or message.kind != "message":
            raise ControlError(400, "A customer can only edit their own messages")
        message.text = text
        message.edit_count += 1
        self._emit(payloads.edit_event(self.customer, mid, text, message.edit_count, self._now()))
        return self._result(mid=mid)

    def react(
        self,
        *,
        mid: str,
        action: str = "react",
        reaction: str | None = None,
        emoji: str | None = None,
    ) -> Result:
        message = self._message(mid)
        if action not in ("react", "unreact"):
            raise ControlError(400, "action must be react or unreact")
        if action == "react":
            reaction = reaction or "love"
            if reaction not in REACTIONS:
                raise ControlError(400, f"reaction must be one of {', '.join(REACTIONS)}")
            emoji = emoji or REACTION_EMOJI.get(reaction)
            message.reaction = {"reaction": reaction, "emoji": emoji}
        else:
            message.reaction = None
        # Reactions do not open the messaging window.
        self._emit(
            payloads.reaction_event(self.customer, mid, action, reaction, emoji, self._now())
        )
        return self._result(mid=mid)

    def read(self) -> Result:
        now = self._now()
        mark_read(self.state, self.customer, now)
        self._emit(payloads.read_event(self.customer, now, now))
        return self._result(watermark=now)

    # -- entry points -----------------------------------------------------------------

    def open_link(self, *, ref: str, is_new_thread: bool | None = None) -> Result:
        """Open ``m.me/<page>?ref=<ref>``."""
        self._require_unblocked()
        new_thread = (not self.customer.thread_started) if is_new_thread is None else is_new_thread
        referral = payloads.shortlink_referral(ref)
        get_started = self.page.messenger_profile.get("get_started")
        if new_thread and get_started:
            return self.postback(
                title="Get Started", payload=get_started.get("payload", ""), referral=referral
            )
        now = self._now()
        self._opens_window(now)
        self._emit(payloads.referral_event(self.customer, referral, now))
        return self._result()

    def ad_click(
        self,
        *,
        ad_id: str,
        ref: str | None = None,
        ad_title: str | None = None,
        photo_url: str | None = None,
        video_url: str | None = None,
        post_id: str | None = None,
        product_id: str | None = None,
        text: str | None = None,
        postback_payload: str | None = None,
        is_new_thread: bool | None = None,
    ) -> Result:
        """Click a click-to-Messenger ad. In a new thread the referral rides on the
        first message or postback (``text`` / ``postback_payload`` send it at once).
        Ad details not given get realistic defaults, so ``ads_context_data`` is full."""
        self._require_unblocked()
        referral = payloads.ads_referral(
            ad_id,
            ref=ref if ref is not None else f"ad-{ad_id}",
            ad_title=ad_title or "Sandbox ad",
            photo_url=photo_url or ids.cdn_url("jpg"),
            video_url=video_url or ids.cdn_url("mp4"),
            post_id=post_id or f"{self.page.page_id}_{ids.post_number()}",
            product_id=product_id or ids.post_number(),
        )
        new_thread = (not self.customer.thread_started) if is_new_thread is None else is_new_thread
        if not new_thread:
            now = self._now()
            self._opens_window(now)
            self._emit(payloads.referral_event(self.customer, referral, now))
            return self._result(referral=referral)
        self.customer.pending_referral = referral
        if text:
            return {**self.send_message(text=text), "referral": referral}
        if postback_payload:
            return {
                **self.postback(title=text or "Get Started", payload=postback_payload),
                "referral": referral,
            }
        return self._result(referral=referral, pending=True)

    def comment(
        self,
        *,
        message: str,
        post_id: str | None = None,
        parent_id: str | None = None,
        visitor_post: bool = False,
    ) -> Result:
        """Comment on a page post (or write a visitor post): a ``feed`` change."""
        now_s = int(self.state.clock.now())
        if visitor_post:
            post = create_post(self.state, self.page.page_id, message)
            post.author_psid = self.customer.psid
            self._emit_change(payloads.visitor_post_change(post, self.customer))
            return self._result(post_id=post.post_id)
        post = self._post(post_id)
        comment = Comment(
            comment_id=f"{post.post_id.split('_')[-1]}_{ids.post_number()}",
            post_id=post.post_id,
            page_id=self.page.page_id,
            psid=self.customer.psid,
            message=message,
            created_time=now_s,
            parent_id=parent_id,
        )
        self.state.comments[comment.comment_id] = comment
        self._emit_change(payloads.comment_change(comment, post, self.customer))
        return self._result(comment_id=comment.comment_id, post_id=post.post_id)

    def _emit_change(self, change: dict[str, Any]) -> None:
        self.events.append(change)
        self.state.emit_change(self.page.page_id, change)

    def _post(self, post_id: str | None) -> Post:
        if post_id is None:
            return default_post(self.state, self.page.page_id)
        post = self.state.posts.get(post_id)
        if post is None or post.page_id != self.page.page_id:
            raise ControlError(404, f"No post {post_id} on page {self.page.page_id}")
        return post

    # -- opt-ins, requests, blocking --------------------------------------------------

    def optin(self, **options: Any) -> Result:
        kind = options.get("type", "one_time")
        now = self._now()
        if kind == "one_time":
            token = self._token("one_time", now, ONE_TIME_LIFETIME_MS, options)
            optin = {
                "type": "one_time_notif_req",
                "payload": token.payload,
                "one_time_notif_token": token.token,
            }
            self._emit(payloads.optin_event(self.customer, optin, now))
            return self._result(token=token.token)
        if kind == "recurring":
            return self._recurring_optin(now, options)
        if kind == "plugin":
            user_ref = UserRef(
                user_ref=options.get("user_ref") or ids.user_ref(),
                page_id=self.page.page_id,
                psid=self.customer.psid,
                ref=options.get("ref", ""),
            )
            self.state.user_refs[user_ref.user_ref] = user_ref
            event = payloads.checkbox_optin_event(
                self.page.page_id, user_ref.ref, user_ref.user_ref, now
            )
            self.events.append(event)
            self.state.emit(self.page.page_id, event)
            return self._result(user_ref=user_ref.user_ref)
        raise ControlError(400, "type must be one_time, recurring or plugin")

    def _token(
        self, kind: str, now: int, lifetime: int, options: dict[str, Any]
    ) -> NotificationToken:
        token = NotificationToken(
            token=ids.notification_token(),
            kind="one_time" if kind == "one_time" else "recurring",
            page_id=self.page.page_id,
            psid=self.customer.psid,
            created_ms=now,
            expires_ms=now + lifetime,
            payload=str(options.get("payload", "")),
            title=str(options.get("title", "")),
            frequency=options.get("frequency"),
        )
        self.state.notification_tokens[token.token] = token
        return token

    def _recurring_optin(self, now: int, options: dict[str, Any]) -> Result:
        action = options.get("action", "optin")
        if action in ("stop", "resume"):
            token = self.state.notification_tokens.get(options.get("token", ""))
            if token is None or token.psid != self.customer.psid:
                raise ControlError(404, "Unknown notification_messages_token for this customer")
            token.stopped = action == "stop"
            status = {
                "type": "notification_messages",
                "payload": token.payload,
                "notification_messages_token": token.token,
                "notification_messages_status": (
                    "STOP_NOTIFICATIONS" if token.stopped else "RESUME_NOTIFICATIONS"
                ),
            }
            self._emit(payloads.optin_event(self.customer, status, now))
            return self._result(token=token.token)
        frequency = options.get("frequency", "DAILY")
        if frequency not in TOKEN_LIFETIME_MS:
            raise ControlError(400, "frequency must be DAILY, WEEKLY or MONTHLY")
        token = self._token(
            "recurring", now, TOKEN_LIFETIME_MS[frequency], {**options, "frequency": frequency}
        )
        optin: dict[str, Any] = {
            "type": "notification_messages",
            "payload": token.payload,
            "notification_messages_token": token.token,
            "notification_messages_frequency": frequency,
            "notification_messages_timezone": options.get("timezone", "UTC"),
            "token_expiry_timestamp": token.expires_ms,
            "user_token_status": "NOT_REFRESHED",
            "notification_messages_status": "RESUME_NOTIFICATIONS",
            "title": token.title,
        }
        self._emit(payloads.optin_event(self.customer, optin, now))
        return self._result(token=token.token)

    def accept_request(self) -> Result:
        """Accept a customer-matching message request: an ``optin`` event, window open."""
        if self.customer.request_state != "pending":
            raise ControlError(409, "There is no pending message request from this page")
        now = self._now()
        self.customer.request_state = "accepted"
        self._opens_window(now)
        event = payloads.optin_event(self.customer, {}, now)
        event["prior_message"] = {
            "source": "customer_matching",
            "identifier": normalize_phone(self.customer.phone_number or ""),
        }
        self._emit(event)
        return self._result()

    def set_blocked(self, blocked: bool) -> Result:
        # Meta sends no webhook for blocking; sends start failing with 551.
        self.customer.blocked = blocked
        return self._result(blocked=blocked)

    # -- other apps on the page ---------------------------------------------------------

    def thread_control(
        self, *, action: str, app_id: str = PAGE_INBOX_APP_ID, metadata: str = ""
    ) -> Result:
        """Another app (Meta's Page Inbox by default) takes, passes or requests the thread."""
        ours = self.state.app.app_id
        now = self._now()
        if app_id == ours:
            raise ControlError(400, "app_id must be another app than the sandbox app")
        body: dict[str, Any]
        if action == "take":
            previous = self.customer.thread_owner_app_id or ours
            self.customer.thread_owner_app_id = app_id
            body = {
                "previous_owner_app_id": previous,
                "new_owner_app_id": app_id,
                "metadata": metadata,
            }
            kind = "take_thread_control"
        elif action == "pass":
            previous = self.customer.thread_owner_app_id or app_id
            self.customer.thread_owner_app_id = None
            body = {
                "previous_owner_app_id": previous,
                "new_owner_app_id": ours,
                "metadata": metadata,
            }
            kind = "pass_thread_control"
        elif action == "request":
            # Meta sends this id as a number (the pass/take ids are strings).
            body = {"requested_owner_app_id": int(app_id), "metadata": metadata}
            kind = "request_thread_control"
        else:
            raise ControlError(400, "action must be take, pass or request")
        event = payloads.handover_event(self.customer, kind, body, now)
        self.events.append(event)
        self.state.emit(self.page.page_id, event)
        return self._result(thread_owner_app_id=self.customer.thread_owner_app_id or ours)

    def page_reply(self, *, text: str, app_id: str = PAGE_INBOX_APP_ID) -> Result:
        """A person answers from another app (e.g. Meta's inbox): the app sees an echo."""
        message = ThreadMessage(
            mid=ids.mid(),
            page_id=self.page.page_id,
            psid=self.customer.psid,
            sender="page",
            timestamp=self.state.clock.tick_ms(),
            text=text,
            app_id=app_id,
        )
        self.state.messages[message.mid] = message
        self.customer.thread_started = True
        self.events.extend(publish_page_message(self.state, self.page, self.customer, message))
        return self._result(mid=message.mid)


def default_post(state: SandboxState, page_id: str) -> Post:
    page = state.pages[page_id]
    if page.default_post_id and page.default_post_id in state.posts:
        return state.posts[page.default_post_id]
    post = create_post(state, page_id, f"Welcome to {page.name}!")
    page.default_post_id = post.post_id
    return post


def create_post(state: SandboxState, page_id: str, message: str) -> Post:
    post = Post(
        post_id=f"{page_id}_{ids.post_number()}",
        page_id=page_id,
        message=message,
        created_time=int(state.clock.now()),
        permalink_url=ids.permalink(page_id),
    )
    state.posts[post.post_id] = post
    return post


def group_message(
    state: SandboxState,
    group: GroupThread,
    psid: str,
    *,
    text: str | None = None,
    attachments: list[dict[str, Any]] | None = None,
    media: MediaLinks | None = None,
) -> Result:
    """A member writes in a group thread: a ``message`` event with ``thread.id``."""
    if psid not in group.members:
        raise ControlError(400, f"{psid} is not a member of group {group.thread_id}")
    if not text and not attachments:
        raise ControlError(400, "Send text or attachments")
    webhook_attachments = [_attachment(item, media) for item in attachments or []]
    now = state.clock.tick_ms()
    message = ThreadMessage(
        mid=ids.mid(),
        page_id=group.page_id,
        psid=group.thread_id,
        sender="customer",
        timestamp=now,
        text=text or None,
        attachments=webhook_attachments,
        author_psid=psid,
    )
    state.messages[message.mid] = message
    group.last_interaction_ms = now
    group.typing = False
    event = payloads.group_message_event(group, message)
    state.emit(group.page_id, event)
    return {"events": [event], "mid": message.mid}


def _attachment(item: Any, media: MediaLinks | None) -> dict[str, Any]:
    """A webhook attachment from ``{type, url}``, ``{type, payload}``, ``{type, name}``
    (a fresh URL to that sandbox media) or ``{type}`` (a fresh URL to a built-in sample
    of that type)."""
    if not isinstance(item, dict):
        raise ControlError(400, "Each attachment must be an object")
    kind = item.get("type")
    if "payload" in item:
        if not kind:
            raise ControlError(400, "Each attachment needs a type")
        return {"type": kind, "payload": item["payload"]}
    if item.get("url"):
        if not kind:
            raise ControlError(400, "Each attachment needs a type")
        return {"type": kind, "payload": {"url": item["url"]}}
    if media is not None and item.get("name"):
        stored = find(media.state, str(item["name"]))
        if stored is None:
            raise ControlError(404, f"No sandbox media {item['name']}")
        return {"type": kind or stored.kind, "payload": {"url": media.url(stored.name)}}
    if media is not None and kind in MEDIA_KINDS:
        return {"type": kind, "payload": {"url": media.sample(kind)}}
    if not kind:
        raise ControlError(400, "Each attachment needs a type")
    raise ControlError(400, f"A {kind} attachment needs a url or a payload")
