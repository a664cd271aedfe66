"""Messenger policy: may the page send this draft to this contact now, and how?

Pure functions without I/O. The caller passes the contact's history
(:class:`ContactState`), the draft (:class:`Draft`), the channel's settings
(:class:`ChannelPolicy`) and the current time; :func:`decide` answers
:class:`Allowed` (with the messaging type, tag or token to use and the deadlines
for the composer's countdown) or :class:`Refused` (a stable ``reason`` code, one
line for a person, and the alternatives that are still allowed).

Time convention: every period is half-open, ``[start, start + length)``. A window
opened at ``t`` is open while ``now < t + length`` and closed from ``t + length``
on: at exactly 24 hours the standard window is closed, at exactly 7 days
HUMAN_AGENT and private replies have expired, a token expires at its expiry time.
All datetimes must be timezone-aware; they are compared and added in UTC, so
daylight-saving changes never stretch a window.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import ClassVar, Literal

from pagedesk.messenger.send import MessageTag, MessagingType, NotificationFrequency

__all__ = [
    "AD_WINDOW",
    "DEFAULT_ALLOWED_TAGS",
    "HUMAN_AGENT_WINDOW",
    "KNOWN_TAGS",
    "PRIVATE_REPLY_WINDOW",
    "RETIRED_TAGS",
    "STANDARD_WINDOW",
    "Allowed",
    "Alternative",
    "ChannelPolicy",
    "CommentState",
    "ContactState",
    "Decision",
    "Draft",
    "DraftKind",
    "OneTimeToken",
    "Reason",
    "RecurringToken",
    "Refused",
    "TokenKind",
    "TokenStatus",
    "WindowStatus",
    "add_months",
    "decide",
    "window_status",
]

STANDARD_WINDOW = timedelta(hours=24)
AD_WINDOW = timedelta(days=7)  # first message after a click-to-Messenger ad
HUMAN_AGENT_WINDOW = timedelta(days=7)
CUSTOMER_FEEDBACK_WINDOW = timedelta(days=7)
PRIVATE_REPLY_WINDOW = timedelta(days=7)
ONE_TIME_TOKEN_VALIDITY_MONTHS = 12
RECURRING_VALIDITY_MONTHS = {
    NotificationFrequency.DAILY: 6,
    NotificationFrequency.WEEKLY: 9,
    NotificationFrequency.MONTHLY: 12,
}

HUMAN_AGENT = MessageTag.HUMAN_AGENT.value
CUSTOMER_FEEDBACK = MessageTag.CUSTOMER_FEEDBACK.value
DEFAULT_ALLOWED_TAGS = frozenset({HUMAN_AGENT, CUSTOMER_FEEDBACK})
# Described by Meta's 2023 guide; rejected with error 100 since 27 April 2026.
RETIRED_TAGS = frozenset(
    {
        MessageTag.CONFIRMED_EVENT_UPDATE.value,
        MessageTag.POST_PURCHASE_UPDATE.value,
        MessageTag.ACCOUNT_UPDATE.value,
    }
)
KNOWN_TAGS = DEFAULT_ALLOWED_TAGS | RETIRED_TAGS


# --- inputs ---------------------------------------------------------------------


class TokenStatus(StrEnum):
    ACTIVE = "active"
    STOPPED = "stopped"  # the person turned the notifications off


@dataclass(frozen=True)
class OneTimeToken:
    """A one-time notification token: one message, valid a year.

    Retired by Meta (its successor is the paid Marketing Messages API); modelled
    for the sandbox and pages on older arrangements.
    """

    token: str
    opted_in_at: datetime
    used: bool = False
    expires_at: datetime | None = None  # default: a year after the opt-in

    def ends_at(self) -> datetime:
        if self.expires_at is not None:
            return _utc(self.expires_at, "expires_at")
        return add_months(_utc(self.opted_in_at, "opted_in_at"), ONE_TIME_TOKEN_VALIDITY_MONTHS)


@dataclass(frozen=True)
class RecurringToken:
    """A recurring notification token: one message per period while valid.

    Validity from the opt-in: DAILY 6 months, WEEKLY 9 months, MONTHLY 12 months
    (unless Meta's ``token_expiry_timestamp`` says otherwise, given as
    ``expires_at``). Retired by Meta on 10 February 2026; still modelled.
    """

    token: str
    frequency: NotificationFrequency
    opted_in_at: datetime
    expires_at: datetime | None = None
    status: TokenStatus = TokenStatus.ACTIVE
    last_used_at: datetime | None = None

    def ends_at(self) -> datetime:
        if self.expires_at is not None:
            return _utc(self.expires_at, "expires_at")
        months = RECURRING_VALIDITY_MONTHS[self.frequency]
        return add_months(_utc(self.opted_in_at, "opted_in_at"), months)

    def next_slot(self) -> datetime | None:
        """The earliest time the next message may go, or None if none was sent yet."""
        if self.last_used_at is None:
            return None
        last = _utc(self.last_used_at, "last_used_at")
        if self.frequency is NotificationFrequency.DAILY:
            return last + timedelta(days=1)
        if self.frequency is NotificationFrequency.WEEKLY:
            return last + timedelta(days=7)
        return add_months(last, 1)


@dataclass(frozen=True)
class CommentState:
    """A comment (or visitor post) the contact wrote, for a private reply."""

    comment_id: str
    created_at: datetime
    replied: bool = False


@dataclass(frozen=True)
class ContactState:
    """What policy needs to know about a contact.

    ``last_customer_message_at``: the customer's last action that opens the window
    (a message, a postback, starting from an ad, an m.me link with a ref); not
    notification opt-ins, unanswered private replies or reactions.
    ``ad_message_at``: the customer's first message after a click-to-Messenger
    ad click; the window then lasts up to 7 days from it.
    ``message_request_pending``: a customer-matching request not yet accepted.
    """

    last_customer_message_at: datetime | None = None
    ad_message_at: datetime | None = None
    message_request_pending: bool = False
    one_time_tokens: tuple[OneTimeToken, ...] = ()
    recurring_tokens: tuple[RecurringToken, ...] = ()
    comment: CommentState | None = None


class DraftKind(StrEnum):
    HUMAN_REPLY = "human_reply"  # written by an agent
    AUTOMATED = "automated"  # auto-replies, sequences, bots
    PRIVATE_REPLY = "private_reply"  # to the contact's comment
    BROADCAST = "broadcast"  # outreach to a segment


@dataclass(frozen=True)
class Draft:
    """A message about to be sent.

    ``tag``: the message tag the sender asks for, if any. ``uses_token``: the
    notification token to send with, if any. ``feedback_template``: the message is
    Meta's customer-feedback template (the only content CUSTOMER_FEEDBACK allows).
    """

    kind: DraftKind
    tag: str | None = None
    promotional: bool = False
    uses_token: str | None = None
    feedback_template: bool = False

    def __post_init__(self) -> None:
        if self.tag is not None and self.uses_token is not None:
            raise ValueError("a draft uses a tag or a notification token, not both")
        if self.kind is DraftKind.PRIVATE_REPLY and (self.tag or self.uses_token):
            raise ValueError("a private reply takes no tag and no token")


@dataclass(frozen=True)
class ChannelPolicy:
    """Per-channel settings, as data so Meta's next change is a setting, not a release.

    ``human_agent_enabled``: the app has Meta's approval for HUMAN_AGENT.
    ``notification_tokens_enabled``: one-time and recurring notifications, retired by
    Meta, still work for this page (the sandbox, older arrangements).
    """

    allowed_tags: frozenset[str] = DEFAULT_ALLOWED_TAGS
    human_agent_enabled: bool = True
    notification_tokens_enabled: bool = False


# --- outputs --------------------------------------------------------------------


class TokenKind(StrEnum):
    ONE_TIME = "one_time"
    RECURRING = "recurring"


class Reason(StrEnum):
    """Stable refusal codes (stored, shown, and matched by the UI)."""

    WINDOW_CLOSED = "window_closed"
    HUMAN_AGENT_EXPIRED = "human_agent_expired"
    HUMAN_AGENT_NOT_APPROVED = "human_agent_not_approved"
    AUTOMATED_HUMAN_AGENT = "automated_human_agent"
    TAG_NOT_ALLOWED = "tag_not_allowed"
    TAG_RETIRED = "tag_retired"
    PROMOTIONAL_TAGGED = "promotional_tagged"
    FEEDBACK_TEMPLATE_REQUIRED = "feedback_template_required"
    CUSTOMER_FEEDBACK_EXPIRED = "customer_feedback_expired"
    MESSAGE_REQUEST_PENDING = "message_request_pending"
    NOTIFICATIONS_RETIRED = "notifications_retired"
    TOKEN_UNKNOWN = "token_unknown"
    TOKEN_USED = "token_used"
    TOKEN_EXPIRED = "token_expired"
    TOKEN_STOPPED = "token_stopped"
    TOKEN_FREQUENCY = "token_frequency"
    PRIVATE_REPLY_NO_COMMENT = "private_reply_no_comment"
    PRIVATE_REPLY_USED = "private_reply_used"
    PRIVATE_REPLY_EXPIRED = "private_reply_expired"


class Alternative(StrEnum):
    """What can still be done when a draft is refused."""

    HUMAN_AGENT = "human_agent"  # an agent replies with the HUMAN_AGENT tag
    CUSTOMER_FEEDBACK = "customer_feedback"  # send the customer-feedback template
    NOTIFICATION_TOKEN = "notification_token"  # send with a valid opt-in token
    PRIVATE_REPLY = "private_reply"  # answer the contact's comment privately
    MARKETING_MESSAGES = "marketing_messages"  # Meta's paid route for opted-in customers
    WAIT_FOR_CUSTOMER = "wait_for_customer"  # the next customer message reopens the window


@dataclass(frozen=True)
class WindowStatus:
    """Deadlines for the composer's countdowns (None: no customer message yet)."""

    window_ends_at: datetime | None
    human_agent_ends_at: datetime | None
    window_open: bool
    human_agent_open: bool
    extended_by_ad: bool


