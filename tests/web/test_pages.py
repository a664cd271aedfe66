"""What the inbox pages show and do, through Django's test client."""

from __future__ import annotations

from datetime import timedelta

from django.test import Client
from django.utils import timezone

from pagedesk.inbox.models import Attachment, Conversation, Message, Note, Reaction
from pagedesk.web.models import UserPreference
from tests.api.factories import make_attachment, make_conversation, make_message
from tests.web.conftest import PASSWORD, Side, client_for, store_file

PANE = {"HX-Request": "true", "HX-Target": "pane"}


def test_customer_text_is_escaped_everywhere(acme: Side) -> None:
    evil = "<script>alert(1)</script>"
    acme.contact.first_name = evil
    acme.contact.save()
    make_message(acme.conversation, text=evil)
    Note.objects.create(conversation=acme.conversation, author=acme.agent, text=evil)
    acme.label.name = evil
    acme.label.save()
    acme.conversation.labels.add(acme.label)
    client = client_for(acme.agent)
    for response in (
        client.get(f"/inbox/c/{acme.conversation.pk}/"),
        client.get(f"/inbox/c/{acme.conversation.pk}/", headers=PANE),
        client.get("/inbox/", {"q": "alert"}),
    ):
        page = response.content.decode()
        assert evil not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_customer_links_never_become_javascript(acme: Side) -> None:
    message = make_message(acme.conversation, text="")
    make_attachment(
        message,
        type="fallback",
        url="javascript:alert(1)",
        payload={"title": "A link"},
        download=Attachment.Download.NOT_NEEDED,
    )
    page = client_for(acme.agent).get(f"/inbox/c/{acme.conversation.pk}/").content.decode()
    assert "A link" in page and "javascript:alert" not in page


def test_the_thread_shows_bubbles_system_lines_ticks_and_reactions(acme: Side) -> None:
    conversation = acme.conversation
    reply = make_message(
        conversation,
        direction=Message.Direction.OUTBOUND,
        text="We are open until six",
        status=Message.Status.READ,
        contact=None,
        sender_user=acme.agent,
    )
    make_message(
        conversation,
        direction=Message.Direction.OUTBOUND,
        text="Delivered one",
        status=Message.Status.DELIVERED,
        contact=None,
    )
    make_message(
        conversation,
        direction=Message.Direction.OUTBOUND,
        text="Broken one",
        status=Message.Status.FAILED,
        failed_reason="The customer blocked the page",
        contact=None,
    )
    Reaction.objects.create(
        message=reply, contact=acme.contact, reaction="love", emoji="❤", reacted_at=timezone.now()
    )
    edited = make_message(conversation, text="Fixed typo", edit_count=1)
    assert edited.edit_count == 1
    system = {"mid": None, "direction": Message.Direction.SYSTEM}
    make_message(
        conversation,
        kind=Message.Kind.REFERRAL,
        data={"referral": {"source": "ADS", "ref": "spring-sale", "ad_id": "6045"}},
        **system,
    )
    make_message(
        conversation,
        kind=Message.Kind.POSTBACK,
        direction=Message.Direction.INBOUND,
        text="Get Started",
        postback_payload="GET_STARTED",
        mid=None,
    )
    make_message(
        conversation,
        kind=Message.Kind.OPTIN,
        text="Price drops",
        data={"optin": {"type": "notification_messages"}},
        **system,
    )
    make_message(
        conversation,
        kind=Message.Kind.HANDOVER,
        data={"event": "pass_thread_control", "new_owner_app_id": "263902037430900"},
        **system,
    )
    make_message(
        conversation, kind=Message.Kind.UNSUPPORTED, data={"raw": {"game_play": {}}}, **system
    )
    Note.objects.create(conversation=conversation, author=acme.owner, text="VIP customer")

    page = client_for(acme.agent).get(f"/inbox/c/{conversation.pk}/").content.decode()
    assert 'class="msg in"' in page and 'class="msg out"' in page
    assert 'class="tick read"' in page and 'class="tick delivered"' in page
    assert "Failed: The customer blocked the page" in page
    assert "❤" in page and "edited" in page
    assert "Came in through an ad" in page and "ref: spring-sale" in page and "ad: 6045" in page
    assert "Tapped “Get Started”" in page
    assert "Opted in to notifications: Price drops" in page
    assert "The conversation was passed to app 263902037430900" in page
    assert "Unsupported content (game_play)" in page
    assert "Internal note by owner@" in page and "VIP customer" in page
    assert f'src="/inbox/attachments/{acme.image.pk}/"' in page  # the stored copy, inline


