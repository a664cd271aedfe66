"""The ``/_sandbox/`` control API: set up the world and act as the customers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import asdict
from functools import wraps
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pagedesk.sandbox import payloads, simulate
from pagedesk.sandbox.delivery import WebhookDispatcher, verify_callback
from pagedesk.sandbox.errors import ControlError, GraphError
from pagedesk.sandbox.httpio import control_error_response, json_response, read_json
from pagedesk.sandbox.models import WEBHOOK_FIELDS, Customer, DeliveryConfig, Page
from pagedesk.sandbox.send_api import window_state
from pagedesk.sandbox.state import SandboxState

Endpoint = Callable[[Request], Awaitable[Response]]
Handler = Callable[[Request, SandboxState, dict[str, Any]], Awaitable[Any]]


def control(handler: Handler) -> Endpoint:
    """JSON in, JSON out; errors as ``{"error": {...}}``; snapshot after changes."""

    @wraps(handler)
    async def endpoint(request: Request) -> Response:
        state: SandboxState = request.app.state.sandbox
        try:
            data = await read_json(request) if request.method in ("POST", "PATCH", "PUT") else {}
            result = await handler(request, state, data)
        except ControlError as error:
            return control_error_response(error)
        except GraphError as error:
            return json_response(error.payload(), error.status)
        finally:
            if request.method != "GET":
                state.changed()
        if isinstance(result, Response):
            return result
        return json_response(result, 201 if request.method == "POST" and _creates(request) else 200)

    return endpoint


def _creates(request: Request) -> bool:
    path = request.url.path
    return path.endswith("/pages") or path.endswith("/customers") or path.endswith("/posts")


# -- field checking ----------------------------------------------------------------------------


def _check(data: dict[str, Any], types: dict[str, Any]) -> dict[str, Any]:
    """Keep only known keys; reject values of the wrong type."""
    unknown = sorted(set(data) - set(types))
    if unknown:
        raise ControlError(400, f"Unknown field(s): {', '.join(unknown)}", allowed=sorted(types))
    for key, value in data.items():
        if value is not None and not _type_ok(value, types[key]):
            raise ControlError(400, f"Field {key} has the wrong type")
    return data


def _type_ok(value: Any, expected: type | tuple[type, ...]) -> bool:
    if isinstance(value, bool):  # bool is an int in Python, never in JSON
        return expected is bool
    return isinstance(value, expected)


def _range(data: dict[str, Any], key: str, low: float, high: float) -> None:
    if key in data and data[key] is not None and not low <= data[key] <= high:
        raise ControlError(400, f"Field {key} must be between {low} and {high}")


def _page(state: SandboxState, page_id: str) -> Page:
    page = state.page_by_ref(page_id)
    if page is None:
        raise ControlError(404, f"No page {page_id}")
    return page


def _customer(state: SandboxState, psid: str) -> Customer:
    customer = state.customers.get(psid)
    if customer is None:
        raise ControlError(404, f"No customer {psid}")
    return customer


def page_json(state: SandboxState, page: Page) -> dict[str, Any]:
    data = asdict(page)
    data["link"] = f"https://m.me/{page.username}"
    data["customer_count"] = len(state.customers_of(page.page_id))
    return data


def customer_json(state: SandboxState, customer: Customer) -> dict[str, Any]:
    data = asdict(customer)
    data["name"] = customer.name
    data["thread_owner_app_id"] = customer.thread_owner_app_id or state.app.app_id
    data["window"] = window_state(customer, state.clock.now_ms())
    return data


# -- app, config, clock, deliveries ----------------------------------------------------------


def app_json(state: SandboxState) -> dict[str, Any]:
    app = state.app
    return {
        "app_id": app.app_id,
        "app_secret": app.app_secret,
        "name": app.name,
        "callback_url": app.callback_url,
        "verify_token": app.verify_token,
    }


@control
async def get_app(request: Request, state: SandboxState, data: dict[str, Any]) -> Any:
    return app_json(state)


@control
async def set_app(request: Request, state: SandboxState, data: dict[str, Any]) -> Any:
    _check(
        data,
        {"callback_url": str, "verify_token": str, "app_id": str, "app_secret": str, "name": str},
    )
    if data.get("app_id"):
        if not str(data["app_id"]).isdigit():
            raise ControlError(400, "app_id must be digits")
        state.app.app_id = data["app_id"]
    if data.get("app_secret"):
        state.app.app_secret = data["app_secret"]
    if data.get("name"):
        state.app.name = data["name"]
    if "callback_url" in data:
        url = data["callback_url"]
        if url is None:
            state.app.callback_url = None
            state.app.verify_token = None
        else:
            token = data.get("verify_token")
            if not token:
                raise ControlError(400, "verify_token is required with callback_url")
            ok, detail = await verify_callback(url, token)
            if not ok:
                raise ControlError(
                    400,
                    f"The URL couldn't be validated: {detail}. The callback must answer "
                    "GET ?hub.mode=subscribe&hub.verify_token=...&hub.challenge=... with 200 and "
                    "exactly the challenge as the body.",
                    callback_url=url,
                )
            state.app.callback_url = url
            state.app.verify_token = token
    return app_json(state)


@control
async def get_config(request: Request, state: SandboxState, data: dict[str, Any]) -> Any:
    return asdict(state.config)


@control
async def set_config(request: Request, state: SandboxState, data: dict[str, Any]) -> Any:
    number = (int, float)
    _check(
        data,
        {
            "batch_max_events": int,
            "batch_window_ms": int,
            "duplicate_rate": number,
            "reorder": bool,
            "retry_max_attempts": int,
            "retry_initial_delay": number,
            "timeout_seconds": number,
        },
    )
    _range(data, "batch_max_events", 1, 1000)
    _range(data, "batch_window_ms", 0, 60_000)
    _range(data, "duplicate_rate", 0, 1)
    _range(data, "retry_max_attempts", 1, 20)
    _range(data, "retry_initial_delay", 0, 60)
    _range(data, "timeout_seconds", 0.01, 60)
    merged = {**asdict(state.config), **{k: v for k, v in data.items() if v is not None}}
    state.config = DeliveryConfig(**merged)
    return asdict(state.config)


def clock_json(state: SandboxState) -> dict[str, Any]:
    return {"now": state.clock.now(), "now_ms": state.clock.now_ms(), "offset": state.clock.offset}


@control
async def get_clock(request: Request, state: SandboxState, data: dict[str, Any]) -> Any:
    return clock_json(state)


@control
async def set_clock(request: Request, state: SandboxState, data: dict[str, Any]) -> Any:
    _check(data, {"advance_seconds": (int, float), "set": (int, float)})
    if data.get("set") is not None:
        state.clock.set(float(data["set"]))
    if data.get("advance_seconds") is not None:
        state.clock.advance(float(data["advance_seconds"]))
    return clock_json(state)


@control
async def list_deliveries(request: Request, state: SandboxState, data: dict[str, Any]) -> Any:
    since = int(request.query_params.get("since", "0") or 0)
    return {"data": [record for record in state.deliveries if record["id"] > since]}


@control
async def clear_deliveries(request: Request, state: SandboxState, data: dict[str, Any]) -> Any:
    state.deliveries.clear()
    return {"success": True}


@control
async def flush(request: Request, state: SandboxState, data: dict[str, Any]) -> Any:
    _check(data, {"timeout": (int, float)})
    dispatcher: WebhookDispatcher = request.app.state.dispatcher
    drained = await dispatcher.drain(float(data.get("timeout") or 10.0))
    if not drained:
        raise ControlError(
            504, "Deliveries still pending after the timeout", pending=len(state.outbox)
        )
    return {"success": True, "deliveries": len(state.deliveries)}


@control
async def reset(request: Request, state: SandboxState, data: dict[str, Any]) -> Any:
    state.reset()
    return {"success": True, "app_id": state.app.app_id}


@control
async def dump_state(request: Request, state: SandboxState, data: dict[str, Any]) -> Any:
    return state.dump()


# -- pages ------------------------------------------------------------------------------------

PAGE_SETTINGS: dict[str, Any] = {
    "name": str,
    "username": str,
    "access_token": str,
    "subscribed_fields": list,
    "rate_limit_per_second": (int, float),
    "restricted": bool,
    "token_valid": bool,
    "token_expires_at": (int, float),
    "token_expires_in": (int, float),
    "auto_read": bool,
    "human_agent_approved": bool,
    "customer_matching_enabled": bool,
    "tag_misuse_flagged": bool,
    "fail_next_sends": int,
    "allowed_tags": list,
}


def _apply_page_settings(state: SandboxState, page: Page, data: dict[str, Any]) -> None:
    if "subscribed_fields" in data:
        fields = data["subscribed_fields"] or []
        bad = [f for f in fields if f not in WEBHOOK_FIELDS]
        if bad:
            raise ControlError(400, f"Unknown subscribed_fields: {', '.join(map(str, bad))}")
        page.subscribed_fields = list(dict.fromkeys(fields))
    if "token_expires_in" in data:
        expires_in = data.pop("token_expires_in")
        page.token_expires_at = None if expires_in is None else state.clock.now() + expires_in
    if data.get("access_token"):
        other = state.page_by_token(data["access_token"])
        if other is not None and other is not page:
            raise ControlError(409, "Another page already uses that access_token")
    nullable = {"rate_limit_per_second", "token_expires_at"}
    for key, value in data.items():
        if key in ("subscribed_fields", "page_id"):
            continue
        if value is None and key not in nullable:
            continue
        setattr(page, key, value)


@control
async def create_page(request: Request, state: SandboxState, data: dict[str, Any]) -> Any:
    _check(data, {"page_id": str, **PAGE_SETTINGS})
    if not data.get("name"):
        raise ControlError(400, "name is required")
    if data.get("page_id") and not str(data["page_id"]).isdigit():
        raise ControlError(400, "page_id must be digits")
    if data.get("access_token") and state.page_by_token(data["access_token"]):
        raise ControlError(409, "Another page already uses that access_token")
    try:
        page = state.add_page(
            name=data["name"],
            username=data.get("username"),
            page_id=data.get("page_id"),
            access_token=data.get("access_token"),
        )
    except ValueError as exc:
        raise ControlError(409, str(exc)) from None
    settings = {
        k: v for k, v in data.items() if k not in ("name", "username", "page_id", "access_token")
    }
    _apply_page_settings(state, page, settings)
    return page_json(state, page)


@control
async def list_pages(request: Request, state: SandboxState, data: dict[str, Any]) -> Any:
    return {"data": [page_json(state, page) for page in state.pages.values()]}


@control
async def get_page(request: Request, state: SandboxState, data: dict[str, Any]) -> Any:
    return page_json(state, _page(state, request.path_params["page_id"]))


@control
async def update_page(request: Request, state: SandboxState, data: dict[str, Any]) -> Any:
    page = _page(state, request.path_params["page_id"])
    _check(data, PAGE_SETTINGS)
    _apply_page_settings(state, page, dict(data))
    return page_json(state, page)


@control
async def create_post(request: Request, state: SandboxState, data: dict[str, Any]) -> Any:
    page = _page(state, request.path_params["page_id"])
    _check(data, {"message": str})
    post = simulate.create_post(state, page.page_id, data.get("message") or "")
    return asdict(post)


@control
async def policy_enforcement(request: Request, state: SandboxState, data: dict[str, Any]) -> Any:
    page = _page(state, request.path_params["page_id"])
    _check(data, {"action": str, "reason": str})
    action = data.get("action", "warning")
    if action not in ("warning", "block", "unblock"):
        raise ControlError(400, "action must be warning, block or unblock")
    if action != "warning":
        page.restricted = action == "block"
    event = payloads.policy_enforcement_event(
        page.page_id, action, data.get("reason"), state.clock.now_ms()
    )
    state.emit(page.page_id, event)
    return {"events": [event], "restricted": page.restricted}


# -- customers ----------------------------------------------------------------------------------

CUSTOMER_FIELDS: dict[str, Any] = {
    "first_name": str,
    "last_name": str,
    "locale": str,
    "timezone": (int, float),
    "profile_pic": str,
    "has_profile": bool,
    "phone_number": str,
    "blocked": bool,
    "unavailable": bool,
    "thread_owner_app_id": str,
}


@control
async def create_customer(request: Request, state: SandboxState, data: dict[str, Any]) -> Any:
    page = _page(state, request.path_params["page_id"])
    _check(data, {"psid": str, **CUSTOMER_FIELDS})
    if not data.get("first_name"):
        raise ControlError(400, "first_name is required")
    profile = {k: v for k, v in data.items() if v is not None}
    profile.setdefault("last_name", "")
    if profile.get("psid") and not str(profile["psid"]).isdigit():
        raise ControlError(400, "psid must be digits")
    try:
        customer = state.add_customer(page.page_id, **profile)
    except ValueError as exc:
        raise ControlError(409, str(exc)) from None
    return customer_json(state, customer)


@control
async def list_customers(request: Request, state: SandboxState, data: dict[str, Any]) -> Any:
    page = _page(state, request.path_params["page_id"])
    return {"data": [customer_json(state, c) for c in state.customers_of(page.page_id)]}


@control
async def get_customer(request: Request, state: SandboxState, data: dict[str, Any]) -> Any:
    return customer_json(state, _customer(state, request.path_params["psid"]))


@control
async def update_customer(request: Request, state: SandboxState, data: dict[str, Any]) -> Any:
    customer = _customer(state, request.path_params["psid"])
    _check(data, CUSTOMER_FIELDS)
    for key, value in data.items():
        if key == "thread_owner_app_id":
            # The plain switch: no webhook (use .../thread_control for one).
            customer.thread_owner_app_id = None if value in (None, state.app.app_id) else value
        elif value is not None:
            setattr(customer, key, value)
    return customer_json(state, customer)


@control
async def thread(request: Request, state: SandboxState, data: dict[str, Any]) -> Any:
    customer = _customer(state, request.path_params["psid"])
    page = state.pages[customer.page_id]
    items = []
    for message in state.thread(customer.psid):
        item = asdict(message)
        item["from"] = message.sender
        persona = state.personas.get(message.persona_id or "")
        item["persona"] = (
            {
                "id": persona.id,
                "name": persona.name,
                "profile_picture_url": persona.profile_picture_url,
            }
            if persona
            else None
        )
        items.append(item)
    profile = page.messenger_profile
    return {
        "customer": customer_json(state, customer),
        "page": {
            "page_id": page.page_id,
            "name": page.name,
            "username": page.username,
            "get_started": profile.get("get_started"),
            "greeting": profile.get("greeting"),
            "ice_breakers": profile.get("ice_breakers"),
            "persistent_menu": profile.get("persistent_menu"),
        },
        "thread_owner_app_id": customer.thread_owner_app_id or state.app.app_id,
        "typing": customer.typing,
        "message_request": customer.request_state == "pending",
        "items": items,
    }


# -- acting as the customer ---------------------------------------------------------------------


def _actions(request: Request, state: SandboxState) -> simulate.CustomerActions:
    return simulate.CustomerActions(state, _customer(state, request.path_params["psid"]))


@control
async def customer_message(request: Request, state: SandboxState, data: dict[str, Any]) -> Any:
    _check(
        data,
        {
            "text": str,
            "attachments": list,
            "sticker_id": (int, str),
            "quick_reply_payload": str,
            "reply_to_mid": str,
        },
    )
    sticker = data.get("sticker_id")
    if sticker is not None and not str(sticker).isdigit():
        raise ControlError(400, "sticker_id must be a number")
    return _actions(request, state).send_message(
        text=data.get("text"),
        attachments=data.get("attachments"),
        sticker_id=int(sticker) if sticker is not None else None,
        quick_reply_payload=data.get("quick_reply_payload"),
        reply_to_mid=data.get("reply_to_mid"),
    )


@control
async def customer_postback(request: Request, state: SandboxState, data: dict[str, Any]) -> Any:
    _check(data, {"title": str, "payload": str, "referral": dict})
    if not data.get("payload"):
        raise ControlError(400, "payload is required")
    return _actions(request, state).postback(
        title=data.get("title") or "", payload=data["payload"], referral=data.get("referral")
    )


@control
async def customer_open_link(request: Request, state: SandboxState, data: dict[str, Any]) -> Any:
    _check(data, {"ref": str, "is_new_thread": bool})
    return _actions(request, state).open_link(
        ref=data.get("ref") or "", is_new_thread=data.get("is_new_thread")
    )


@control
async def customer_ad_click(request: Request, state: SandboxState, data: dict[str, Any]) -> Any:
    fields = (
        "ad_id",
        "ref",
        "ad_title",
        "photo_url",
        "video_url",
        "post_id",
        "text",
        "postback_payload",
    )
    _check(data, {**dict.fromkeys(fields, str), "is_new_thread": bool})
    if not data.get("ad_id"):
        raise ControlError(400, "ad_id is required")
    return _actions(request, state).ad_click(**{k: v for k, v in data.items() if v is not None})


@control
async def customer_comment(request: Request, state: SandboxState, data: dict[str, Any]) -> Any:
    _check(data, {"message": str, "post_id": str, "parent_id": str, "visitor_post": bool})
    if not data.get("message"):
        raise ControlError(400, "message is required")
    return _actions(request, state).comment(
        message=data["message"],
        post_id=data.get("post_id"),
        parent_id=data.get("parent_id"),
        visitor_post=bool(data.get("visitor_post")),
    )


@control
async def customer_react(request: Request, state: SandboxState, data: dict[str, Any]) -> Any:
    _check(data, {"mid": str, "reaction": str, "emoji": str, "action": str})
    return _actions(request, state).react(
        mid=data.get("mid") or "",
        action=data.get("action") or "react",
        reaction=data.get("reaction"),
        emoji=data.get("emoji"),
    )


@control
async def customer_read(request: Request, state: SandboxState, data: dict[str, Any]) -> Any:
    return _actions(request, state).read()


@control
async def customer_optin(request: Request, state: SandboxState, data: dict[str, Any]) -> Any:
    _check(
        data,
        {
            "type": str,
            "payload": str,
            "title": str,
            "frequency": str,
            "timezone": str,
            "ref": str,
            "user_ref": str,
            "action": str,
            "token": str,
        },
    )
    return _actions(request, state).optin(**{k: v for k, v in data.items() if v is not None})


@control
async def customer_block(request: Request, state: SandboxState, data: dict[str, Any]) -> Any:
    return _actions(request, state).set_blocked(True)


@control
async def customer_unblock(request: Request, state: SandboxState, data: dict[str, Any]) -> Any:
    return _actions(request, state).set_blocked(False)


@control
async def customer_edit(request: Request, state: SandboxState, data: dict[str, Any]) -> Any:
    _check(data, {"mid": str, "text": str})
    if not data.get("mid") or not data.get("text"):
        raise ControlError(400, "mid and text are required")
    return _actions(request, state).edit(mid=data["mid"], text=data["text"])


@control
async def customer_accept(request: Request, state: SandboxState, data: dict[str, Any]) -> Any:
    return _actions(request, state).accept_request()


@control
async def customer_thread_control(
    request: Request, state: SandboxState, data: dict[str, Any]
) -> Any:
    _check(data, {"action": str, "app_id": str, "owner_app_id": str, "metadata": str})
    options = {k: v for k, v in data.items() if v is not None}
    owner = options.pop("owner_app_id", None)
    if owner is not None:
        # Shorthand: make ``owner`` the owner (it takes the thread, or hands it back to us).
        if owner == state.app.app_id:
            customer = _customer(state, request.path_params["psid"])
            if state.owned_by_us(customer):
                return {"events": [], "thread_owner_app_id": owner}
            options.update(action="pass", app_id=customer.thread_owner_app_id or "")
        else:
            options.update(action="take", app_id=owner)
    options.setdefault("action", "take")
    return _actions(request, state).thread_control(**options)


@control
async def customer_page_reply(request: Request, state: SandboxState, data: dict[str, Any]) -> Any:
    _check(data, {"text": str, "app_id": str})
    if not data.get("text"):
        raise ControlError(400, "text is required")
    options = {k: v for k, v in data.items() if v is not None}
    return _actions(request, state).page_reply(**options)


def _customer_routes() -> list[Route]:
    actions: list[tuple[str, Endpoint]] = [
        ("messages", customer_message),
        ("postback", customer_postback),
        ("open_link", customer_open_link),
        ("ad_click", customer_ad_click),
        ("comment", customer_comment),
        ("react", customer_react),
        ("read", customer_read),
        ("optin", customer_optin),
        ("block", customer_block),
        ("unblock", customer_unblock),
        ("edit", customer_edit),
        ("accept_request", customer_accept),
        ("thread_control", customer_thread_control),
        ("page_reply", customer_page_reply),
    ]
    return [
        Route(f"/_sandbox/customers/{{psid}}/{name}", fn, methods=["POST"]) for name, fn in actions
    ]


routes: list[Route] = [
    Route("/_sandbox/app", get_app, methods=["GET"]),
    Route("/_sandbox/app", set_app, methods=["POST"]),
    Route("/_sandbox/config", get_config, methods=["GET"]),
    Route("/_sandbox/config", set_config, methods=["PATCH", "POST"]),
    Route("/_sandbox/clock", get_clock, methods=["GET"]),
    Route("/_sandbox/clock", set_clock, methods=["POST"]),
    Route("/_sandbox/deliveries", list_deliveries, methods=["GET"]),
    Route("/_sandbox/deliveries", clear_deliveries, methods=["DELETE"]),
    Route("/_sandbox/flush", flush, methods=["POST"]),
    Route("/_sandbox/reset", reset, methods=["POST"]),
    Route("/_sandbox/state", dump_state, methods=["GET"]),
    Route("/_sandbox/pages", list_pages, methods=["GET"]),
    Route("/_sandbox/pages", create_page, methods=["POST"]),
    Route("/_sandbox/pages/{page_id}", get_page, methods=["GET"]),
    Route("/_sandbox/pages/{page_id}", update_page, methods=["PATCH"]),
    Route("/_sandbox/pages/{page_id}/customers", list_customers, methods=["GET"]),
    Route("/_sandbox/pages/{page_id}/customers", create_customer, methods=["POST"]),
    Route("/_sandbox/pages/{page_id}/posts", create_post, methods=["POST"]),
    Route("/_sandbox/pages/{page_id}/policy_enforcement", policy_enforcement, methods=["POST"]),
    Route("/_sandbox/customers/{psid}", get_customer, methods=["GET"]),
    Route("/_sandbox/customers/{psid}", update_customer, methods=["PATCH"]),
    Route("/_sandbox/customers/{psid}/thread", thread, methods=["GET"]),
    *_customer_routes(),
]
