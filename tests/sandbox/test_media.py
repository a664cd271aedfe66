"""Media the sandbox serves itself: built-in samples, uploads, and URLs that expire on
the sandbox clock like Meta's CDN links."""

from __future__ import annotations

import io
import re
import struct
import wave
import zlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from pagedesk.sandbox.app import create_app
from tests.sandbox.helpers import Sandbox
from tests.sandbox.servers import ServerThread

MAX_UPLOAD = 25 * 1024 * 1024
SIGNED = re.compile(r"^/_sandbox/media/(?P<name>[^/?]+)\?oe=[0-9a-f]+&oh=[0-9a-f]{32}$")


@pytest.fixture
def psid(sandbox: Sandbox) -> str:
    return str(sandbox.customer(sandbox.page())["psid"])


def media_url(sandbox: Sandbox, url: str) -> str:
    """Check ``url`` is an absolute, signed sandbox media URL; return its name."""
    assert url.startswith(sandbox.url), url
    match = SIGNED.match(url.removeprefix(sandbox.url))
    assert match, url
    return match["name"]


def png_size_and_pixels(data: bytes) -> tuple[int, int, bytes]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    offset, idat, size = 8, b"", (0, 0)
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        body = data[offset + 8 : offset + 8 + length]
        (crc,) = struct.unpack(">I", data[offset + 8 + length : offset + 12 + length])
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
            assert (depth, colour) == (8, 2)
            size = (width, height)
        elif kind == b"IDAT":
            idat += body
        offset += 12 + length
    return size[0], size[1], zlib.decompress(idat)


def test_built_in_samples_are_real_files(sandbox: Sandbox) -> None:
    def get(name: str) -> httpx.Response:
        response = sandbox.http.get(f"/_sandbox/media/{name}")
        assert response.status_code == 200, name
        return response

    png = get("sample.png")
    assert png.headers["content-type"] == "image/png"
    width, height, pixels = png_size_and_pixels(png.content)
    assert (width, height) == (16, 16)
    assert pixels == (b"\x00" + b"\x00\x84\xff" * 16) * 16  # one filter byte per row

    assert png_size_and_pixels(get("avatar.png").content)[:2] == (16, 16)

    wav = get("sample.wav")
    assert wav.headers["content-type"] == "audio/wav"
    with wave.open(io.BytesIO(wav.content)) as audio:
        assert audio.getnchannels() == 1
        assert 0 < audio.getnframes() / audio.getframerate() < 1

    mp4 = get("sample.mp4")
    assert mp4.headers["content-type"] == "video/mp4"
    assert mp4.content[4:8] == b"ftyp"

    pdf = get("sample.pdf")
    assert pdf.headers["content-type"] == "application/pdf"
    body = pdf.content
    assert body.startswith(b"%PDF-1.4") and body.rstrip().endswith(b"%%EOF")
    xref = int(body.rsplit(b"startxref\n", 1)[1].split(b"\n")[0])
    table = body[xref:].split(b"\n")
    assert table[0] == b"xref"
    for number, line in enumerate(table[3:8], start=1):  # every offset points at its object
        offset = int(line[:10])
        assert body[offset:].startswith(f"{number} 0 obj".encode())

    text = get("sample.txt")
    assert text.headers["content-type"] == "text/plain; charset=utf-8"
    assert "sample" in text.text

    assert sandbox.http.get("/_sandbox/media/nothing.png").status_code == 404


@pytest.mark.parametrize(
    ("kind", "content_type"),
    [
        ("image", "image/png"),
        ("audio", "audio/wav"),
        ("video", "video/mp4"),
        ("file", "application/pdf"),
    ],
)
def test_an_attachment_without_url_gets_a_built_in_sample(
    sandbox: Sandbox, psid: str, kind: str, content_type: str
) -> None:
    result = sandbox.act(psid, "messages", attachments=[{"type": kind}])
    [attachment] = result["events"][0]["message"]["attachments"]
    assert attachment["type"] == kind
    assert set(attachment["payload"]) == {"url"}
    url = attachment["payload"]["url"]
    media_url(sandbox, url)
    fetched = httpx.get(url)
    assert fetched.status_code == 200
    assert fetched.headers["content-type"] == content_type
    [delivered] = sandbox.events()
    assert delivered["message"]["attachments"] == [attachment]


