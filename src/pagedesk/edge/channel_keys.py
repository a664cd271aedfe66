"""What the webhook edge needs to know about channels, cached in memory.

Checking a signature needs every channel's app secret, and those are stored
encrypted. Loading and decrypting them on every POST would cost more than the
rest of the request, so the edge keeps a snapshot for a few seconds. A request
the snapshot cannot vouch for asks for a fresher one before it is rejected, so a
channel added (or a secret rotated) a moment ago is honoured at once.
"""

from __future__ import annotations

import hmac
import logging
import threading
import time
from collections import defaultdict
from dataclasses import dataclass

from django.db.models import TextField
from django.db.models.functions import Cast

from pagedesk.core.crypto import decrypt
from pagedesk.core.models import Channel
from pagedesk.messenger.signature import verify_signature

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChannelKeys:
    """One snapshot of the channels' webhook credentials."""

    pages_by_secret: dict[str, frozenset[str]]  # app secret → the page ids it signs for
    verify_tokens: tuple[bytes, ...]
    loaded_at: float  # time.monotonic() just before the query ran

    def signed_pages(self, body: bytes, signature: str | None) -> frozenset[str]:
        """The pages whose app secret produced ``signature`` over ``body`` (raw bytes)."""
        pages: frozenset[str] = frozenset()
        for secret, page_ids in self.pages_by_secret.items():
            if verify_signature(body, signature, secret):  # constant-time comparison
                pages |= page_ids
        return pages

    def knows_verify_token(self, token: str) -> bool:
        """Compare against every token, in constant time, without stopping early."""
        candidate = token.encode()
        found = False
        for known in self.verify_tokens:
            found |= hmac.compare_digest(candidate, known)
        return found


class ChannelKeyCache:
    """A :class:`ChannelKeys` snapshot reloaded after ``ttl`` seconds or on demand.

    ``load`` runs in a database thread. Concurrent reloads are folded into one: a
    caller that asks for keys ``newer_than`` a moment gets the first snapshot loaded
    after that moment, so a flood of unknown signatures costs one query at a time.
    """

    def __init__(self, ttl: float = 5.0) -> None:
        self.ttl = ttl
        self._keys: ChannelKeys | None = None
        self._plaintexts: dict[str, str] = {}  # ciphertext → secret: decrypt each once
        self._lock = threading.Lock()

    def fresh(self) -> ChannelKeys | None:
        keys = self._keys
        if keys is None or time.monotonic() - keys.loaded_at >= self.ttl:
            return None
        return keys

    def clear(self) -> None:
        with self._lock:
            self._keys = None
            self._plaintexts = {}

    def load(self, *, newer_than: float) -> ChannelKeys:
        with self._lock:
            keys = self._keys
            if keys is None or keys.loaded_at <= newer_than:
                keys = self._keys = self._query()
            return keys

    def _query(self) -> ChannelKeys:
        loaded_at = time.monotonic()
        rows = Channel.objects.values_list(
            "page_id", Cast("app_secret", output_field=TextField()), "verify_token"
        )
        pages: dict[str, set[str]] = defaultdict(set)
        tokens: list[bytes] = []
        plaintexts: dict[str, str] = {}
        for page_id, ciphertext, verify_token in rows:
            tokens.append(verify_token.encode())
            secret = self._plaintexts.get(ciphertext)
            if secret is None:
                try:
                    secret = decrypt(ciphertext)
                except ValueError:  # one unreadable channel must not stop the others
                    log.exception("cannot read the app secret of page %s", page_id)
                    continue
            plaintexts[ciphertext] = secret
            pages[secret].add(page_id)
        self._plaintexts = plaintexts
        return ChannelKeys(
            pages_by_secret={secret: frozenset(ids) for secret, ids in pages.items()},
            verify_tokens=tuple(tokens),
            loaded_at=loaded_at,
        )
