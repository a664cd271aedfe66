"""The composer's attachment upload: size limit (the real 25 MB, no patching), only
the content types Messenger takes, safe file names, and files that can never run as
a page of this site when served back. (The REST API takes no uploads: attachments
are sent by URL, which Meta fetches.)"""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from pagedesk.inbox.models import Attachment, Message
from pagedesk.web.forms import MAX_UPLOAD_BYTES
from pagedesk.web.models import OutboundUpload
from tests.web.conftest import PNG, Side, client_for, store_file

HTML = b"<!doctype html><script>document.title='owned'</script>"


def _upload(side: Side, name: str, body: bytes, content_type: str) -> Any:
    client = client_for(side.agent)
    return client.post(
        f"/inbox/c/{side.conversation.pk}/compose/",
        {"text": "", "attachment": SimpleUploadedFile(name, body, content_type=content_type)},
        follow=True,
    )


def _sent(side: Side) -> Any:
    return side.conversation.messages.filter(direction=Message.Direction.OUTBOUND)


def test_a_file_one_byte_over_25_mb_is_refused(acme: Side) -> None:
    response = _upload(acme, "big.png", b"\0" * (MAX_UPLOAD_BYTES + 1), "image/png")
    assert "The file is too large: Messenger accepts at most 25 MB." in response.content.decode()
    assert not OutboundUpload.objects.exists() and not _sent(acme).exists()


@pytest.mark.parametrize(
    "content_type",
    [
        "text/html",
        "text/html; charset=utf-8",
        "application/xhtml+xml",
        "image/svg+xml",
        "text/javascript",
        "application/javascript",
        "application/x-msdownload",
        "application/octet-stream",
        "text/xml",
        "",
    ],
)
def test_content_types_messenger_does_not_take_are_refused(acme: Side, content_type: str) -> None:
    response = _upload(acme, "payload.html", HTML, content_type)
    assert "Messenger cannot take this kind of file." in response.content.decode()
    assert not OutboundUpload.objects.exists() and not _sent(acme).exists()


def test_a_disguised_file_is_never_served_as_a_page(acme: Side) -> None:
    """HTML declared as a PNG goes out as declared, but the public URL serves it so no
    browser runs it: the declared type, nosniff, and a sandboxing CSP."""
    _upload(acme, "photo.png", HTML, "image/png")
    upload = OutboundUpload.objects.get()
    response = Client().get(f"/media/outbound/{upload.token}/{upload.name}")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]
    assert "default-src 'none'" in response["Content-Security-Policy"]


@pytest.mark.parametrize(
    "name",
    ["../../../settings.py.png", "..\\..\\evil.png", 'quote".png', "new\nline.png", "/etc/x.png"],
)
def test_file_names_cannot_escape_the_upload_folder(acme: Side, name: str) -> None:
    _upload(acme, name, PNG, "image/png")
    upload = OutboundUpload.objects.get()
    assert upload.file.name.startswith(f"outbound/{upload.token}/")
    assert ".." not in upload.file.name and "\\" not in upload.name and '"' not in upload.name
    assert "\n" not in upload.name
    response = Client().get(f"/media/outbound/{upload.token}/{upload.name}")
    assert response.status_code == 200
    disposition = response["Content-Disposition"]
    assert disposition.count('"') == 2 and "\n" not in disposition


def test_customer_files_of_any_type_are_never_served_as_a_page(acme: Side) -> None:
    """An attachment a customer sent (its type is whatever their side claimed)."""
    for content_type in ("text/html", "image/svg+xml", "application/xhtml+xml"):
        attachment = store_file(
            Attachment.objects.create(message=acme.message, type="file", position=5),
            "page.html",
            HTML,
            content_type,
        )
        response = client_for(acme.agent).get(f"/inbox/attachments/{attachment.pk}/")
        assert response.status_code == 200
        assert response["Content-Type"] == "application/octet-stream", content_type
        assert response["Content-Disposition"].startswith("attachment;")
        assert response["X-Content-Type-Options"] == "nosniff"
        assert "sandbox" in response["Content-Security-Policy"]
        attachment.delete()
