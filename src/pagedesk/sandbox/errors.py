"""Graph API error payloads, shaped and worded like Meta's.

Every failure the emulator reports is a :class:`GraphError`; the HTTP layer turns
it into ``{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}``
with the status Meta uses for that code.
"""

from __future__ import annotations

from typing import Any

from pagedesk.sandbox import ids

PAGE_INBOX_APP_ID = "263902037430900"


class GraphError(Exception):
    def __init__(
        self,
        code: int,
        message: str,
        *,
        subcode: int | None = None,
        status: int | None = None,
        error_type: str = "OAuthException",
        transient: bool = False,
        user_title: str | None = None,
        user_msg: str | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.subcode = subcode
        self.status = status if status is not None else _default_status(code)
        self.error_type = error_type
        self.transient = transient
        self.user_title = user_title
        self.user_msg = user_msg

    def payload(self) -> dict[str, Any]:
        error: dict[str, Any] = {
            "message": self.message,
            "type": self.error_type,
            "code": self.code,
        }
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        if self.transient:
            error["is_transient"] = True
        if self.user_title:
            error["error_user_title"] = self.user_title
        if self.user_msg:
            error["error_user_msg"] = self.user_msg
        error["fbtrace_id"] = ids.fbtrace_id()
        return {"error": error}


def _default_status(code: int) -> int:
    if code in (1, 2):
        return 500
    if code == 200:
        return 403
    return 400


# -- tokens -------------------------------------------------------------------


def token_missing() -> GraphError:
    return GraphError(
        2500, "An active access token must be used to query information about the current user."
    )


def token_unparsable() -> GraphError:
    return GraphError(190, "Invalid OAuth access token - Cannot parse access token")


def token_invalidated() -> GraphError:
    return GraphError(
        190,
        "Error validating access token: The session has been invalidated because the user "
        "changed their password or Facebook has changed the session for security reasons.",
        subcode=460,
    )


def token_expired(expired_at: str) -> GraphError:
    return GraphError(
        190,
        f"Error validating access token: Session has expired on {expired_at}.",
        subcode=463,
    )


# -- generic Graph -----------------------------------------------------------


def unsupported_request(method: str, object_id: str) -> GraphError:
    return GraphError(
        100,
        f"Unsupported {method.lower()} request. Object with ID '{object_id}' does not exist, "
        "cannot be loaded due to missing permissions, or does not support this operation. "
        "Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api",
        subcode=33,
        error_type="GraphMethodException",
    )


def unknown_path(path: str) -> GraphError:
    return GraphError(2500, f"Unknown path components: {path}")


def param(message: str, *, subcode: int | None = None) -> GraphError:
    """Error 100, invalid parameter; ``message`` is given without the ``(#100)`` prefix."""
    return GraphError(100, f"(#100) {message}", subcode=subcode)


def nonexisting_field(field: str, node_type: str) -> GraphError:
    return param(f"Tried accessing nonexisting field ({field}) on node type ({node_type})")


# -- Send API ----------------------------------------------------------------


def outside_window(detail: str = "") -> GraphError:
    message = (
        "(#10) This message is sent outside of allowed window. Learn more about the new policy "
        "here: https://developers.facebook.com/docs/messenger-platform/policy-overview"
    )
    return GraphError(10, message + (f" {detail}" if detail else ""), subcode=2018278)


def recipient_unavailable_now() -> GraphError:
    return GraphError(
        10, "(#10) This person cannot receive messages at this time.", subcode=2018108
    )


def person_unavailable() -> GraphError:
    return GraphError(551, "(#551) This person isn't available right now.", subcode=1545041)


def no_matching_user() -> GraphError:
    return param("No matching user found", subcode=2018001)


def message_and_sender_action() -> GraphError:
    return param("Cannot send message and sender action in the same request", subcode=2018014)


def private_reply_invalid(reason: str) -> GraphError:
    return param(f"Cannot send a private reply to this comment: {reason}", subcode=2534025)


def thread_owned_by_other_app(owner_app_id: str) -> GraphError:
    return param(
        f"The thread is owned by another app ({owner_app_id}). Take thread control first.",
        subcode=2534037,
    )


def rate_limited() -> GraphError:
    return GraphError(
        613,
        "(#613) Calls to this api have exceeded the rate limit.",
        subcode=2534040,
    )


def tag_misuse() -> GraphError:
    return GraphError(
        613,
        "(#613) This Page has been flagged for message tag misuse; tagged messages to this "
        "person are limited.",
        subcode=2018338,
    )


def page_restricted() -> GraphError:
    return GraphError(
        10,
        "(#10) This Page is temporarily restricted from sending messages.",
        subcode=1893063,
        status=403,
    )


def human_agent_not_approved() -> GraphError:
    return GraphError(
        10,
        "(#10) The HUMAN_AGENT tag needs the Human Agent permission, which this app has not "
        "been approved for.",
        subcode=2018065,
        status=403,
    )


def customer_matching_not_enabled() -> GraphError:
    return GraphError(
        200,
        "(#200) Sending to a phone number requires the pages_messaging_phone_number permission.",
        subcode=2018021,
    )


def temporary_failure() -> GraphError:
    return GraphError(
        2,
        "An unexpected error has occurred. Please retry your request later.",
        transient=True,
    )


def no_profile() -> GraphError:
    return param("No profile available for this user.", subcode=2018218)


class ControlError(Exception):
    """A bad call to a ``/_sandbox/`` control endpoint (not a Graph error)."""

    def __init__(self, status: int, message: str, **detail: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.detail = detail

    def payload(self) -> dict[str, Any]:
        return {"error": {"message": self.message, **self.detail}}
