"""What each kind of event does to the inbox. Called inside a transaction, under the
thread's lane lock, by ``ingest.do_process_lane``; every handler is idempotent.

Side effects outside the database (profile fetch, attachment download) are queued
with ``transaction.on_commit`` so they never run for a rolled-back event.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import mimetypes
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from pagedesk.core.models import Channel
from pagedesk.inbox import customer_spoke
from pagedesk.inbox.models import (
    Attachment,
    ChannelEvent,
    Contact,
    Conversation,
    InboundEvent,
    Message,
    Participant,
    PendingReceipt,
    Reaction,
)
from pagedesk.inbox.read_ahead import CONVERSATION_FIELDS, BatchReads
from pagedesk.live import emit as live
from pagedesk.messenger import events as ev
from pagedesk.messenger.events import EventKind, WebhookEvent
from pagedesk.messenger.webhook import parse_event

log = logging.getLogger(__name__)

MAX_ATTACHMENT_BYTES = 25 * 1024 * 1024
PROFILE_MAX_AGE = timedelta(days=7)
DOWNLOADABLE = {"image", "video", "audio", "file", "sticker"}
STATUS_ORDER = {
    Message.Status.QUEUED: 0,
    Message.Status.SENT: 1,
    Message.Status.DELIVERED: 2,
    Message.Status.READ: 3,
}


class NotYet(Exception):
    """The event refers to something not ingested yet; retry it shortly."""


def lane_key(event: WebhookEvent) -> str:
    """The thread an event belongs to: a group thread's id, else the library's key."""
    thread = event.raw.get("thread")
    if isinstance(thread, dict) and thread.get("id"):
        return str(thread["id"])
    return event.thread_key


def handle(
    row: InboundEvent, event: WebhookEvent | None = None, reads: BatchReads | None = None
) -> list[live.Pending]:
    """Apply one event; returns the live events to emit, last, in the same transaction.

    ``event`` is the row parsed already (by the split), to save parsing it again;
    ``reads``, what its batch read ahead (see ``pagedesk.inbox.read_ahead``).
    """
    if event is None:
        event = parse_event(row.object, row.page_id, row.payload, container=row.container)  # type: ignore[arg-type]
    context = _Context(row, event, reads)
    HANDLERS.get(event.kind, _on_unsupported)(context)
    return context.live_events


class _Context:
    """One event being handled, with lazy access to its thread's rows."""

    def __init__(self, row: InboundEvent, event: WebhookEvent, reads: BatchReads | None) -> None:
        self.row = row
        self.event = event
        self.reads = reads
        self.channel: Channel = row.channel
        self.workspace_id = row.workspace_id
        self.is_group = lane_key(event) != event.thread_key
        self._conversation: Conversation | None = None
        self._contacts: dict[str, Contact] = {}
        # Emitted by the caller after the handler: on PostgreSQL the first emit takes the
        # workspace's event-order lock until commit (see pagedesk.live.emit).
        self.live_events: list[live.Pending] = []

    @property
    def at(self) -> datetime:
        return _ms_to_datetime(self.event.timestamp)

    @property
    def timestamp_ms(self) -> int:
        return self.event.timestamp or int(timezone.now().timestamp() * 1000)

    def contact(self, psid: str | None = None) -> Contact:
        psid = psid or self.event.customer_id or self.row.thread_key
        contact = self._contacts.get(psid)
        if contact is None:
            contact, created = Contact.objects.get_or_create(
                channel=self.channel, psid=psid, defaults={"workspace_id": self.workspace_id}
            )
            self._remember(contact, created)
        return contact

    def _remember(self, contact: Contact, created: bool) -> None:
        self._contacts[contact.psid] = contact
        if not contact.psid.startswith("user_ref:") and _profile_due(contact, created):
            from pagedesk.inbox.tasks import fetch_contact_profile

            transaction.on_commit(lambda: fetch_contact_profile(contact.pk))

    def conversation(self) -> Conversation:
        if self._conversation is None:
            conversation = self._known_conversation()
            if conversation is None:
                customer = self.contact()
                conversation, created = Conversation.objects.get_or_create(
                    channel=self.channel,
                    thread_key=self.row.thread_key,
                    defaults={
                        "workspace_id": self.workspace_id,
                        "contact": customer,
                        "is_group": self.is_group,
                    },
                )
                if created:
                    self.emit(live.CONVERSATION_CREATED, conversation_id=conversation.pk)
            elif conversation.contact.psid not in self._contacts:
                self._remember(conversation.contact, False)
            if self.is_group:
                Participant.objects.get_or_create(conversation=conversation, contact=self.contact())
            self._conversation = conversation
        return self._conversation

    def _known_conversation(self) -> Conversation | None:
        if self.reads is not None:
            read_ahead, conversation = self.reads.take_conversation(
                (self.row.channel_id, self.row.thread_key)
            )
            if read_ahead:
                return conversation
            self.reads.write_spoken()  # the thread's earlier events in this batch changed it
        # The common case, a known thread: the conversation and its contact in one query.
        # (Unique, so no ``first()``: its ORDER BY costs more to build than to run.)
        found = (
            Conversation.objects.select_related("contact")
            .only(*CONVERSATION_FIELDS)
            .filter(channel=self.channel, thread_key=self.row.thread_key)[:1]
        )
        return next(iter(found), None)

    def message_stored(self, mid: str) -> bool:
        stored = self.reads.message_stored(self.workspace_id, mid) if self.reads else None
        if stored is None:
            stored = Message.objects.filter(workspace_id=self.workspace_id, mid=mid).exists()
        return stored

    def message_added(self, row: Message) -> None:
        if self.reads is not None and row.mid:
            self.reads.message_added(self.workspace_id, row.mid)

    def emit(self, kind: str, **data: Any) -> None:
        """Tell agents' screens what changed, once the handler is done."""
        self.live_events.append(live.Pending(self.workspace_id, kind, data))

    def created(self, message: Message) -> None:
        self.emit(
            live.MESSAGE_CREATED,
            conversation_id=message.conversation_id,
            message_id=message.pk,
            direction=message.direction,
        )

    def updated(self, message: Message, **data: Any) -> None:
        self.emit(
            live.MESSAGE_UPDATED,
            conversation_id=message.conversation_id,
            message_id=message.pk,
            **data,
        )

    def dedupe_key(self) -> str:
        """For rows without a Meta id: the same event always gives the same key."""
        material = json.dumps(
            [self.row.page_id, self.row.container, self.event.raw], sort_keys=True, default=str
        )
        return hashlib.sha256(material.encode()).hexdigest()[:64]

    def extra(self) -> dict[str, Any]:
        return {"standby": True} if self.event.is_standby else {}


