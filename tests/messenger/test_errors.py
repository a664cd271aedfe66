"""The Graph error map: every row of messenger-platform.md's errors table."""

from __future__ import annotations

import json
import pickle

import pytest

from pagedesk.messenger import errors
from pagedesk.messenger.errors import (
    GraphError,
    InvalidParameter,
    PageRestricted,
    PermissionMissing,
    PrivateReplyNotAllowed,
    ProfileUnavailable,
    RateLimited,
    RecipientTemporarilyUnavailable,
    RecipientUnavailable,
    RecipientUnreachable,
    TagMisuseWarning,
    TemporaryError,
    ThreadOwnedByOtherApp,
    TokenInvalid,
    WindowClosed,
    error_from_response,
    redact,
)


def meta_error(
    code: int | str | None,
    subcode: int | str | None = None,
    message: str = "Meta says no",
    error_type: str = "OAuthException",
) -> dict[str, object]:
    error: dict[str, object] = {"message": message, "type": error_type, "fbtrace_id": "AbC/dEf"}
    if code is not None:
        error["code"] = code
    if subcode is not None:
        error["error_subcode"] = subcode
    return {"error": error}


# (HTTP status, code, subcode, class, retryable) — in the order of the doc's table.
TABLE = [
    (400, 10, 2018278, WindowClosed, False),
    (400, 10, 2534022, WindowClosed, False),
    (400, 10, 2018108, RecipientTemporarilyUnavailable, True),
    (400, 551, 1545041, RecipientUnreachable, False),
    (400, 551, None, RecipientUnreachable, False),
    (400, 100, 2018001, RecipientUnreachable, False),
    (400, 100, None, InvalidParameter, False),
    (400, 100, 2018008, InvalidParameter, False),
    (400, 100, 2018047, InvalidParameter, False),
    (400, 100, 2018109, InvalidParameter, False),
    (400, 100, 2018014, InvalidParameter, False),
    (400, 100, 2534025, PrivateReplyNotAllowed, False),
    (400, 100, 2534037, ThreadOwnedByOtherApp, False),
    (400, 100, 2018300, ThreadOwnedByOtherApp, False),
    (400, 10, 2018300, ThreadOwnedByOtherApp, False),
    (400, 613, 2018338, TagMisuseWarning, False),
    (400, 10, 1893063, PageRestricted, False),
    (401, 190, None, TokenInvalid, False),
    (400, 190, 463, TokenInvalid, False),
    (403, 200, None, PermissionMissing, False),
    (403, 10, None, PermissionMissing, False),
    (400, 10, 2018065, PermissionMissing, False),
    (400, 200, 2018028, PermissionMissing, False),
    (400, 200, 2018021, PermissionMissing, False),
    (400, 200, 2018027, PermissionMissing, False),
    (400, 100, 2018218, ProfileUnavailable, False),
    (400, 10, 2018247, ProfileUnavailable, False),
    (400, 4, None, RateLimited, True),
    (400, 613, None, RateLimited, True),
    (400, 613, 2534040, RateLimited, True),
    (400, 32, None, RateLimited, True),
    (500, 1200, None, TemporaryError, True),
    (500, 2, None, TemporaryError, True),
    (400, 2, None, TemporaryError, True),
]


@pytest.mark.parametrize(("status", "code", "subcode", "cls", "retryable"), TABLE)
def test_every_table_row_maps_to_its_class(
    status: int, code: int, subcode: int | None, cls: type[GraphError], retryable: bool
) -> None:
    err = error_from_response(status, meta_error(code, subcode, message="the text"))
    assert type(err) is cls
    assert err.retryable is retryable
    assert (err.code, err.subcode, err.http_status) == (code, subcode, status)
    assert err.message == "the text"
    assert err.fbtrace_id == "AbC/dEf"
    assert err.error_type == "OAuthException"
    assert err.user_message


def test_recipient_unavailable_distinguishes_retry_later_from_permanent() -> None:
    later = error_from_response(400, meta_error(10, 2018108))
    gone = error_from_response(400, meta_error(551, 1545041))
    nobody = error_from_response(400, meta_error(100, 2018001))
    assert all(isinstance(e, RecipientUnavailable) for e in (later, gone, nobody))
    assert isinstance(later, RecipientUnavailable) and not later.permanent and later.retryable
    for err in (gone, nobody):
        assert isinstance(err, RecipientUnavailable) and err.permanent and not err.retryable


def test_tag_misuse_is_not_a_retried_rate_limit() -> None:
    err = error_from_response(400, meta_error(613, 2018338))
    assert not isinstance(err, RateLimited)
    assert not err.retryable


