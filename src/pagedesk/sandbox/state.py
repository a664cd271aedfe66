"""The sandbox's whole world, in memory, with an optional JSON snapshot on disk."""

from __future__ import annotations

import json
import os
import re
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any, Literal, TypeVar

from pagedesk.sandbox import ids
from pagedesk.sandbox.clock import Clock
from pagedesk.sandbox.models import (
    AppInfo,
    Comment,
    Customer,
    DeliveryConfig,
    GroupThread,
    MediaFile,
    NotificationToken,
    Page,
    Persona,
    Post,
    QueuedEvent,
    ThreadMessage,
    UploadedAttachment,
    UserRef,
)

T = TypeVar("T")
DELIVERY_LOG_LIMIT = 2000
SEND_LOG_LIMIT = 10_000
SNAPSHOT_VERSION = 1

# Which subscription field a messaging event needs, by the key that names the event.
_EVENT_FIELDS = {
    "delivery": "message_deliveries",
    "read": "message_reads",
    "reaction": "message_reactions",
    "message_edit": "message_edits",
    "postback": "messaging_postbacks",
    "referral": "messaging_referrals",
    "optin": "messaging_optins",
    "pass_thread_control": "messaging_handovers",
    "take_thread_control": "messaging_handovers",
    "request_thread_control": "messaging_handovers",
    "app_roles": "messaging_handovers",
    "policy_enforcement": "messaging_policy_enforcement",
}


def subscription_field(event: dict[str, Any]) -> str:
    """The ``subscribed_fields`` entry a page needs for this messaging event."""
    message = event.get("message")
    if isinstance(message, dict):
        return "message_echoes" if message.get("is_echo") else "messages"
    for key, field_name in _EVENT_FIELDS.items():
        if key in event:
            return field_name
    return "messages"


def _restore(cls: type[T], data: dict[str, Any]) -> T:
    known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    return cls(**{k: v for k, v in data.items() if k in known})


