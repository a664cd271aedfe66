"""The read REST API through its real URLs: auth, shapes, filters, pagination, errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.core.serializers.json import DjangoJSONEncoder
from django.test import Client
from django.utils import timezone

from pagedesk.core.models import ApiToken, Channel, Workspace
from pagedesk.inbox.models import Attachment, Message
from tests.api.factories import (
    BASE_MS,
    Api,
    add_participant,
    make_attachment,
    make_channel,
    make_contact,
    make_conversation,
    make_label,
    make_message,
    make_reaction,
    make_team,
    make_token,
    make_user,
    make_workspace,
)

pytestmark = pytest.mark.django_db

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def iso(moment: datetime | None) -> str | None:
    """A datetime as the API renders it."""
    return None if moment is None else DjangoJSONEncoder().default(moment)


@pytest.fixture
def workspace() -> Workspace:
    return make_workspace("Acme")


@pytest.fixture
def channel(workspace: Workspace) -> Channel:
    return make_channel(workspace, name="Acme Shop")


@pytest.fixture
def api(client: Client, workspace: Workspace) -> Api:
    return Api(client, make_token(workspace))


def walk(api: Api, path: str, **params: Any) -> list[int]:
    """Every id of a paginated list, following next_cursor to the end."""
    ids: list[int] = []
    cursor = None
    for _ in range(100):
        response = api.get(path, **params, **({"cursor": cursor} if cursor else {}))
        assert response.status_code == 200, response.content
        body = response.json()
        ids += [row["id"] for row in body["data"]]
        cursor = body["next_cursor"]
        if cursor is None:
            return ids
    raise AssertionError("pagination never ended")


# --- authentication ------------------------------------------------------------------


UNAUTHORIZED_PATHS = ["/conversations", "/conversations/1", "/conversations/1/messages"]


@pytest.mark.parametrize("path", [*UNAUTHORIZED_PATHS, "/contacts/1"])
def test_missing_token_is_401(client: Client, path: str) -> None:
    response = client.get(f"/api/v1{path}")
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"
    assert response.json()["message"]
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "header",
    [
        "Bearer",
        "Bearer ",
        "bearer",
        "Token pdk_abc",
        "Basic dXNlcjpwYXNz",
        "pdk_abc",
        "Bearer not-a-pagedesk-token",
    ],
)
def test_malformed_authorization_is_401(client: Client, header: str) -> None:
    response = client.get("/api/v1/conversations", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"


def test_unknown_token_is_401(client: Client, workspace: Workspace) -> None:
    make_token(workspace)
    response = Api(client, "pdk_" + "x" * 43).get("/conversations")
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"


def test_revoked_token_is_401_and_indistinguishable_from_unknown(
    client: Client, workspace: Workspace
) -> None:
    token = make_token(workspace)
    assert Api(client, token).get("/conversations").status_code == 200
    ApiToken.objects.filter(workspace=workspace).update(revoked_at=timezone.now())

    revoked = Api(client, token).get("/conversations")
    unknown = Api(client, "pdk_" + "y" * 43).get("/conversations")
    assert revoked.status_code == unknown.status_code == 401
    assert revoked.content == unknown.content


def test_a_valid_token_is_recorded_as_used(api: Api) -> None:
    assert api.get("/conversations").status_code == 200
    assert ApiToken.objects.get().last_used_at is not None


def test_openapi_schema_is_served_without_a_token(client: Client) -> None:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["info"] == {
        "title": "pagedesk API",
        "version": "1",
        "description": schema["info"]["description"],
    }
    assert set(schema["paths"]) >= {
        "/api/v1/conversations",
        "/api/v1/conversations/{conversation_id}",
        "/api/v1/conversations/{conversation_id}/messages",
        "/api/v1/contacts/{contact_id}",
    }
    schemes = schema["components"]["securitySchemes"]
    assert any(s == {"type": "http", "scheme": "bearer"} for s in schemes.values())


# --- conversations: shape ------------------------------------------------------------


def test_conversation_list_item_shape(api: Api, workspace: Workspace, channel: Channel) -> None:
    agent = make_user(workspace, "ana@example.com")
    team = make_team(workspace, "Sales")
    contact = make_contact(
        channel, psid="24000001", first_name="Ada", last_name="Lovelace", profile_pic="https://p/a"
    )
    last_customer = timezone.now() - timedelta(hours=1)
    conversation = make_conversation(
        contact,
        assignee=agent,
        team=team,
        labels=(make_label(workspace, "vip"), make_label(workspace, "billing")),
        unread_count=3,
        last_customer_message_at=last_customer,
        last_message_at=last_customer,
    )

    body = api.get("/conversations").json()

    assert body["next_cursor"] is None
    assert body["data"] == [
        {
            "id": conversation.pk,
            "status": "open",
            "channel": {"id": channel.pk, "name": "Acme Shop", "page_id": channel.page_id},
            "contact": {
                "id": contact.pk,
                "name": "Ada Lovelace",
                "psid": "24000001",
                "profile_pic": "https://p/a",
            },
            "is_group": False,
            "assignee": {"id": agent.pk, "email": "ana@example.com"},
            "team": {"id": team.pk, "name": "Sales"},
            "labels": ["billing", "vip"],
            "unread_count": 3,
            "last_customer_message_at": iso(last_customer),
            "last_message_at": iso(last_customer),
            "updated_at": iso(conversation.updated_at),
            "created_at": iso(conversation.created_at),
            "window": {"open": True, "ends_at": iso(last_customer + timedelta(hours=24))},
        }
    ]


@pytest.mark.parametrize(
    ("hours_ago", "is_open"), [(None, False), (1, True), (23.9, True), (24, False), (30, False)]
)
def test_conversation_window(
    api: Api, channel: Channel, hours_ago: float | None, is_open: bool
) -> None:
    started = None if hours_ago is None else timezone.now() - timedelta(hours=hours_ago)
    make_conversation(make_contact(channel), last_customer_message_at=started)

    window = api.get("/conversations").json()["data"][0]["window"]

    assert window["open"] is is_open
    assert window["ends_at"] == (None if started is None else iso(started + timedelta(hours=24)))


def test_unassigned_conversation_has_null_assignee_and_team(api: Api, channel: Channel) -> None:
    make_conversation(make_contact(channel))
    item = api.get("/conversations").json()["data"][0]
    assert item["assignee"] is None
    assert item["team"] is None
    assert item["labels"] == []


def test_contact_without_a_name_shows_a_placeholder(api: Api, channel: Channel) -> None:
    make_conversation(make_contact(channel, psid="9876543210"))
    assert api.get("/conversations").json()["data"][0]["contact"]["name"].endswith("3210")


# --- conversations: filters and order ------------------------------------------------


def test_newest_updated_first(api: Api, channel: Channel) -> None:
    old = make_conversation(make_contact(channel), updated_at=T0)
    new = make_conversation(make_contact(channel), updated_at=T0 + timedelta(minutes=5))
    mid = make_conversation(make_contact(channel), updated_at=T0 + timedelta(minutes=1))
    ids = [row["id"] for row in api.get("/conversations").json()["data"]]
    assert ids == [new.pk, mid.pk, old.pk]


def test_filter_by_status(api: Api, channel: Channel) -> None:
    opened = make_conversation(make_contact(channel))
    done = make_conversation(make_contact(channel), status="done")
    assert walk(api, "/conversations", status="open") == [opened.pk]
    assert walk(api, "/conversations", status="done") == [done.pk]


def test_filter_by_channel(api: Api, workspace: Workspace, channel: Channel) -> None:
    other = make_channel(workspace, name="Second page")
    mine = make_conversation(make_contact(channel))
    theirs = make_conversation(make_contact(other))
    assert walk(api, "/conversations", channel=channel.pk) == [mine.pk]
    assert walk(api, "/conversations", channel=other.pk) == [theirs.pk]
    assert walk(api, "/conversations", channel=other.pk + 1000) == []


def test_filter_by_assignee_and_unassigned(
    api: Api, workspace: Workspace, channel: Channel
) -> None:
    ana, bob = make_user(workspace), make_user(workspace)
    for_ana = make_conversation(make_contact(channel), assignee=ana)
    for_bob = make_conversation(make_contact(channel), assignee=bob)
    nobody = make_conversation(make_contact(channel))
    assert walk(api, "/conversations", assignee=ana.pk) == [for_ana.pk]
    assert walk(api, "/conversations", assignee=bob.pk) == [for_bob.pk]
    assert walk(api, "/conversations", assignee="none") == [nobody.pk]


def test_filter_by_label(api: Api, workspace: Workspace, channel: Channel) -> None:
    vip, billing = make_label(workspace, "vip"), make_label(workspace, "billing")
    both = make_conversation(make_contact(channel), labels=(vip, billing), updated_at=T0)
    only_vip = make_conversation(
        make_contact(channel), labels=(vip,), updated_at=T0 - timedelta(minutes=1)
    )
    make_conversation(make_contact(channel))
    assert walk(api, "/conversations", label="vip") == [both.pk, only_vip.pk]
    assert walk(api, "/conversations", label="billing") == [both.pk]
    assert walk(api, "/conversations", label="nope") == []
    # A label filter narrows the rows, not the labels shown on them.
    first = api.get("/conversations", label="billing").json()["data"][0]
    assert first["labels"] == ["billing", "vip"]


def test_filter_updated_since(api: Api, channel: Channel) -> None:
    make_conversation(make_contact(channel), updated_at=T0 - timedelta(seconds=1))
    at = make_conversation(make_contact(channel), updated_at=T0)
    after = make_conversation(make_contact(channel), updated_at=T0 + timedelta(hours=1))
    assert walk(api, "/conversations", updated_since="2024-05-01T12:00:00Z") == [after.pk, at.pk]
    assert walk(api, "/conversations", updated_since="2024-05-01T14:00:00+02:00") == [
        after.pk,
        at.pk,
    ]
    assert walk(api, "/conversations", updated_since="2024-05-01T13:00:01Z") == []
    # Without an offset the time is taken as UTC.
    assert walk(api, "/conversations", updated_since="2024-05-01T12:00:00") == [after.pk, at.pk]


def test_filters_combine(api: Api, workspace: Workspace, channel: Channel) -> None:
    ana, vip = make_user(workspace), make_label(workspace, "vip")
    match = make_conversation(make_contact(channel), assignee=ana, labels=(vip,))
    make_conversation(make_contact(channel), assignee=ana, labels=(vip,), status="done")
    make_conversation(make_contact(channel), labels=(vip,))
    make_conversation(make_contact(channel), assignee=ana)
    found = walk(api, "/conversations", status="open", assignee=ana.pk, label="vip")
    assert found == [match.pk]


# --- conversations: pagination -------------------------------------------------------


def test_walking_all_pages_sees_every_conversation_once_in_order(
    api: Api, channel: Channel
) -> None:
    # Ties on updated_at must still give one stable order (higher id first).
    times = [T0, T0, T0 + timedelta(seconds=1), T0, T0 - timedelta(days=1), T0, T0, T0]
    made = [make_conversation(make_contact(channel), updated_at=t) for t in times]
    expected = [c.pk for c in sorted(made, key=lambda c: (c.updated_at, c.pk), reverse=True)]

    for limit in (1, 2, 3, len(made), len(made) + 1):
        assert walk(api, "/conversations", limit=limit) == expected


def test_next_cursor_is_null_on_the_last_page(api: Api, channel: Channel) -> None:
    for _ in range(4):
        make_conversation(make_contact(channel))
    first = api.get("/conversations", limit=2).json()
    assert len(first["data"]) == 2 and first["next_cursor"]
    second = api.get("/conversations", limit=2, cursor=first["next_cursor"]).json()
    assert len(second["data"]) == 2
    assert second["next_cursor"] is None


def test_default_limit_is_50(api: Api, channel: Channel) -> None:
    for _ in range(51):
        make_conversation(make_contact(channel))
    body = api.get("/conversations").json()
    assert len(body["data"]) == 50
    assert body["next_cursor"] is not None


def test_cursor_keeps_the_filters_of_the_request(
    api: Api, workspace: Workspace, channel: Channel
) -> None:
    done = [make_conversation(make_contact(channel), status="done") for _ in range(3)]
    for _ in range(3):
        make_conversation(make_contact(channel))
    assert sorted(walk(api, "/conversations", status="done", limit=1)) == [c.pk for c in done]


def test_list_query_count_is_bounded(
    api: Api, workspace: Workspace, channel: Channel, django_assert_max_num_queries: Any
) -> None:
    agents = [make_user(workspace) for _ in range(3)]
    team = make_team(workspace)
    labels = [make_label(workspace, f"label-{i}") for i in range(3)]
    for i in range(50):
        make_conversation(
            make_contact(channel, first_name=f"C{i}"),
            assignee=agents[i % 3],
            team=team,
            labels=tuple(labels[: i % 4]),
        )

    # token lookup + its last_used_at update + conversations + labels
    with django_assert_max_num_queries(4):
        response = api.get("/conversations")
    assert len(response.json()["data"]) == 50


# --- conversation detail ---------------------------------------------------------------


def test_conversation_detail(api: Api, workspace: Workspace, channel: Channel) -> None:
    host = make_contact(channel, first_name="Host")
    guest = make_contact(channel, first_name="Guest", profile_pic="https://p/g")
    group = make_conversation(
        host,
        is_group=True,
        thread_owner_app_id="263902037430900",
        labels=(make_label(workspace, "group"),),
    )
    add_participant(group, host)
    add_participant(group, guest)

    response = api.get(f"/conversations/{group.pk}")

    assert response.status_code == 200
    body = response.json()
    listed = api.get("/conversations").json()["data"][0]
    assert {k: v for k, v in body.items() if k not in ("participants", "thread_owner_app_id")} == (
        listed
    )
    assert body["is_group"] is True
    assert body["thread_owner_app_id"] == "263902037430900"
    assert body["participants"] == [
        {"id": host.pk, "name": "Host", "psid": host.psid, "profile_pic": ""},
        {"id": guest.pk, "name": "Guest", "psid": guest.psid, "profile_pic": "https://p/g"},
    ]


def test_one_to_one_conversation_has_no_participants(api: Api, channel: Channel) -> None:
    conversation = make_conversation(make_contact(channel))
    body = api.get(f"/conversations/{conversation.pk}").json()
    assert body["participants"] == []
    assert body["thread_owner_app_id"] == ""


@pytest.mark.parametrize(
    "path",
    [
        "/conversations/{id}",
        "/conversations/{id}/messages",
        "/contacts/{id}",
    ],
)
@pytest.mark.parametrize("missing", ["next", 10**6, 2**63 - 1, 2**70])
def test_unknown_ids_are_404(api: Api, channel: Channel, path: str, missing: Any) -> None:
    conversation = make_conversation(make_contact(channel))
    if missing == "next":
        missing = max(conversation.pk, conversation.contact.pk) + 1
    response = api.get(path.format(id=missing))
    assert response.status_code == 404, response.content
    assert response.json()["code"] == "not_found"
    assert response.json()["message"]


@pytest.mark.parametrize(
    "path", ["/conversations/{id}", "/conversations/{id}/messages", "/contacts/{id}"]
)
@pytest.mark.parametrize("bad_id", ["abc", "1.5", "0x10"])
def test_non_numeric_ids_are_422(api: Api, path: str, bad_id: str) -> None:
    response = api.get(path.format(id=bad_id))
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_request"


@pytest.mark.parametrize("bad_id", ["0", "-3"])
def test_zero_and_negative_ids_are_404(api: Api, bad_id: str) -> None:
    assert api.get(f"/conversations/{bad_id}").status_code == 404
    assert api.get(f"/contacts/{bad_id}").status_code == 404


# --- bad parameters ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "closed"}, "status"),
        ({"limit": "0"}, "limit"),
        ({"limit": "201"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"channel": "shop"}, "channel"),
        ({"channel": str(2**70)}, "channel"),
        ({"assignee": "bob"}, "assignee"),
        ({"assignee": "-1"}, "assignee"),
        ({"label": ""}, "label"),
        ({"updated_since": "yesterday"}, "updated_since"),
        ({"cursor": "x" * 600}, "cursor"),
    ],
)
def test_bad_list_parameters_are_422(api: Api, params: dict[str, str], field: str) -> None:
    response = api.get("/conversations", **params)
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "invalid_request"
    assert field in body["message"]
    assert [err["loc"] for err in body["errors"]] == [["query", field]]
    assert all(err["msg"] and err["type"] for err in body["errors"])


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        "!!!",
        "W10",  # base64 of []
        "WyJjIiwibm90IGEgZGF0ZSIsMV0",  # ["c","not a date",1]
        "WyJjIiwiMjAyNC0wNS0wMVQxMjowMDowMCIsMV0",  # a naive time
        "WyJjIiwiMjAyNC0wNS0wMVQxMjowMDowMCswMDowMCIsIjEiXQ",  # id is a string
    ],
)
def test_bad_cursor_is_422(api: Api, cursor: str) -> None:
    response = api.get("/conversations", cursor=cursor)
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_cursor"


def test_a_cursor_of_another_list_is_refused(api: Api, channel: Channel) -> None:
    conversation = make_conversation(make_contact(channel))
    make_conversation(make_contact(channel))
    for _ in range(2):
        make_message(conversation)
    conversations_cursor = api.get("/conversations", limit=1).json()["next_cursor"]
    messages_cursor = api.get(f"/conversations/{conversation.pk}/messages", limit=1).json()[
        "next_cursor"
    ]

    assert api.get("/conversations", cursor=messages_cursor).status_code == 422
    response = api.get(f"/conversations/{conversation.pk}/messages", cursor=conversations_cursor)
    assert response.status_code == 422


@pytest.mark.parametrize("params", [{"limit": "0"}, {"limit": "201"}, {"cursor": "nope"}])
def test_bad_message_parameters_are_422(api: Api, channel: Channel, params: dict[str, str]) -> None:
    conversation = make_conversation(make_contact(channel))
    response = api.get(f"/conversations/{conversation.pk}/messages", **params)
    assert response.status_code == 422
    assert response.json()["code"] in {"invalid_request", "invalid_cursor"}


# --- messages ------------------------------------------------------------------------


def test_message_json_shape(api: Api, workspace: Workspace, channel: Channel) -> None:
    contact = make_contact(channel)
    conversation = make_conversation(contact)
    inbound = make_message(
        conversation,
        text="Do you ship to Lisbon?",
        quick_reply_payload="SHIPPING",
        reply_to_mid="m_earlier",
        edited_at=T0,
        edit_count=2,
    )
    stored = make_attachment(
        inbound,
        position=0,
        file="attachments/2024/05/photo.jpg",
        content_type="image/jpeg",
        size=2048,
        download=Attachment.Download.DONE,
    )
    make_attachment(inbound, position=1, type="file", url="https://cdn.fb/x.pdf")
    make_reaction(inbound, contact)
    outbound = make_message(
        conversation,
        direction=Message.Direction.OUTBOUND,
        text="Yes!",
        status=Message.Status.FAILED,
        failed_reason="(#551) This person isn't available right now.",
        sender_app_id="263902037430900",
        contact=None,
        deleted_at=T0,
    )
    system = make_message(
        conversation,
        mid=None,
        dedupe_key="ref-1",
        direction=Message.Direction.SYSTEM,
        kind=Message.Kind.REFERRAL,
        data={"ref": "spring-sale", "source": "SHORTLINK"},
        postback_payload="",
    )

    response = api.get(f"/conversations/{conversation.pk}/messages")

    assert response.status_code == 200
    body = response.json()
    assert body["next_cursor"] is None
    first, second, third = body["data"]
    assert first == {
        "id": inbound.pk,
        "mid": inbound.mid,
        "direction": "in",
        "kind": "message",
        "text": "Do you ship to Lisbon?",
        "attachments": [
            {
                "type": "image",
                "url": f"http://testserver/api/v1/attachments/{stored.pk}/file",
                "content_type": "image/jpeg",
                "size": 2048,
                "download": "done",
            },
            {
                "type": "file",
                "url": "https://cdn.fb/x.pdf",
                "content_type": "",
                "size": None,
                "download": "pending",
            },
        ],
        "status": "received",
        "failed_reason": "",
        "quick_reply_payload": "SHIPPING",
        "postback_payload": "",
        "reply_to_mid": "m_earlier",
        "reactions": [{"reaction": "love", "emoji": "❤", "contact_id": contact.pk}],
        "edited_at": iso(T0),
        "edit_count": 2,
        "deleted": False,
        "sender_app_id": "",
        "data": {},
        "created_at": iso(inbound.sent_at),
        "received_at": iso(inbound.created_at),
    }
    assert second["id"] == outbound.pk
    assert second["direction"] == "out"
    assert second["status"] == "failed"
    assert second["failed_reason"].startswith("(#551)")
    assert second["sender_app_id"] == "263902037430900"
    assert second["deleted"] is True
    assert second["attachments"] == second["reactions"] == []
    assert third["id"] == system.pk
    assert third["mid"] is None
    assert third["kind"] == "referral"
    assert third["data"] == {"ref": "spring-sale", "source": "SHORTLINK"}


def test_messages_walk_oldest_first_with_timestamp_ties(api: Api, channel: Channel) -> None:
    conversation = make_conversation(make_contact(channel))
    stamps = [BASE_MS + 5, BASE_MS, BASE_MS + 5, BASE_MS + 5, BASE_MS - 1, BASE_MS, BASE_MS + 9]
    made = [make_message(conversation, timestamp_ms=ms) for ms in stamps]
    expected = [m.pk for m in sorted(made, key=lambda m: (m.timestamp_ms, m.pk))]

    path = f"/conversations/{conversation.pk}/messages"
    for limit in (1, 2, 3, len(made), 200):
        assert walk(api, path, limit=limit) == expected


def test_messages_of_one_conversation_only(api: Api, channel: Channel) -> None:
    one = make_conversation(make_contact(channel))
    other = make_conversation(make_contact(channel))
    mine = make_message(one)
    make_message(other)
    assert walk(api, f"/conversations/{one.pk}/messages") == [mine.pk]


def test_message_default_limit_is_100(api: Api, channel: Channel) -> None:
    conversation = make_conversation(make_contact(channel))
    Message.objects.bulk_create(
        Message(
            workspace=conversation.workspace,
            conversation=conversation,
            direction="in",
            status="received",
            mid=f"bulk-{i}",
            timestamp_ms=BASE_MS + i,
            sent_at=T0,
        )
        for i in range(101)
    )
    body = api.get(f"/conversations/{conversation.pk}/messages").json()
    assert len(body["data"]) == 100
    assert body["next_cursor"] is not None


def test_messages_query_count_is_bounded(
    api: Api, channel: Channel, django_assert_max_num_queries: Any
) -> None:
    contact = make_contact(channel)
    conversation = make_conversation(contact)
    for i in range(100):
        message = make_message(conversation, text=f"message {i}")
        make_attachment(message, position=0)
        if i % 2:
            make_attachment(message, position=1, type="video")
        if i % 3 == 0:
            make_reaction(message, contact)

    # token + last_used_at update + conversation check + messages + attachments + reactions
    with django_assert_max_num_queries(6):
        response = api.get(f"/conversations/{conversation.pk}/messages")
    assert len(response.json()["data"]) == 100


def test_detail_query_count_is_bounded(
    api: Api, channel: Channel, django_assert_max_num_queries: Any
) -> None:
    conversation = make_conversation(make_contact(channel), is_group=True)
    for _ in range(5):
        add_participant(conversation, make_contact(channel))
    with django_assert_max_num_queries(5):
        response = api.get(f"/conversations/{conversation.pk}")
    assert len(response.json()["participants"]) == 5


# --- contacts ------------------------------------------------------------------------


def test_contact_json_shape(api: Api, channel: Channel) -> None:
    contact = make_contact(
        channel,
        psid="24000002",
        first_name="Grace",
        last_name="Hopper",
        profile_pic="https://p/g",
        locale="en_US",
        timezone=-5.0,
        profile_status="ok",
        first_source="ADS",
        first_ad_id="6045246247433",
        latest_source="SHORTLINK",
        latest_ref="spring-sale",
    )

    response = api.get(f"/contacts/{contact.pk}")

    assert response.status_code == 200
    assert response.json() == {
        "id": contact.pk,
        "psid": "24000002",
        "name": "Grace Hopper",
        "first_name": "Grace",
        "last_name": "Hopper",
        "profile_pic": "https://p/g",
        "locale": "en_US",
        "timezone": -5.0,
        "profile_status": "ok",
        "unreachable_reason": "",
        "attribution": {
            "first": {"source": "ADS", "ref": "", "ad_id": "6045246247433", "comment_id": ""},
            "latest": {"source": "SHORTLINK", "ref": "spring-sale", "ad_id": "", "comment_id": ""},
        },
        "attributes": {},
        "channel": {"id": channel.pk, "name": "Acme Shop", "page_id": channel.page_id},
        "created_at": iso(contact.created_at),
    }


def test_contact_without_attribution(api: Api, channel: Channel) -> None:
    contact = make_contact(channel, unreachable_reason="blocked the page")
    body = api.get(f"/contacts/{contact.pk}").json()
    assert body["attribution"] == {"first": None, "latest": None}
    assert body["unreachable_reason"] == "blocked the page"
    assert body["timezone"] is None
    assert body["profile_status"] == "pending"
