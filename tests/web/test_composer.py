"""The composer's extras: canned replies, quick replies, uploads, the typing bubble."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from pagedesk.core.models import Membership
from pagedesk.delivery import tasks, typing
from pagedesk.inbox.models import Attachment, Conversation, Message
from pagedesk.web import forms
from pagedesk.web.models import CannedReply, OutboundUpload
from tests.web.conftest import PNG, Side, client_for, make_member

PANE = {"HX-Request": "true", "HX-Target": "pane"}


@pytest.fixture(autouse=True)
def _fresh_cache() -> Any:
    cache.clear()
    yield
    cache.clear()


def _compose(client: Client, side: Side, data: dict[str, Any]) -> str:
    response = client.post(f"/inbox/c/{side.conversation.pk}/compose/", data, headers=PANE)
    assert response.status_code == 200
    return response.content.decode()


def _outbound(side: Side) -> Any:
    return side.conversation.messages.filter(direction=Message.Direction.OUTBOUND)


# --- canned replies --------------------------------------------------------------


def test_owners_and_admins_add_and_delete_canned_replies(acme: Side) -> None:
    admin = make_member(acme.workspace, "admin@acme.test", Membership.Role.ADMIN)
    for person, shortcut in ((acme.owner, "hours"), (admin, "thanks")):
        response = client_for(person).post(
            "/inbox/canned/", {"shortcut": shortcut, "text": f"Text of {shortcut}"}
        )
        assert response.status_code == 302
    assert sorted(
        CannedReply.objects.filter(workspace=acme.workspace).values_list("shortcut", flat=True)
    ) == ["hours", "thanks"]

    page = client_for(acme.owner).get("/inbox/canned/").content.decode()
    assert "/hours" in page and "Text of thanks" in page and "Add a canned reply" in page

    again = client_for(admin).post("/inbox/canned/", {"shortcut": "hours", "text": "Other"})
    assert again.status_code == 200
    assert "There is already a canned reply /hours." in again.content.decode()

    hours = CannedReply.objects.get(shortcut="hours")
    assert client_for(admin).post(f"/inbox/canned/{hours.pk}/delete/").status_code == 302
    assert not CannedReply.objects.filter(pk=hours.pk).exists()


def test_agents_use_canned_replies_but_cannot_edit_them(acme: Side) -> None:
    reply = CannedReply.objects.create(
        workspace=acme.workspace, shortcut="hours", text="We open at nine.", created_by=acme.owner
    )
    agent = client_for(acme.agent)
    page = agent.get("/inbox/canned/").content.decode()
    assert "/hours" in page and "Add a canned reply" not in page
    assert agent.post("/inbox/canned/", {"shortcut": "x", "text": "y"}).status_code == 403
    assert agent.post(f"/inbox/canned/{reply.pk}/delete/").status_code == 403
    assert CannedReply.objects.count() == 1
    # The composer carries them for the "/" suggestions.
    pane = agent.get(f"/inbox/c/{acme.conversation.pk}/").content.decode()
    assert 'id="canned-replies"' in pane and "We open at nine." in pane


def test_canned_replies_stay_in_their_workspace(acme: Side, globex: Side) -> None:
    theirs = CannedReply.objects.create(workspace=globex.workspace, shortcut="secret", text="Psst")
    owner = client_for(acme.owner)
    assert "Psst" not in owner.get("/inbox/canned/").content.decode()
    assert owner.post(f"/inbox/canned/{theirs.pk}/delete/").status_code == 404
    assert CannedReply.objects.filter(pk=theirs.pk).exists()


def test_a_canned_reply_needs_a_slug_shortcut(acme: Side) -> None:
    response = client_for(acme.owner).post(
        "/inbox/canned/", {"shortcut": "two words", "text": "Hi"}
    )
    assert response.status_code == 200 and not CannedReply.objects.exists()


# --- quick replies ---------------------------------------------------------------


def test_quick_replies_are_sent_with_the_message(acme: Side) -> None:
    _compose(
        client_for(acme.agent),
        acme,
        {"text": "Which colour?", "quick_replies": "Red, Blue , ,Green"},
    )
    sent = _outbound(acme).get()
    assert [reply["title"] for reply in sent.data["quick_replies"]] == ["Red", "Blue", "Green"]


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (",".join(f"r{i}" for i in range(14)), "At most 13 quick replies (you wrote 14)."),
        ("Yes, A very long quick reply title", "is too long: at most 20 characters."),
    ],
)
def test_quick_replies_are_checked_up_front(acme: Side, value: str, problem: str) -> None:
    page = _compose(client_for(acme.agent), acme, {"text": "Hi", "quick_replies": value})
    assert problem in page
    assert not _outbound(acme).exists()


def test_notes_take_no_quick_replies(acme: Side) -> None:
    page = _compose(
        client_for(acme.agent), acme, {"text": "Hi", "note": "on", "quick_replies": "Yes"}
    )
    assert "Internal notes cannot have attachments or quick replies." in page


# --- uploads ---------------------------------------------------------------------


def test_an_upload_is_sent_as_a_public_url_meta_can_fetch(acme: Side) -> None:
    photo = SimpleUploadedFile("red bike.png", PNG, content_type="image/png")
    _compose(
        client_for(acme.agent),
        acme,
        {"text": "Here it is", "attachment": photo, "quick_replies": "Buy"},
    )
    text, image = _outbound(acme).order_by("pk")
    assert text.text == "Here it is"
    attachment = Attachment.objects.get(message=image)
    upload = OutboundUpload.objects.get()
    assert attachment.type == "image"
    assert attachment.url == f"http://testserver/media/outbound/{upload.token}/red_bike.png"
    assert image.data["quick_replies"][0]["title"] == "Buy"
    assert len(upload.token) >= 40

    fetched = Client().get(attachment.url)  # Meta is not signed in
    assert fetched.status_code == 200
    assert b"".join(fetched.streaming_content) == PNG
    assert fetched["Content-Type"] == "image/png"
    assert fetched["X-Content-Type-Options"] == "nosniff"


def test_the_outbound_media_view_serves_only_known_tokens(acme: Side) -> None:
    anonymous = Client()
    assert anonymous.get("/media/outbound/not-a-token/photo.png").status_code == 404
    _compose(
        client_for(acme.agent),
        acme,
        {"text": "", "attachment": SimpleUploadedFile("a.png", PNG, content_type="image/png")},
    )
    upload = OutboundUpload.objects.get()
    assert anonymous.get(f"/media/outbound/{upload.token}/other.png").status_code == 404
    assert anonymous.get(f"/media/outbound/{upload.token[:-1]}x/a.png").status_code == 404
    assert anonymous.post(f"/media/outbound/{upload.token}/a.png").status_code == 405


def test_uploads_over_25_mb_are_refused(acme: Side, monkeypatch: pytest.MonkeyPatch) -> None:
    assert forms.MAX_UPLOAD_BYTES == 25 * 1024 * 1024
    monkeypatch.setattr(forms, "MAX_UPLOAD_BYTES", 1024 * 1024)
    big = SimpleUploadedFile("big.png", b"x" * (1024 * 1024 + 1), content_type="image/png")
    page = _compose(client_for(acme.agent), acme, {"attachment": big})
    assert "The file is too large: Messenger accepts at most 1 MB." in page
    assert not OutboundUpload.objects.exists() and not _outbound(acme).exists()


def test_uploads_of_other_content_types_are_refused(acme: Side) -> None:
    page = _compose(
        client_for(acme.agent),
        acme,
        {"attachment": SimpleUploadedFile("x.html", b"<p>", content_type="text/html")},
    )
    assert "Messenger cannot take this kind of file." in page
    assert not OutboundUpload.objects.exists() and not _outbound(acme).exists()


def test_a_refused_upload_is_not_kept(acme: Side) -> None:
    Conversation.objects.filter(pk=acme.conversation.pk).update(
        last_customer_message_at=timezone.now() - timedelta(days=30)
    )
    page = _compose(
        client_for(acme.agent),
        acme,
        {"attachment": SimpleUploadedFile("a.png", PNG, content_type="image/png")},
    )
    assert 'role="alert"' in page
    assert not OutboundUpload.objects.exists() and not _outbound(acme).exists()


def test_an_empty_message_without_a_file_is_refused(acme: Side) -> None:
    page = _compose(client_for(acme.agent), acme, {"text": "  "})
    assert "Write a message or attach a file." in page


# --- typing ----------------------------------------------------------------------


def test_typing_is_sent_at_most_once_per_ten_seconds(
    acme: Side, monkeypatch: pytest.MonkeyPatch
) -> None:
    queued: list[int] = []
    monkeypatch.setattr(tasks, "send_typing_on", queued.append)
    client = client_for(acme.agent)
    url = f"/inbox/c/{acme.conversation.pk}/typing/"
    for _ in range(3):
        assert client.post(url).status_code == 204
    assert queued == [acme.conversation.pk]

    cache.delete(typing._cache_key(acme.conversation.pk))  # ten seconds later
    client.post(url)
    assert queued == [acme.conversation.pk, acme.conversation.pk]
    assert client.get(url).status_code == 405


def test_no_typing_outside_the_window_or_in_other_workspaces(
    acme: Side, globex: Side, monkeypatch: pytest.MonkeyPatch
) -> None:
    queued: list[int] = []
    monkeypatch.setattr(tasks, "send_typing_on", queued.append)
    Conversation.objects.filter(pk=acme.conversation.pk).update(
        last_customer_message_at=timezone.now() - timedelta(days=2)
    )
    client = client_for(acme.agent)
    assert client.post(f"/inbox/c/{acme.conversation.pk}/typing/").status_code == 204
    assert client.post(f"/inbox/c/{globex.conversation.pk}/typing/").status_code == 404
    assert queued == []


def test_a_failed_typing_call_is_logged_not_raised(
    acme: Side, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings.PAGEDESK_GRAPH_URL = "http://127.0.0.1:9"  # nothing listens there
    typing.send_typing_on(conversation_id=acme.conversation.pk)
    assert "typing_on for conversation" in caplog.text


def test_uploads_no_message_uses_are_discarded_after_a_day(acme: Side) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from pagedesk.web.actions import do_discard_orphan_uploads, do_store_outbound_upload

    photo = SimpleUploadedFile("used.png", PNG, content_type="image/png")
    _compose(client_for(acme.agent), acme, {"text": "", "attachment": photo})
    used = OutboundUpload.objects.get()
    orphan = do_store_outbound_upload(
        workspace=acme.workspace,
        upload=SimpleUploadedFile("lost.png", PNG, content_type="image/png"),
        content_type="image/png",
        author=acme.agent,
    )
    orphan_path = orphan.file.path
    assert do_discard_orphan_uploads() == 0  # too young: its send may be on its way
    tomorrow = timezone.now() + timedelta(days=1, minutes=1)
    assert do_discard_orphan_uploads(now=tomorrow) == 1
    assert list(OutboundUpload.objects.all()) == [used]
    assert not Path(orphan_path).exists()
    served = Attachment.objects.get(url__contains=used.token)
    assert Client().get(served.url).status_code == 200  # still served