def _profile_due(contact: Contact, created: bool) -> bool:
    """New contacts get their profile at once; others again once it is a week old
    (names and pictures change, and Meta's picture URLs expire)."""
    if created:
        return True
    fetched = contact.profile_fetched_at
    return fetched is not None and timezone.now() - fetched > PROFILE_MAX_AGE


def _ms_to_datetime(ms: int | None) -> datetime:
    if ms is None:
        return timezone.now()
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


# --- customer messages ------------------------------------------------------------------


def _on_message(c: _Context) -> None:
    message = c.event.payload_as(ev.Message)
    if c.message_stored(message.mid):
        return
    conversation = c.conversation()
    contact = c.contact()
    row = Message(
        workspace_id=c.workspace_id,
        conversation=conversation,
        contact=contact,
        direction=Message.Direction.INBOUND,
        kind=Message.Kind.UNSUPPORTED if message.is_unsupported else Message.Kind.MESSAGE,
        mid=message.mid,
        text=message.text or "",
        quick_reply_payload=message.quick_reply.payload if message.quick_reply else "",
        reply_to_mid=(message.reply_to.mid or "") if message.reply_to else "",
        data={**c.extra(), **_reply_to_story(message)},
        status=Message.Status.RECEIVED,
        timestamp_ms=c.timestamp_ms,
        sent_at=c.at,
    )
    later = c.reads is not None and not message.display_attachments
    if later:
        c.reads.insert_later(row, c.created)  # with the batch's others (see read_ahead)
    else:
        if c.reads is not None:
            c.reads.flush()  # the batch's earlier messages first: ids follow arrival
        row.save(force_insert=True)
        _store_attachments(row, message)
    c.message_added(row)
    after_ad = _first_after_an_ad(message, contact, conversation)
    if message.referral is not None:
        _attribute(contact, message.referral, c.at)
    _customer_spoke(c, conversation, c.at, ad_message=after_ad)
    if not later:
        c.created(row)


