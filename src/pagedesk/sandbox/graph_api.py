"""The Graph API routes: one catch-all endpoint that resolves ``/{version}/{node}/{edge}``."""

from __future__ import annotations

import base64
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from pagedesk.sandbox import errors, ids, media, messenger_profile, send_faults
from pagedesk.sandbox.errors import GraphError
from pagedesk.sandbox.httpio import access_token, graph_error_response, graph_response, read_params
from pagedesk.sandbox.models import WEBHOOK_FIELDS, Customer, Page, Persona, UploadedAttachment
from pagedesk.sandbox.state import SandboxState
from pagedesk.sandbox.validation import MEDIA_TYPES, check_url

VERSION = re.compile(r"^v\d+\.\d+$")
PAGE_SCOPES = (
    "pages_messaging",
    "pages_manage_metadata",
    "pages_read_engagement",
    "pages_show_list",
    "pages_manage_engagement",
    "public_profile",
)
PROFILE_FIELDS = ("id", "name", "first_name", "last_name", "profile_pic", "locale", "timezone")
DEFAULT_PROFILE_FIELDS = "first_name,last_name,profile_pic,id"
MAX_PERSONA_NAME = 50
DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 100


@dataclass
class GraphCall:
    state: SandboxState
    request: Request
    method: str
    params: dict[str, Any]
    path: list[str]
    send_record: send_faults.Record | None = None  # a Send API call's log entry

    def token(self) -> str | None:
        return access_token(self.request, self.params)

    def page(self) -> Page:
        """The page whose token authenticates this call."""
        token = self.token()
        if not token:
            raise errors.token_missing()
        page = self.state.page_by_token(token)
        if page is None:
            raise errors.token_unparsable()
        check_token(self.state, page)
        return page

    def unsupported(self) -> GraphError:
        return errors.unsupported_request(self.method, self.path[0] if self.path else "")


def check_token(state: SandboxState, page: Page) -> None:
    if not page.token_valid:
        raise errors.token_invalidated()
    if page.token_expires_at is not None and state.clock.now() >= page.token_expires_at:
        when = datetime.fromtimestamp(page.token_expires_at, UTC)
        raise errors.token_expired(when.strftime("%A, %d-%b-%y %H:%M:%S UTC"))


async def graph_endpoint(request: Request) -> Response:
    state: SandboxState = request.app.state.sandbox
    segments = [part for part in request.path_params.get("path", "").split("/") if part]
    version = segments.pop(0) if segments and VERSION.match(segments[0]) else None
    method = request.method.upper()
    record = None
    try:
        params = await read_params(request)
        record = send_faults.log_call(state, method, segments, params)
        result = await _dispatch(GraphCall(state, request, method, params, segments, record))
    except GraphError as error:
        send_faults.log_error(record, error)
        return graph_error_response(error, version=version)
    finally:
        if request.method.upper() != "GET":
            state.changed()
    return graph_response(result, version=version)


Handler = Callable[[GraphCall, Page], Awaitable[dict[str, Any]]]


async def _dispatch(call: GraphCall) -> dict[str, Any]:
    if not call.path:
        raise errors.unknown_path("/")
    head, *rest = call.path
    if head == "debug_token" and not rest:
        if call.method != "GET":
            raise call.unsupported()
        return _debug_token(call)
    if len(rest) > 1:
        raise errors.unknown_path("/".join(rest))
    page = call.page()
    if head == "me" or head == page.page_id:
        if not rest:
            return _page_node(call, page)
        handler = _PAGE_EDGES.get((call.method, rest[0]))
        if handler is None:
            raise errors.unknown_path(rest[0]) if call.method == "GET" else call.unsupported()
        return await handler(call, page)
    if rest:
        raise call.unsupported()
    customer = call.state.customers.get(head)
    if customer is not None and customer.page_id == page.page_id and call.method == "GET":
        return _profile(call, customer)
    persona = call.state.personas.get(head)
    if persona is not None and persona.page_id == page.page_id and not persona.deleted:
        if call.method == "GET":
            return _persona_json(persona)
        if call.method == "DELETE":
            persona.deleted = True
            return {"success": True}
    raise call.unsupported()


# -- nodes -------------------------------------------------------------------------------


def _requested_fields(call: GraphCall, default: str) -> list[str]:
    raw = call.params.get("fields") or default
    return [item.strip() for item in str(raw).split(",") if item.strip()]


def _page_node(call: GraphCall, page: Page) -> dict[str, Any]:
    if call.method != "GET":
        raise call.unsupported()
    values = {
        "id": page.page_id,
        "name": page.name,
        "username": page.username,
        "link": f"https://www.facebook.com/{page.username}",
        "category": "Business",
    }
    result: dict[str, Any] = {}
    for field_name in _requested_fields(call, "name,id"):
        if field_name not in values:
            raise errors.nonexisting_field(field_name, "Page")
        result[field_name] = values[field_name]
    return result


