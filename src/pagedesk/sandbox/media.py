"""Media the sandbox serves itself: built-in samples (made here, in code) and uploads.

Every URL the sandbox hands out is absolute and expires like Meta's CDN links:
``{scheme}://{host}{root_path}/_sandbox/media/{name}?oe=<expiry, hex>&oh=<signature>``.
The expiry is ``media_url_ttl_seconds`` (config) after the URL was issued, on the
sandbox clock; after it the URL answers 403, so a client that did not download in time
finds out. A bare ``/_sandbox/media/{name}`` serves the built-in samples only (handy in
a browser); uploads need a signed URL.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import mimetypes
import struct
import zlib
from functools import cache
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from pagedesk.sandbox import ids
from pagedesk.sandbox.errors import ControlError
from pagedesk.sandbox.httpio import control_error_response, json_response
from pagedesk.sandbox.models import MediaFile
from pagedesk.sandbox.state import SandboxState

MEDIA_KINDS = ("image", "audio", "video", "file")
MAX_UPLOAD_BYTES = 25 * 1024 * 1024  # Meta's attachment limit
# An oversized body is still read (and dropped) up to here, so the client gets the 413
# instead of a reset connection; beyond it the sandbox stops reading.
MAX_DRAIN_BYTES = 64 * 1024 * 1024
MAX_STORED_BYTES = 256 * 1024 * 1024  # all uploads together; the oldest go first
AVATAR = "avatar.png"
SAMPLE_FOR_KIND = {
    "image": "sample.png",
    "audio": "sample.wav",
    "video": "sample.mp4",
    "file": "sample.pdf",
}
_EXTENSIONS = {
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "audio/mpeg": ".mp3",
    "audio/mp4": ".m4a",
    "audio/aac": ".aac",
    "audio/wav": ".wav",
    "audio/ogg": ".ogg",
    "video/mp4": ".mp4",
    "video/quicktime": ".mov",
    "application/pdf": ".pdf",
    "text/plain": ".txt",
}


# -- built-in samples ----------------------------------------------------------------


def solid_png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A valid PNG of one colour (8-bit RGB, no interlace)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    row = b"\x00" + bytes(rgb) * width  # filter type 0 (none), then the pixels
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height, 9))
        + chunk(b"IEND", b"")
    )


def silent_wav(seconds: float = 0.25, rate: int = 8000) -> bytes:
    """A valid WAV file: mono, 8-bit unsigned PCM, silence."""
    frames = b"\x80" * int(seconds * rate)
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate, 1, 8)
    body = (
        b"WAVE"
        + b"fmt "
        + struct.pack("<I", len(fmt))
        + fmt
        + b"data"
        + struct.pack("<I", len(frames))
        + frames
    )
    return b"RIFF" + struct.pack("<I", len(body)) + body


def mp4_placeholder() -> bytes:
    """Only an MP4 ``ftyp`` box and an empty ``free`` box: right type, nothing to play."""
    brands = b"isom" + struct.pack(">I", 0x200) + b"isomiso2mp41"
    ftyp = struct.pack(">I", 8 + len(brands)) + b"ftyp" + brands
    return ftyp + struct.pack(">I", 8) + b"free"


def one_page_pdf(text: str) -> bytes:
    """A valid one-page PDF showing one line of (ASCII) text."""
    escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    stream = f"BT /F1 18 Tf 72 720 Td ({escaped}) Tj ET".encode("ascii")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n"
    ).encode()
    return bytes(out)


@cache
def builtins() -> dict[str, MediaFile]:
    samples = [
        ("sample.png", "image/png", "image", solid_png(16, 16, (0, 132, 255))),
        (AVATAR, "image/png", "image", solid_png(16, 16, (176, 179, 184))),
        ("sample.wav", "audio/wav", "audio", silent_wav()),
        ("sample.mp4", "video/mp4", "video", mp4_placeholder()),
        ("sample.pdf", "application/pdf", "file", one_page_pdf("pagedesk sandbox sample file")),
        (
            "sample.txt",
            "text/plain; charset=utf-8",
            "file",
            b"pagedesk sandbox sample file\nA short text attachment.\n",
        ),
    ]
    return {
        name: MediaFile(name=name, content_type=content_type, kind=kind, data=data)
        for name, content_type, kind, data in samples
    }


def find(state: SandboxState, name: str) -> MediaFile | None:
    return state.uploads.get(name) or builtins().get(name)


# -- signed, expiring URLs -------------------------------------------------------------


def _signature(secret: str, name: str, expires: int) -> str:
    message = f"{name}:{expires:x}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:32]


class MediaLinks:
    """Issues media URLs for one request's scheme, host and mount prefix."""

    def __init__(self, state: SandboxState, base: str) -> None:
        self.state = state
        self.base = base.rstrip("/")

    def url(self, name: str) -> str:
        expires = self.expires_at()
        signature = _signature(self.state.app.app_secret, name, expires)
        return f"{self.base}/_sandbox/media/{name}?oe={expires:x}&oh={signature}"

    def expires_at(self) -> int:
        return math.ceil(self.state.clock.now() + self.state.config.media_url_ttl_seconds)

    def sample(self, kind: str) -> str:
        return self.url(SAMPLE_FOR_KIND[kind])

    def profile_pic(self) -> str:
        return self.url(AVATAR)


