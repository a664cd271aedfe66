"""Webhook signatures: HMAC-SHA256 of the raw body, keyed with the app secret.

Meta sends ``X-Hub-Signature-256: sha256=<lowercase hex>``. The digest is always
computed over the bytes exactly as received (Meta escapes non-ASCII characters,
so re-serialised JSON would not match) and compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import re

SIGNATURE_HEADER = "X-Hub-Signature-256"
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def sign_body(body: bytes, app_secret: str) -> str:
    """Return the ``X-Hub-Signature-256`` header value for ``body``."""
    digest = hmac.new(app_secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_signature(body: bytes, header: str | None, app_secret: str) -> bool:
    """True only when ``header`` is a well-formed sha256 signature of ``body``.

    Missing headers, other algorithms (including the legacy sha1 header on its own),
    surrounding white space, upper-case or truncated hex and empty secrets are all
    rejected: a signature either matches exactly or the body is not trusted.
    """
    if not header or not app_secret:
        return False
    prefix, sep, received = header.partition("=")
    if sep != "=" or prefix != "sha256" or not _SHA256_HEX.fullmatch(received):
        return False
    expected = sign_body(body, app_secret).partition("=")[2]
    return hmac.compare_digest(expected, received)
