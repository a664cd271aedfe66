"""Group threads: the page's bot in a group chat with several customers. Members'
messages arrive as normal message events plus ``thread.id``; the page answers with
``recipient.id`` set to the thread id."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from pagedesk.sandbox.app import create_app
from tests.sandbox.helpers import Sandbox, assert_error
from tests.sandbox.servers import ServerThread


@pytest.fixture
def page(sandbox: Sandbox) -> dict[str, Any]:
    return sandbox.page()


@pytest.fixture
def members(sandbox: Sandbox, page: dict[str, Any]) -> list[str]:
    return [str(sandbox.customer(page, name)["psid"]) for name in ("Ada", "Grace", "Hedy")]


@pytest.fixture
def group(sandbox: Sandbox, page: dict[str, Any], members: list[str]) -> dict[str, Any]:
    created: dict[str, Any] = sandbox.control(
        "POST", f"/pages/{page['page_id']}/groups", {"title": "Ride club", "members": members}
    )
    return created


def write(sandbox: Sandbox, thread_id: str, psid: str, **body: Any) -> Any:
    return sandbox.control("POST", f"/groups/{thread_id}/messages", {"psid": psid, **body})


def test_creating_a_group(
    sandbox: Sandbox, page: dict[str, Any], members: list[str], group: dict[str, Any]
) -> None:
    assert re.fullmatch(r"t_\d+", group["thread_id"])
    assert group["page_id"] == page["page_id"]
    assert group["title"] == "Ride club"
    assert group["members"] == members
    assert group["window"]["open"] is False  # nobody wrote yet
    assert sandbox.control("GET", f"/groups/{group['thread_id']}") == group
    listed = sandbox.control("GET", f"/pages/{page['page_id']}/groups")["data"]
    assert [g["thread_id"] for g in listed] == [group["thread_id"]]
    chosen = sandbox.http.post(
        f"/_sandbox/pages/{page['page_id']}/groups",
        json={"title": "Fixed", "members": members[:2], "thread_id": "t_123"},
    )
    assert chosen.status_code == 201
    assert chosen.json()["thread_id"] == "t_123"


def test_group_creation_is_validated(
    sandbox: Sandbox, page: dict[str, Any], members: list[str]
) -> None:
    stranger = str(sandbox.customer(sandbox.page("Other shop"))["psid"])
    path = f"/_sandbox/pages/{page['page_id']}/groups"
    cases: list[tuple[dict[str, Any], int]] = [
        ({"members": members}, 400),  # no title
        ({"title": " ", "members": members}, 400),
        ({"title": "x" * 101, "members": members}, 400),
        ({"title": "Solo", "members": members[:1]}, 400),  # a 1:1 chat is not a group
        ({"title": "Twice", "members": [members[0], members[0]]}, 400),
        ({"title": "Mixed", "members": [members[0], stranger]}, 400),  # another page's
        ({"title": "Ghost", "members": [members[0], "1234567890123456"]}, 400),
        ({"title": "Typed", "members": [members[0], 12345]}, 400),
        ({"title": "Typed", "members": "everyone"}, 400),
        ({"title": "Bad id", "members": members, "thread_id": "123"}, 400),
        ({"title": "Extra", "members": members, "topic": "bikes"}, 400),
    ]
    for body, status in cases:
        response = sandbox.http.post(path, json=body)
        assert response.status_code == status, (body, response.text)
        assert response.json()["error"]["message"]
    mixed = sandbox.http.post(path, json={"title": "Mixed", "members": [members[0], stranger]})
    assert mixed.json()["error"]["psids"] == [stranger]
    missing_page = sandbox.http.post(
        "/_sandbox/pages/999999999999999/groups", json={"title": "T", "members": members}
    )
    assert missing_page.status_code == 404
    first = sandbox.http.post(path, json={"title": "A", "members": members, "thread_id": "t_9"})
    assert first.status_code == 201
    again = sandbox.http.post(path, json={"title": "B", "members": members, "thread_id": "t_9"})
    assert again.status_code == 409
    assert sandbox.http.get("/_sandbox/groups/t_404").status_code == 404


def test_a_member_writes_in_the_group(
    sandbox: Sandbox, page: dict[str, Any], members: list[str], group: dict[str, Any]
) -> None:
    thread_id = group["thread_id"]
    result = write(sandbox, thread_id, members[1], text="Sunday ride at 9?")
    [event] = result["events"]
    assert event == {
        "sender": {"id": members[1]},
        "recipient": {"id": page["page_id"]},
        "timestamp": event["timestamp"],
        "thread": {"id": thread_id},
        "message": {"mid": result["mid"], "text": "Sunday ride at 9?"},
    }
    [body] = sandbox.bodies()
    assert body["entry"][0]["id"] == page["page_id"]
    assert body["entry"][0]["messaging"] == [event]

    photo = write(sandbox, thread_id, members[2], attachments=[{"type": "image"}])
    [attachment] = photo["events"][0]["message"]["attachments"]
    assert attachment["type"] == "image"
    assert httpx.get(attachment["payload"]["url"]).headers["content-type"] == "image/png"

    # Group messages are not part of the member's 1:1 thread.
    assert sandbox.thread(members[1])["items"] == []
    assert sandbox.control("GET", f"/customers/{members[1]}")["window"]["open"] is False

    stranger = str(sandbox.customer(page, "Linus")["psid"])
    for body_ in ({"psid": stranger, "text": "hi"}, {"psid": members[0]}, {"text": "who?"}):
        response = sandbox.http.post(f"/_sandbox/groups/{thread_id}/messages", json=body_)
        assert response.status_code == 400, body_
    unknown = sandbox.http.post(
        "/_sandbox/groups/t_1/messages", json={"psid": members[0], "text": "hi"}
    )
    assert unknown.status_code == 404


def test_the_page_writes_in_the_group_and_sees_the_echo(
    sandbox: Sandbox, page: dict[str, Any], members: list[str], group: dict[str, Any]
) -> None:
    thread_id = group["thread_id"]
    to_group = {"recipient": {"id": thread_id}, "messaging_type": "RESPONSE"}
    # Nobody has written yet: the window is closed.
    assert_error(sandbox.send(page, {**to_group, "message": {"text": "Hi all"}}), 10, 2018278)

    asked = write(sandbox, thread_id, members[0], text="Is the shop open Sunday?")
    sandbox.flush()
    sandbox.receiver.reset()
    typing = sandbox.send(page, {"recipient": {"id": thread_id}, "sender_action": "typing_on"})
    assert typing.json() == {"recipient_id": thread_id}
    assert sandbox.control("GET", f"/groups/{thread_id}/thread")["typing"] is True
    sent = sandbox.send(
        page,
        {
            **to_group,
            "message": {"text": "Yes, 10 to 4.", "metadata": "agent:7"},
            "reply_to": {"mid": asked["mid"]},
        },
    )
    assert sent.status_code == 200, sent.text
    answer = sent.json()
    assert answer["recipient_id"] == thread_id
    [echo] = sandbox.events()
    assert echo == {
        "sender": {"id": page["page_id"]},
        "recipient": {"id": thread_id},
        "timestamp": echo["timestamp"],
        "thread": {"id": thread_id},
        "message": {
            "mid": answer["message_id"],
            "is_echo": True,
            "app_id": int(sandbox.app["app_id"]),
            "metadata": "agent:7",
            "text": "Yes, 10 to 4.",
            "reply_to": {"mid": asked["mid"]},
        },
    }
    assert echo["timestamp"] > asked["events"][0]["timestamp"]

    view = sandbox.control("GET", f"/groups/{thread_id}/thread")
    assert view["group"]["thread_id"] == thread_id
    assert [m["name"] for m in view["members"]] == [
        "Ada Lovelace",
        "Grace Lovelace",
        "Hedy Lovelace",
    ]
    assert view["typing"] is False
    assert [(item["from"], item["author_psid"], item["text"]) for item in view["items"]] == [
        ("customer", members[0], "Is the shop open Sunday?"),
        ("page", None, "Yes, 10 to 4."),
    ]

    # reply_to must quote this group; other pages cannot write here.
    one_to_one = sandbox.say(members[0], "private question")["mid"]
    quoting = {**to_group, "message": {"text": "x"}, "reply_to": {"mid": one_to_one}}
    assert_error(sandbox.send(page, quoting), 100)
    other = sandbox.page("Other shop")
    assert_error(sandbox.send(other, {**to_group, "message": {"text": "x"}}), 100, 2018001)

    # The 24-hour window counts from the last member message; HUMAN_AGENT gets 7 days.
    sandbox.advance(86400 + 60)
    late = {**to_group, "message": {"text": "Still there?"}}
    assert_error(sandbox.send(page, late), 10, 2018278)
    tagged = {**late, "messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGENT"}
    assert sandbox.send(page, tagged).status_code == 200


def test_groups_survive_a_restart(tmp_path: Path) -> None:
    snapshot = tmp_path / "sandbox.json"
    server = ServerThread(create_app(snapshot_path=snapshot)).start()
    try:
        with httpx.Client(base_url=server.url) as http:
            page = http.post("/_sandbox/pages", json={"name": "Durable"}).json()
            psids = [
                http.post(
                    f"/_sandbox/pages/{page['page_id']}/customers", json={"first_name": name}
                ).json()["psid"]
                for name in ("Kim", "Lee")
            ]
            group = http.post(
                f"/_sandbox/pages/{page['page_id']}/groups",
                json={"title": "Team", "members": psids},
            ).json()
            said = http.post(
                f"/_sandbox/groups/{group['thread_id']}/messages",
                json={"psid": psids[0], "text": "hello", "attachments": [{"type": "image"}]},
            ).json()
    finally:
        server.stop()

    restarted = ServerThread(create_app(snapshot_path=snapshot)).start()
    try:
        with httpx.Client(base_url=restarted.url) as http:
            view = http.get(f"/_sandbox/groups/{group['thread_id']}/thread").json()
            assert view["group"]["members"] == psids
            assert [item["mid"] for item in view["items"]] == [said["mid"]]
            # The old port is gone, but the signature still holds on the new one.
            old_url = httpx.URL(view["items"][0]["attachments"][0]["payload"]["url"])
            moved = old_url.copy_with(port=restarted.port)
            assert http.get(moved).status_code == 200
            sent = http.post(
                "/v25.0/me/messages",
                params={"access_token": page["access_token"]},
                json={"recipient": {"id": group["thread_id"]}, "message": {"text": "hi"}},
            )
            assert sent.status_code == 200
    finally:
        restarted.stop()
