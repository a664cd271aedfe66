"""Graph API errors as a small typed hierarchy, and the map from Meta's error codes.

Meta answers a failed call with ``{"error": {"message", "type", "code",
"error_subcode", "fbtrace_id"}}``. :func:`error_from_response` turns that (or any
garbage body) into one :class:`GraphError` subclass, so callers branch on the
class and its flags, never on numbers. The mapping is the table in
``messenger-platform.md``, kept below as data in the same order.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any, ClassVar

__all__ = [
    "GraphError",
    "InvalidParameter",
    "PageRestricted",
    "PermissionMissing",
    "PrivateReplyNotAllowed",
    "ProfileUnavailable",
    "RateLimited",
    "RecipientTemporarilyUnavailable",
    "RecipientUnavailable",
    "RecipientUnreachable",
    "TagMisuseWarning",
    "TemporaryError",
    "ThreadOwnedByOtherApp",
    "TokenInvalid",
    "WindowClosed",
    "error_from_response",
    "redact",
]

REDACTED = "[redacted]"
# Graph URLs carry credentials as query parameters; scrub them wherever they show up.
_CREDENTIAL_PARAM = re.compile(r"(access_token|appsecret_proof|input_token)=[^&\s\"'<>]+")


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Remove every secret, and any credential query parameter, from ``text``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return _CREDENTIAL_PARAM.sub(rf"\1={REDACTED}", text)


class GraphError(Exception):
    """A Graph API call failed. Subclasses say what pagedesk should do about it.

    ``retryable``: the same request may succeed later (the client retries it).
    ``pause_channel``: nothing more will go out on this page until an admin acts.
    ``action``: one line a person can act on; ``user_message`` adds any detail.
    """

    reason: ClassVar[str] = "graph_error"
    retryable: ClassVar[bool] = False
    pause_channel: ClassVar[bool] = False
    action: ClassVar[str] = "Meta refused the request; see Meta's message for details."

    def __init__(
        self,
        message: str = "",
        *,
        code: int | None = None,
        subcode: int | None = None,
        fbtrace_id: str | None = None,
        http_status: int | None = None,
        error_type: str | None = None,
        detail: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.subcode = subcode
        self.fbtrace_id = fbtrace_id
        self.http_status = http_status
        self.error_type = error_type
        self.detail = detail

    @property
    def user_message(self) -> str:
        return f"{self.action} {self.detail}" if self.detail else self.action

    def scrub(self, secrets: Iterable[str]) -> None:
        """Redact secrets that Meta may echo back (e.g. "Malformed access token …")."""
        self.message = redact(self.message, secrets)
        self.args = (self.message,)

    def __str__(self) -> str:
        where = ", ".join(
            f"{name}={value}"
            for name, value in (
                ("code", self.code),
                ("subcode", self.subcode),
                ("http", self.http_status),
                ("fbtrace_id", self.fbtrace_id),
            )
            if value is not None
        )
        text = self.message or self.action
        return f"{text} ({where})" if where else text

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(code={self.code!r}, subcode={self.subcode!r}, "
            f"http_status={self.http_status!r}, message={self.message!r})"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only constructor arguments: restore them from __dict__ when unpickled
        # (task queues pickle exceptions).
        return (type(self), (self.message,), self.__dict__.copy())


class WindowClosed(GraphError):
    reason = "window_closed"
    action = (
        "The 24-hour window has closed; you can still send with the HUMAN_AGENT tag "
        "within 7 days of the customer's last message."
    )


class RecipientUnavailable(GraphError):
    """The person cannot get the message. ``permanent`` means: mark them unreachable."""

    reason = "recipient_unavailable"
    permanent: ClassVar[bool] = True
    action = "The customer cannot receive messages."


class RecipientUnreachable(RecipientUnavailable):
    reason = "recipient_unreachable"
    permanent = True
    action = (
        "The customer cannot be reached (they blocked the page, deactivated their "
        "account, or no longer exist); the contact is marked unreachable."
    )


class RecipientTemporarilyUnavailable(RecipientUnavailable):
    reason = "recipient_temporarily_unavailable"
    permanent = False
    retryable = True
    action = "The customer cannot receive messages right now; pagedesk will try again later."


class TokenInvalid(GraphError):
    reason = "token_invalid"
    pause_channel = True
    action = (
        "The page access token is invalid or expired; sending is paused until an admin "
        "reconnects the page. Queued messages are kept."
    )


class PermissionMissing(GraphError):
    reason = "permission_missing"
    action = (
        "The app lacks a permission or approval for this (for example pages_messaging, "
        "HUMAN_AGENT, or customer matching); an admin must grant it."
    )

    @property
    def user_message(self) -> str:
        # Meta's own message names the missing permission.
        base = super().user_message
        return f"{base} Meta says: {self.message}" if self.message else base


class RateLimited(GraphError):
    reason = "rate_limited"
    retryable = True
    action = "Meta is rate limiting this page; pagedesk backs off and retries."


class TagMisuseWarning(GraphError):
    """613/2018338: Meta's warning about tagged messages. Retrying would make it worse."""

    reason = "tag_misuse_warning"
    action = (
        "Meta warned about message-tag misuse or too many tagged messages to this "
        "person; tagged sends to them are stopped and admins are alerted."
    )