def test_attachments_stream_with_safe_headers(acme: Side) -> None:
    client = client_for(acme.agent)
    image = client.get(f"/inbox/attachments/{acme.image.pk}/")
    assert image.status_code == 200
    assert image["Content-Type"] == "image/png"
    assert image["X-Content-Type-Options"] == "nosniff"
    assert image["Content-Disposition"].startswith("inline")
    assert image.content.startswith(b"\x89PNG")

    svg = store_file(
        make_attachment(acme.message, position=1, type="file"),
        "drawing.svg",
        b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>",
        "image/svg+xml",
    )
    download = client.get(f"/inbox/attachments/{svg.pk}/")
    assert download["Content-Disposition"].startswith("attachment")
    assert download["Content-Type"] == "application/octet-stream"
    assert "sandbox" in download["Content-Security-Policy"]

    pending = make_attachment(acme.message, position=2)  # not downloaded yet
    assert client.get(f"/inbox/attachments/{pending.pk}/").status_code == 404
    acme.image.file.delete(save=False)  # stored once, gone from disk since
    Attachment.objects.filter(pk=acme.image.pk).update(file="attachments/gone.png")
    assert client.get(f"/inbox/attachments/{acme.image.pk}/").status_code == 404


def test_opening_a_conversation_marks_it_read(acme: Side) -> None:
    client = client_for(acme.agent)
    assert 'class="unread-badge"' in client.get("/inbox/").content.decode()
    client.get(f"/inbox/c/{acme.conversation.pk}/", headers=PANE)
    assert Conversation.objects.get(pk=acme.conversation.pk).unread_count == 0
    assert 'class="unread-badge"' not in client.get("/inbox/").content.decode()


def test_htmx_gets_the_pane_alone_and_a_full_load_gets_the_page(acme: Side) -> None:
    client = client_for(acme.agent)
    pane = client.get(f"/inbox/c/{acme.conversation.pk}/", headers=PANE)
    assert "<html" not in pane.content.decode() and 'id="composer"' in pane.content.decode()
    assert "HX-Request" in pane["Vary"]
    full = client.get(f"/inbox/c/{acme.conversation.pk}/").content.decode()
    assert "<html" in full and 'id="list"' in full and 'id="composer"' in full


def test_tabs_filters_and_search(acme: Side) -> None:
    other_contact = acme.conversation.contact.__class__.objects.create(
        workspace=acme.workspace, channel=acme.channel, psid="998877", first_name="Grace"
    )
    done = make_conversation(other_contact, status=Conversation.Status.DONE)
    make_message(done, text="The parcel arrived, thanks")
    client = client_for(acme.agent)

    def names(**query: str) -> str:
        return client.get("/inbox/", query).content.decode()

    assert "Ada of Acme" in names() and "Grace" not in names()
    assert "Grace" in names(tab="done") and "Ada of Acme" not in names(tab="done")
    assert "Ada of Acme" in names(tab="unassigned")
    assert "Ada of Acme" not in names(tab="mine")
    client.post(f"/inbox/c/{acme.conversation.pk}/assign/", {"assignee": "me"})
    assert "Ada of Acme" in names(tab="mine") and "Ada of Acme" not in names(tab="unassigned")
    assert "Grace" in names(tab="done", q="parcel")  # message text
    assert "Grace" not in names(tab="done", q="invoice")
    assert "Ada of Acme" in names(q="ada acme")  # every word, names
    acme.conversation.labels.add(acme.label)
    assert "Ada of Acme" in names(label=str(acme.label.pk))
    assert "Ada of Acme" in names(channel=str(acme.channel.pk))
    assert "Ada of Acme" in names(tab="nonsense", channel="x")  # bad values: defaults


