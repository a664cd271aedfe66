"""Encryption at rest for credentials (page access tokens, app secrets).

Fernet (AES-128-CBC + HMAC-SHA256) from ``cryptography``. The key comes from
``PAGEDESK_ENCRYPTION_KEY`` when set, else it is derived from the secret key, so
a database dump alone never reveals a page token.
"""

from __future__ import annotations

import base64
import hashlib
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.db import models

PREFIX = "enc1:"


@lru_cache(maxsize=4)
def _fernet(key_material: str) -> Fernet:
    digest = hashlib.sha256(b"pagedesk-credentials:" + key_material.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def _current() -> Fernet:
    return _fernet(getattr(settings, "PAGEDESK_ENCRYPTION_KEY", None) or settings.SECRET_KEY)


def encrypt(plaintext: str) -> str:
    return PREFIX + _current().encrypt(plaintext.encode()).decode()


def decrypt(stored: str) -> str:
    if not stored.startswith(PREFIX):
        raise ValueError("value is not encrypted with pagedesk's scheme")
    try:
        return _current().decrypt(stored[len(PREFIX) :].encode()).decode()
    except InvalidToken:
        raise ValueError(
            "cannot decrypt a stored credential: PAGEDESK_SECRET_KEY or "
            "PAGEDESK_ENCRYPTION_KEY changed since it was saved"
        ) from None


class EncryptedTextField(models.TextField):  # type: ignore[type-arg]
    """A text column stored encrypted; Python code only ever sees the plaintext."""

    def from_db_value(
        self, value: str | None, expression: object, connection: object
    ) -> str | None:
        return None if value is None else decrypt(value)

    def get_prep_value(self, value: object) -> object:
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt(str(value))
