from __future__ import annotations

from collections.abc import Iterator

import pytest

from pagedesk.core.actions import do_add_channel, do_create_workspace
from pagedesk.core.models import Channel, Workspace
from pagedesk.edge.webhooks import channel_keys
from tests.edge.helpers import APP_SECRET, PAGE_ID, VERIFY_TOKEN


@pytest.fixture(autouse=True)
def fresh_channel_keys() -> Iterator[None]:
    """Each test starts with no cached channel secrets (the database is new too)."""
    channel_keys.clear()
    yield
    channel_keys.clear()


@pytest.fixture
def workspace(transactional_db: None) -> Workspace:
    return do_create_workspace(name="Acme Bikes", owner_email="owner@acme.example")


@pytest.fixture
def channel(workspace: Workspace) -> Channel:
    return do_add_channel(
        workspace=workspace,
        page_id=PAGE_ID,
        page_token="EAAG-test-token",
        app_secret=APP_SECRET,
        verify_token=VERIFY_TOKEN,
        name="Acme Bikes",
    )