def test_the_list_loads_more_rows_with_a_cursor(acme: Side) -> None:
    for n in range(55):
        contact = acme.contact.__class__.objects.create(
            workspace=acme.workspace, channel=acme.channel, psid=f"p{n}", first_name=f"Person{n}"
        )
        make_conversation(contact, last_message_at=timezone.now() - timedelta(minutes=n))
    client = client_for(acme.agent)
    first = client.get("/inbox/").content.decode()
    assert "Person0<" in first and "Person54<" not in first
    cursor = first.split("/inbox/list/?cursor=")[1].split('"')[0]
    more = client.get(f"/inbox/list/?cursor={cursor}").content.decode()
    assert "Person54<" in more and "Person0<" not in more
    assert client.get("/inbox/list/?cursor=garbage").status_code == 404


def test_notes_and_status_through_htmx(acme: Side) -> None:
    client = client_for(acme.agent)
    base = f"/inbox/c/{acme.conversation.pk}"
    response = client.post(
        f"{base}/compose/", {"text": "Call her back", "note": "on"}, headers=PANE
    )
    assert response.status_code == 200 and response["HX-Trigger"] == "inbox-changed"
    assert "Call her back" in response.content.decode()
    assert Note.objects.get(conversation=acme.conversation).author == acme.agent
    assert not acme.conversation.messages.filter(direction="out").exists()  # never sent

    done = client.post(f"{base}/status/", {"status": "done"}, headers=PANE).content.decode()
    assert "Reopen" in done
    assert Conversation.objects.get(pk=acme.conversation.pk).status == "done"
    client.post(f"{base}/status/", {"status": "open"}, headers=PANE)
    assert Conversation.objects.get(pk=acme.conversation.pk).status == "open"


def test_a_reply_inside_the_window_is_queued(acme: Side) -> None:
    client = client_for(acme.agent)
    page = client.get(f"/inbox/c/{acme.conversation.pk}/").content.decode()
    assert 'data-window="open"' in page and "HUMAN_AGENT" not in page
    response = client.post(
        f"/inbox/c/{acme.conversation.pk}/compose/", {"text": "Yes, we are open"}, headers=PANE
    )
    assert response.status_code == 200
    sent = acme.conversation.messages.get(direction="out")
    assert sent.text == "Yes, we are open" and sent.sender_user == acme.agent
    assert "Yes, we are open" in response.content.decode()


def test_outside_the_window_the_composer_offers_human_agent(acme: Side) -> None:
    Conversation.objects.filter(pk=acme.conversation.pk).update(
        last_customer_message_at=timezone.now() - timedelta(hours=30)
    )
    client = client_for(acme.agent)
    url = f"/inbox/c/{acme.conversation.pk}/"
    page = client.get(url).content.decode()
    assert 'data-window="closed"' in page
    assert 'name="human_agent" value="on" checked' in page
    assert "Outside the 24-hour window Meta still lets a person" in page
    refused = client.post(url + "compose/", {"text": "Hello?"}, headers=PANE).content.decode()
    assert 'class="alert"' in refused
    assert not acme.conversation.messages.filter(direction="out").exists()
    client.post(url + "compose/", {"text": "Hello?", "human_agent": "on"}, headers=PANE)
    assert acme.conversation.messages.get(direction="out").text == "Hello?"


def test_language_switch_is_remembered_for_the_person(acme: Side) -> None:
    client = client_for(acme.agent)
    response = client.post("/account/language/", {"language": "de", "next": "/inbox/"})
    assert response["Location"] == "/inbox/"
    assert UserPreference.objects.get(user=acme.agent).language == "de"
    page = client.get("/inbox/").content.decode()
    assert "Nicht zugewiesen" in page and "Erledigt" in page
    assert 'lang="de"' in page

    # A new session (another device) starts in German too once signed in.
    fresh = Client()
    fresh.post("/sign-in/", {"email": acme.agent.email, "password": PASSWORD})
    assert "Nicht zugewiesen" in fresh.get("/inbox/").content.decode()
    # Another person still gets English.
    assert "Unassigned" in client_for(acme.owner).get("/inbox/").content.decode()


def test_static_files_are_served_by_the_app(db: None) -> None:
    client = Client()
    assert b"--blue" in b"".join(client.get("/static/pagedesk/app.css").streaming_content)
    assert client.get("/static/django_htmx/htmx-2.min.js").status_code == 200
