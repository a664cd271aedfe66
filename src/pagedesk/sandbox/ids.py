"""Identifiers and secrets shaped like Meta's (lengths and alphabets, not values)."""

from __future__ import annotations

import secrets
import string

_ALNUM = string.ascii_letters + string.digits
_URLSAFE = _ALNUM + "-_"


def _digits(count: int) -> str:
    first = secrets.choice("123456789")
    return first + "".join(secrets.choice(string.digits) for _ in range(count - 1))


def _chars(alphabet: str, count: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(count))


def page_id() -> str:
    """Page ids are 15 or 16 digits."""
    return _digits(secrets.choice((15, 16)))


def app_id() -> str:
    return _digits(16)


def app_secret() -> str:
    return secrets.token_hex(16)


def psid() -> str:
    """Page-scoped user ids are 16 or 17 digits."""
    return _digits(secrets.choice((16, 17)))


def user_id() -> str:
    """The id a commenter has in feed changes (not a PSID)."""
    return _digits(16)


def persona_id() -> str:
    return _digits(16)


def page_token() -> str:
    """Long-lived page tokens start with ``EAA`` and run to ~200 characters."""
    return "EAAG" + _chars(_ALNUM, 196)


def mid() -> str:
    return "m_" + _chars(_URLSAFE, 86)


def fbtrace_id() -> str:
    return _chars(_ALNUM, 11)


def post_number() -> str:
    return _digits(16)


def notification_token() -> str:
    return _chars(_ALNUM, 64)


def user_ref() -> str:
    return "ref_" + _chars(_ALNUM, 24)


def attachment_id() -> str:
    return _digits(16)


def thread_id() -> str:
    """A group thread: ``t_`` and 16 digits (pagedesk's modelling, see the README)."""
    return "t_" + _digits(16)


def upload_name() -> str:
    return "u_" + _chars(string.ascii_lowercase + string.digits, 16)


def challenge() -> str:
    return _digits(10)


def permalink(page_id: str) -> str:
    return f"https://www.facebook.com/{page_id}/posts/pfbid0{_chars(_ALNUM, 60)}"


def cdn_url(extension: str = "jpg") -> str:
    """A scontent-style URL, like the expiring media links Meta hands out."""
    path = f"v/t1.15752-9/{_digits(9)}_{_digits(16)}_{_digits(19)}_n.{extension}"
    query = f"_nc_cat=1&ccb=1-7&oh=03_{_chars(_URLSAFE, 40)}&oe={_chars(string.hexdigits[:16], 8)}"
    return f"https://scontent.xx.fbcdn.net/{path}?{query}"