def _profile(call: GraphCall, customer: Customer) -> dict[str, Any]:
    fields = _requested_fields(call, DEFAULT_PROFILE_FIELDS)
    for field_name in fields:
        if field_name not in PROFILE_FIELDS:
            raise errors.nonexisting_field(field_name, "User")
    if not customer.has_profile:
        raise errors.no_profile()
    values = {
        "id": customer.psid,
        "name": customer.name,
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "profile_pic": customer.profile_pic or media.links(call.request, call.state).profile_pic(),
        "locale": customer.locale,
        "timezone": customer.timezone,
    }
    return {field_name: values[field_name] for field_name in fields}


def _persona_json(persona: Persona) -> dict[str, Any]:
    return {
        "name": persona.name,
        "profile_picture_url": persona.profile_picture_url,
        "id": persona.id,
    }


def _debug_token(call: GraphCall) -> dict[str, Any]:
    state = call.state
    caller = call.token()
    app_token = f"{state.app.app_id}|{state.app.app_secret}"
    if not caller:
        raise errors.param(
            "You must provide an app access token, or a user access token that is an owner or "
            "developer of the app"
        )
    if caller != app_token and state.page_by_token(caller) is None:
        raise errors.token_unparsable()
    input_token = str(call.params.get("input_token") or "")
    if not input_token:
        raise errors.param("The parameter input_token is required")
    page = state.page_by_token(input_token)
    if page is None:
        error = errors.token_unparsable()
        return {
            "data": {
                "error": {"code": 190, "message": error.message},
                "is_valid": False,
                "scopes": [],
            }
        }
    now = int(state.clock.now())
    data: dict[str, Any] = {
        "app_id": state.app.app_id,
        "type": "PAGE",
        "application": state.app.name,
        "data_access_expires_at": now + 90 * 86400,
        "expires_at": int(page.token_expires_at) if page.token_expires_at is not None else 0,
        "is_valid": True,
        "issued_at": now - 86400,
        "profile_id": page.page_id,
        "scopes": list(PAGE_SCOPES),
        "granular_scopes": [
            {"scope": scope, "target_ids": [page.page_id]}
            for scope in PAGE_SCOPES
            if scope.startswith("pages_")
        ],
        "user_id": ids.user_id(),
    }
    try:
        check_token(state, page)
    except GraphError as error:
        data["is_valid"] = False
        data["error"] = {"code": error.code, "message": error.message, "subcode": error.subcode}
    return {"data": data}


# -- page edges --------------------------------------------------------------------------


async def _messages(call: GraphCall, page: Page) -> dict[str, Any]:
    return await send_faults.send(call.state, page, call.params, call.send_record)


async def _message_attachments(call: GraphCall, page: Page) -> dict[str, Any]:
    message = call.params.get("message")
    attachment = message.get("attachment") if isinstance(message, dict) else None
    if not isinstance(attachment, dict) or attachment.get("type") not in MEDIA_TYPES:
        raise errors.param(
            "Param message[attachment][type] must be one of {image, audio, video, file}"
        )
    payload = attachment.get("payload") or {}
    url = check_url(payload.get("url"), "message[attachment][payload][url]")
    uploaded = UploadedAttachment(
        attachment_id=ids.attachment_id(), page_id=page.page_id, type=attachment["type"], url=url
    )
    call.state.attachments[uploaded.attachment_id] = uploaded
    return {"attachment_id": uploaded.attachment_id}


async def _create_persona(call: GraphCall, page: Page) -> dict[str, Any]:
    name = call.params.get("name")
    if not isinstance(name, str) or not name.strip():
        raise errors.param("The parameter name is required")
    if len(name) > MAX_PERSONA_NAME:
        raise errors.param(f"Length of param name must be less than or equal to {MAX_PERSONA_NAME}")
    picture = check_url(call.params.get("profile_picture_url"), "profile_picture_url")
    persona = Persona(
        id=ids.persona_id(), page_id=page.page_id, name=name, profile_picture_url=picture
    )
    call.state.personas[persona.id] = persona
    return {"id": persona.id}


def _cursor(persona_id: str) -> str:
    return base64.urlsafe_b64encode(f"persona:{persona_id}".encode()).decode().rstrip("=")


def _uncursor(cursor: str) -> str:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except ValueError:
        raise errors.param("Invalid cursor") from None
    if not raw.startswith("persona:"):
        raise errors.param("Invalid cursor")
    return raw.removeprefix("persona:")


async def _list_personas(call: GraphCall, page: Page) -> dict[str, Any]:
    personas = [
        p for p in call.state.personas.values() if p.page_id == page.page_id and not p.deleted
    ]
    try:
        limit = int(call.params.get("limit", DEFAULT_PAGE_SIZE))
    except (TypeError, ValueError):
        raise errors.param("Param limit must be an integer") from None
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    ordered_ids = [p.id for p in personas]
    start = 0
    if call.params.get("after"):
        after = _uncursor(str(call.params["after"]))
        start = ordered_ids.index(after) + 1 if after in ordered_ids else len(ordered_ids)
    elif call.params.get("before"):
        before = _uncursor(str(call.params["before"]))
        end = ordered_ids.index(before) if before in ordered_ids else 0
        start = max(0, end - limit)
    window = personas[start : start + limit]
    result: dict[str, Any] = {"data": [_persona_json(p) for p in window]}
    if not window:
        return result
    url = call.request.url.remove_query_params(["after", "before"])
    paging: dict[str, Any] = {
        "cursors": {"before": _cursor(window[0].id), "after": _cursor(window[-1].id)}
    }
    if start + limit < len(personas):
        paging["next"] = str(url.include_query_params(limit=limit, after=_cursor(window[-1].id)))
    if start > 0:
        paging["previous"] = str(
            url.include_query_params(limit=limit, before=_cursor(window[0].id))
        )
    result["paging"] = paging
    return result