def _first_after_an_ad(message: ev.Message, contact: Contact, conversation: Conversation) -> bool:
    """The customer's first message after a click-to-Messenger ad: it carries the ad's
    referral, or the ad's referral event came after their previous message."""
    referral = message.referral
    if referral is not None:
        return bool(referral.ad_id) or referral.source == "ADS"
    if contact.latest_source != "ADS" or contact.latest_referral_at is None:
        return False
    previous = conversation.last_customer_message_at
    return previous is None or contact.latest_referral_at >= previous


def _reply_to_story(message: ev.Message) -> dict[str, Any]:
    if message.reply_to and message.reply_to.story:
        return {"reply_to_story": message.reply_to.story.model_dump(mode="json")}
    return {}


def _store_attachments(row: Message, message: ev.Message) -> None:
    from pagedesk.inbox.tasks import download_attachment

    for position, attachment in enumerate(message.display_attachments):
        url = getattr(attachment, "url", None) or ""
        kind = getattr(attachment, "type", None) or "unsupported"
        if isinstance(attachment, ev.UnsupportedAttachment):
            payload = attachment.raw
        else:
            payload = attachment.model_dump(mode="json", by_alias=True, exclude_none=True)
        needs_download = bool(url) and kind in DOWNLOADABLE
        stored = Attachment.objects.create(
            message=row,
            position=position,
            type=kind,
            url=url,
            payload=payload,
            download=Attachment.Download.PENDING
            if needs_download
            else Attachment.Download.NOT_NEEDED,
        )
        if needs_download:
            transaction.on_commit(lambda pk=stored.pk: download_attachment(pk))


def _customer_spoke(
    c: _Context,
    conversation: Conversation,
    at: datetime,
    *,
    unread: bool = True,
    ad_message: bool = False,
) -> None:
    """A customer action: it opens the messaging window and reopens a done conversation.
    ``ad_message``: the first message after an ad click, which opens a 7-day window.
    In a batch the write waits for the batch's others (see ``customer_spoke``)."""
    action = customer_spoke.Spoke(conversation.pk, at, unread, ad_message)
    if c.reads is not None:
        c.reads.spoke_later(action)
    else:
        customer_spoke.write([action])
    c.emit(live.CONVERSATION_UPDATED, conversation_id=conversation.pk)


def _on_postback(c: _Context) -> None:
    postback = c.event.payload_as(ev.Postback)
    key = None if postback.mid else c.dedupe_key()
    if _exists(c, mid=postback.mid, dedupe_key=key):
        return
    conversation, contact = c.conversation(), c.contact()
    row = Message.objects.create(
        workspace_id=c.workspace_id,
        conversation=conversation,
        contact=contact,
        direction=Message.Direction.INBOUND,
        kind=Message.Kind.POSTBACK,
        mid=postback.mid,
        dedupe_key=key,
        text=postback.title or "",
        postback_payload=postback.payload or "",
        data={
            **c.extra(),
            **({"referral": _dump(postback.referral)} if postback.referral else {}),
        },
        status=Message.Status.RECEIVED,
        timestamp_ms=c.timestamp_ms,
        sent_at=c.at,
    )
    if postback.referral is not None:
        _attribute(contact, postback.referral, c.at)
    _customer_spoke(c, conversation, c.at)
    c.created(row)


def _on_referral(c: _Context) -> None:
    referral = c.event.payload_as(ev.Referral)
    if _system_line(c, Message.Kind.REFERRAL, {"referral": _dump(referral)}):
        _attribute(c.contact(), referral, c.at)
        # Opening the thread through a link or an ad resets the window (a customer action).
        _customer_spoke(c, c.conversation(), c.at, unread=False)


