"""Ingestion: raw deliveries → events → contacts, conversations, messages.

(Being written; signatures are final.)
"""

from __future__ import annotations


def do_split_webhook(*, raw_webhook_id: int) -> list[tuple[int, str]]:
    """Split an accepted RawWebhook into InboundEvents (idempotent); returns its lanes."""
    raise NotImplementedError


def do_process_lane(*, channel_id: int, thread_key: str) -> float | None:
    """Process a thread's pending events in order; seconds until a retry is due, or None."""
    raise NotImplementedError


def do_fetch_contact_profile(*, contact_id: int) -> None:
    raise NotImplementedError


def do_download_attachment(*, attachment_id: int) -> None:
    raise NotImplementedError


def unsplit_webhook_ids(*, older_than_seconds: int) -> list[int]:
    raise NotImplementedError


def stuck_lanes(*, older_than_seconds: int) -> list[tuple[int, str]]:
    raise NotImplementedError


def replay_events(*, event_ids: list[int] | None = None, failed: bool = False) -> int:
    """Put dead (or named) events back to pending and enqueue their lanes; returns how many."""
    raise NotImplementedError