def links(request: Request, state: SandboxState) -> MediaLinks:
    root = request.scope.get("root_path", "")
    return MediaLinks(state, f"{request.url.scheme}://{request.url.netloc}{root}")


def _check_signature(state: SandboxState, name: str, oe: str, oh: str) -> str | None:
    """Why the signed URL is refused, or None when it is good."""
    try:
        expires = int(oe, 16)
    except ValueError:
        return "URL signature mismatch"
    if not hmac.compare_digest(_signature(state.app.app_secret, name, expires), oh):
        return "URL signature mismatch"
    if state.clock.now() >= expires:
        return "URL signature expired"
    return None


# -- endpoints -------------------------------------------------------------------------


async def serve_media(request: Request) -> Response:
    state: SandboxState = request.app.state.sandbox
    name = request.path_params["name"]
    item = find(state, name)
    if item is None:
        return PlainTextResponse("Media not found", status_code=404)
    oe = request.query_params.get("oe")
    oh = request.query_params.get("oh")
    if oe is None and oh is None:
        if name not in builtins():
            return PlainTextResponse("URL signature missing", status_code=403)
    else:
        problem = _check_signature(state, name, oe or "", oh or "")
        if problem:
            return PlainTextResponse(problem, status_code=403)
    return Response(item.data, media_type=item.content_type, headers={"Cache-Control": "no-store"})


def kind_of(content_type: str) -> str:
    major = content_type.split("/", 1)[0]
    return major if major in ("image", "audio", "video") else "file"


def _extension(content_type: str) -> str:
    return _EXTENSIONS.get(content_type) or mimetypes.guess_extension(content_type) or ".bin"


async def _read_body(request: Request) -> tuple[bytes, int]:
    """The body up to ``MAX_UPLOAD_BYTES`` (empty when larger) and its total size."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size <= MAX_UPLOAD_BYTES:
            chunks.append(chunk)
        else:
            chunks.clear()
            if size > MAX_DRAIN_BYTES:
                break
    return b"".join(chunks), size


def _too_large() -> Response:
    return control_error_response(
        ControlError(
            413, f"The file is larger than {MAX_UPLOAD_BYTES} bytes", max_bytes=MAX_UPLOAD_BYTES
        )
    )


async def upload_media(request: Request) -> Response:
    """``POST /_sandbox/media``: the raw file as the body, its type as ``Content-Type``."""
    state: SandboxState = request.app.state.sandbox
    raw_type = request.headers.get("content-type") or "application/octet-stream"
    content_type = raw_type.split(";", 1)[0].strip().lower()
    if content_type.count("/") != 1 or not all(content_type.split("/")):
        return control_error_response(ControlError(400, f"Bad Content-Type: {raw_type}"))
    if content_type.startswith("multipart/"):
        return control_error_response(
            ControlError(400, "Send the file itself as the body, not a multipart form")
        )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_DRAIN_BYTES:
        return _too_large()
    data, size = await _read_body(request)
    if size > MAX_UPLOAD_BYTES:
        return _too_large()
    if not data:
        return control_error_response(ControlError(400, "The body is empty"))
    item = MediaFile(
        name=ids.upload_name() + _extension(content_type),
        content_type=raw_type if content_type.startswith("text/") else content_type,
        kind=kind_of(content_type),
        data=data,
        created_at=state.clock.now(),
    )
    _store(state, item)
    media_links = links(request, state)
    return json_response(upload_json(item, media_links), 201)


def upload_json(item: MediaFile, media_links: MediaLinks) -> dict[str, Any]:
    return {
        "name": item.name,
        "url": media_links.url(item.name),
        "type": item.kind,
        "content_type": item.content_type,
        "size": len(item.data),
        "expires_at": media_links.expires_at(),
    }


def _store(state: SandboxState, item: MediaFile) -> None:
    total = sum(len(upload.data) for upload in state.uploads.values())
    while state.uploads and total + len(item.data) > MAX_STORED_BYTES:
        oldest = state.uploads.pop(next(iter(state.uploads)))
        total -= len(oldest.data)
    state.uploads[item.name] = item


routes: list[Route] = [
    Route("/_sandbox/media", upload_media, methods=["POST"]),
    Route("/_sandbox/media/{name}", serve_media, methods=["GET"]),
]