def test_attachment_types_without_a_sample_still_need_a_payload(
    sandbox: Sandbox, psid: str
) -> None:
    for bad in ({"type": "location"}, {"url": "https://example.com/a.png"}, "image"):
        response = sandbox.http.post(
            f"/_sandbox/customers/{psid}/messages", json={"attachments": [bad]}
        )
        assert response.status_code == 400, bad
    missing = sandbox.http.post(
        f"/_sandbox/customers/{psid}/messages", json={"attachments": [{"name": "nope.png"}]}
    )
    assert missing.status_code == 404


def test_media_urls_expire_on_the_sandbox_clock(sandbox: Sandbox, psid: str) -> None:
    event = sandbox.act(psid, "messages", attachments=[{"type": "image"}])["events"][0]
    url = event["message"]["attachments"][0]["payload"]["url"]
    assert httpx.get(url).status_code == 200
    sandbox.advance(3500)
    assert httpx.get(url).status_code == 200
    sandbox.advance(200)  # past the default hour
    expired = httpx.get(url)
    assert (expired.status_code, expired.text) == (403, "URL signature expired")
    # A URL issued now lives a fresh hour; the bare sample stays browsable.
    fresh = sandbox.act(psid, "messages", attachments=[{"type": "image"}])["events"][0]
    assert httpx.get(fresh["message"]["attachments"][0]["payload"]["url"]).status_code == 200
    assert sandbox.http.get("/_sandbox/media/sample.png").status_code == 200

    # The lifetime is configurable; it applies to URLs issued afterwards.
    sandbox.configure(media_url_ttl_seconds=60)
    short = sandbox.act(psid, "messages", attachments=[{"type": "file"}])["events"][0]
    short_url = short["message"]["attachments"][0]["payload"]["url"]
    sandbox.advance(59)
    assert httpx.get(short_url).status_code == 200
    sandbox.advance(2)
    assert httpx.get(short_url).status_code == 403
    for bad in ({"media_url_ttl_seconds": 0}, {"media_url_ttl_seconds": "1h"}):
        assert sandbox.http.patch("/_sandbox/config", json=bad).status_code == 400


def test_a_tampered_url_is_refused(sandbox: Sandbox, psid: str) -> None:
    event = sandbox.act(psid, "messages", attachments=[{"type": "image"}])["events"][0]
    url = httpx.URL(event["message"]["attachments"][0]["payload"]["url"])
    later = format(int(url.params["oe"], 16) + 86400, "x")
    for params in (
        {"oe": later, "oh": url.params["oh"]},  # pushed the expiry
        {"oe": url.params["oe"], "oh": "0" * 32},
        {"oe": "zz", "oh": url.params["oh"]},
    ):
        refused = httpx.get(url.copy_with(params=params))
        assert (refused.status_code, refused.text) == (403, "URL signature mismatch")
    # The signature covers the name: it does not open another file.
    other = url.copy_with(path="/_sandbox/media/sample.pdf")
    assert httpx.get(other).status_code == 403