def _attribute(contact: Contact, referral: ev.Referral, at: datetime) -> None:
    source = referral.source or ("ADS" if referral.ad_id else "")
    fields = {
        "source": source,
        "ref": referral.ref or "",
        "ad_id": str(referral.ad_id or ""),
        "comment_id": "",
    }
    updates: dict[str, Any] = {f"latest_{k}": v for k, v in fields.items()}
    updates["latest_referral_at"] = at
    if not contact.first_source and not contact.first_ref:
        updates.update({f"first_{k}": v for k, v in fields.items()})
    for name, value in updates.items():
        setattr(contact, name, value)
    contact.save(update_fields=[*updates, "updated_at"])


# --- the page's own messages and receipts ------------------------------------------------


def _on_echo(c: _Context) -> None:
    message = c.event.payload_as(ev.Message)
    if c.message_stored(message.mid):
        return
    conversation = c.conversation()
    row = _our_outbox_row(c, message.metadata)
    if row is not None:
        row.mid = message.mid
        row.timestamp_ms = c.timestamp_ms
        if row.status == Message.Status.FAILED:
            # The sender gave up not knowing whether Meta got it; the echo says it did.
            row.status, row.failed_reason = Message.Status.SENT, ""
        row.save(update_fields=["mid", "timestamp_ms", "status", "failed_reason"])
        _advance(row, Message.Status.SENT)
        c.updated(row, status=row.status)
    else:  # sent by another app, or by a person in Meta's own inbox
        row = Message.objects.create(
            workspace_id=c.workspace_id,
            conversation=conversation,
            direction=Message.Direction.OUTBOUND,
            kind=Message.Kind.MESSAGE,
            mid=message.mid,
            text=message.text or "",
            metadata=message.metadata or "",
            sender_app_id=str(message.app_id or ""),
            data=c.extra(),
            status=Message.Status.SENT,
            timestamp_ms=c.timestamp_ms,
            sent_at=c.at,
        )
        _store_attachments(row, message)
        c.created(row)
    _apply_known_receipts(c, conversation, row)
    if conversation.last_message_at is None or c.at > conversation.last_message_at:
        Conversation.objects.filter(pk=conversation.pk).update(
            last_message_at=c.at, updated_at=timezone.now()
        )


def _our_outbox_row(c: _Context, metadata: str | None) -> Message | None:
    """pagedesk tags its sends with ``metadata="pagedesk:<message id>"``."""
    if not metadata or not metadata.startswith("pagedesk:"):
        return None
    message_id = metadata.removeprefix("pagedesk:")
    if not message_id.isdigit():
        return None
    return Message.objects.filter(
        pk=int(message_id), workspace_id=c.workspace_id, direction=Message.Direction.OUTBOUND
    ).first()


def _apply_known_receipts(c: _Context, conversation: Conversation, row: Message) -> None:
    """A receipt can come before the echo it confirms: apply what is already known."""
    conversation.refresh_from_db(fields=["delivery_watermark", "read_watermark"])
    pending = set(
        PendingReceipt.objects.filter(channel=c.channel, mid=row.mid).values_list("kind", flat=True)
    )
    if row.timestamp_ms <= conversation.read_watermark or PendingReceipt.Kind.READ in pending:
        _advance(row, Message.Status.READ)
    elif (
        row.timestamp_ms <= conversation.delivery_watermark
        or PendingReceipt.Kind.DELIVERED in pending
    ):
        _advance(row, Message.Status.DELIVERED)
    if pending:
        PendingReceipt.objects.filter(channel=c.channel, mid=row.mid).delete()


def _advance(row: Message, status: str) -> None:
    """Statuses only move forward: queued → sent → delivered → read (failed stays)."""
    current = STATUS_ORDER.get(row.status)  # type: ignore[call-overload]
    if current is not None and STATUS_ORDER[status] > current:  # type: ignore[index]
        row.status = status
        row.save(update_fields=["status"])


def _on_delivery(c: _Context) -> None:
    delivery = c.event.payload_as(ev.Delivery)
    _receipt(c, Message.Status.DELIVERED, delivery.mids, delivery.watermark)


