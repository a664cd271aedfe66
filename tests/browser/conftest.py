"""Real-browser tests: Debian's Chromium driven by Playwright against pagedesk served
on loopback, with conversations that arrived through the sandbox like real ones.

Playwright's sync API keeps an asyncio loop marked as running in this thread while
it is alive. So the browser lives only as long as one test module (not the whole
session: later async tests need the thread's loop free), and Django's ORM calls of
the test itself are allowed while it does.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.db import connections
from playwright.sync_api import Browser, Page, sync_playwright

from pagedesk.core.actions import do_add_channel, do_create_workspace
from pagedesk.core.models import Workspace
from pagedesk.inbox.models import Conversation
from pagedesk.sandbox.app import create_app
from tests.inbox.conftest import drain
from tests.servers import ServerThread

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
VERIFY_TOKEN = "browser-verify-token"
PASSWORD = "browser tests passphrase"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # CI installs Chromium: there a missing browser must fail, never skip quietly.
    if not os.path.exists(CHROMIUM) and not os.environ.get("CI"):
        skip = pytest.mark.skip(reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)")
        for item in items:
            if "tests/browser/" in str(item.fspath).replace(os.sep, "/"):
                item.add_marker(skip)


@pytest.fixture(scope="module")
def chromium(browser_type_launch_args: dict[str, Any]) -> Iterator[Browser]:
    """Debian's Chromium (Playwright never downloads a browser here), one per module.

    ``browser_type_launch_args`` comes from pytest-playwright, so ``--headed`` and
    ``--slowmo`` work as usual.
    """
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                **{**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}
            )
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page(chromium: Browser) -> Iterator[Page]:
    context = chromium.new_context(
        viewport={"width": 1280, "height": 820}, locale="en-US", timezone_id="UTC"
    )
    context.set_default_timeout(10_000)
    tab = context.new_page()
    yield tab
    context.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    """Where screenshots go: docs/screenshots with PAGEDESK_SCREENSHOTS=1, else tmp."""
    if os.environ.get("PAGEDESK_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        return SCREENSHOTS
    return tmp_path


@pytest.fixture
def sandbox_url() -> Iterator[str]:
    server = ServerThread(create_app()).start()
    yield server.url
    server.stop()


@dataclass
class Shop:
    """A workspace whose page is in the sandbox, with one customer who has written."""

    base_url: str
    control: httpx.Client
    workspace: Workspace
    owner: Any
    psid: str
    queue: Any

    @property
    def conversation(self) -> Conversation:
        return Conversation.objects.get(workspace=self.workspace, contact__psid=self.psid)

    def settle(self) -> None:
        """Let the sandbox deliver its webhooks, then run the worker's queue dry.

        In a thread of its own, as a worker would: tasks that call ``asyncio.run``
        cannot run in this thread while Playwright's loop is alive here.
        """
        self.control.post("/flush", json={"timeout": 10}).raise_for_status()

        def work() -> None:
            try:
                drain(self.queue, skip=())
            finally:
                connections.close_all()

        with ThreadPoolExecutor(max_workers=1) as pool:
            pool.submit(work).result(timeout=60)


@pytest.fixture
def shop(pagedesk_server: str, sandbox_url: str, task_queue: object, settings: Any) -> Shop:
    """Ada writes to Acme Bikes: she opens an m.me link, says hello, sends a photo."""
    settings.PAGEDESK_GRAPH_URL = sandbox_url  # the worker talks to the sandbox
    control = httpx.Client(base_url=f"{sandbox_url}/_sandbox", timeout=10)
    app = control.get("/app").json()
    page = control.post(
        "/pages",
        json={
            "name": "Acme Bikes",
            "subscribed_fields": [
                "messages",
                "message_echoes",
                "message_deliveries",
                "message_reads",
                "messaging_postbacks",
                "messaging_referrals",
            ],
        },
    ).json()
    workspace = do_create_workspace(name="Acme Bikes", owner_email="owner@acme.test")
    do_add_channel(
        workspace=workspace,
        page_id=page["page_id"],
        page_token=page["access_token"],
        app_secret=app["app_secret"],
        verify_token=VERIFY_TOKEN,
        name="Acme Bikes",
    )
    owner = workspace.memberships.get().user
    owner.set_password(PASSWORD)
    owner.first_name = "Olivia"
    owner.save()
    control.post(
        "/app",
        json={
            "callback_url": f"{pagedesk_server}/webhooks/messenger",
            "verify_token": VERIFY_TOKEN,
        },
    ).raise_for_status()
    psid = control.post(
        f"/pages/{page['page_id']}/customers", json={"first_name": "Ada", "last_name": "Lovelace"}
    ).json()["psid"]
    shop = Shop(pagedesk_server, control, workspace, owner, psid, task_queue)
    customer = f"/customers/{psid}"
    control.post(f"{customer}/open_link", json={"ref": "spring-sale"}).raise_for_status()
    shop.settle()
    control.post(f"{customer}/messages", json={"text": "Hi! Is the red bike in stock?"})
    shop.settle()
    control.post(f"{customer}/messages", json={"attachments": [{"type": "image"}]})
    shop.settle()
    return shop


def sign_in(page: Page, base_url: str, email: str, password: str = PASSWORD) -> None:
    page.goto(f"{base_url}/sign-in/")
    page.locator("#id_email").fill(email)  # by id: the labels follow the language
    page.locator("#id_password").fill(password)
    page.locator("main form button[type=submit]").click()
