"""Turn what an agent or an integration wrote into a Send API ``message`` object.

Meta's limits live in ``pagedesk.messenger.send``; this module only translates its
validation errors into a :class:`PagedeskError` a person can act on, so a bad draft
is refused before anything is queued.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from pagedesk.core.errors import PagedeskError
from pagedesk.messenger.send import MediaAttachment, MediaPayload, QuickReply
from pagedesk.messenger.send import Message as SendMessage

ATTACHMENT_TYPES = ("image", "audio", "video", "file")
TEXT_MAX = 2000
QUICK_REPLIES_MAX = 13
QUICK_REPLY_TITLE_MAX = 20

QuickReplyInput = str | Mapping[str, Any]


def _invalid(message: str) -> PagedeskError:
    return PagedeskError("invalid_message", message, status=422)


def _quick_reply(item: QuickReplyInput) -> QuickReply:
    """A title alone (its own payload) or ``{"title", "payload"}``."""
    if isinstance(item, str):
        title, payload = item, item
    else:
        title, payload = item.get("title"), item.get("payload") or item.get("title")
    if not isinstance(title, str) or not title.strip():
        raise _invalid("Every quick reply needs a title.")
    if len(title) > QUICK_REPLY_TITLE_MAX:
        raise _invalid(
            f"Quick reply {title!r} is {len(title)} characters; Messenger allows at most "
            f"{QUICK_REPLY_TITLE_MAX}."
        )
    try:
        return QuickReply(title=title, payload=str(payload))
    except ValidationError as exc:
        raise _invalid(f"Quick reply {title!r}: {exc.errors()[0]['msg']}") from None


def build_message(
    *,
    text: str,
    attachment_url: str | None,
    attachment_type: str | None,
    quick_replies: Sequence[QuickReplyInput] | None,
    metadata: str | None = None,
) -> SendMessage:
    """A validated Send API message: text or one attachment, optional quick replies."""
    text = text or ""
    if attachment_url and text.strip():
        raise _invalid("Send the text and the attachment as two messages (Messenger's rule).")
    if bool(attachment_url) != bool(attachment_type):
        raise _invalid("An attachment needs both a URL and a type.")
    if not attachment_url and not text.strip():
        raise _invalid("The message is empty.")
    if len(text) > TEXT_MAX:
        raise _invalid(f"The text is {len(text)} characters; Messenger allows at most {TEXT_MAX}.")
    if attachment_type is not None and attachment_type not in ATTACHMENT_TYPES:
        raise _invalid(f"Attachment type must be one of {', '.join(ATTACHMENT_TYPES)}.")
    replies = list(quick_replies or ())
    if len(replies) > QUICK_REPLIES_MAX:
        raise _invalid(f"At most {QUICK_REPLIES_MAX} quick replies (got {len(replies)}).")
    try:
        attachment = None
        if attachment_url:
            attachment = MediaAttachment(
                type=attachment_type,  # type: ignore[arg-type]
                payload=MediaPayload(url=attachment_url),
            )
        return SendMessage(
            text=text if not attachment else None,
            attachment=attachment,
            quick_replies=[_quick_reply(item) for item in replies] or None,
            metadata=metadata,
        )
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error.get("loc", ()))
        if "url" in where:
            raise _invalid("The attachment URL must be an http(s) URL.") from None
        raise _invalid(f"The message is not valid: {where}: {error['msg']}") from None