def _on_read(c: _Context) -> None:
    read = c.event.payload_as(ev.Read)
    watermark = read.watermark
    if watermark is None and read.mid:  # Instagram's messaging_seen names the message
        seen = Message.objects.filter(workspace_id=c.workspace_id, mid=read.mid).first()
        if seen is None:
            PendingReceipt.objects.get_or_create(
                channel=c.channel, mid=read.mid, kind=PendingReceipt.Kind.READ
            )
            return
        watermark = seen.timestamp_ms
    _receipt(c, Message.Status.READ, [], watermark)


def _receipt(c: _Context, status: str, mids: list[str], watermark: int | None) -> None:
    conversation = c.conversation()
    kind = PendingReceipt.Kind.READ if status == Message.Status.READ else "delivered"
    earlier = [Message.Status.QUEUED, Message.Status.SENT]
    if status == Message.Status.READ:
        earlier.append(Message.Status.DELIVERED)
    ours = Message.objects.filter(
        conversation=conversation, direction=Message.Direction.OUTBOUND, status__in=earlier
    )
    changed: list[int] = []
    for mid in mids:
        found = list(ours.filter(mid=mid).values_list("pk", flat=True))
        changed += found
        if not found and not Message.objects.filter(conversation=conversation, mid=mid).exists():
            PendingReceipt.objects.get_or_create(channel=c.channel, mid=mid, kind=kind)
    if watermark:
        field = "read_watermark" if status == Message.Status.READ else "delivery_watermark"
        if watermark > getattr(conversation, field):
            Conversation.objects.filter(pk=conversation.pk).update(**{field: watermark})
            setattr(conversation, field, watermark)
        changed += ours.filter(mid__isnull=False, timestamp_ms__lte=watermark).values_list(
            "pk", flat=True
        )
    if changed:
        Message.objects.filter(pk__in=set(changed)).update(status=status)
        c.emit(
            live.MESSAGE_UPDATED,
            conversation_id=conversation.pk,
            message_ids=sorted(set(changed))[:200],
            status=status,
        )


# --- reactions, edits, deletions -----------------------------------------------------------


RETRIES_FOR_MISSING_TARGET = 2


def _target(c: _Context, mid: str) -> Message | None:
    """The message an event refers to. Its echo may still be on the way, so retry a
    little; after that it predates pagedesk (None), and the event is kept as a line."""
    message = Message.objects.filter(workspace_id=c.workspace_id, mid=mid).first()
    if message is None and c.row.attempts < RETRIES_FOR_MISSING_TARGET:
        raise NotYet(f"message {mid} is not in the inbox yet")
    return message


def _on_reaction(c: _Context) -> None:
    reaction = c.event.payload_as(ev.Reaction)
    message = _target(c, reaction.mid)
    if message is None:
        _system_line(c, Message.Kind.UNSUPPORTED, {"reaction": _dump(reaction), "missing": True})
        return
    contact = c.contact()
    if reaction.is_removed:
        Reaction.objects.filter(message=message, contact=contact).delete()
        c.updated(message)
        return
    Reaction.objects.update_or_create(
        message=message,
        contact=contact,
        defaults={
            "reaction": reaction.reaction or "other",
            "emoji": reaction.emoji or "",
            "reacted_at": c.at,
        },
    )
    c.updated(message)


def _on_edit(c: _Context) -> None:
    edit = c.event.payload_as(ev.MessageEdit)
    message = _target(c, edit.mid)
    if message is None:
        _system_line(c, Message.Kind.UNSUPPORTED, {"edit": _dump(edit), "missing": True})
        return
    count = edit.num_edit or message.edit_count + 1
    if count <= message.edit_count:
        return  # an older or repeated edit
    message.data = {**message.data, "edits": [*message.data.get("edits", []), message.text]}
    message.text = edit.text or ""
    message.edit_count = count
    message.edited_at = c.at
    message.save(update_fields=["data", "text", "edit_count", "edited_at"])
    c.updated(message)


def _on_delete(c: _Context) -> None:
    message = c.event.payload_as(ev.Message)
    Message.objects.filter(
        workspace_id=c.workspace_id, mid=message.mid, deleted_at__isnull=True
    ).update(deleted_at=c.at)