@dataclass(frozen=True)
class Allowed:
    """Send it like this. ``expires_at``: when this permission lapses (None: no limit).

    ``messaging_type`` is None only for token sends, where the token in the
    recipient is the permission.
    """

    allowed: ClassVar[Literal[True]] = True
    messaging_type: MessagingType | None
    tag: str | None = None
    token_kind: TokenKind | None = None
    token: str | None = None
    expires_at: datetime | None = None
    window_ends_at: datetime | None = None
    human_agent_ends_at: datetime | None = None


@dataclass(frozen=True)
class Refused:
    allowed: ClassVar[Literal[False]] = False
    reason: Reason
    explanation: str
    alternatives: tuple[Alternative, ...] = field(default=())
    window_ends_at: datetime | None = None
    human_agent_ends_at: datetime | None = None


Decision = Allowed | Refused


# --- time helpers ---------------------------------------------------------------


def _utc(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime")
    return moment.astimezone(UTC)


def _opt_utc(moment: datetime | None, name: str) -> datetime | None:
    return None if moment is None else _utc(moment, name)


def add_months(moment: datetime, months: int) -> datetime:
    """Same day and time ``months`` later, clamped to the month's last day."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def _fmt(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _last_customer_at(state: ContactState) -> datetime | None:
    moments = [
        m
        for m in (
            _opt_utc(state.last_customer_message_at, "last_customer_message_at"),
            _opt_utc(state.ad_message_at, "ad_message_at"),
        )
        if m is not None
    ]
    return max(moments) if moments else None


# --- the rules ------------------------------------------------------------------


def window_status(state: ContactState, now: datetime) -> WindowStatus:
    """The standard window's end (extended by a click-to-Messenger ad) and HUMAN_AGENT's."""
    now = _utc(now, "now")
    last = _last_customer_at(state)
    if last is None:
        return WindowStatus(None, None, False, False, False)
    standard_end = last + STANDARD_WINDOW
    ad_at = _opt_utc(state.ad_message_at, "ad_message_at")
    ad_end = ad_at + AD_WINDOW if ad_at is not None else None
    window_end = max(standard_end, ad_end) if ad_end is not None else standard_end
    human_agent_end = last + HUMAN_AGENT_WINDOW
    return WindowStatus(
        window_ends_at=window_end,
        human_agent_ends_at=human_agent_end,
        window_open=now < window_end,
        human_agent_open=now < human_agent_end,
        extended_by_ad=window_end != standard_end,
    )


@dataclass(frozen=True)
class _Case:
    state: ContactState
    draft: Draft
    channel: ChannelPolicy
    now: datetime
    status: WindowStatus

    def refuse(
        self, reason: Reason, explanation: str, alternatives: tuple[Alternative, ...] | None = None
    ) -> Refused:
        return Refused(
            reason=reason,
            explanation=explanation,
            alternatives=self.alternatives() if alternatives is None else alternatives,
            window_ends_at=self.status.window_ends_at,
            human_agent_ends_at=self.status.human_agent_ends_at,
        )

    def allow(
        self,
        messaging_type: MessagingType | None,
        *,
        expires_at: datetime | None,
        tag: str | None = None,
        token_kind: TokenKind | None = None,
        token: str | None = None,
    ) -> Allowed:
        return Allowed(
            messaging_type=messaging_type,
            tag=tag,
            token_kind=token_kind,
            token=token,
            expires_at=expires_at,
            window_ends_at=self.status.window_ends_at,
            human_agent_ends_at=self.status.human_agent_ends_at,
        )

    def feedback_open(self) -> bool:
        last = _last_customer_at(self.state)
        return last is not None and self.now < last + CUSTOMER_FEEDBACK_WINDOW

    def alternatives(self) -> tuple[Alternative, ...]:
        """Every other route :func:`decide` would allow for this contact right now."""
        draft, channel = self.draft, self.channel
        found: list[Alternative] = []
        untagged_ok = not draft.promotional
        if (
            draft.kind is DraftKind.HUMAN_REPLY
            and untagged_ok
            and HUMAN_AGENT in channel.allowed_tags
            and channel.human_agent_enabled
            and self.status.human_agent_open
            and draft.tag != HUMAN_AGENT
        ):
            found.append(Alternative.HUMAN_AGENT)
        if (
            untagged_ok
            and CUSTOMER_FEEDBACK in channel.allowed_tags
            and self.feedback_open()
            and draft.tag != CUSTOMER_FEEDBACK
        ):
            found.append(Alternative.CUSTOMER_FEEDBACK)
        if channel.notification_tokens_enabled and self.usable_token() is not None:
            found.append(Alternative.NOTIFICATION_TOKEN)
        comment = self.state.comment
        if (
            draft.kind is not DraftKind.PRIVATE_REPLY
            and comment is not None
            and _private_reply_problem(comment, self.now) is None
        ):
            found.append(Alternative.PRIVATE_REPLY)
        if draft.kind is DraftKind.BROADCAST or draft.uses_token is not None:
            found.append(Alternative.MARKETING_MESSAGES)
        found.append(Alternative.WAIT_FOR_CUSTOMER)
        return tuple(found)

    def usable_token(self) -> str | None:
        for one in self.state.one_time_tokens:
            if _one_time_problem(one, self.now) is None:
                return one.token
        for rec in self.state.recurring_tokens:
            if _recurring_problem(rec, self.now) is None:
                return rec.token
        return None


def decide(state: ContactState, draft: Draft, channel: ChannelPolicy, now: datetime) -> Decision:
    """May ``draft`` be sent to the contact at ``now``, and with which type, tag or token?

    Order: a pending message request blocks everything; private replies follow
    their own rule; a requested tag is checked against its rule (even inside the
    window, so HUMAN_AGENT is never allowed for automation); inside the window any
    content goes as RESPONSE (UPDATE for broadcasts) and a token is kept for later;
    outside it only a valid notification token remains.
    """
    now = _utc(now, "now")
    case = _Case(state, draft, channel, now, window_status(state, now))

    if state.message_request_pending:
        return case.refuse(
            Reason.MESSAGE_REQUEST_PENDING,
            "The customer has not accepted the message request yet; nothing more may be "
            "sent until they do.",
            (Alternative.WAIT_FOR_CUSTOMER,),
        )
    if draft.kind is DraftKind.PRIVATE_REPLY:
        return _private_reply(case)
    if draft.tag is not None:
        return _tagged(case, draft.tag)
    if case.status.window_open:
        kind = MessagingType.UPDATE if draft.kind is DraftKind.BROADCAST else MessagingType.RESPONSE
        return case.allow(kind, expires_at=case.status.window_ends_at)
    if draft.uses_token is not None:
        return _with_token(case, draft.uses_token)
    if case.status.window_ends_at is None:
        return case.refuse(
            Reason.WINDOW_CLOSED,
            "The customer has never written to the page, so the page may not start the "
            "conversation.",
        )
    return case.refuse(
        Reason.WINDOW_CLOSED,
        f"The messaging window closed at {_fmt(case.status.window_ends_at)}; "
        "outside it only a tagged message may be sent.",
    )


def _tagged(case: _Case, tag: str) -> Decision:
    draft, channel, status = case.draft, case.channel, case.status
    if tag == HUMAN_AGENT and draft.kind is not DraftKind.HUMAN_REPLY:
        return case.refuse(
            Reason.AUTOMATED_HUMAN_AGENT,
            "HUMAN_AGENT is only for replies written by a person, never for automated "
            "messages or broadcasts.",
        )
    if tag not in channel.allowed_tags:
        if tag in RETIRED_TAGS:
            return case.refuse(
                Reason.TAG_RETIRED,
                f"Meta retired the {tag} tag on 27 April 2026; messages with it are rejected.",
            )
        return case.refuse(Reason.TAG_NOT_ALLOWED, f"The {tag} tag is not allowed on this page.")
    if draft.promotional:
        return case.refuse(
            Reason.PROMOTIONAL_TAGGED,
            "Tagged messages may not be promotional; send it inside the 24-hour window "
            "without a tag.",
        )
    if tag == HUMAN_AGENT:
        if not channel.human_agent_enabled:
            return case.refuse(
                Reason.HUMAN_AGENT_NOT_APPROVED,
                "This page's app is not approved by Meta for the HUMAN_AGENT tag.",
            )
        if not status.human_agent_open:
            return case.refuse(
                Reason.HUMAN_AGENT_EXPIRED,
                "HUMAN_AGENT replies are allowed only within 7 days of the customer's last "
                "message.",
            )
        return case.allow(MessagingType.MESSAGE_TAG, tag=tag, expires_at=status.human_agent_ends_at)
    if tag == CUSTOMER_FEEDBACK:
        if not draft.feedback_template:
            return case.refuse(
                Reason.FEEDBACK_TEMPLATE_REQUIRED,
                "CUSTOMER_FEEDBACK may only carry Meta's customer-feedback template.",
            )
        last = _last_customer_at(case.state)
        if last is None or not case.feedback_open():
            return case.refuse(
                Reason.CUSTOMER_FEEDBACK_EXPIRED,
                "Customer feedback may be requested only within 7 days of the customer's "
                "last message.",
            )
        return case.allow(
            MessagingType.MESSAGE_TAG, tag=tag, expires_at=last + CUSTOMER_FEEDBACK_WINDOW
        )
    # A tag the channel allows without a rule here (re-enabled or new): Meta judges it.
    return case.allow(MessagingType.MESSAGE_TAG, tag=tag, expires_at=None)


def _private_reply_problem(comment: CommentState, now: datetime) -> Reason | None:
    if comment.replied:
        return Reason.PRIVATE_REPLY_USED
    if now >= _utc(comment.created_at, "comment.created_at") + PRIVATE_REPLY_WINDOW:
        return Reason.PRIVATE_REPLY_EXPIRED
    return None


def _private_reply(case: _Case) -> Decision:
    comment = case.state.comment
    if comment is None:
        return case.refuse(
            Reason.PRIVATE_REPLY_NO_COMMENT, "There is no comment from this person to reply to."
        )
    problem = _private_reply_problem(comment, case.now)
    if problem is Reason.PRIVATE_REPLY_USED:
        return case.refuse(problem, "This comment already got its one private reply.")
    if problem is Reason.PRIVATE_REPLY_EXPIRED:
        return case.refuse(
            problem, "Private replies are allowed only within 7 days of the comment."
        )
    ends = _utc(comment.created_at, "comment.created_at") + PRIVATE_REPLY_WINDOW
    return case.allow(MessagingType.RESPONSE, expires_at=ends)


def _one_time_problem(token: OneTimeToken, now: datetime) -> Reason | None:
    if token.used:
        return Reason.TOKEN_USED
    if now >= token.ends_at():
        return Reason.TOKEN_EXPIRED
    return None


def _recurring_problem(token: RecurringToken, now: datetime) -> Reason | None:
    if token.status is TokenStatus.STOPPED:
        return Reason.TOKEN_STOPPED
    if now >= token.ends_at():
        return Reason.TOKEN_EXPIRED
    slot = token.next_slot()
    if slot is not None and now < slot:
        return Reason.TOKEN_FREQUENCY
    return None


_TOKEN_EXPLANATIONS = {
    Reason.TOKEN_USED: "This one-time notification token was already used.",
    Reason.TOKEN_EXPIRED: "This notification token has expired.",
    Reason.TOKEN_STOPPED: "The customer turned these notifications off.",
}


def _with_token(case: _Case, token: str) -> Decision:
    if not case.channel.notification_tokens_enabled:
        return case.refuse(
            Reason.NOTIFICATIONS_RETIRED,
            "Meta retired one-time and recurring notifications; use Marketing Messages "
            "to reach opted-in customers outside the window.",
            (Alternative.MARKETING_MESSAGES, Alternative.WAIT_FOR_CUSTOMER),
        )
    for one in case.state.one_time_tokens:
        if one.token == token:
            problem = _one_time_problem(one, case.now)
            if problem is not None:
                return case.refuse(problem, _TOKEN_EXPLANATIONS[problem])
            return case.allow(
                None, token_kind=TokenKind.ONE_TIME, token=token, expires_at=one.ends_at()
            )
    for rec in case.state.recurring_tokens:
        if rec.token == token:
            problem = _recurring_problem(rec, case.now)
            slot = rec.next_slot()
            if problem is Reason.TOKEN_FREQUENCY and slot is not None:
                return case.refuse(
                    problem,
                    f"{rec.frequency.value.capitalize()} notifications allow one message per "
                    f"period; the next may go at {_fmt(slot)}.",
                )
            if problem is not None:
                return case.refuse(problem, _TOKEN_EXPLANATIONS[problem])
            return case.allow(
                None, token_kind=TokenKind.RECURRING, token=token, expires_at=rec.ends_at()
            )
    return case.refuse(Reason.TOKEN_UNKNOWN, "This contact holds no such notification token.")
