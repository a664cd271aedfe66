"""The sender: drives an :class:`OutboxEntry` to ``sent`` or ``failed`` with at most one
Send API call that Meta may have accepted.

Each run of :func:`deliver` is three steps:

1. **claim** (one committed transaction): re-check the channel and the policy,
   build the request, and move the entry ``pending → sending`` with its attempt
   number. Nothing is called before this commit.
2. **call** Meta once, outside any transaction.
3. **record** the outcome (one transaction): ``sent`` with the mid, back to
   ``pending`` with a backoff, ``waiting_channel``, or ``failed`` with a reason a
   person can act on.

Why a run that finds an entry already ``sending`` never calls Meta: ``sending``
means some worker committed its claim and then either is still calling, or died
somewhere between the claim and recording the answer: before the request left, or
after Meta delivered the message to the customer. The Send API has no idempotency
key, so from the database alone these cases look the same, and sending again would
show the customer the message twice in the second case. Instead pagedesk waits for
evidence: every send carries ``metadata="pagedesk:<message id>"``, which comes back
on the echo, and the ingest worker then stores the mid on the message. So a stuck
entry whose message got a mid is ``sent``; one that is still without a mid after a
grace period is ``failed`` with "unknown outcome: not resent to avoid a duplicate",
and a person decides whether to send it again. A missing message is visible and
fixable; a duplicate one cannot be taken back. (If the echo turns up after that,
the sweeper corrects the message to ``sent``.) The same rule covers a call whose
connection broke after the request was written, such as a read time-out.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from pydantic import ValidationError

from pagedesk.core.models import Channel
from pagedesk.delivery import graph_call
from pagedesk.delivery.models import OutboxEntry
from pagedesk.delivery.policy_state import (
    BLOCKED_PREFIX,
    TOKEN_PAUSE_REASON,
    judge,
    refusal_message,
    tagged_sends_stopped,
)
from pagedesk.inbox.models import Contact, Message, PendingReceipt
from pagedesk.live.emit import MESSAGE_UPDATED, emit
from pagedesk.messenger.errors import (
    GraphError,
    RateLimited,
    RecipientUnavailable,
    TagMisuseWarning,
    TokenInvalid,
)
from pagedesk.messenger.policy import Refused
from pagedesk.messenger.send import Message as SendMessage
from pagedesk.messenger.send import Recipient, SendRequest, SendResult

log = logging.getLogger(__name__)

State = OutboxEntry.State
UNKNOWN_OUTCOME = "unknown outcome: not resent to avoid a duplicate"
MAX_FAILURES = 8  # temporary errors before giving up (a few minutes of backoff)
MAX_ATTEMPTS = 50  # calls in all, rate limits included: a safety stop
BACKOFF_BASE = 2.0
ORDER_SLACK = 0.5  # s after an earlier reply's next try before a later one tries
BACKOFF_CAP = 300.0
PROVEN_SENT = (Message.Status.SENT, Message.Status.DELIVERED, Message.Status.READ)


def grace_period() -> timedelta:
    """How long a ``sending`` entry waits for its echo before it is declared failed."""
    return timedelta(seconds=getattr(settings, "PAGEDESK_SEND_OUTCOME_GRACE_SECONDS", 120))


@dataclass(frozen=True)
class _Claim:
    entry_id: int
    attempt: int
    channel: Channel
    request: SendRequest


Later = float | None  # seconds until the entry needs another run, or None


def deliver(*, entry_id: int, now: datetime | None = None) -> Later:
    """Advance one outbox entry as far as it can go now; see the module docstring."""
    now = now or timezone.now()
    step = _claim(entry_id, now)
    if not isinstance(step, _Claim):
        return step
    outcome = graph_call.send(step.channel, step.request)
    return _record(step, outcome, timezone.now())


# --- 1. claim -------------------------------------------------------------------------


def _claim(entry_id: int, now: datetime) -> _Claim | Later:
    with transaction.atomic():
        entry = OutboxEntry.objects.select_for_update().filter(pk=entry_id).first()
        if entry is None:
            return None
        if entry.state == State.SENDING:
            return _reconcile(entry, now)
        if entry.state != State.PENDING:
            return None
        if entry.next_attempt_at is not None and entry.next_attempt_at > now:
            return (entry.next_attempt_at - now).total_seconds()
        channel = Channel.objects.get(pk=entry.channel_id)
        if channel.status == Channel.Status.PAUSED:
            entry.state = State.WAITING_CHANNEL
            entry.save(update_fields=["state", "updated_at"])
            return None
        message = entry.message
        conversation = message.conversation
        wait = _earlier_reply_pending(entry, conversation.pk, now)
        if wait is not None:
            return wait
        unreachable = conversation.contact.unreachable_reason
        if unreachable and not conversation.is_group:  # another send found out meanwhile
            _fail(entry, unreachable, error="contact_unreachable")
            return None
        decision = judge(
            conversation,
            human=entry.draft_kind == OutboxEntry.DraftKind.HUMAN_REPLY,
            tag=entry.tag or None,
            now=now,
        )
        if isinstance(decision, Refused):  # e.g. the window closed while it waited
            _fail(entry, refusal_message(decision), error=decision.reason.value)
            return None
        stopped = tagged_sends_stopped(conversation) if decision.tag else ""
        if stopped:  # Meta warned about tagged messages to this person meanwhile
            _fail(entry, stopped, error="tagged_sends_stopped")
            return None
        persona = entry.persona
        try:
            request = SendRequest(
                recipient=Recipient(id=conversation.thread_key),
                messaging_type=decision.messaging_type,
                tag=decision.tag,
                message=SendMessage.model_validate(entry.payload),
                persona_id=persona.persona_id if persona is not None and persona.active else None,
            )
        except ValidationError as exc:
            _fail(entry, f"The message cannot be sent as stored: {exc.errors()[0]['msg']}")
            return None
        entry.state = State.SENDING
        entry.attempts += 1
        entry.sending_since = now
        entry.save(update_fields=["state", "attempts", "sending_since", "updated_at"])
        return _Claim(entry.pk, entry.attempts, channel, request)


def _earlier_reply_pending(entry: OutboxEntry, conversation_id: int, now: datetime) -> Later:
    """Replies reach the customer in the order they were written: while an earlier
    one of the conversation waits for its turn (backing off after a rate limit, say),
    this one waits until just after that one's next try. (One already sent, whose
    answer is not in yet, does not hold the others up.)"""
    earlier = (
        OutboxEntry.objects.filter(
            message__conversation_id=conversation_id,
            pk__lt=entry.pk,
            state__in=(State.PENDING, State.WAITING_CHANNEL),
        )
        .only("next_attempt_at")
        .order_by("pk")
        .first()
    )
    if earlier is None:
        return None
    due = (
        earlier.next_attempt_at
        if earlier.next_attempt_at and earlier.next_attempt_at > now
        else now
    )
    return (due - now).total_seconds() + ORDER_SLACK


def _reconcile(entry: OutboxEntry, now: datetime) -> Later:
    """An entry found ``sending``: the echo decides, never a second call."""
    message = Message.objects.get(pk=entry.message_id)
    if message.mid or message.status in PROVEN_SENT:
        _mark_sent(entry, message.mid, now)
        return None
    deadline = (entry.sending_since or now) + grace_period()
    if now < deadline:
        return (deadline - now).total_seconds()
    log.warning("outbox %s: no answer and no echo; failing without resending", entry.pk)
    entry.outcome_unknown = True
    _fail(entry, UNKNOWN_OUTCOME)
    return None


# --- 3. record ------------------------------------------------------------------------


def _record(claim: _Claim, outcome: SendResult | graph_call.CallFailed, now: datetime) -> Later:
    with transaction.atomic():
        entry = OutboxEntry.objects.select_for_update().get(pk=claim.entry_id)
        if isinstance(outcome, SendResult):
            _mark_sent(entry, outcome.message_id, now)  # the truth, whoever decided before
            return None
        if entry.state != State.SENDING or entry.attempts != claim.attempt:
            return None  # someone else settled this attempt (it outlived the grace period)
        error = outcome.error
        entry.last_error = str(error)[:2000]
        if isinstance(error, GraphError):
            entry.graph_code, entry.graph_subcode = error.code, error.subcode
        if outcome.maybe_sent:
            # Unknown outcome: stay ``sending`` and let the echo decide (see above).
            entry.save(update_fields=["last_error", "graph_code", "graph_subcode", "updated_at"])
            return grace_period().total_seconds()
        if isinstance(error, GraphError) and error.pause_channel:
            _pause_channel(claim.channel.pk, error)
            entry.state = State.WAITING_CHANNEL
            entry.sending_since = None
            entry.save()
            return None
        if _should_retry(entry, error):
            if not isinstance(error, RateLimited):
                entry.failures += 1
            delay = backoff(entry.attempts)
            entry.state = State.PENDING
            entry.sending_since = None
            entry.next_attempt_at = now + timedelta(seconds=delay)
            entry.save()
            return delay
        _fail(entry, _failure_text(entry, error))
        if isinstance(error, RecipientUnavailable) and error.permanent:
            _mark_unreachable(entry, error)
        if isinstance(error, TagMisuseWarning):
            _stop_tagged_sends(entry, now)
        return None


def backoff(attempt: int) -> float:
    """Exponential with jitter: 1-2 s, 2-4 s, 4-8 s ... capped at 5 minutes."""
    ceiling = min(BACKOFF_CAP, BACKOFF_BASE ** max(attempt, 1))
    return ceiling * random.uniform(0.5, 1.0)


def _should_retry(entry: OutboxEntry, error: Exception) -> bool:
    if not isinstance(error, GraphError) or not error.retryable:
        return False
    if entry.attempts >= MAX_ATTEMPTS:
        return False
    # Rate limits: back off and retry, do not fail (Meta's advice).
    return isinstance(error, RateLimited) or entry.failures + 1 < MAX_FAILURES


def _failure_text(entry: OutboxEntry, error: Exception) -> str:
    if not isinstance(error, GraphError):
        return f"Not sent: {error}"
    if error.retryable:
        return (
            f"Not sent after {entry.attempts} attempts; Meta or the network kept failing "
            f"({error}). Try sending it again later."
        )
    return error.user_message


# --- state changes --------------------------------------------------------------------


def _mark_sent(entry: OutboxEntry, mid: str | None, now: datetime) -> None:
    entry.state = State.SENT
    entry.sending_since = None
    entry.last_error = ""
    entry.save(update_fields=["state", "sending_since", "last_error", "updated_at"])
    rows = Message.objects.filter(pk=entry.message_id)
    stored_mid = False
    if mid:
        try:
            with transaction.atomic():  # the echo may have stored the mid already
                stored_mid = bool(
                    rows.filter(mid__isnull=True).update(
                        mid=mid, timestamp_ms=int(now.timestamp() * 1000), sent_at=now
                    )
                )
        except IntegrityError:
            log.warning("outbox %s: mid %s is already on another message", entry.pk, mid)
    earlier = [Message.Status.QUEUED]
    if entry.outcome_unknown:
        earlier.append(Message.Status.FAILED)  # the echo proved us wrong: it went out
    changed = rows.filter(status__in=earlier).update(status=Message.Status.SENT, failed_reason="")
    if stored_mid:
        changed += _apply_parked_receipts(entry.channel_id, entry.message_id, mid or "")
    if changed:
        _announce(entry.message_id)


def _apply_parked_receipts(channel_id: int, message_id: int, mid: str) -> int:
    """A receipt naming this mid may have come before we knew the mid (the ingest
    worker parks it for the echo, and the echo stops early once the mid is stored)."""
    parked = PendingReceipt.objects.filter(channel_id=channel_id, mid=mid)
    kinds = set(parked.values_list("kind", flat=True))
    if not kinds:
        return 0
    status = Message.Status.READ if PendingReceipt.Kind.READ in kinds else Message.Status.DELIVERED
    earlier = [Message.Status.SENT] + ([Message.Status.DELIVERED] if status == "read" else [])
    changed = Message.objects.filter(pk=message_id, status__in=earlier).update(status=status)
    parked.delete()
    return changed


def _announce(message_id: int) -> None:
    """Tell the agents' browsers (live event log, committed with this change)."""
    row = Message.objects.filter(pk=message_id).values("workspace_id", "conversation_id", "status")[
        0
    ]
    emit(
        workspace_id=row["workspace_id"],
        kind=MESSAGE_UPDATED,
        data={
            "conversation_id": row["conversation_id"],
            "message_id": message_id,
            "status": row["status"],
        },
    )


