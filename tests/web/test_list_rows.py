"""What a row of the conversation list and the times of a thread show.

Rows and thread times are prepared in Python (``presenters.list_rows``,
``presenters.thread_items``), not by template filters; these tests pin what an agent
sees to what Django's own filters printed before."""

from __future__ import annotations

import re
import zoneinfo
from datetime import UTC, datetime, timedelta

from django.template.defaultfilters import date as date_filter
from django.utils import timezone, translation

from pagedesk.inbox.models import Attachment, Conversation, Message
from pagedesk.web import presenters
from pagedesk.web.models import UserPreference
from tests.api.factories import (
    add_participant,
    make_attachment,
    make_contact,
    make_conversation,
    make_label,
    make_message,
)
from tests.web.conftest import Side, client_for

PANE = {"HX-Request": "true", "HX-Target": "pane"}
KOLKATA = zoneinfo.ZoneInfo("Asia/Kolkata")  # +05:30: a zone whose times differ from UTC


def _row(page: str, conversation: Conversation) -> str:
    found = re.search(rf'<li class="row[^"]*" data-id="{conversation.pk}">(.*?)</li>', page, re.S)
    assert found, f"no row for conversation {conversation.pk}"
    return found[1]


def test_a_row_shows_name_time_snippet_labels_assignee_and_unread(acme: Side) -> None:
    conversation = acme.conversation
    vip = make_label(acme.workspace, "VIP")
    vip.color = "#c026d3"
    vip.save()
    odd = make_label(acme.workspace, "Odd colour")
    odd.color = "red;x:url(y)"  # never reaches the style attribute
    odd.save()
    conversation.labels.add(vip, odd)
    conversation.assignee = acme.agent
    conversation.save()
    long_reply = "We ship today. " * 10
    make_message(
        conversation,
        direction=Message.Direction.OUTBOUND,
        contact=None,
        status=Message.Status.SENT,
        text=long_reply,
    )

    row = _row(client_for(acme.owner).get("/inbox/").content.decode(), conversation)

    assert "Ada of Acme" in row
    assert '<span class="muted">You:</span>' in row
    assert presenters.SNIPPET_CHARS == 90
    assert long_reply[:89].strip() in row and "…" in row and long_reply not in row
    assert '<span class="channel">Acme Page</span>' in row
    # Labels by name, each with its colour or grey when the colour is not one.
    assert row.index(">Odd colour<") < row.index(">VIP<")
    assert 'style="--label: #c026d3">VIP</span>' in row
    assert 'style="--label: #6b7280">Odd colour</span>' in row
    assert f'title="Assigned to {acme.agent.email}">AA</span>' in row
    assert '<span class="unread-badge" title="Unread messages">2</span>' in row
    assert f'href="/inbox/c/{conversation.pk}/"' in row


def test_a_row_of_a_group_or_of_an_attachment_alone(acme: Side) -> None:
    group = make_conversation(
        make_contact(acme.channel, first_name="Grace"),
        is_group=True,
        last_message_at=timezone.now(),
    )
    make_attachment(
        make_message(group, text=""), type="file", download=Attachment.Download.NOT_NEEDED
    )

    row = _row(client_for(acme.owner).get("/inbox/").content.decode(), group)

    assert 'title="Group conversation">👥</span> Grace' in row
    assert '<span class="muted">Attachment</span>' in row
    assert "You:" not in row and "unread-badge" not in row and "avatar" not in row


def test_row_links_keep_the_filters_and_mark_the_open_conversation(acme: Side) -> None:
    acme.conversation.labels.add(acme.label)
    client = client_for(acme.agent)

    page = client.get(f"/inbox/c/{acme.conversation.pk}/", {"label": acme.label.pk})

    html = page.content.decode()
    assert f'<li class="row selected" data-id="{acme.conversation.pk}">' in html
    link = f"/inbox/c/{acme.conversation.pk}/?label={acme.label.pk}"
    row = _row(html, acme.conversation)
    assert f'href="{link}"' in row and f'hx-get="{link}"' in row


def test_times_are_in_the_agents_zone_as_django_formats_them(acme: Side) -> None:
    UserPreference.objects.create(user=acme.agent, time_zone="Asia/Kolkata")
    now = timezone.now()
    last_year = datetime(now.year - 1, 3, 9, 22, 45, 30, tzinfo=UTC)  # 10 Mar in Kolkata
    Conversation.objects.filter(pk=acme.conversation.pk).update(last_message_at=last_year)
    today = make_conversation(make_contact(acme.channel, first_name="Today"), last_message_at=now)
    message = make_message(
        acme.conversation, text="Hello", timestamp_ms=int(now.timestamp() * 1000)
    )
    client = client_for(acme.agent)

    page = client.get("/inbox/").content.decode()

    with timezone.override(KOLKATA):
        local = timezone.localtime(last_year)
        expected_old = date_filter(local, "j M Y")
        iso_old = date_filter(local, "c")
        local_now = timezone.localtime(now)
        sent = timezone.localtime(message.sent_at)
        exact = date_filter(sent, "Y-m-d H:i:s e")
        iso_sent = date_filter(sent, "c")
    assert expected_old == f"10 Mar {now.year - 1}"
    assert f'<time datetime="{iso_old}">{expected_old}</time>' in _row(page, acme.conversation)
    today_row = _row(page, today)
    assert f">{local_now:%H:%M}</time>" in today_row and "+05:30" in today_row

    pane = client.get(f"/inbox/c/{acme.conversation.pk}/", headers=PANE).content.decode()
    assert exact.endswith("IST")
    assert f'<time datetime="{iso_sent}" title="{exact}">{sent:%H:%M}</time>' in pane


def test_short_time_this_year_says_day_and_month_in_the_agents_language(db: None) -> None:
    today = timezone.localdate()
    # The 5th of a month this year that is not today.
    january, march = (timezone.now().replace(month=m, day=5, hour=12) for m in (1, 3))
    if today.day == 5:
        january, march = january + timedelta(days=1), march + timedelta(days=1)
    assert presenters.short_time(january) == date_filter(january, "j M") == f"{january.day} Jan"
    with translation.override("de"):
        assert presenters.short_time(march) == date_filter(march, "j M") == f"{march.day} Mär"


def test_a_group_pane_lists_its_participants_and_the_page(acme: Side) -> None:
    grace = make_contact(acme.channel, first_name="Grace", last_name="Hopper")
    group = make_conversation(grace, is_group=True)
    add_participant(group, grace)
    add_participant(group, acme.contact)
    make_message(group, contact=grace, text="Hi all")

    pane = client_for(acme.agent).get(f"/inbox/c/{group.pk}/", headers=PANE).content.decode()

    assert "<dt>Participants</dt><dd>Ada of Acme, Grace Hopper</dd>" in pane
    assert '<p class="muted">Acme Page</p>' in pane
    # Ada's one-to-one pane lists the group she takes part in among her other threads.
    one_to_one = client_for(acme.agent).get(f"/inbox/c/{acme.conversation.pk}/", headers=PANE)
    assert f"/inbox/c/{group.pk}/" in one_to_one.content.decode()