def test_upload_serve_and_send(sandbox: Sandbox, psid: str) -> None:
    photo = b"\xff\xd8\xff\xe0 not really a jpeg \xff\xd9"
    uploaded = sandbox.http.post(
        "/_sandbox/media", content=photo, headers={"content-type": "image/jpeg"}
    )
    assert uploaded.status_code == 201
    body = uploaded.json()
    assert set(body) == {"name", "url", "type", "content_type", "size", "expires_at"}
    assert media_url(sandbox, body["url"]) == body["name"]
    assert re.fullmatch(r"u_[a-z0-9]{16}\.jpg", body["name"])
    assert (body["type"], body["content_type"], body["size"]) == ("image", "image/jpeg", len(photo))
    now = sandbox.control("GET", "/clock")["now"]
    assert 3590 < body["expires_at"] - now <= 3601

    served = httpx.get(body["url"])
    assert served.status_code == 200
    assert served.content == photo
    assert served.headers["content-type"] == "image/jpeg"
    # Uploads are only served through a signed URL.
    assert sandbox.http.get(f"/_sandbox/media/{body['name']}").status_code == 403

    # Sent by name, the attachment gets a fresh URL and the upload's type.
    event = sandbox.act(psid, "messages", attachments=[{"name": body["name"]}])["events"][0]
    [attachment] = event["message"]["attachments"]
    assert attachment["type"] == "image"
    assert media_url(sandbox, attachment["payload"]["url"]) == body["name"]
    assert httpx.get(attachment["payload"]["url"]).content == photo

    # Types follow the Content-Type; text keeps its charset.
    for content_type, kind, suffix in (
        ("audio/mpeg", "audio", ".mp3"),
        ("video/quicktime", "video", ".mov"),
        ("application/pdf", "file", ".pdf"),
        ("text/plain; charset=utf-8", "file", ".txt"),
        ("application/x-unknown-thing", "file", ".bin"),
    ):
        response = sandbox.http.post(
            "/_sandbox/media", content=b"data", headers={"content-type": content_type}
        )
        info = response.json()
        assert (info["type"], info["content_type"]) == (kind, content_type)
        assert info["name"].endswith(suffix)
        assert httpx.get(info["url"]).headers["content-type"] == content_type

    sandbox.advance(3601)
    assert httpx.get(body["url"]).status_code == 403
    sandbox.control("POST", "/reset")  # uploads are forgotten
    assert httpx.get(body["url"]).status_code == 404


def test_upload_limits_and_validation(sandbox: Sandbox) -> None:
    def upload(content: bytes, content_type: str | None) -> httpx.Response:
        headers = {"content-type": content_type} if content_type else {}
        return sandbox.http.post("/_sandbox/media", content=content, headers=headers)

    at_limit = upload(b"\0" * MAX_UPLOAD, "video/mp4")
    assert at_limit.status_code == 201
    assert at_limit.json()["size"] == MAX_UPLOAD
    too_big = upload(b"\0" * (MAX_UPLOAD + 1), "video/mp4")
    assert too_big.status_code == 413
    assert too_big.json()["error"]["max_bytes"] == MAX_UPLOAD

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit still holds
        for _ in range(26):
            yield b"\0" * (1024 * 1024)

    streamed = sandbox.http.post(
        "/_sandbox/media", content=chunks(), headers={"content-type": "video/mp4"}
    )
    assert streamed.status_code == 413

    assert upload(b"", "image/png").status_code == 400
    assert upload(b"x", "not a type").status_code == 400
    assert upload(b"--b\r\n", "multipart/form-data; boundary=b").status_code == 400
    untyped = upload(b"raw", None)
    assert untyped.status_code == 201
    assert untyped.json()["type"] == "file"


def test_phone_sends_the_built_in_sample_by_default(sandbox: Sandbox) -> None:
    html = sandbox.http.get("/").text
    assert '{ type: "image" }' in html
    assert "Send an image" in html


@pytest.fixture
def mounted() -> Iterator[ServerThread]:
    server = ServerThread(Starlette(routes=[Mount("/sandbox", app=create_app())])).start()
    yield server
    server.stop()


def test_media_urls_carry_the_mount_prefix(mounted: ServerThread) -> None:
    base = f"{mounted.url}/sandbox"
    with httpx.Client(base_url=base) as http:
        uploaded: dict[str, Any] = http.post(
            "/_sandbox/media", content=b"%PDF-1.4", headers={"content-type": "application/pdf"}
        ).json()
        assert uploaded["url"].startswith(f"{base}/_sandbox/media/{uploaded['name']}?oe=")
        assert http.get(uploaded["url"]).content == b"%PDF-1.4"
        page = http.post("/_sandbox/pages", json={"name": "Mounted media"}).json()
        psid = http.post(
            f"/_sandbox/pages/{page['page_id']}/customers", json={"first_name": "Mo"}
        ).json()["psid"]
        profile = http.get(
            f"/v25.0/{psid}",
            params={"access_token": page["access_token"], "fields": "profile_pic"},
        ).json()
        assert profile["profile_pic"].startswith(f"{base}/_sandbox/media/avatar.png?oe=")
        assert http.get(profile["profile_pic"]).headers["content-type"] == "image/png"