def _fail(entry: OutboxEntry, reason: str, *, error: str | None = None) -> None:
    entry.state = State.FAILED
    entry.sending_since = None
    entry.next_attempt_at = None
    entry.last_error = (error or reason)[:2000]
    entry.save()
    if Message.objects.filter(
        pk=entry.message_id, status=Message.Status.QUEUED, mid__isnull=True
    ).update(status=Message.Status.FAILED, failed_reason=reason):
        _announce(entry.message_id)


def _pause_channel(channel_id: int, error: GraphError) -> None:
    """Stop every send on the page; queued messages wait for the channel."""
    if isinstance(error, TokenInvalid):
        reason = TOKEN_PAUSE_REASON
    else:  # e.g. the page is restricted: lifted by Meta's "unblock" or by an admin
        reason = f"{BLOCKED_PREFIX}: {error.action}"
    Channel.objects.filter(pk=channel_id, status=Channel.Status.ACTIVE).update(
        status=Channel.Status.PAUSED, status_reason=reason
    )
    OutboxEntry.objects.filter(channel_id=channel_id, state=State.PENDING).update(
        state=State.WAITING_CHANNEL, updated_at=timezone.now()
    )


def _stop_tagged_sends(entry: OutboxEntry, now: datetime) -> None:
    """Meta's 613 / 2018338 warning: send this person nothing tagged any more (until an
    admin allows it again), so the page is not restricted."""
    conversation = entry.message.conversation
    if not conversation.is_group:
        log.warning("outbox %s: Meta warned about tagged messages; stopping them", entry.pk)
        Contact.objects.filter(pk=conversation.contact_id).update(
            tagged_sends_stopped_at=now, updated_at=now
        )


