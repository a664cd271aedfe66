"""Ingestion test helpers: connected pages for the fixtures, and a way to run the
worker's queue in the test thread (the real Huey storage, as a worker would)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import httpx
import pytest

from pagedesk.core.actions import do_add_channel, do_create_workspace
from pagedesk.core.models import Channel, Workspace
from tests.messenger.fixtures import APP_SECRET, Fixture

FB_PAGE_ID = "1234567890123456"
SECOND_PAGE_ID = "2345678901234567"
IG_ACCOUNT_ID = "17841400123456789"
SIDE_EFFECT_TASKS = {"fetch_contact_profile", "download_attachment"}


@dataclass
class Pages:
    workspace: Workspace
    facebook: Channel
    second: Channel
    instagram: Channel


@pytest.fixture
def pages(transactional_db: None) -> Pages:
    workspace = do_create_workspace(name="Acme Bikes", owner_email="owner@acme.test")

    def add(page_id: str, name: str, kind: str = "facebook") -> Channel:
        return do_add_channel(
            workspace=workspace,
            page_id=page_id,
            page_token=f"EAAG-token-{page_id}",
            app_secret=APP_SECRET,  # one app serves every page
            verify_token="fixture-verify-token",
            name=name,
            kind=kind,
        )

    return Pages(
        workspace,
        add(FB_PAGE_ID, "Acme Bikes"),
        add(SECOND_PAGE_ID, "Acme Outlet"),
        add(IG_ACCOUNT_ID, "acme.bikes", "instagram"),
    )


def deliver(base_url: str, fixture: Fixture) -> httpx.Response:
    """POST a fixture exactly as Meta would: its raw bytes and its signed headers."""
    return httpx.post(
        f"{base_url}/webhooks/messenger", content=fixture.raw_body, headers=fixture.headers
    )


def drain(
    huey: object, *, skip: Iterable[str] = SIDE_EFFECT_TASKS, rounds: int = 5000
) -> list[str]:
    """Run queued tasks until none is left; side-effect tasks (Graph calls, downloads)
    are dropped unless asked for. Returns the names of every task taken off the queue."""
    ran: list[str] = []
    for _ in range(rounds):
        # Ask first: on Redis an empty dequeue blocks for a second.
        if not huey.pending_count():  # type: ignore[attr-defined]
            return ran
        task = huey.dequeue()  # type: ignore[attr-defined]
        if task is None:
            return ran
        name = task.name.rsplit(".", 1)[-1]
        ran.append(name)
        if name not in set(skip):
            huey.execute(task)  # type: ignore[attr-defined]
    raise AssertionError(f"queue did not drain after {rounds} tasks: {ran[-10:]}")
