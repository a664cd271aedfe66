"""What the inbound pipeline's tests lean on: full user profiles with a fetchable
picture, and bursts of numbered customer messages with strictly increasing timestamps."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import httpx
import pytest

from tests.sandbox.helpers import Sandbox, assert_error

ALL_PROFILE_FIELDS = "first_name,last_name,profile_pic,locale,timezone,id"


@pytest.fixture
def page(sandbox: Sandbox) -> dict[str, Any]:
    return sandbox.page()


@pytest.fixture
def graph(sandbox: Sandbox, page: dict[str, Any]) -> httpx.Client:
    client = httpx.Client(
        base_url=f"{sandbox.url}/v25.0", params={"access_token": page["access_token"]}
    )
    yield client  # type: ignore[misc]
    client.close()


def test_profile_fields_and_picture(
    sandbox: Sandbox, page: dict[str, Any], graph: httpx.Client
) -> None:
    customer = sandbox.customer(page, "Mia", last_name="Schneider", locale="de_DE", timezone=2)
    profile = graph.get(f"/{customer['psid']}", params={"fields": ALL_PROFILE_FIELDS}).json()
    picture = profile.pop("profile_pic")
    assert profile == {
        "first_name": "Mia",
        "last_name": "Schneider",
        "locale": "de_DE",
        "timezone": 2,
        "id": customer["psid"],
    }
    assert picture.startswith(f"{sandbox.url}/_sandbox/media/avatar.png?oe=")
    image = httpx.get(picture)
    assert image.status_code == 200
    assert image.headers["content-type"] == "image/png"
    assert image.content.startswith(b"\x89PNG\r\n\x1a\n")
    # The control API shows a picture URL too.
    shown = sandbox.control("GET", f"/customers/{customer['psid']}")["profile_pic"]
    assert shown.startswith(f"{sandbox.url}/_sandbox/media/avatar.png?oe=")

    # Like Meta's, the picture URL expires: fetch the profile again for a fresh one.
    sandbox.advance(3601)
    assert httpx.get(picture).status_code == 403
    again = graph.get(f"/{customer['psid']}", params={"fields": "profile_pic"}).json()
    assert httpx.get(again["profile_pic"]).status_code == 200

    # A picture given at creation is answered as given.
    chosen = sandbox.customer(page, "Bo", profile_pic="https://example.com/bo.jpg")
    mine = graph.get(f"/{chosen['psid']}", params={"fields": "profile_pic"}).json()
    assert mine == {"profile_pic": "https://example.com/bo.jpg"}


def test_customer_without_a_profile(
    sandbox: Sandbox, page: dict[str, Any], graph: httpx.Client
) -> None:
    psid = sandbox.customer(page, "Hidden", has_profile=False)["psid"]
    for fields in (ALL_PROFILE_FIELDS, "first_name", None):
        params = {"fields": fields} if fields else {}
        error = assert_error(graph.get(f"/{psid}", params=params), 100, 2018218)
        assert error["message"].startswith("(#100)")
    sandbox.control("PATCH", f"/customers/{psid}", {"has_profile": True})
    assert graph.get(f"/{psid}", params={"fields": "first_name"}).json() == {"first_name": "Hidden"}


def test_count_sends_numbered_messages_in_order(sandbox: Sandbox, page: dict[str, Any]) -> None:
    psid = sandbox.customer(page)["psid"]
    sandbox.configure(batch_max_events=100)  # fewer, larger webhook POSTs
    result = sandbox.act(psid, "messages", text="load", count=250)
    texts = [f"load #{n}" for n in range(1, 251)]
    assert [e["message"]["text"] for e in result["events"]] == texts
    assert [e["message"]["mid"] for e in result["events"]] == result["mids"]
    assert result["mid"] == result["mids"][-1]
    stamps = [e["timestamp"] for e in result["events"]]
    assert all(a < b for a, b in pairwise(stamps))

    delivered = sandbox.events()
    assert delivered == result["events"]
    assert len(sandbox.receiver.accepted) == 3  # 100 + 100 + 50
    assert [item["text"] for item in sandbox.thread(psid)["items"]] == texts

    # Later messages still come after the burst.
    later = sandbox.say(psid, "after")["events"][0]
    assert later["timestamp"] > stamps[-1]


def test_count_options_and_limits(sandbox: Sandbox, page: dict[str, Any]) -> None:
    psid = sandbox.customer(page)["psid"]
    sandbox.configure(batch_max_events=100)
    plain = sandbox.act(psid, "messages", count=2)
    assert [e["message"]["text"] for e in plain["events"]] == ["Message #1", "Message #2"]
    with_image = sandbox.act(psid, "messages", text="pic", count=2, attachments=[{"type": "image"}])
    urls = [e["message"]["attachments"][0]["payload"]["url"] for e in with_image["events"]]
    assert all(httpx.get(url).status_code == 200 for url in urls)
    single = sandbox.act(psid, "messages", text="one", count=1)
    assert [e["message"]["text"] for e in single["events"]] == ["one #1"]
    for bad in (0, 1001, "5", 2.5, True):
        response = sandbox.http.post(
            f"/_sandbox/customers/{psid}/messages", json={"text": "x", "count": bad}
        )
        assert response.status_code == 400, bad
    at_most = sandbox.http.post(
        f"/_sandbox/customers/{psid}/messages", json={"text": "max", "count": 1000}
    )
    assert at_most.status_code == 200
    assert len(at_most.json()["mids"]) == 1000


def test_timestamps_follow_the_clock_back_in_time(sandbox: Sandbox, page: dict[str, Any]) -> None:
    psid = sandbox.customer(page)["psid"]
    sandbox.act(psid, "messages", text="now", count=5)
    sandbox.control("POST", "/clock", {"set": 1_700_000_000})
    past = sandbox.say(psid, "back then")["events"][0]["timestamp"]
    assert 1_700_000_000_000 <= past < 1_700_000_060_000