def _mark_unreachable(entry: OutboxEntry, error: GraphError) -> None:
    conversation = entry.message.conversation
    if not conversation.is_group:
        Contact.objects.filter(pk=conversation.contact_id).update(
            unreachable_reason=error.user_message, updated_at=timezone.now()
        )


# --- resuming and sweeping ------------------------------------------------------------


def resume_channel(channel_id: int) -> int:
    """Queue the channel's waiting entries again if it is active; returns how many."""
    from pagedesk.delivery.tasks import enqueue

    with transaction.atomic():
        if not Channel.objects.filter(pk=channel_id, status=Channel.Status.ACTIVE).exists():
            return 0
        waiting = OutboxEntry.objects.filter(channel_id=channel_id, state=State.WAITING_CHANNEL)
        ids = list(waiting.order_by("pk").values_list("pk", flat=True))  # oldest first
        OutboxEntry.objects.filter(pk__in=ids).update(
            state=State.PENDING, next_attempt_at=timezone.now(), updated_at=timezone.now()
        )
        transaction.on_commit(lambda: enqueue(ids), robust=True)
    return len(ids)


def sweep(*, now: datetime | None = None, overdue_seconds: float = 30.0) -> list[int]:
    """Find entries whose task was lost or is due; returns the ids to enqueue.

    - waiting entries of channels that are active again are resumed (and queued);
    - pending entries due for ``overdue_seconds`` (their scheduled task went missing);
    - ``sending`` entries whose message has a mid (an echo proved them sent) or
      whose grace period is over (to fail them, never to resend them);
    - failed "unknown outcome" entries whose echo arrived late become sent.
    """
    now = now or timezone.now()
    active_waiting = (
        OutboxEntry.objects.filter(
            state=State.WAITING_CHANNEL, channel__status=Channel.Status.ACTIVE
        )
        .values_list("channel_id", flat=True)
        .distinct()
    )
    for channel_id in list(active_waiting):
        resume_channel(channel_id)
    due = now - timedelta(seconds=overdue_seconds)
    pending = OutboxEntry.objects.filter(state=State.PENDING).filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=due)
    )
    stuck = OutboxEntry.objects.filter(state=State.SENDING).filter(
        Q(sending_since__lte=now - grace_period()) | Q(message__mid__isnull=False)
    )
    ids = list(pending.values_list("pk", flat=True)[:1000])
    ids += list(stuck.values_list("pk", flat=True)[:1000])
    for entry in OutboxEntry.objects.filter(
        state=State.FAILED, outcome_unknown=True, message__mid__isnull=False
    )[:1000]:
        with transaction.atomic():
            _mark_sent(entry, None, now)
    return ids
