"""Sender jobs (thin wrappers around ``pagedesk.delivery.sender``).

Queue messages carry only an outbox entry id; the entry's state decides what a run
does, so a duplicated or lost job is harmless (the sweeper re-finds lost ones).
"""

from __future__ import annotations

from collections.abc import Iterable

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task, on_startup

from pagedesk.delivery import sender, typing


@db_task()
def send_outbox_entry(entry_id: int) -> None:
    later = sender.deliver(entry_id=entry_id)
    if later is not None:
        send_outbox_entry.schedule((entry_id,), delay=max(later, 0.05))


@db_task()
def send_typing_on(conversation_id: int) -> None:
    typing.send_typing_on(conversation_id=conversation_id)


def enqueue(entry_ids: Iterable[int]) -> None:
    for entry_id in entry_ids:
        send_outbox_entry(entry_id)


@db_periodic_task(crontab(minute="*"))
def sweep_outbox() -> None:
    """Re-enqueue due and stuck entries, resume waiting ones of active channels."""
    enqueue(sender.sweep())


@on_startup()
def sweep_outbox_at_start() -> None:
    enqueue(sender.sweep(overdue_seconds=0))
