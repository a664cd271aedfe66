"""Live-update test helpers: two workspaces with a member and a token each, and emitting."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.http import HttpRequest
from django.test import Client

from pagedesk.core.actions import do_create_api_token
from pagedesk.core.models import Membership, Workspace
from pagedesk.live.emit import emit
from pagedesk.live.feed import READER, active_hubs

PASSWORD = "correct-horse-battery-staple"
_seq = itertools.count(1)


@dataclass
class Member:
    workspace: Workspace
    user: AbstractBaseUser
    token: str

    def session_cookie(self) -> str:
        """Sign in as a browser would and return the session cookie to send."""
        client = Client()
        assert client.login(request=HttpRequest(), username=self.user.username, password=PASSWORD)
        morsel = client.cookies["sessionid"]
        return f"{morsel.key}={morsel.value}"


def make_member(name: str) -> Member:
    n = next(_seq)
    workspace = Workspace.objects.create(name=f"{name} {n}", slug=f"{name.lower()}-{n}")
    user = get_user_model().objects.create_user(
        username=f"agent{n}@{name.lower()}.test", password=PASSWORD
    )
    Membership.objects.create(workspace=workspace, user=user)
    token = do_create_api_token(workspace=workspace, name="live tests").secret
    return Member(workspace, user, token)


@pytest.fixture
def acme(transactional_db: None) -> Member:
    return make_member("Acme")


@pytest.fixture
def globex(transactional_db: None) -> Member:
    return make_member("Globex")


def emit_many(workspace: Workspace, count: int, *, kind: str = "message.created") -> None:
    """``count`` events, each in its own committed transaction."""
    for n in range(count):
        with transaction.atomic():
            emit(workspace_id=workspace.pk, kind=kind, data={"message_id": n})


def data_of(events: list[Any]) -> list[str]:
    return [event.data for event in events]


@pytest.fixture(autouse=True)
def streams_wound_down() -> Iterator[None]:
    """After each test: every stream closed, and the live reader's connection released
    (PostgreSQL cannot drop the test database while it is open)."""
    yield
    deadline = time.monotonic() + 5
    while active_hubs() and time.monotonic() < deadline:
        time.sleep(0.02)
    READER.release().result(timeout=5)
    assert not active_hubs(), "a live stream was still open after the test"