async def _get_profile(call: GraphCall, page: Page) -> dict[str, Any]:
    return messenger_profile.get_profile(page, call.params)


async def _set_profile(call: GraphCall, page: Page) -> dict[str, Any]:
    return messenger_profile.set_profile(page, call.params)


async def _delete_profile(call: GraphCall, page: Page) -> dict[str, Any]:
    return messenger_profile.delete_profile(page, call.params)


def _field_list(raw: Any) -> list[str]:
    if isinstance(raw, list):
        return [str(item).strip() for item in raw if str(item).strip()]
    return [item.strip() for item in str(raw or "").split(",") if item.strip()]


async def _subscribe(call: GraphCall, page: Page) -> dict[str, Any]:
    fields = _field_list(call.params.get("subscribed_fields"))
    if not fields:
        raise errors.param("The parameter subscribed_fields is required")
    for index, field_name in enumerate(fields):
        if field_name not in WEBHOOK_FIELDS:
            raise errors.param(
                f"Param subscribed_fields[{index}] must be one of {{{', '.join(WEBHOOK_FIELDS)}}}"
            )
    page.subscribed_fields = list(dict.fromkeys(fields))
    return {"success": True}


async def _subscriptions(call: GraphCall, page: Page) -> dict[str, Any]:
    if not page.subscribed_fields:
        return {"data": []}
    app = call.state.app
    entry = {
        "link": f"https://www.facebook.com/games/?app_id={app.app_id}",
        "name": app.name,
        "id": app.app_id,
        "subscribed_fields": list(page.subscribed_fields),
    }
    return {"data": [entry]}


async def _unsubscribe(call: GraphCall, page: Page) -> dict[str, Any]:
    page.subscribed_fields = []
    return {"success": True}


def _thread_customer(call: GraphCall, page: Page) -> Customer:
    recipient = call.params.get("recipient")
    psid = recipient.get("id") if isinstance(recipient, dict) else None
    if not psid:
        raise errors.param("The parameter recipient is required")
    customer = call.state.customers.get(str(psid))
    if customer is None or customer.page_id != page.page_id:
        raise errors.no_matching_user()
    return customer


# Thread control webhooks go to the app that gains (pass) or loses (take) the thread,
# or to the owner (request): for calls made by the sandbox app that is another app,
# so these calls change the owner without a webhook to the sandbox app's callback.


async def _pass_thread(call: GraphCall, page: Page) -> dict[str, Any]:
    customer = _thread_customer(call, page)
    target = str(call.params.get("target_app_id") or "")
    if not target.isdigit():
        raise errors.param("The parameter target_app_id is required")
    if not call.state.owned_by_us(customer):
        raise errors.thread_owned_by_other_app(customer.thread_owner_app_id or "")
    if target == call.state.app.app_id:
        raise errors.param("Cannot pass thread control to the app that owns the thread")
    customer.thread_owner_app_id = target
    return {"success": True}


async def _take_thread(call: GraphCall, page: Page) -> dict[str, Any]:
    customer = _thread_customer(call, page)
    customer.thread_owner_app_id = None
    return {"success": True}


async def _request_thread(call: GraphCall, page: Page) -> dict[str, Any]:
    customer = _thread_customer(call, page)
    if call.state.owned_by_us(customer):
        raise errors.param("The app already owns this thread")
    return {"success": True}


async def _thread_owner(call: GraphCall, page: Page) -> dict[str, Any]:
    psid = call.params.get("recipient")
    customer = call.state.customers.get(str(psid)) if psid else None
    if customer is None or customer.page_id != page.page_id:
        raise errors.no_matching_user()
    owner = customer.thread_owner_app_id or call.state.app.app_id
    return {"data": [{"thread_owner": {"app_id": owner}}]}


_PAGE_EDGES: dict[tuple[str, str], Handler] = {
    ("POST", "messages"): _messages,
    ("POST", "message_attachments"): _message_attachments,
    ("GET", "personas"): _list_personas,
    ("POST", "personas"): _create_persona,
    ("GET", "messenger_profile"): _get_profile,
    ("POST", "messenger_profile"): _set_profile,
    ("DELETE", "messenger_profile"): _delete_profile,
    ("GET", "subscribed_apps"): _subscriptions,
    ("POST", "subscribed_apps"): _subscribe,
    ("DELETE", "subscribed_apps"): _unsubscribe,
    ("POST", "pass_thread_control"): _pass_thread,
    ("POST", "take_thread_control"): _take_thread,
    ("POST", "request_thread_control"): _request_thread,
    ("GET", "thread_owner"): _thread_owner,
}