@pytest.mark.parametrize("cls", [TokenInvalid, PageRestricted])
def test_token_and_restriction_pause_the_channel(cls: type[GraphError]) -> None:
    assert cls.pause_channel
    assert not WindowClosed.pause_channel


def test_window_closed_tells_what_is_still_allowed() -> None:
    err = error_from_response(400, meta_error(10, 2018278))
    assert "HUMAN_AGENT" in err.user_message
    assert "7 days" in err.user_message


def test_invalid_parameter_carries_metas_message_and_detail() -> None:
    err = error_from_response(400, meta_error(100, 2018109, message="(#100) too big"))
    assert "(#100) too big" in err.user_message
    assert "25 MB" in err.user_message
    assert err.detail is not None


def test_permission_message_names_what_meta_said() -> None:
    err = error_from_response(403, meta_error(200, None, message="needs pages_messaging"))
    assert "pages_messaging" in err.user_message


@pytest.mark.parametrize(
    ("status", "body", "cls"),
    [
        (400, None, GraphError),
        (400, "", GraphError),
        (404, "<html>Not Found</html>", GraphError),
        (502, "<html>Bad Gateway</html>", TemporaryError),
        (503, b"\xff\xfe garbage", TemporaryError),
        (500, {"error": "boom"}, TemporaryError),
        (429, [], RateLimited),
        (400, {"data": []}, GraphError),
        (400, '{"error": {"code": 1', GraphError),
    ],
)
def test_garbage_bodies(status: int, body: object, cls: type[GraphError]) -> None:
    err = error_from_response(status, body)
    assert type(err) is cls
    assert err.http_status == status
    assert str(status) in err.message


def test_json_text_and_bytes_bodies_are_parsed() -> None:
    body = meta_error(190, message="expired")
    for raw in (json.dumps(body), json.dumps(body).encode()):
        err = error_from_response(401, raw)
        assert type(err) is TokenInvalid
        assert err.message == "expired"


def test_numeric_string_codes_are_accepted() -> None:
    err = error_from_response(400, meta_error("10", "2018278"))
    assert type(err) is WindowClosed
    assert (err.code, err.subcode) == (10, 2018278)


def test_unknown_code_is_a_plain_error_unless_the_server_failed() -> None:
    plain = error_from_response(400, meta_error(12345))
    assert type(plain) is GraphError and not plain.retryable
    server = error_from_response(503, meta_error(12345))
    assert type(server) is TemporaryError
    throttled = error_from_response(429, meta_error(None))
    assert type(throttled) is RateLimited


def test_missing_fields_are_none() -> None:
    err = error_from_response(400, {"error": {"code": True, "message": 5}})
    assert type(err) is GraphError
    assert (err.code, err.subcode, err.fbtrace_id, err.error_type) == (None, None, None, None)
    assert err.message == ""
    assert str(err)  # falls back to the action text


def test_str_and_repr_identify_the_error() -> None:
    err = error_from_response(400, meta_error(10, 2018278, message="outside window"))
    assert "outside window" in str(err)
    assert "code=10" in str(err) and "subcode=2018278" in str(err) and "AbC/dEf" in str(err)
    assert repr(err).startswith("WindowClosed(code=10")


def test_errors_survive_pickling() -> None:
    err = error_from_response(400, meta_error(100, 2018109, message="too big"))
    copy = pickle.loads(pickle.dumps(err))
    assert type(copy) is InvalidParameter
    assert copy.__dict__ == err.__dict__
    assert str(copy) == str(err)


def test_every_class_has_a_reason_and_an_action() -> None:
    classes = [
        obj
        for obj in vars(errors).values()
        if isinstance(obj, type) and issubclass(obj, GraphError)
    ]
    assert len(classes) >= 15
    reasons = [cls.reason for cls in classes]
    assert len(set(reasons)) == len(reasons)
    assert all(cls.action.strip().endswith(".") for cls in classes)


def test_redact_removes_secrets_and_credential_parameters() -> None:
    text = "GET /v25.0/me?access_token=EAAB123&appsecret_proof=abc&fields=x failed for EAAB123"
    cleaned = redact(text, ["EAAB123", ""])
    assert "EAAB123" not in cleaned
    assert "abc" not in cleaned
    assert "fields=x" in cleaned


def test_scrub_rewrites_message_and_args() -> None:
    err = error_from_response(400, meta_error(190, message="Malformed access token EAAsecret"))
    err.scrub(["EAAsecret"])
    assert "EAAsecret" not in err.message
    assert "EAAsecret" not in str(err) and "EAAsecret" not in repr(err)
    assert all("EAAsecret" not in str(arg) for arg in err.args)
