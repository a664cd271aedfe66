"""Process-local counters of the webhook edge (for a /metrics endpoint to read).

Only ever incremented: by the event loop, except ``enqueue_failed`` (writer thread).
"""

from __future__ import annotations

from pagedesk.core.models import RawWebhook

REJECTED = [s for s in RawWebhook.Status.values if s != RawWebhook.Status.ACCEPTED]

COUNTERS: dict[str, int] = {
    "received": 0,  # every POST, whatever happens to it
    "accepted": 0,  # stored and answered 200
    "rejected": 0,  # stored and answered 4xx; by status below
    **{f"rejected_{status}": 0 for status in REJECTED},
    "store_failed": 0,  # could not be stored: answered 503, Meta retries
    "enqueue_failed": 0,  # stored and accepted, left for the ingestion sweeper
}


def count(name: str) -> None:
    COUNTERS[name] += 1