# --- system lines: opt-ins, thread ownership, unsupported ---------------------------------


def _system_line(c: _Context, kind: str, data: dict[str, Any], text: str = "") -> bool:
    """Record a system line once; False when this event was already recorded."""
    key = c.dedupe_key()
    if _exists(c, dedupe_key=key):
        return False
    row = Message.objects.create(
        workspace_id=c.workspace_id,
        conversation=c.conversation(),
        contact=c.contact(),
        direction=Message.Direction.SYSTEM,
        kind=kind,
        dedupe_key=key,
        text=text,
        data={**c.extra(), **data},
        status=Message.Status.RECEIVED,
        timestamp_ms=c.timestamp_ms,
        sent_at=c.at,
    )
    c.created(row)
    return True


def _on_optin(c: _Context) -> None:
    optin = c.event.payload_as(ev.Optin)
    _system_line(c, Message.Kind.OPTIN, {"optin": _dump(optin)}, text=optin.title or "")


def _on_thread_control(c: _Context) -> None:
    control = c.event.payload_as(ev.ThreadControl)
    if not _system_line(c, Message.Kind.HANDOVER, {"event": c.event.kind.value, **_dump(control)}):
        return
    if c.event.kind in {EventKind.PASS_THREAD_CONTROL, EventKind.TAKE_THREAD_CONTROL}:
        Conversation.objects.filter(pk=c.conversation().pk).update(
            thread_owner_app_id=str(control.new_owner_app_id or "")
        )


def _on_unsupported(c: _Context) -> None:
    if c.event.customer_id:
        _system_line(c, Message.Kind.UNSUPPORTED, {"raw": c.event.raw})
    else:
        _channel_event(c, "unsupported", {"raw": c.event.raw})


# --- page-level events ----------------------------------------------------------------------


def _channel_event(c: _Context, kind: str, data: dict[str, Any]) -> bool:
    _, created = ChannelEvent.objects.get_or_create(
        channel=c.channel,
        dedupe_key=c.dedupe_key(),
        defaults={
            "workspace_id": c.workspace_id,
            "kind": kind,
            "data": data,
            "occurred_at": c.at,
        },
    )
    return created


def _on_policy(c: _Context) -> None:
    policy = c.event.payload_as(ev.PolicyEnforcement)
    if not _channel_event(c, "policy_enforcement", _dump(policy)):
        return
    channel = Channel.objects.select_for_update().get(pk=c.channel.pk)
    if policy.action == "block":
        channel.status = Channel.Status.PAUSED
        channel.status_reason = f"Meta blocked the page from messaging: {policy.reason or ''}"
    elif policy.action == "unblock" and channel.status_reason.startswith("Meta blocked"):
        channel.status, channel.status_reason = Channel.Status.ACTIVE, ""
    elif policy.action == "warning":
        channel.status_reason = f"Meta warned the page: {policy.reason or ''}"
    channel.save(update_fields=["status", "status_reason"])


def _on_app_roles(c: _Context) -> None:
    _channel_event(c, "app_roles", {"roles": c.event.raw.get("app_roles", {})})


def _on_comment(c: _Context) -> None:
    comment = c.event.payload
    assert isinstance(comment, ev.FeedComment | ev.InstagramComment)
    author = comment.from_.model_dump(mode="json") if comment.from_ else None
    _channel_event(
        c,
        "comment",
        {
            "verb": comment.verb,
            "comment_id": comment.comment_id,
            "post_id": comment.media_id,
            "parent_id": comment.parent_id,
            "from": author,
            "text": comment.text,
        },
    )


# --- helpers ----------------------------------------------------------------------------------


def _exists(c: _Context, *, mid: str | None = None, dedupe_key: str | None = None) -> bool:
    if mid:
        return Message.objects.filter(workspace_id=c.workspace_id, mid=mid).exists()
    return Message.objects.filter(workspace_id=c.workspace_id, dedupe_key=dedupe_key).exists()


def _dump(model: Any) -> dict[str, Any]:
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)  # type: ignore[no-any-return]


