"""Scaled out for real: 2 ``pagedesk web`` + 2 ``pagedesk worker --processes 2`` on
PostgreSQL + Redis, the sandbox as Meta. Signed webhooks go through both web
processes (each conversation's messages alternate between them); every message
must land exactly once, in order per conversation, and reach the agents following
the live stream on either web process."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from pagedesk.config import get_config
from pagedesk.core.actions import do_add_channel, do_create_api_token, do_create_workspace
from pagedesk.core.models import RawWebhook, Workspace
from pagedesk.inbox.models import Contact, InboundEvent, Message
from pagedesk.messenger.signature import sign_body
from pagedesk.sandbox.app import create_app
from tests.live.sse_client import SSEClient
from tests.ops.processes import Pagedesk, pagedesk_env, running, start_webs, wait_for
from tests.servers import ServerThread

_config = get_config()
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.skipif(
        not (
            _config.database_url
            and urlsplit(_config.database_url).scheme.startswith("postgres")
            and _config.redis_url
        ),
        reason="scale-out needs DATABASE_URL (PostgreSQL) and REDIS_URL",
    ),
]

CUSTOMERS = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald"]
PER_CUSTOMER = 12
T0 = 1_780_000_000_000  # ms
VERIFY_TOKEN = "scaleout-verify-token"


@dataclass
class Meta:
    """The sandbox standing in for Meta: one page, its customers, the app secret."""

    url: str
    page_id: str
    app_secret: str
    psids: list[str]
    workspace: Workspace


@pytest.fixture
def meta(transactional_db: None) -> Iterator[Meta]:
    sandbox = ServerThread(create_app()).start()
    try:
        with httpx.Client(base_url=f"{sandbox.url}/_sandbox", timeout=10) as control:
            app = control.get("/app").json()
            page = control.post("/pages", json={"name": "Acme Bikes"}).json()
            psids = [
                control.post(
                    f"/pages/{page['page_id']}/customers", json={"first_name": name}
                ).json()["psid"]
                for name in CUSTOMERS
            ]
        workspace = do_create_workspace(name="Acme", owner_email="owner@acme.test")
        do_add_channel(
            workspace=workspace,
            page_id=page["page_id"],
            page_token=page["access_token"],
            app_secret=app["app_secret"],
            verify_token=VERIFY_TOKEN,
            name="Acme Bikes",
        )
        yield Meta(sandbox.url, page["page_id"], app["app_secret"], psids, workspace)
    finally:
        sandbox.stop()


def signed_message(meta: Meta, psid: str, text: str, timestamp: int) -> tuple[bytes, dict]:
    event = {
        "sender": {"id": psid},
        "recipient": {"id": meta.page_id},
        "timestamp": timestamp,
        "message": {"mid": f"m_scaleout_{psid}_{text}", "text": text},
    }
    envelope = {
        "object": "page",
        "entry": [{"id": meta.page_id, "time": timestamp, "messaging": [event]}],
    }
    body = json.dumps(envelope, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Hub-Signature-256": sign_body(body, meta.app_secret),
    }
    return body, headers


def write_in(meta: Meta, web_urls: list[str], customer: int, failures: list[str]) -> None:
    """One customer's messages in order, alternating between the web processes."""
    psid = meta.psids[customer]
    with httpx.Client(timeout=10) as client:
        for n in range(PER_CUSTOMER):
            body, headers = signed_message(meta, psid, f"#{n:02d}", T0 + n * 1000 + customer)
            url = web_urls[(n + customer) % len(web_urls)]
            response = client.post(f"{url}/webhooks/messenger", content=body, headers=headers)
            if response.status_code != 200:
                failures.append(f"{url}: {response.status_code} {response.text}")


def created_message_ids(stream: SSEClient, expected: int, timeout: float) -> list[int]:
    """The message ids of the stream's next ``expected`` message.created events (other
    kinds, such as conversation.updated, pass by)."""
    deadline = time.monotonic() + timeout
    ids: list[int] = []
    while len(ids) < expected:
        event = stream.next_message(timeout=max(deadline - time.monotonic(), 0))
        if event is None:
            raise AssertionError(f"{len(ids)} of {expected} message.created events in time")
        if event.event == "message.created":
            ids.append(json.loads(event.data or "{}")["message_id"])
    return ids


