"""GraphClient against an in-process transport answering with Meta-shaped bodies."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
import traceback
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from pagedesk.messenger.errors import (
    GraphError,
    InvalidParameter,
    PrivateReplyNotAllowed,
    RateLimited,
    RecipientTemporarilyUnavailable,
    RecipientUnreachable,
    TagMisuseWarning,
    TemporaryError,
    TokenInvalid,
    WindowClosed,
)
from pagedesk.messenger.graph import (
    GraphClient,
    Greeting,
    MessengerProfile,
    RetryPolicy,
    appsecret_proof,
)
from pagedesk.messenger.send import (
    Message,
    MessagingType,
    Recipient,
    SenderAction,
    SendRequest,
)

TOKEN = "EAAGpageTOKENsecret123"
APP_SECRET = "appsecret-xyz"
FAST = RetryPolicy(max_attempts=4, initial=0.0, max_delay=0.0, budget_seconds=5.0)
BASE = "https://graph.test"

Answer = httpx.Response | Exception
Handler = Callable[[httpx.Request], Answer]


class Recorder:
    """A MockTransport handler that replays answers in order and records requests."""

    def __init__(self, *answers: Answer | Handler) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if callable(answer) and not isinstance(answer, httpx.Response | Exception):
            answer = answer(request)
        if isinstance(answer, Exception):
            raise answer
        assert isinstance(answer, httpx.Response)
        return answer

    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]

    def json_body(self, index: int = -1) -> Any:
        return json.loads(self.requests[index].content)


def ok(body: object, status: int = 200) -> httpx.Response:
    return httpx.Response(status, json=body)


def fail(
    status: int, code: int, subcode: int | None = None, message: str = "nope"
) -> httpx.Response:
    error: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    error["fbtrace_id"] = "Trace1"
    return httpx.Response(status, json={"error": error})


def make_client(recorder: Recorder, **kwargs: Any) -> GraphClient:
    kwargs.setdefault("retry", FAST)
    kwargs.setdefault("base_url", BASE)
    return GraphClient(TOKEN, transport=httpx.MockTransport(recorder), **kwargs)


def text_request(text: str = "Hello") -> SendRequest:
    return SendRequest(
        recipient=Recipient(id="PSID1"),
        messaging_type=MessagingType.RESPONSE,
        message=Message(text=text),
    )


def all_text(err: BaseException) -> str:
    return "".join(traceback.format_exception(err)) + repr(err) + repr(err.args)


@pytest.fixture
def sent() -> Iterator[dict[str, str]]:
    yield {"recipient_id": "PSID1", "message_id": "m_1"}


# --- request shapes -------------------------------------------------------------


async def test_send_message_request_shape(sent: dict[str, str]) -> None:
    rec = Recorder(ok(sent))
    async with make_client(rec) as client:
        result = await client.send_message(text_request())
    assert (result.recipient_id, result.message_id) == ("PSID1", "m_1")
    req = rec.last
    assert req.method == "POST"
    assert req.url.scheme == "https" and req.url.host == "graph.test"
    assert req.url.path == "/v25.0/me/messages"
    assert dict(req.url.params) == {"access_token": TOKEN}
    assert req.headers["content-type"] == "application/json"
    assert rec.json_body() == {
        "recipient": {"id": "PSID1"},
        "messaging_type": "RESPONSE",
        "message": {"text": "Hello"},
    }


async def test_version_and_base_url_are_configurable(sent: dict[str, str]) -> None:
    rec = Recorder(ok(sent))
    async with make_client(rec, base_url="http://sandbox.local:8000/", version="v26.0") as c:
        await c.send_message(text_request())
    assert str(rec.last.url).startswith("http://sandbox.local:8000/v26.0/me/messages?")


async def test_appsecret_proof_is_sent_when_configured(sent: dict[str, str]) -> None:
    rec = Recorder(ok(sent))
    async with make_client(rec, app_secret=APP_SECRET) as client:
        await client.send_message(text_request())
    expected = hmac.new(APP_SECRET.encode(), TOKEN.encode(), hashlib.sha256).hexdigest()
    assert rec.last.url.params["appsecret_proof"] == expected
    assert appsecret_proof(TOKEN, APP_SECRET) == expected
    # a fixed vector, so the algorithm cannot drift unnoticed
    assert appsecret_proof("token", "secret") == (
        "e941110e3d2bfe82621f0e3e1434730d7305d106c5f68c87165d0b27a4611a4a"
    )


async def test_send_sender_action() -> None:
    rec = Recorder(ok({"recipient_id": "PSID1"}))
    async with make_client(rec) as client:
        await client.send_sender_action("PSID1", SenderAction.TYPING_ON)
    assert rec.last.url.path == "/v25.0/me/messages"
    assert rec.json_body() == {"recipient": {"id": "PSID1"}, "sender_action": "typing_on"}


async def test_private_reply_addresses_the_comment(sent: dict[str, str]) -> None:
    rec = Recorder(ok({"message_id": "m_9"}))
    async with make_client(rec) as client:
        result = await client.private_reply("POST_COMMENT", "Thanks for your comment!")
    assert result.recipient_id is None and result.message_id == "m_9"
    assert rec.json_body() == {
        "recipient": {"comment_id": "POST_COMMENT"},
        "messaging_type": "RESPONSE",
        "message": {"text": "Thanks for your comment!"},
    }


async def test_get_user_profile() -> None:
    body = {
        "first_name": "Ada",
        "last_name": "Lovelace",
        "profile_pic": "https://cdn.test/p.jpg",
        "locale": "en_GB",
        "timezone": 5.5,
        "id": "PSID1",
    }
    rec = Recorder(ok(body))
    async with make_client(rec) as client:
        profile = await client.get_user_profile("PSID1")
    assert rec.last.method == "GET"
    assert rec.last.url.path == "/v25.0/PSID1"
    assert rec.last.url.params["fields"] == "first_name,last_name,profile_pic,locale,timezone"
    assert profile.display_name == "Ada Lovelace"
    assert profile.timezone == 5.5


async def test_ids_are_escaped_into_one_path_segment() -> None:
    rec = Recorder(ok({"id": "x"}))
    async with make_client(rec) as client:
        await client.get_user_profile("../debug_token", fields=["name"])
        with pytest.raises(ValueError):
            await client.get_user_profile("")
        with pytest.raises(ValueError):
            await client.get_user_profile("1", fields=[])
    assert rec.last.url.raw_path.startswith(b"/v25.0/..%2Fdebug_token?")
    assert len(rec.requests) == 1


async def test_personas_create_get_delete() -> None:
    rec = Recorder(
        ok({"id": "PER1"}),
        ok({"id": "PER1", "name": "Sam", "profile_picture_url": "https://x.test/s.png"}),
        ok({"success": True}),
    )
    async with make_client(rec) as client:
        assert await client.create_persona("Sam", "https://x.test/s.png") == "PER1"
        persona = await client.get_persona("PER1")
        assert await client.delete_persona("PER1") is True
    assert persona.name == "Sam"
    create, get, delete = rec.requests
    assert (create.method, create.url.path) == ("POST", "/v25.0/me/personas")
    assert rec.json_body(0) == {"name": "Sam", "profile_picture_url": "https://x.test/s.png"}
    assert (get.method, get.url.path) == ("GET", "/v25.0/PER1")
    assert (delete.method, delete.url.path) == ("DELETE", "/v25.0/PER1")
    assert all(r.url.params["access_token"] == TOKEN for r in rec.requests)


async def test_persona_name_limit_is_checked_before_sending() -> None:
    rec = Recorder(ok({"id": "x"}))
    async with make_client(rec) as client:
        with pytest.raises(ValueError, match="1 to 50"):
            await client.create_persona("x" * 51, "https://x.test/s.png")
        with pytest.raises(ValueError):
            await client.create_persona("Sam", "not a url")
    assert rec.requests == []


async def test_list_personas_follows_cursors() -> None:
    def page(ids: list[str], after: str | None) -> httpx.Response:
        body: dict[str, Any] = {"data": [{"id": i, "name": f"n{i}"} for i in ids]}
        if after:
            body["paging"] = {
                "cursors": {"before": "b", "after": after},
                "next": f"https://graph.facebook.com/v25.0/PAGE/personas?after={after}",
            }
        return ok(body)

    rec = Recorder(page(["1", "2"], "c1"), page(["3"], "c2"), page(["4"], None))
    async with make_client(rec) as client:
        personas = await client.list_personas("PAGE")
    assert [p.id for p in personas] == ["1", "2", "3", "4"]
    assert [r.url.params.get("after") for r in rec.requests] == [None, "c1", "c2"]
    # Only the configured host ever sees the token, whatever `next` points at.
    assert {r.url.host for r in rec.requests} == {"graph.test"}
    assert all(r.url.path == "/v25.0/PAGE/personas" for r in rec.requests)


async def test_list_personas_cursor_from_next_url_and_loop_guard() -> None:
    looping = ok(
        {
            "data": [{"id": "1"}],
            "paging": {"next": "https://graph.facebook.com/v25.0/PAGE/personas?after=same"},
        }
    )
    rec = Recorder(looping)
    async with make_client(rec) as client:
        personas = await client.list_personas("PAGE")
    assert len(rec.requests) == 2  # the repeated cursor stops the walk
    assert rec.requests[1].url.params["after"] == "same"
    assert [p.id for p in personas] == ["1", "1"]


async def test_messenger_profile_set_get_delete() -> None:
    rec = Recorder(
        ok({"result": "success"}),
        ok({"data": [{"greeting": [{"locale": "default", "text": "Hi"}]}, {"get_started": {}}]}),
        ok({"result": "success"}),
    )
    profile = MessengerProfile(
        greeting=[Greeting(text="Hi {{user_first_name}}")],
        whitelisted_domains=["https://shop.test"],
    )
    async with make_client(rec) as client:
        await client.set_messenger_profile(profile)
        got = await client.get_messenger_profile(["greeting", "get_started"])
        await client.delete_messenger_profile("greeting")
    post, get, delete = rec.requests
    assert (post.method, post.url.path) == ("POST", "/v25.0/me/messenger_profile")
    assert rec.json_body(0) == {
        "greeting": [{"locale": "default", "text": "Hi {{user_first_name}}"}],
        "whitelisted_domains": ["https://shop.test"],
    }
    assert get.url.params["fields"] == "greeting,get_started"
    assert got == {"greeting": [{"locale": "default", "text": "Hi"}], "get_started": {}}
    assert delete.method == "DELETE"
    assert rec.json_body(2) == {"fields": ["greeting"]}


async def test_messenger_profile_dict_is_validated_before_sending() -> None:
    rec = Recorder(ok({"result": "success"}))
    bad_profiles: list[dict[str, Any]] = [
        {"greeting": [{"locale": "default", "text": "x" * 161}]},
        {"greeting": [{"locale": "en_US", "text": "no default"}]},
        {"ice_breakers": [{"question": f"Q{n}", "payload": f"P{n}"} for n in range(5)]},
        {
            "ice_breakers": [
                {"locale": "fr_FR", "call_to_actions": [{"question": "Q", "payload": "P"}]}
            ]
        },
        {},
    ]
    async with make_client(rec) as client:
        for bad in bad_profiles:
            with pytest.raises(ValueError):
                await client.set_messenger_profile(bad)
        await client.set_messenger_profile(
            {
                "get_started": {"payload": "GET_STARTED"},
                "ice_breakers": [
                    {
                        "locale": "default",
                        "call_to_actions": [{"question": "Opening hours?", "payload": "HOURS"}],
                    }
                ],
                "persistent_menu": [
                    {
                        "locale": "default",
                        "call_to_actions": [
                            {"type": "postback", "title": "Talk to a person", "payload": "HUMAN"}
                        ],
                    }
                ],
                "platform": "messenger",
            }
        )
    assert len(rec.requests) == 1
    body = rec.json_body()
    assert body["platform"] == "messenger"  # unmodelled fields pass through
    assert body["persistent_menu"][0]["composer_input_disabled"] is False


async def test_debug_token_uses_the_app_token() -> None:
    data = {
        "app_id": "123",
        "type": "PAGE",
        "is_valid": True,
        "expires_at": 0,
        "scopes": ["pages_messaging", "pages_manage_metadata"],
        "profile_id": "PAGE1",
    }
    rec = Recorder(ok({"data": data}))
    async with make_client(rec, app_secret=APP_SECRET) as client:
        info = await client.debug_token("INPUT_TOKEN", "123|apptoken")
    assert rec.last.url.path == "/v25.0/debug_token"
    assert rec.last.url.params["input_token"] == "INPUT_TOKEN"
    assert rec.last.url.params["access_token"] == "123|apptoken"
    assert rec.last.url.params["appsecret_proof"] == appsecret_proof("123|apptoken", APP_SECRET)
    assert info.is_valid and info.expires is None
    assert "pages_messaging" in info.scopes


async def test_subscribe_app() -> None:
    rec = Recorder(ok({"success": True}))
    async with make_client(rec) as client:
        assert await client.subscribe_app("PAGE1", ["messages", "messaging_postbacks", "feed"])
    assert (rec.last.method, rec.last.url.path) == ("POST", "/v25.0/PAGE1/subscribed_apps")
    assert rec.last.url.params["subscribed_fields"] == "messages,messaging_postbacks,feed"


# --- errors and retries ---------------------------------------------------------

ERROR_ROWS = [
    (fail(400, 10, 2018278), WindowClosed, 1),
    (fail(400, 10, 2018108), RecipientTemporarilyUnavailable, 4),
    (fail(400, 551, 1545041), RecipientUnreachable, 1),
    (fail(400, 100, 2018001), RecipientUnreachable, 1),
    (fail(400, 100, 2018109), InvalidParameter, 1),
    (fail(400, 100, 2534025), PrivateReplyNotAllowed, 1),
    (fail(400, 613, 2018338), TagMisuseWarning, 1),
    (fail(401, 190), TokenInvalid, 1),
    (fail(400, 613), RateLimited, 4),
    (fail(400, 4), RateLimited, 4),
    (fail(500, 1200), TemporaryError, 4),
    (httpx.Response(502, text="<html>bad gateway</html>"), TemporaryError, 4),
    (httpx.Response(400, text="not json"), GraphError, 1),
]


@pytest.mark.parametrize(("answer", "cls", "calls"), ERROR_ROWS)
async def test_errors_map_and_only_transient_ones_are_retried(
    answer: httpx.Response, cls: type[GraphError], calls: int
) -> None:
    rec = Recorder(answer)
    async with make_client(rec) as client:
        with pytest.raises(cls) as caught:
            await client.send_message(text_request())
    assert type(caught.value) is cls
    assert len(rec.requests) == calls


async def test_error_fields_come_through_the_client() -> None:
    rec = Recorder(fail(400, 10, 2018278, message="(#10) outside the allowed window"))
    async with make_client(rec) as client:
        with pytest.raises(WindowClosed) as caught:
            await client.send_message(text_request())
    err = caught.value
    assert (err.code, err.subcode, err.http_status, err.fbtrace_id) == (10, 2018278, 400, "Trace1")
    assert err.message == "(#10) outside the allowed window"


@pytest.mark.parametrize(
    "first",
    [
        fail(400, 613, 2534040),
        fail(500, 1200),
        fail(400, 2),
        httpx.Response(500, text="Internal Server Error"),
        httpx.Response(503),
        httpx.ReadTimeout("timed out"),
        httpx.ConnectError("connection refused"),
        httpx.RemoteProtocolError("peer closed connection"),
    ],
)
async def test_transient_failure_then_success(first: Answer, sent: dict[str, str]) -> None:
    rec = Recorder(first, first, ok(sent))
    async with make_client(rec) as client:
        result = await client.send_message(text_request())
    assert result.message_id == "m_1"
    assert len(rec.requests) == 3


async def test_gives_up_after_max_attempts_with_the_last_error() -> None:
    rec = Recorder(fail(500, 1200), fail(500, 1200), fail(500, 1200), fail(400, 613))
    async with make_client(rec) as client:
        with pytest.raises(RateLimited):
            await client.send_message(text_request())
    assert len(rec.requests) == 4


async def test_timeouts_exhaust_into_temporary_error() -> None:
    rec = Recorder(httpx.ConnectTimeout("slow"))
    async with make_client(rec) as client:
        with pytest.raises(TemporaryError, match="ConnectTimeout"):
            await client.get_persona("P1")
    assert len(rec.requests) == 4


async def test_zero_budget_means_a_single_attempt() -> None:
    rec = Recorder(fail(500, 1200))
    policy = RetryPolicy(max_attempts=10, initial=0.01, max_delay=0.01, budget_seconds=0.0)
    async with make_client(rec, retry=policy) as client:
        with pytest.raises(TemporaryError):
            await client.send_message(text_request())
    assert len(rec.requests) == 1


async def test_retry_budget_bounds_the_total_time() -> None:
    rec = Recorder(fail(503, 2))
    policy = RetryPolicy(max_attempts=1000, initial=0.02, max_delay=0.02, budget_seconds=0.15)
    started = time.monotonic()
    async with make_client(rec, retry=policy) as client:
        with pytest.raises(TemporaryError):
            await client.send_message(text_request())
    elapsed = time.monotonic() - started
    assert 2 <= len(rec.requests) < 1000
    assert elapsed < 1.0


def test_retry_policy_defaults_and_validation() -> None:
    assert RetryPolicy() == RetryPolicy(
        max_attempts=4, initial=0.5, max_delay=8.0, budget_seconds=20.0
    )
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError):
        RetryPolicy(initial=-1)


async def test_unexpected_success_bodies_are_errors_and_not_retried() -> None:
    for answer in (
        httpx.Response(200, text="<html>hello</html>"),
        ok([1, 2]),
        ok({"recipient_id": "1"}),  # no message_id
    ):
        rec = Recorder(answer)
        async with make_client(rec) as client:
            with pytest.raises(GraphError) as caught:
                await client.send_message(text_request())
        assert not caught.value.retryable
        assert len(rec.requests) == 1


async def test_error_object_in_a_200_response_is_raised() -> None:
    rec = Recorder(ok({"error": {"code": 100, "message": "bad"}}))
    async with make_client(rec) as client:
        with pytest.raises(InvalidParameter):
            await client.send_message(text_request())


# --- secrets --------------------------------------------------------------------


async def test_token_never_appears_in_error_text() -> None:
    rec = Recorder(fail(400, 190, 2069032, message=f"Malformed access token {TOKEN}"))
    async with make_client(rec, app_secret=APP_SECRET) as client:
        with pytest.raises(TokenInvalid) as caught:
            await client.send_message(text_request())
    text = all_text(caught.value)
    assert TOKEN not in text
    assert appsecret_proof(TOKEN, APP_SECRET) not in text
    assert "Malformed access token [redacted]" in str(caught.value)


async def test_token_never_appears_in_transport_errors() -> None:
    def explode(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"cannot reach {request.url}", request=request)

    rec = Recorder(explode)
    async with make_client(rec, app_secret=APP_SECRET) as client:
        with pytest.raises(TemporaryError) as caught:
            await client.send_message(text_request())
    err = caught.value
    text = all_text(err)
    assert TOKEN not in text
    assert appsecret_proof(TOKEN, APP_SECRET) not in text
    assert err.__cause__ is None and err.__context__ is None


async def test_debug_token_input_token_is_redacted_too() -> None:
    input_token, app_token = "INPUT" + "_SECRET", "123|app" + "TOKEN"
    rec = Recorder(fail(400, 190, message=f"Invalid token {input_token} for app {app_token}"))
    async with make_client(rec) as client:
        with pytest.raises(TokenInvalid) as caught:
            await client.debug_token(input_token, app_token)
    text = all_text(caught.value)  # includes the traceback's source lines
    assert input_token not in text and app_token not in text


async def test_httpx_request_log_does_not_show_the_token(
    caplog: pytest.LogCaptureFixture, sent: dict[str, str]
) -> None:
    caplog.set_level(logging.INFO, logger="httpx")
    rec = Recorder(ok(sent))
    async with make_client(rec, app_secret=APP_SECRET) as client:
        await client.send_message(text_request())
    assert "HTTP Request: POST" in caplog.text
    assert "graph.test/v25.0/me/messages" in caplog.text
    assert TOKEN not in caplog.text
    assert appsecret_proof(TOKEN, APP_SECRET) not in caplog.text


def test_repr_hides_the_token() -> None:
    client = GraphClient(TOKEN)
    assert TOKEN not in repr(client)
    assert "[redacted]" in repr(client)


def test_empty_token_is_refused() -> None:
    with pytest.raises(ValueError):
        GraphClient("")


async def test_aclose_closes_the_http_client() -> None:
    client = make_client(Recorder(ok({})))
    await client.aclose()
    with pytest.raises(RuntimeError):
        await client.get_persona("P1")
