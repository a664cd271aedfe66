"""Control API, customer side: create and inspect customers, and act as them."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from pagedesk.sandbox import media, simulate
from pagedesk.sandbox.control_base import (
    Endpoint,
    check_fields,
    check_range,
    control,
    customer_json,
    find_customer,
    find_page,
    thread_items,
)
from pagedesk.sandbox.errors import ControlError
from pagedesk.sandbox.state import SandboxState

# -- customers ---------------------------------------------------------------------------

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
    page = find_page(state, request.path_params["page_id"])
    check_fields(data, {"psid": str, **CUSTOMER_FIELDS})
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
    return customer_json(state, customer, media.links(request, state))


@control
async def list_customers(request: Request, state: SandboxState, data: dict[str, Any]) -> Any:
    page = find_page(state, request.path_params["page_id"])
    links = media.links(request, state)
    return {"data": [customer_json(state, c, links) for c in state.customers_of(page.page_id)]}


@control
async def get_customer(request: Request, state: SandboxState, data: dict[str, Any]) -> Any:
    customer = find_customer(state, request.path_params["psid"])
    return customer_json(state, customer, media.links(request, state))


@control
async def update_customer(request: Request, state: SandboxState, data: dict[str, Any]) -> Any:
    customer = find_customer(state, request.path_params["psid"])
    check_fields(data, CUSTOMER_FIELDS)
    for key, value in data.items():
        if key == "thread_owner_app_id":
            # The plain switch: no webhook (use .../thread_control for one).
            customer.thread_owner_app_id = None if value in (None, state.app.app_id) else value
        elif value is not None:
            setattr(customer, key, value)
    return customer_json(state, customer, media.links(request, state))


@control
async def thread(request: Request, state: SandboxState, data: dict[str, Any]) -> Any:
    customer = find_customer(state, request.path_params["psid"])
    page = state.pages[customer.page_id]
    items = thread_items(state, state.thread(customer.psid))
    profile = page.messenger_profile
    return {
        "customer": customer_json(state, customer, media.links(request, state)),
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


# -- acting as the customer --------------------------------------------------------------


def _actions(request: Request, state: SandboxState) -> simulate.CustomerActions:
    customer = find_customer(state, request.path_params["psid"])
    return simulate.CustomerActions(state, customer, media.links(request, state))


@control
async def customer_message(request: Request, state: SandboxState, data: dict[str, Any]) -> Any:
    check_fields(
        data,
        {
            "text": str,
            "attachments": list,
            "sticker_id": (int, str),
            "quick_reply_payload": str,
            "reply_to_mid": str,
            "count": int,
        },
    )
    check_range(data, "count", 1, simulate.MAX_BURST)
    sticker = data.get("sticker_id")
    if sticker is not None and not str(sticker).isdigit():
        raise ControlError(400, "sticker_id must be a number")
    options: dict[str, Any] = {
        "attachments": data.get("attachments"),
        "sticker_id": int(sticker) if sticker is not None else None,
        "quick_reply_payload": data.get("quick_reply_payload"),
        "reply_to_mid": data.get("reply_to_mid"),
    }
    actions = _actions(request, state)
    if data.get("count") is not None:
        return actions.send_burst(data["count"], text=data.get("text"), **options)
    return actions.send_message(text=data.get("text"), **options)


@control
async def customer_postback(request: Request, state: SandboxState, data: dict[str, Any]) -> Any:
    check_fields(data, {"title": str, "payload": str, "referral": dict})
    if not data.get("payload"):
        raise ControlError(400, "payload is required")
    return _actions(request, state).postback(
        title=data.get("title") or "", payload=data["payload"], referral=data.get("referral")
    )


@control
async def customer_open_link(request: Request, state: SandboxState, data: dict[str, Any]) -> Any:
    check_fields(data, {"ref": str, "is_new_thread": bool})
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
    check_fields(data, {**dict.fromkeys(fields, str), "is_new_thread": bool})
    if not data.get("ad_id"):
        raise ControlError(400, "ad_id is required")
    return _actions(request, state).ad_click(**{k: v for k, v in data.items() if v is not None})


@control
async def customer_comment(request: Request, state: SandboxState, data: dict[str, Any]) -> Any:
    check_fields(data, {"message": str, "post_id": str, "parent_id": str, "visitor_post": bool})
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
    check_fields(data, {"mid": str, "reaction": str, "emoji": str, "action": str})
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
    check_fields(
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
    check_fields(data, {"mid": str, "text": str})
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
    check_fields(data, {"action": str, "app_id": str, "owner_app_id": str, "metadata": str})
    options = {k: v for k, v in data.items() if v is not None}
    owner = options.pop("owner_app_id", None)
    if owner is not None:
        # Shorthand: make ``owner`` the owner (it takes the thread, or hands it back to us).
        if owner == state.app.app_id:
            customer = find_customer(state, request.path_params["psid"])
            if state.owned_by_us(customer):
                return {"events": [], "thread_owner_app_id": owner}
            options.update(action="pass", app_id=customer.thread_owner_app_id or "")
        else:
            options.update(action="take", app_id=owner)
    options.setdefault("action", "take")
    return _actions(request, state).thread_control(**options)


@control
async def customer_page_reply(request: Request, state: SandboxState, data: dict[str, Any]) -> Any:
    check_fields(data, {"text": str, "app_id": str})
    if not data.get("text"):
        raise ControlError(400, "text is required")
    options = {k: v for k, v in data.items() if v is not None}
    return _actions(request, state).page_reply(**options)


def customer_routes() -> list[Route]:
    """Customer CRUD, the thread view, then one POST route per customer action."""
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
    crud = [
        Route("/_sandbox/pages/{page_id}/customers", list_customers, methods=["GET"]),
        Route("/_sandbox/pages/{page_id}/customers", create_customer, methods=["POST"]),
        Route("/_sandbox/customers/{psid}", get_customer, methods=["GET"]),
        Route("/_sandbox/customers/{psid}", update_customer, methods=["PATCH"]),
        Route("/_sandbox/customers/{psid}/thread", thread, methods=["GET"]),
    ]
    return crud + [
        Route(f"/_sandbox/customers/{{psid}}/{name}", fn, methods=["POST"]) for name, fn in actions
    ]