class PageRestricted(GraphError):
    reason = "page_restricted"
    pause_channel = True
    action = (
        "Meta has temporarily restricted this page from sending; sending on the channel "
        "is paused. Check the page's quality in Meta Business Suite."
    )


class ThreadOwnedByOtherApp(GraphError):
    reason = "thread_owned_by_other_app"
    action = "Another app owns this conversation; take control of the thread to reply."


class PrivateReplyNotAllowed(GraphError):
    reason = "private_reply_not_allowed"
    action = (
        "This comment cannot get a private reply (already answered, older than 7 days, "
        "deleted, or written by a page)."
    )


class ProfileUnavailable(GraphError):
    reason = "profile_unavailable"
    action = "Meta does not share this person's profile; the contact keeps a placeholder name."


class InvalidParameter(GraphError):
    reason = "invalid_parameter"
    action = "Meta rejected the message as invalid."

    @property
    def user_message(self) -> str:
        base = super().user_message
        return f"{base} Meta says: {self.message}" if self.message else base


class TemporaryError(GraphError):
    reason = "temporary_error"
    retryable = True
    action = "Meta or the network had a temporary problem; pagedesk retries with backoff."


_ANY = None  # wildcard in the table below

# (code, subcode) -> (class, detail). Lookup: exact pair, then subcode alone,
# then code alone. Mirrors the errors table of messenger-platform.md.
_TABLE: dict[tuple[int | None, int | None], tuple[type[GraphError], str | None]] = {
    (10, 2018278): (WindowClosed, None),
    (10, 2534022): (WindowClosed, None),  # Instagram's code for the same rule
    (10, 2018108): (RecipientTemporarilyUnavailable, None),
    (551, 1545041): (RecipientUnreachable, None),
    (551, _ANY): (RecipientUnreachable, None),
    (100, 2018001): (RecipientUnreachable, "No matching user was found."),
    (100, 2018008): (InvalidParameter, "Meta could not fetch the attachment from its URL."),
    (100, 2018047): (InvalidParameter, "Uploading the attachment failed."),
    (100, 2018109): (InvalidParameter, "The attachment is too large (the limit is 25 MB)."),
    (100, 2018014): (
        InvalidParameter,
        "A message and a sender action were sent in one request: a pagedesk bug.",
    ),
    (100, 2534025): (PrivateReplyNotAllowed, None),
    (100, 2534037): (ThreadOwnedByOtherApp, None),
    (_ANY, 2018300): (ThreadOwnedByOtherApp, None),
    (613, 2018338): (TagMisuseWarning, None),
    (10, 1893063): (PageRestricted, None),
    (190, _ANY): (TokenInvalid, None),
    (200, 2018028): (PermissionMissing, None),
    (200, 2018021): (PermissionMissing, "Customer matching needs a US page admin."),
    (200, 2018027): (PermissionMissing, "Customer matching needs its beta permission and fee."),
    (200, _ANY): (PermissionMissing, None),
    (10, _ANY): (PermissionMissing, None),  # includes 10/2018065
    (1, 99): (PermissionMissing, None),  # "unknown error": usually a missing permission
    (_ANY, 2018218): (ProfileUnavailable, None),
    (_ANY, 2018247): (ProfileUnavailable, None),
    (4, _ANY): (RateLimited, None),
    (32, _ANY): (RateLimited, None),
    (613, _ANY): (RateLimited, None),  # includes 613/2534040
    (1200, _ANY): (TemporaryError, None),
    (2, _ANY): (TemporaryError, None),
    (1, _ANY): (TemporaryError, None),
    (100, _ANY): (InvalidParameter, None),
}


def _lookup(code: int | None, subcode: int | None) -> tuple[type[GraphError], str | None]:
    for key in ((code, subcode), (_ANY, subcode), (code, _ANY)):
        if key != (_ANY, _ANY) and key in _TABLE:
            return _TABLE[key]
    return GraphError, None


def _as_int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _as_str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _decode(payload: object) -> object:
    if isinstance(payload, bytes | bytearray):
        payload = payload.decode("utf-8", errors="replace")
    if isinstance(payload, str):
        try:
            return json.loads(payload)
        except ValueError:
            return payload
    return payload


def error_from_response(status_code: int, payload: object) -> GraphError:
    """Map an HTTP status and a response body (parsed JSON, text or bytes) to an error."""
    body = _decode(payload)
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        # Not Meta's error shape: a proxy page, an empty body, truncated JSON, ...
        cls: type[GraphError] = GraphError
        if status_code >= 500:
            cls = TemporaryError
        elif status_code == 429:
            cls = RateLimited
        return cls(f"Unexpected Graph API response (HTTP {status_code})", http_status=status_code)

    code = _as_int(error.get("code"))
    subcode = _as_int(error.get("error_subcode"))
    cls, detail = _lookup(code, subcode)
    if cls is GraphError and status_code >= 500:
        cls = TemporaryError
    elif cls is GraphError and status_code == 429:
        cls = RateLimited
    return cls(
        _as_str(error.get("message")) or "",
        code=code,
        subcode=subcode,
        fbtrace_id=_as_str(error.get("fbtrace_id")),
        http_status=status_code,
        error_type=_as_str(error.get("type")),
        detail=detail,
    )
