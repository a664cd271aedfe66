"""Text that every database can store.

JSON lets a sender write ``\\u0000`` or a lone surrogate such as ``\\ud800``.
PostgreSQL refuses NUL in text columns, and no driver encodes a lone surrogate
as UTF-8, so one such string fails the whole statement it is in (a batch of
webhooks, a batch of ingested events), and fails it again on every retry.
Webhook text is cleaned once, where it is decoded: NUL removed, lone
surrogates replaced with U+FFFD. The stored raw body keeps every byte.
"""

from __future__ import annotations

import re
from typing import Any

_SURROGATE = re.compile("[\ud800-\udfff]")
# What in a JSON body decodes to such characters: the escape of NUL, a high surrogate
# not followed by a low one, a low one not after a high one (a pair is one character:
# emoji, say). Assumes the body was decoded as strict UTF-8, which refuses surrogates
# written as UTF-8; raw control characters are refused by the JSON decoder.
_HIGH, _LOW = rb"\\u[dD][89abAB][0-9a-fA-F]{2}", rb"\\u[dD][c-fC-F][0-9a-fA-F]{2}"
_UNSTORABLE = re.compile(rb"\\u0000|" + _HIGH + rb"(?!" + _LOW + rb")|(?<!" + _HIGH + rb")" + _LOW)


def storable(value: str) -> str:
    if "\x00" in value:
        value = value.replace("\x00", "")
    if not value.isascii():
        value = _SURROGATE.sub("\ufffd", value)
    return value


def may_need_cleaning(body: bytes) -> bool:
    """Whether decoding ``body`` (JSON) can give strings that are not :func:`storable`."""
    return _UNSTORABLE.search(body) is not None


def storable_json(document: Any) -> Any:
    """``document`` (decoded JSON) with every key and string made :func:`storable`."""
    if isinstance(document, str):
        return storable(document)
    if isinstance(document, list):
        return [storable_json(item) for item in document]
    if isinstance(document, dict):
        return {storable(key): storable_json(value) for key, value in document.items()}
    return document