def webhooks_received(base_url: str) -> float:
    text = httpx.get(f"{base_url}/metrics").text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "pagedesk_webhooks_received_total":
                return sample.value
    raise AssertionError("no pagedesk_webhooks_received_total")


def stop_all(processes: list[Pagedesk]) -> None:
    for process in processes:
        process.stop()


def test_two_webs_two_workers_every_message_once_in_order_live_everywhere(
    meta: Meta, task_queue: Any, tmp_path: Path
) -> None:
    env = pagedesk_env(PAGEDESK_GRAPH_URL=meta.url)  # workers fetch profiles from the sandbox
    token = do_create_api_token(workspace=meta.workspace, name="scale-out").secret
    total = len(CUSTOMERS) * PER_CUSTOMER

    webs = start_webs(2, env, tmp_path)
    processes = [web for web, _ in webs]
    urls = [url for _, url in webs]
    try:
        with (
            running(["worker", "--processes", "2"], env=env, log=tmp_path / "w1.log") as w1,
            running(["worker", "--processes", "2"], env=env, log=tmp_path / "w2.log") as w2,
            SSEClient(urls[0], token=token) as live_on_first,
            SSEClient(urls[1], token=token) as live_on_second,
        ):
            for url in urls:
                ready = httpx.get(f"{url}/readyz", timeout=10)
                assert ready.status_code == 200, ready.text
                assert ready.json()["checks"] == {"database": "ok", "queue": "ok", "redis": "ok"}
            for stream in (live_on_first, live_on_second):
                assert stream.status == 200
                stream.next_message()  # the stream's start: retry and position

            failures: list[str] = []
            writers = [
                threading.Thread(target=write_in, args=(meta, urls, c, failures))
                for c in range(len(CUSTOMERS))
            ]
            for writer in writers:
                writer.start()
            for writer in writers:
                writer.join(timeout=60)
            assert not failures, failures[:3]

            def all_ingested() -> bool:
                return (
                    Message.objects.count() >= total
                    and not InboundEvent.objects.filter(state="pending").exists()
                )

            assert wait_for(all_ingested, timeout=90, interval=0.2), (
                f"{Message.objects.count()} of {total} messages\n{w1.log()}\n{w2.log()}"
            )
            first_ids = created_message_ids(live_on_first, total, timeout=30)
            second_ids = created_message_ids(live_on_second, total, timeout=30)
            assert wait_for(
                lambda: Contact.objects.filter(profile_status="ok").count() == len(CUSTOMERS),
                timeout=30,
            ), "profiles were not fetched from the sandbox"

            # Exactly once, in order per conversation, as the REST API shows it.
            api = httpx.Client(
                base_url=f"{urls[1]}/api/v1", headers={"Authorization": f"Bearer {token}"}
            )
            with api:
                conversations = api.get("/conversations", params={"limit": 50}).json()["data"]
                assert sorted(c["contact"]["name"] for c in conversations) == sorted(CUSTOMERS)
                for conversation in conversations:
                    messages = api.get(f"/conversations/{conversation['id']}/messages").json()
                    texts = [m["text"] for m in messages["data"]]
                    assert texts == [f"#{n:02d}" for n in range(PER_CUSTOMER)], conversation
            assert Message.objects.count() == total
            assert Message.objects.values("mid").distinct().count() == total
            assert not InboundEvent.objects.filter(state="dead").exists()

            # Live: agents on either web process saw each new message once.
            all_ids = sorted(Message.objects.values_list("id", flat=True))
            assert sorted(first_ids) == all_ids
            assert sorted(second_ids) == all_ids

            # Durable metrics: each web process reports the cluster's figure.
            assert RawWebhook.objects.count() == total
            assert [webhooks_received(url) for url in urls] == [total, total]
        assert (w1.proc.returncode, w2.proc.returncode) == (0, 0), w1.log() + w2.log()
    finally:
        stop_all(processes)
