"""Policy rules: worked examples, exact boundaries, and properties over time."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pagedesk.messenger.policy import (
    AD_WINDOW,
    HUMAN_AGENT_WINDOW,
    PRIVATE_REPLY_WINDOW,
    STANDARD_WINDOW,
    Allowed,
    Alternative,
    ChannelPolicy,
    CommentState,
    ContactState,
    Decision,
    Draft,
    DraftKind,
    OneTimeToken,
    Reason,
    RecurringToken,
    Refused,
    TokenKind,
    TokenStatus,
    add_months,
    decide,
    window_status,
)
from pagedesk.messenger.send import MessagingType, NotificationFrequency

NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
TICK = timedelta(microseconds=1)
CHANNEL = ChannelPolicy()
TOKENS_ON = ChannelPolicy(notification_tokens_enabled=True)

HUMAN = Draft(DraftKind.HUMAN_REPLY)
AUTOMATED = Draft(DraftKind.AUTOMATED)
BROADCAST = Draft(DraftKind.BROADCAST)
PRIVATE = Draft(DraftKind.PRIVATE_REPLY)


def ago(delta: timedelta) -> ContactState:
    return ContactState(last_customer_message_at=NOW - delta)


def tagged(kind: DraftKind, tag: str, **kwargs: Any) -> Draft:
    return Draft(kind, tag=tag, **kwargs)


def allowed(decision: Decision) -> Allowed:
    assert isinstance(decision, Allowed), decision
    return decision


def refused(decision: Decision, reason: Reason) -> Refused:
    assert isinstance(decision, Refused), decision
    assert decision.reason is reason, decision
    assert decision.explanation.endswith(".")
    assert "\n" not in decision.explanation
    return decision


# --- the standard window --------------------------------------------------------


def test_inside_the_window_any_content_goes() -> None:
    state = ago(timedelta(hours=3))
    human = allowed(decide(state, Draft(DraftKind.HUMAN_REPLY, promotional=True), CHANNEL, NOW))
    assert human.messaging_type is MessagingType.RESPONSE and human.tag is None
    assert human.expires_at == NOW + timedelta(hours=21)
    assert allowed(decide(state, AUTOMATED, CHANNEL, NOW)).messaging_type is MessagingType.RESPONSE
    assert allowed(decide(state, BROADCAST, CHANNEL, NOW)).messaging_type is MessagingType.UPDATE


def test_window_boundary_is_exclusive_at_24_hours() -> None:
    assert allowed(decide(ago(STANDARD_WINDOW - TICK), HUMAN, CHANNEL, NOW))
    closed = refused(decide(ago(STANDARD_WINDOW), HUMAN, CHANNEL, NOW), Reason.WINDOW_CLOSED)
    assert closed.window_ends_at == NOW
    assert closed.human_agent_ends_at == NOW - STANDARD_WINDOW + HUMAN_AGENT_WINDOW


def test_window_closed_lists_human_agent_for_a_human_reply() -> None:
    decision = refused(decide(ago(timedelta(days=2)), HUMAN, CHANNEL, NOW), Reason.WINDOW_CLOSED)
    assert decision.alternatives == (
        Alternative.HUMAN_AGENT,
        Alternative.CUSTOMER_FEEDBACK,
        Alternative.WAIT_FOR_CUSTOMER,
    )
    auto = refused(decide(ago(timedelta(days=2)), AUTOMATED, CHANNEL, NOW), Reason.WINDOW_CLOSED)
    assert Alternative.HUMAN_AGENT not in auto.alternatives


def test_no_customer_message_means_no_window() -> None:
    decision = refused(decide(ContactState(), HUMAN, CHANNEL, NOW), Reason.WINDOW_CLOSED)
    assert "never written" in decision.explanation
    assert decision.alternatives == (Alternative.WAIT_FOR_CUSTOMER,)
    assert decision.window_ends_at is None and decision.human_agent_ends_at is None
    refused(
        decide(ContactState(), tagged(DraftKind.HUMAN_REPLY, "HUMAN_AGENT"), CHANNEL, NOW),
        Reason.HUMAN_AGENT_EXPIRED,
    )


def test_click_to_messenger_ad_keeps_the_window_open_for_7_days() -> None:
    state = ContactState(ad_message_at=NOW - timedelta(days=3))
    status = window_status(state, NOW)
    assert status.window_open and status.extended_by_ad
    assert status.window_ends_at == NOW + timedelta(days=4)
    assert allowed(decide(state, AUTOMATED, CHANNEL, NOW)).expires_at == NOW + timedelta(days=4)
    expired = ContactState(ad_message_at=NOW - AD_WINDOW)
    refused(decide(expired, AUTOMATED, CHANNEL, NOW), Reason.WINDOW_CLOSED)


def test_a_later_customer_message_counts_from_itself() -> None:
    state = ContactState(
        last_customer_message_at=NOW - timedelta(hours=1),
        ad_message_at=NOW - timedelta(days=6, hours=23),
    )
    status = window_status(state, NOW)
    assert status.window_ends_at == NOW + timedelta(hours=23)
    assert not status.extended_by_ad
    assert status.human_agent_ends_at == NOW - timedelta(hours=1) + HUMAN_AGENT_WINDOW


def test_window_status_without_history() -> None:
    status = window_status(ContactState(), NOW)
    assert status == window_status(ContactState(), NOW + timedelta(days=400))
    assert not status.window_open and not status.human_agent_open


# --- tags -----------------------------------------------------------------------


def test_human_agent_within_7_days() -> None:
    state = ago(timedelta(days=3))
    decision = allowed(decide(state, tagged(DraftKind.HUMAN_REPLY, "HUMAN_AGENT"), CHANNEL, NOW))
    assert decision.messaging_type is MessagingType.MESSAGE_TAG
    assert decision.tag == "HUMAN_AGENT"
    assert decision.expires_at == NOW + timedelta(days=4) == decision.human_agent_ends_at


def test_human_agent_boundary_is_exclusive_at_7_days() -> None:
    draft = tagged(DraftKind.HUMAN_REPLY, "HUMAN_AGENT")
    allowed(decide(ago(HUMAN_AGENT_WINDOW - TICK), draft, CHANNEL, NOW))
    late = refused(decide(ago(HUMAN_AGENT_WINDOW), draft, CHANNEL, NOW), Reason.HUMAN_AGENT_EXPIRED)
    assert Alternative.HUMAN_AGENT not in late.alternatives


@pytest.mark.parametrize("kind", [DraftKind.AUTOMATED, DraftKind.BROADCAST])
def test_human_agent_is_never_for_automation(kind: DraftKind) -> None:
    for delta in (timedelta(hours=1), timedelta(days=2)):
        refused(
            decide(ago(delta), tagged(kind, "HUMAN_AGENT"), CHANNEL, NOW),
            Reason.AUTOMATED_HUMAN_AGENT,
        )


def test_human_agent_needs_meta_approval() -> None:
    channel = ChannelPolicy(human_agent_enabled=False)
    draft = tagged(DraftKind.HUMAN_REPLY, "HUMAN_AGENT")
    refused(decide(ago(timedelta(days=2)), draft, channel, NOW), Reason.HUMAN_AGENT_NOT_APPROVED)
    closed = refused(decide(ago(timedelta(days=2)), HUMAN, channel, NOW), Reason.WINDOW_CLOSED)
    assert Alternative.HUMAN_AGENT not in closed.alternatives


def test_human_agent_inside_the_window_is_fine() -> None:
    draft = tagged(DraftKind.HUMAN_REPLY, "HUMAN_AGENT")
    assert allowed(decide(ago(timedelta(hours=1)), draft, CHANNEL, NOW)).tag == "HUMAN_AGENT"


def test_tagged_messages_may_not_be_promotional() -> None:
    draft = tagged(DraftKind.HUMAN_REPLY, "HUMAN_AGENT", promotional=True)
    decision = refused(
        decide(ago(timedelta(days=2)), draft, CHANNEL, NOW), Reason.PROMOTIONAL_TAGGED
    )
    assert Alternative.HUMAN_AGENT not in decision.alternatives
    closed = refused(
        decide(
            ago(timedelta(days=2)), Draft(DraftKind.HUMAN_REPLY, promotional=True), CHANNEL, NOW
        ),
        Reason.WINDOW_CLOSED,
    )
    assert closed.alternatives == (Alternative.WAIT_FOR_CUSTOMER,)


def test_customer_feedback_needs_the_template_and_7_days() -> None:
    state = ago(timedelta(days=5))
    feedback = tagged(DraftKind.AUTOMATED, "CUSTOMER_FEEDBACK", feedback_template=True)
    decision = allowed(decide(state, feedback, CHANNEL, NOW))
    assert decision.tag == "CUSTOMER_FEEDBACK"
    assert decision.expires_at == NOW + timedelta(days=2)
    refused(
        decide(state, tagged(DraftKind.AUTOMATED, "CUSTOMER_FEEDBACK"), CHANNEL, NOW),
        Reason.FEEDBACK_TEMPLATE_REQUIRED,
    )
    refused(
        decide(ago(timedelta(days=7)), feedback, CHANNEL, NOW), Reason.CUSTOMER_FEEDBACK_EXPIRED
    )


@pytest.mark.parametrize(
    "tag", ["CONFIRMED_EVENT_UPDATE", "POST_PURCHASE_UPDATE", "ACCOUNT_UPDATE"]
)
def test_retired_tags_are_refused_by_default(tag: str) -> None:
    decision = refused(
        decide(ago(timedelta(days=2)), tagged(DraftKind.AUTOMATED, tag), CHANNEL, NOW),
        Reason.TAG_RETIRED,
    )
    assert "27 April 2026" in decision.explanation


def test_allowed_tags_are_data() -> None:
    channel = ChannelPolicy(allowed_tags=frozenset({"POST_PURCHASE_UPDATE", "NEW_TAG"}))
    for tag in ("POST_PURCHASE_UPDATE", "NEW_TAG"):
        decision = allowed(
            decide(ago(timedelta(days=30)), tagged(DraftKind.AUTOMATED, tag), channel, NOW)
        )
        assert (decision.messaging_type, decision.tag, decision.expires_at) == (
            MessagingType.MESSAGE_TAG,
            tag,
            None,
        )
    refused(
        decide(ago(timedelta(days=2)), tagged(DraftKind.HUMAN_REPLY, "HUMAN_AGENT"), channel, NOW),
        Reason.TAG_NOT_ALLOWED,
    )
    refused(
        decide(ago(timedelta(days=2)), tagged(DraftKind.AUTOMATED, "MADE_UP"), CHANNEL, NOW),
        Reason.TAG_NOT_ALLOWED,
    )


# --- message requests and private replies ---------------------------------------


def test_pending_message_request_blocks_everything() -> None:
    state = ContactState(last_customer_message_at=NOW, message_request_pending=True)
    for draft in (HUMAN, AUTOMATED, BROADCAST, tagged(DraftKind.HUMAN_REPLY, "HUMAN_AGENT")):
        decision = refused(decide(state, draft, CHANNEL, NOW), Reason.MESSAGE_REQUEST_PENDING)
        assert decision.alternatives == (Alternative.WAIT_FOR_CUSTOMER,)


def comment_state(age: timedelta, replied: bool = False) -> ContactState:
    return ContactState(comment=CommentState("POST_1", NOW - age, replied=replied))


def test_private_reply_once_within_7_days() -> None:
    decision = allowed(decide(comment_state(timedelta(days=1)), PRIVATE, CHANNEL, NOW))
    assert decision.messaging_type is MessagingType.RESPONSE
    assert decision.expires_at == NOW + timedelta(days=6)
    refused(
        decide(comment_state(timedelta(days=1), replied=True), PRIVATE, CHANNEL, NOW),
        Reason.PRIVATE_REPLY_USED,
    )
    allowed(decide(comment_state(PRIVATE_REPLY_WINDOW - TICK), PRIVATE, CHANNEL, NOW))
    refused(
        decide(comment_state(PRIVATE_REPLY_WINDOW), PRIVATE, CHANNEL, NOW),
        Reason.PRIVATE_REPLY_EXPIRED,
    )
    refused(decide(ContactState(), PRIVATE, CHANNEL, NOW), Reason.PRIVATE_REPLY_NO_COMMENT)


def test_a_comment_does_not_open_the_window_but_is_offered() -> None:
    decision = refused(
        decide(comment_state(timedelta(hours=1)), HUMAN, CHANNEL, NOW), Reason.WINDOW_CLOSED
    )
    assert Alternative.PRIVATE_REPLY in decision.alternatives


def test_invalid_drafts_are_programming_errors() -> None:
    with pytest.raises(ValueError):
        Draft(DraftKind.BROADCAST, tag="HUMAN_AGENT", uses_token="t")
    with pytest.raises(ValueError):
        Draft(DraftKind.PRIVATE_REPLY, tag="HUMAN_AGENT")


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        decide(ContactState(), HUMAN, CHANNEL, datetime(2026, 5, 4, 12))
    naive_state = ContactState(last_customer_message_at=datetime(2026, 5, 4, 11))
    with pytest.raises(ValueError, match="last_customer_message_at"):
        decide(naive_state, HUMAN, CHANNEL, NOW)


# --- notification tokens (retired by Meta, still modelled) ----------------------


def one_time(**kwargs: Any) -> OneTimeToken:
    return OneTimeToken(**{"token": "OTN", "opted_in_at": NOW - timedelta(days=10), **kwargs})


def recurring(**kwargs: Any) -> RecurringToken:
    base = {
        "token": "RN",
        "frequency": NotificationFrequency.WEEKLY,
        "opted_in_at": NOW - timedelta(days=30),
    }
    return RecurringToken(**{**base, **kwargs})


def with_tokens(*tokens: OneTimeToken | RecurringToken) -> ContactState:
    return ContactState(
        last_customer_message_at=NOW - timedelta(days=10),
        one_time_tokens=tuple(t for t in tokens if isinstance(t, OneTimeToken)),
        recurring_tokens=tuple(t for t in tokens if isinstance(t, RecurringToken)),
    )


def test_tokens_are_retired_unless_the_channel_enables_them() -> None:
    draft = Draft(DraftKind.BROADCAST, uses_token="OTN")
    decision = refused(
        decide(with_tokens(one_time()), draft, CHANNEL, NOW), Reason.NOTIFICATIONS_RETIRED
    )
    assert decision.alternatives == (Alternative.MARKETING_MESSAGES, Alternative.WAIT_FOR_CUSTOMER)


def test_one_time_token_single_use_for_a_year() -> None:
    draft = Draft(DraftKind.BROADCAST, uses_token="OTN")
    decision = allowed(decide(with_tokens(one_time()), draft, TOKENS_ON, NOW))
    assert decision.messaging_type is None
    assert (decision.token_kind, decision.token) == (TokenKind.ONE_TIME, "OTN")
    assert decision.expires_at == datetime(2027, 4, 24, 12, tzinfo=UTC)
    refused(decide(with_tokens(one_time(used=True)), draft, TOKENS_ON, NOW), Reason.TOKEN_USED)
    year_old = one_time(opted_in_at=add_months(NOW, -12))
    refused(decide(with_tokens(year_old), draft, TOKENS_ON, NOW), Reason.TOKEN_EXPIRED)
    explicit = one_time(expires_at=NOW)
    refused(decide(with_tokens(explicit), draft, TOKENS_ON, NOW), Reason.TOKEN_EXPIRED)
    refused(decide(with_tokens(), draft, TOKENS_ON, NOW), Reason.TOKEN_UNKNOWN)


@pytest.mark.parametrize(
    ("frequency", "months"),
    [
        (NotificationFrequency.DAILY, 6),
        (NotificationFrequency.WEEKLY, 9),
        (NotificationFrequency.MONTHLY, 12),
    ],
)
def test_recurring_token_validity(frequency: NotificationFrequency, months: int) -> None:
    draft = Draft(DraftKind.BROADCAST, uses_token="RN")
    opted = NOW - timedelta(days=1)
    token = recurring(frequency=frequency, opted_in_at=opted)
    assert token.ends_at() == add_months(opted, months)
    decision = allowed(decide(with_tokens(token), draft, TOKENS_ON, NOW))
    assert decision.token_kind is TokenKind.RECURRING
    old = recurring(frequency=frequency, opted_in_at=add_months(NOW, -months))
    refused(decide(with_tokens(old), draft, TOKENS_ON, NOW), Reason.TOKEN_EXPIRED)


def test_recurring_token_stopped_and_frequency() -> None:
    draft = Draft(DraftKind.BROADCAST, uses_token="RN")
    stopped = recurring(status=TokenStatus.STOPPED)
    refused(decide(with_tokens(stopped), draft, TOKENS_ON, NOW), Reason.TOKEN_STOPPED)
    recent = recurring(last_used_at=NOW - timedelta(days=6))
    too_soon = refused(decide(with_tokens(recent), draft, TOKENS_ON, NOW), Reason.TOKEN_FREQUENCY)
    assert "2026-05-05 12:00 UTC" in too_soon.explanation
    week_ago = recurring(last_used_at=NOW - timedelta(days=7))
    allowed(decide(with_tokens(week_ago), draft, TOKENS_ON, NOW))
    monthly = recurring(
        frequency=NotificationFrequency.MONTHLY,
        last_used_at=datetime(2026, 4, 4, 12, 0, 1, tzinfo=UTC),
    )
    refused(decide(with_tokens(monthly), draft, TOKENS_ON, NOW), Reason.TOKEN_FREQUENCY)


def test_inside_the_window_the_token_is_kept() -> None:
    state = dataclasses.replace(with_tokens(one_time()), last_customer_message_at=NOW)
    decision = allowed(decide(state, Draft(DraftKind.BROADCAST, uses_token="OTN"), TOKENS_ON, NOW))
    assert decision.token_kind is None and decision.messaging_type is MessagingType.UPDATE


def test_a_usable_token_is_offered_as_an_alternative() -> None:
    decision = refused(
        decide(with_tokens(one_time()), AUTOMATED, TOKENS_ON, NOW), Reason.WINDOW_CLOSED
    )
    assert Alternative.NOTIFICATION_TOKEN in decision.alternatives
    used = refused(
        decide(with_tokens(one_time(used=True)), AUTOMATED, TOKENS_ON, NOW), Reason.WINDOW_CLOSED
    )
    assert Alternative.NOTIFICATION_TOKEN not in used.alternatives


def test_add_months_clamps_to_the_month_end() -> None:
    assert add_months(datetime(2026, 1, 31, tzinfo=UTC), 1) == datetime(2026, 2, 28, tzinfo=UTC)
    assert add_months(datetime(2028, 1, 31, tzinfo=UTC), 1) == datetime(2028, 2, 29, tzinfo=UTC)
    assert add_months(datetime(2026, 11, 15, tzinfo=UTC), 14) == datetime(2028, 1, 15, tzinfo=UTC)
    assert add_months(datetime(2026, 3, 31, tzinfo=UTC), -1) == datetime(2026, 2, 28, tzinfo=UTC)


# --- properties -----------------------------------------------------------------

WEEK = timedelta(days=7)
under_24h = st.timedeltas(min_value=timedelta(0), max_value=STANDARD_WINDOW - TICK)
day_to_week = st.timedeltas(min_value=STANDARD_WINDOW, max_value=WEEK - TICK)
beyond_week = st.timedeltas(min_value=WEEK, max_value=timedelta(days=3650))
any_age = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=400))
kinds = st.sampled_from([DraftKind.HUMAN_REPLY, DraftKind.AUTOMATED, DraftKind.BROADCAST])
offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)


@given(under_24h, kinds)
def test_prop_untagged_inside_24h_is_allowed(delta: timedelta, kind: DraftKind) -> None:
    decision = allowed(decide(ago(delta), Draft(kind), CHANNEL, NOW))
    expected = MessagingType.UPDATE if kind is DraftKind.BROADCAST else MessagingType.RESPONSE
    assert decision.messaging_type is expected and decision.tag is None
    assert decision.expires_at == NOW - delta + STANDARD_WINDOW


@given(day_to_week)
def test_prop_after_24h_human_agent_only_for_people(delta: timedelta) -> None:
    state = ago(delta)
    for kind in DraftKind.HUMAN_REPLY, DraftKind.AUTOMATED, DraftKind.BROADCAST:
        refused(decide(state, Draft(kind), CHANNEL, NOW), Reason.WINDOW_CLOSED)
    human = allowed(decide(state, tagged(DraftKind.HUMAN_REPLY, "HUMAN_AGENT"), CHANNEL, NOW))
    assert human.messaging_type is MessagingType.MESSAGE_TAG
    assert human.expires_at == NOW - delta + HUMAN_AGENT_WINDOW


@given(beyond_week)
def test_prop_after_7_days_human_agent_has_expired(delta: timedelta) -> None:
    draft = tagged(DraftKind.HUMAN_REPLY, "HUMAN_AGENT")
    refused(decide(ago(delta), draft, CHANNEL, NOW), Reason.HUMAN_AGENT_EXPIRED)


@given(any_age, st.sampled_from([DraftKind.AUTOMATED, DraftKind.BROADCAST]), st.booleans())
def test_prop_never_human_agent_for_automation(
    delta: timedelta, kind: DraftKind, approved: bool
) -> None:
    channel = ChannelPolicy(human_agent_enabled=approved)
    decision = decide(ago(delta), tagged(kind, "HUMAN_AGENT"), channel, NOW)
    refused(decision, Reason.AUTOMATED_HUMAN_AGENT)


@given(st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=30)), st.booleans())
def test_prop_private_reply_boundary(age: timedelta, replied: bool) -> None:
    decision = decide(comment_state(age, replied), PRIVATE, CHANNEL, NOW)
    if replied:
        refused(decision, Reason.PRIVATE_REPLY_USED)
    elif age < PRIVATE_REPLY_WINDOW:
        assert allowed(decision).expires_at == NOW - age + PRIVATE_REPLY_WINDOW
    else:
        refused(decision, Reason.PRIVATE_REPLY_EXPIRED)


@given(
    st.sampled_from(list(NotificationFrequency)),
    st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=40)),
)
def test_prop_recurring_one_message_per_period(
    frequency: NotificationFrequency, since_last: timedelta
) -> None:
    token = recurring(frequency=frequency, last_used_at=NOW - since_last)
    decision = decide(
        with_tokens(token), Draft(DraftKind.BROADCAST, uses_token="RN"), TOKENS_ON, NOW
    )
    slot = token.next_slot()
    assert slot is not None
    if slot > NOW:
        refused(decision, Reason.TOKEN_FREQUENCY)
    else:
        assert allowed(decision).token_kind is TokenKind.RECURRING
    period = {
        NotificationFrequency.DAILY: timedelta(days=1),
        NotificationFrequency.WEEKLY: timedelta(days=7),
        NotificationFrequency.MONTHLY: timedelta(days=28),
    }[frequency]
    assert slot - (NOW - since_last) >= period


@st.composite
def cases(draw: st.DrawFn) -> tuple[ContactState, Draft, ChannelPolicy]:
    maybe_age = st.none() | any_age
    last, ad, comment_age = draw(maybe_age), draw(maybe_age), draw(maybe_age)
    state = ContactState(
        last_customer_message_at=None if last is None else NOW - last,
        ad_message_at=None if ad is None else NOW - ad,
        message_request_pending=draw(st.booleans()),
        one_time_tokens=(one_time(used=draw(st.booleans())),) if draw(st.booleans()) else (),
        comment=None
        if comment_age is None
        else CommentState("C", NOW - comment_age, replied=draw(st.booleans())),
    )
    kind = draw(st.sampled_from(list(DraftKind)))
    tag = None
    if kind is not DraftKind.PRIVATE_REPLY:
        tag = draw(
            st.none() | st.sampled_from(["HUMAN_AGENT", "CUSTOMER_FEEDBACK", "ACCOUNT_UPDATE"])
        )
    token = (
        "OTN"
        if tag is None and kind is not DraftKind.PRIVATE_REPLY and draw(st.booleans())
        else None
    )
    draft = Draft(
        kind,
        tag=tag,
        promotional=draw(st.booleans()),
        uses_token=token,
        feedback_template=draw(st.booleans()),
    )
    channel = ChannelPolicy(
        human_agent_enabled=draw(st.booleans()),
        notification_tokens_enabled=draw(st.booleans()),
    )
    return state, draft, channel


@given(cases())
def test_prop_decisions_are_well_formed(case: tuple[ContactState, Draft, ChannelPolicy]) -> None:
    state, draft, channel = case
    decision = decide(state, draft, channel, NOW)
    if isinstance(decision, Allowed):
        assert (decision.messaging_type is MessagingType.MESSAGE_TAG) == (decision.tag is not None)
        assert (decision.messaging_type is None) == (decision.token_kind is not None)
        assert decision.expires_at is None or decision.expires_at > NOW
        assert not (draft.tag == "HUMAN_AGENT" and draft.kind is not DraftKind.HUMAN_REPLY)
        assert not (decision.tag and draft.promotional)
        assert not state.message_request_pending
    else:
        assert decision.alternatives[-1] is Alternative.WAIT_FOR_CUSTOMER
        assert len(set(decision.alternatives)) == len(decision.alternatives)


@given(cases())
def test_prop_offered_alternatives_are_really_allowed(
    case: tuple[ContactState, Draft, ChannelPolicy],
) -> None:
    state, draft, channel = case
    decision = decide(state, draft, channel, NOW)
    if not isinstance(decision, Refused):
        return
    base = Draft(DraftKind.AUTOMATED if draft.kind is DraftKind.PRIVATE_REPLY else draft.kind)
    follow_ups = {
        Alternative.HUMAN_AGENT: Draft(DraftKind.HUMAN_REPLY, tag="HUMAN_AGENT"),
        Alternative.CUSTOMER_FEEDBACK: dataclasses.replace(
            base, tag="CUSTOMER_FEEDBACK", feedback_template=True
        ),
        Alternative.PRIVATE_REPLY: PRIVATE,
    }
    for alternative in decision.alternatives:
        if alternative in follow_ups:
            assert isinstance(decide(state, follow_ups[alternative], channel, NOW), Allowed)
        if alternative is Alternative.NOTIFICATION_TOKEN:
            token = state.one_time_tokens[0].token
            with_token = Draft(DraftKind.BROADCAST, uses_token=token)
            assert isinstance(decide(state, with_token, channel, NOW), Allowed)


@given(cases(), offsets, offsets)
def test_prop_timezone_of_the_inputs_does_not_matter(
    case: tuple[ContactState, Draft, ChannelPolicy], tz_state: timezone, tz_now: timezone
) -> None:
    state, draft, channel = case
    comment = state.comment
    shifted = dataclasses.replace(
        state,
        last_customer_message_at=state.last_customer_message_at
        and state.last_customer_message_at.astimezone(tz_state),
        ad_message_at=state.ad_message_at and state.ad_message_at.astimezone(tz_state),
        comment=comment
        and dataclasses.replace(comment, created_at=comment.created_at.astimezone(tz_state)),
    )
    assert decide(shifted, draft, channel, NOW.astimezone(tz_now)) == decide(
        state, draft, channel, NOW
    )


@given(any_age, st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=10)))
def test_prop_decide_is_pure_and_monotone_in_time(age: timedelta, later: timedelta) -> None:
    # Once the window is closed for a contact who stays silent, waiting never reopens it.
    state = ago(age)
    first = decide(state, HUMAN, CHANNEL, NOW)
    assert first == decide(state, HUMAN, CHANNEL, NOW)
    if isinstance(first, Refused):
        assert isinstance(decide(state, HUMAN, CHANNEL, NOW + later), Refused)