HANDLERS: dict[EventKind, Callable[[_Context], None]] = {
    EventKind.MESSAGE: _on_message,
    EventKind.ECHO: _on_echo,
    EventKind.MESSAGE_DELETE: _on_delete,
    EventKind.POSTBACK: _on_postback,
    EventKind.REFERRAL: _on_referral,
    EventKind.DELIVERY: _on_delivery,
    EventKind.READ: _on_read,
    EventKind.REACTION: _on_reaction,
    EventKind.OPTIN: _on_optin,
    EventKind.PASS_THREAD_CONTROL: _on_thread_control,
    EventKind.TAKE_THREAD_CONTROL: _on_thread_control,
    EventKind.REQUEST_THREAD_CONTROL: _on_thread_control,
    EventKind.APP_ROLES: _on_app_roles,
    EventKind.POLICY_ENFORCEMENT: _on_policy,
    EventKind.MESSAGE_EDIT: _on_edit,
    EventKind.COMMENT: _on_comment,
    EventKind.UNSUPPORTED: _on_unsupported,
}


# --- work outside the event transaction: profiles and attachment files -----------------------


def graph_client_for(channel: Channel) -> Any:
    from pagedesk.messenger.graph import GraphClient

    return GraphClient(
        channel.page_access_token,
        base_url=settings.PAGEDESK_GRAPH_URL,
        version=channel.graph_version or settings.PAGEDESK_GRAPH_VERSION,
    )


def fetch_contact_profile(*, contact_id: int) -> None:
    from pagedesk.messenger.errors import ProfileUnavailable, RecipientUnreachable

    contact = Contact.objects.select_related("channel").get(pk=contact_id)

    async def fetch() -> Any:
        async with graph_client_for(contact.channel) as graph:
            return await graph.get_user_profile(contact.psid)

    try:
        profile = asyncio.run(fetch())
    except (ProfileUnavailable, RecipientUnreachable):
        contact.profile_status = Contact.ProfileStatus.UNAVAILABLE
        contact.profile_fetched_at = timezone.now()
        contact.save(update_fields=["profile_status", "profile_fetched_at", "updated_at"])
        return
    contact.first_name = profile.first_name or ""
    contact.last_name = profile.last_name or ""
    contact.profile_pic = profile.profile_pic or ""
    contact.locale = profile.locale or ""
    contact.timezone = profile.timezone
    contact.profile_status = Contact.ProfileStatus.OK
    contact.profile_fetched_at = timezone.now()
    contact.save()


def download_attachment(*, attachment_id: int) -> None:
    """Copy Meta's (expiring) attachment URL into pagedesk's own storage."""
    attachment = Attachment.objects.select_related("message").get(pk=attachment_id)
    if attachment.download != Attachment.Download.PENDING:
        return
    try:
        content, content_type = _fetch(attachment.url)
    except _PermanentDownloadError as exc:
        attachment.download = Attachment.Download.FAILED
        attachment.download_error = str(exc)
        attachment.save(update_fields=["download", "download_error"])
        return
    extension = mimetypes.guess_extension(content_type.split(";")[0].strip()) or ".bin"
    message = attachment.message
    name = f"{message.workspace_id}/{message.pk}-{attachment.position}{extension}"
    attachment.file.save(name, ContentFile(content), save=False)
    attachment.content_type = content_type
    attachment.size = len(content)
    attachment.download = Attachment.Download.DONE
    attachment.download_error = ""
    attachment.save(update_fields=["file", "content_type", "size", "download", "download_error"])


class _PermanentDownloadError(Exception):
    pass


def _fetch(url: str) -> tuple[bytes, str]:
    """Stream the file, refusing more than Meta's 25 MB limit. Transport errors and 5xx
    raise (the task retries); 4xx means the URL expired or never worked."""
    chunks, size = [], 0
    with httpx.stream("GET", url, timeout=20, follow_redirects=True) as response:
        if 400 <= response.status_code < 500:
            raise _PermanentDownloadError(f"the file's URL answered {response.status_code}")
        response.raise_for_status()
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > MAX_ATTACHMENT_BYTES:
                raise _PermanentDownloadError("the file is larger than 25 MB")
            chunks.append(chunk)
        content_type = response.headers.get("content-type", "application/octet-stream")
    return b"".join(chunks), content_type