class SandboxState:
    """Everything the emulator knows. Mutated only from the event loop's thread."""

    def __init__(self, *, snapshot_path: str | os.PathLike[str] | None = None) -> None:
        self.clock = Clock()
        self.snapshot_path = Path(snapshot_path) if snapshot_path else None
        self.app = AppInfo(app_id=ids.app_id(), app_secret=ids.app_secret())
        self._clear()
        # Runtime only, never in the snapshot.
        self.outbox: deque[QueuedEvent] = deque()
        self.deliveries: list[dict[str, Any]] = []
        self._delivery_seq = 0
        self.sends: list[dict[str, Any]] = []  # every Send API call (send_faults)
        self._send_seq = 0
        self._listeners: list[Callable[[], None]] = []
        self._send_times: dict[str, deque[float]] = {}
        self.uploads: dict[str, MediaFile] = {}  # POST /_sandbox/media, oldest first
        if self.snapshot_path and self.snapshot_path.exists():
            self.load(json.loads(self.snapshot_path.read_text("utf-8")))

    def _clear(self) -> None:
        self.config = DeliveryConfig()
        self.pages: dict[str, Page] = {}
        self.customers: dict[str, Customer] = {}
        self.messages: dict[str, ThreadMessage] = {}
        self.personas: dict[str, Persona] = {}
        self.posts: dict[str, Post] = {}
        self.comments: dict[str, Comment] = {}
        self.notification_tokens: dict[str, NotificationToken] = {}
        self.user_refs: dict[str, UserRef] = {}
        self.attachments: dict[str, UploadedAttachment] = {}
        self.groups: dict[str, GroupThread] = {}

    def reset(self) -> None:
        """Forget everything but the app's identity (id and secret)."""
        self._clear()
        self.app.callback_url = None
        self.app.verify_token = None
        self.clock.reset()
        self.outbox.clear()
        self.deliveries.clear()
        self.sends.clear()
        self._send_times.clear()
        self.uploads.clear()
        self.changed()

    # -- lookups ---------------------------------------------------------------

    def page_by_token(self, token: str) -> Page | None:
        for page in self.pages.values():
            if page.access_token == token:
                return page
        return None

    def page_by_ref(self, ref: str) -> Page | None:
        """A page by id or username (m.me style)."""
        if ref in self.pages:
            return self.pages[ref]
        return next((p for p in self.pages.values() if p.username == ref), None)

    def customers_of(self, page_id: str) -> list[Customer]:
        return [c for c in self.customers.values() if c.page_id == page_id]

    def thread(self, psid: str) -> list[ThreadMessage]:
        """A conversation's messages: a customer's (by PSID) or a group's (by thread id)."""
        return [m for m in self.messages.values() if m.psid == psid]

    def groups_of(self, page_id: str) -> list[GroupThread]:
        return [g for g in self.groups.values() if g.page_id == page_id]

    def owned_by_us(self, customer: Customer) -> bool:
        owner = customer.thread_owner_app_id
        return owner is None or owner == self.app.app_id

    # -- factories -------------------------------------------------------------

    def add_page(
        self,
        *,
        name: str,
        username: str | None = None,
        page_id: str | None = None,
        access_token: str | None = None,
    ) -> Page:
        page_id = page_id or ids.page_id()
        if page_id in self.pages:
            raise ValueError(f"page {page_id} already exists")
        page = Page(
            page_id=page_id,
            name=name,
            username=username or _username(name, page_id),
            access_token=access_token or ids.page_token(),
        )
        self.pages[page_id] = page
        return page

    def add_customer(self, page_id: str, **profile: Any) -> Customer:
        psid = profile.pop("psid", None) or ids.psid()
        if psid in self.customers:
            raise ValueError(f"customer {psid} already exists")
        # No profile_pic given: the profile answers a fresh, expiring sandbox media URL.
        customer = Customer(psid=psid, page_id=page_id, user_id=ids.user_id(), **profile)
        self.customers[psid] = customer
        return customer

    # -- webhooks ----------------------------------------------------------------

    def emit(self, page_id: str, event: dict[str, Any], *, standby: bool = False) -> bool:
        """Queue a messaging event; False when Meta would not deliver it to the app."""
        container: Literal["messaging", "standby"] = "standby" if standby else "messaging"
        field_name = "standby" if standby else subscription_field(event)
        return self._enqueue(
            QueuedEvent(page_id=page_id, container=container, event=event), field_name
        )

    def emit_change(self, page_id: str, change: dict[str, Any]) -> bool:
        queued = QueuedEvent(page_id=page_id, container="changes", event=change)
        return self._enqueue(queued, change.get("field", "feed"))

    def _enqueue(self, queued: QueuedEvent, field_name: str) -> bool:
        page = self.pages.get(queued.page_id)
        if page is None or field_name not in page.subscribed_fields or not self.app.callback_url:
            return False
        self.outbox.append(queued)
        for listener in self._listeners:
            listener()
        return True

    def add_outbox_listener(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def remove_outbox_listener(self, listener: Callable[[], None]) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def log_delivery(self, record: dict[str, Any]) -> dict[str, Any]:
        self._delivery_seq += 1
        record["id"] = self._delivery_seq
        self.deliveries.append(record)
        del self.deliveries[:-DELIVERY_LOG_LIMIT]
        return record

    def log_send(self, record: dict[str, Any]) -> dict[str, Any]:
        self._send_seq += 1
        record.update(id=self._send_seq, time=self.clock.now_ms())
        self.sends.append(record)
        del self.sends[:-SEND_LOG_LIMIT]
        return record

    # -- rate limiting -----------------------------------------------------------

    def take_send_slot(self, page: Page) -> bool:
        """Count one Send API call; False when the page is over its per-second limit."""
        if page.rate_limit_per_second is None:
            return True
        now = self.clock.now()
        window = self._send_times.setdefault(page.page_id, deque())
        while window and window[0] <= now - 1.0:
            window.popleft()
        if len(window) >= page.rate_limit_per_second:
            return False
        window.append(now)
        return True

    # -- snapshot ----------------------------------------------------------------

    def changed(self) -> None:
        """Persist after a change, when a snapshot file is configured."""
        if self.snapshot_path is None:
            return
        self.snapshot_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.snapshot_path.with_name(self.snapshot_path.name + ".tmp")
        tmp.write_text(json.dumps(self.dump(), indent=1), "utf-8")
        os.replace(tmp, self.snapshot_path)

    def dump(self) -> dict[str, Any]:
        def records(table: dict[str, Any]) -> list[dict[str, Any]]:
            return [asdict(item) for item in table.values()]

        return {
            "version": SNAPSHOT_VERSION,
            "clock_offset": self.clock.offset,
            "app": asdict(self.app),
            "config": asdict(self.config),
            "pages": records(self.pages),
            "customers": records(self.customers),
            "messages": records(self.messages),
            "personas": records(self.personas),
            "posts": records(self.posts),
            "comments": records(self.comments),
            "notification_tokens": records(self.notification_tokens),
            "user_refs": records(self.user_refs),
            "attachments": records(self.attachments),
            "groups": records(self.groups),
        }

    def load(self, data: dict[str, Any]) -> None:
        self._clear()
        self.clock.offset = float(data.get("clock_offset", 0.0))
        self.app = _restore(AppInfo, data["app"])
        self.config = _restore(DeliveryConfig, data.get("config", {}))
        tables: list[tuple[str, dict[str, Any], type[Any], str]] = [
            ("pages", self.pages, Page, "page_id"),
            ("customers", self.customers, Customer, "psid"),
            ("messages", self.messages, ThreadMessage, "mid"),
            ("personas", self.personas, Persona, "id"),
            ("posts", self.posts, Post, "post_id"),
            ("comments", self.comments, Comment, "comment_id"),
            ("notification_tokens", self.notification_tokens, NotificationToken, "token"),
            ("user_refs", self.user_refs, UserRef, "user_ref"),
            ("attachments", self.attachments, UploadedAttachment, "attachment_id"),
            ("groups", self.groups, GroupThread, "thread_id"),
        ]
        for name, table, cls, key in tables:
            for item in data.get(name, []):
                record = _restore(cls, item)
                table[getattr(record, key)] = record


def _username(name: str, page_id: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "", name.title()) or "Page"
    return f"{slug[:40]}{page_id[-4:]}"
