"""Meta's tag-misuse warning (613 / 2018338): pagedesk stops tagged sends to that
person, explains it in the composer and the sidebar, and an admin can lift it."""

from __future__ import annotations

import pytest
from django.test import Client

from pagedesk.core.errors import PagedeskError
from pagedesk.core.models import Membership
from pagedesk.inbox.actions import composer_state, do_allow_tagged_sends, do_send_message
from pagedesk.inbox.models import Contact, Message
from tests.delivery.conftest import World
from tests.delivery.test_sender import _reload


def test_a_tag_misuse_warning_stops_tagged_sends_to_that_person(world: World) -> None:
    world.age(hours=30)  # outside the window: only HUMAN_AGENT is left
    world.page(tag_misuse_flagged=True)
    message = do_send_message(
        conversation=world.conversation, author=world.agent, text="Ready!", tag="HUMAN_AGENT"
    )
    world.settle()
    message = _reload(message)
    assert message.status == Message.Status.FAILED
    assert len(world.sends) == 1  # never retried: that would make the warning worse
    contact = Contact.objects.get(pk=world.conversation.contact_id)
    assert contact.tagged_sends_stopped_at is not None

    world.conversation.refresh_from_db()
    state = composer_state(conversation=world.conversation)
    assert not state.can_reply and state.options == []
    assert "Meta warned about tagged messages" in state.reason
    with pytest.raises(PagedeskError) as refused:
        do_send_message(
            conversation=world.conversation, author=world.agent, text="Hi?", tag="HUMAN_AGENT"
        )
    assert refused.value.code == "tagged_sends_stopped"
    assert len(world.sends) == 1

    # The sidebar says so; the "allow again" button is for owners and admins.
    owner = Client()
    owner.force_login(world.agent)  # the workspace's creator: its owner
    assert Membership.objects.get(user=world.agent).role == Membership.Role.OWNER
    page = owner.get(f"/inbox/c/{world.conversation.pk}/").content.decode()
    assert "Meta warned about tag misuse" in page and "Allow again" in page

    world.page(tag_misuse_flagged=False)
    response = owner.post(f"/inbox/c/{world.conversation.pk}/allow-tagged/")
    assert response.status_code == 302
    assert Contact.objects.get(pk=contact.pk).tagged_sends_stopped_at is None
    do_send_message(
        conversation=world.conversation, author=world.agent, text="Hi again", tag="HUMAN_AGENT"
    )
    world.settle()
    assert len(world.sends) == 2
    assert [m["text"] for m in world.page_messages()] == ["Hi again"]


def test_replies_inside_the_window_need_no_tag_and_still_go_out(world: World) -> None:
    Contact.objects.filter(pk=world.conversation.contact_id).update(
        tagged_sends_stopped_at=world.conversation.last_customer_message_at
    )
    world.conversation.refresh_from_db()
    assert composer_state(conversation=world.conversation).can_reply
    do_send_message(conversation=world.conversation, author=world.agent, text="Hello")
    world.settle()
    assert [m["text"] for m in world.page_messages()] == ["Hello"]


def test_only_owners_and_admins_lift_the_stop(world: World) -> None:
    from tests.web.conftest import make_member

    agent = make_member(world.workspace, "agent@acme.test", Membership.Role.AGENT)
    contact = Contact.objects.get(pk=world.conversation.contact_id)
    Contact.objects.filter(pk=contact.pk).update(
        tagged_sends_stopped_at=world.conversation.last_customer_message_at
    )
    with pytest.raises(PagedeskError) as refused:
        do_allow_tagged_sends(contact=contact, actor=agent)
    assert refused.value.status == 403
    client = Client()
    client.force_login(agent)
    assert client.post(f"/inbox/c/{world.conversation.pk}/allow-tagged/").status_code == 403
    assert Contact.objects.get(pk=contact.pk).tagged_sends_stopped_at is not None
