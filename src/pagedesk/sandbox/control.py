"""The ``/_sandbox/`` control API: the app, delivery config, clock, delivery log and
pages. Customers and their actions live in :mod:`control_customers`."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from pagedesk.sandbox import control_groups, media, payloads, simulate
from pagedesk.sandbox.control_base import (
    check_fields,
    check_range,
    control,
    find_page,
    page_json,
)
from pagedesk.sandbox.control_customers import customer_routes
from pagedesk.sandbox.delivery import WebhookDispatcher, verify_callback
from pagedesk.sandbox.errors import PAGE_INBOX_APP_ID, ControlError
from pagedesk.sandbox.models import WEBHOOK_FIELDS, DeliveryConfig, Page
from pagedesk.sandbox.state import SandboxState

# -- app, config, clock, deliveries ------------------------------------------------------


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
    check_fields(
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
    check_fields(
        data,
        {
            "batch_max_events": int,
            "batch_window_ms": int,
            "duplicate_rate": number,
            "reorder": bool,
            "retry_max_attempts": int,
            "retry_initial_delay": number,
            "timeout_seconds": number,
            "media_url_ttl_seconds": number,
        },
    )
    check_range(data, "batch_max_events", 1, 1000)
    check_range(data, "batch_window_ms", 0, 60_000)
    check_range(data, "duplicate_rate", 0, 1)
    check_range(data, "retry_max_attempts", 1, 20)
    check_range(data, "retry_initial_delay", 0, 60)
    check_range(data, "timeout_seconds", 0.01, 60)
    check_range(data, "media_url_ttl_seconds", 1, 30 * 86400)
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
    check_fields(data, {"advance_seconds": (int, float), "set": (int, float)})
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
async def list_sends(request: Request, state: SandboxState, data: dict[str, Any]) -> Any:
    since = int(request.query_params.get("since", "0") or 0)
    return {"data": [record for record in state.sends if record["id"] > since]}


@control
async def clear_sends(request: Request, state: SandboxState, data: dict[str, Any]) -> Any:
    state.sends.clear()
    return {"success": True}


@control
async def flush(request: Request, state: SandboxState, data: dict[str, Any]) -> Any:
    check_fields(data, {"timeout": (int, float)})
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


# -- pages -------------------------------------------------------------------------------

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
    "slow_next_sends": int,
    "slow_send_seconds": (int, float),
    "slow_sends_deliver": bool,
    "allowed_tags": list,
}


def _apply_page_settings(state: SandboxState, page: Page, data: dict[str, Any]) -> None:
    check_range(data, "rate_limit_per_second", 0.001, 1_000_000)
    check_range(data, "fail_next_sends", 0, 1_000_000)
    check_range(data, "slow_next_sends", 0, 1_000_000)
    check_range(data, "slow_send_seconds", 0, 600)
    tags = data.get("allowed_tags")
    if tags is not None and not all(isinstance(tag, str) for tag in tags):
        raise ControlError(400, "allowed_tags must be a list of tag names")
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
    check_fields(data, {"page_id": str, **PAGE_SETTINGS})
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
    return page_json(state, find_page(state, request.path_params["page_id"]))


@control
async def update_page(request: Request, state: SandboxState, data: dict[str, Any]) -> Any:
    page = find_page(state, request.path_params["page_id"])
    check_fields(data, PAGE_SETTINGS)
    _apply_page_settings(state, page, dict(data))
    return page_json(state, page)


@control
async def create_post(request: Request, state: SandboxState, data: dict[str, Any]) -> Any:
    page = find_page(state, request.path_params["page_id"])
    check_fields(data, {"message": str})
    post = simulate.create_post(state, page.page_id, data.get("message") or "")
    return asdict(post)


@control
async def policy_enforcement(request: Request, state: SandboxState, data: dict[str, Any]) -> Any:
    page = find_page(state, request.path_params["page_id"])
    check_fields(data, {"action": str, "reason": str})
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


@control
async def app_roles(request: Request, state: SandboxState, data: dict[str, Any]) -> Any:
    """Meta changed the apps' roles on the page: an ``app_roles`` event (no sender)."""
    page = find_page(state, request.path_params["page_id"])
    check_fields(data, {"roles": dict})
    roles = data.get("roles") or {
        state.app.app_id: ["primary_receiver"],
        PAGE_INBOX_APP_ID: ["secondary_receiver"],
    }
    event = payloads.app_roles_event(page.page_id, roles, state.clock.now_ms())
    state.emit(page.page_id, event)
    return {"events": [event]}


routes: list[Route] = [
    Route("/_sandbox/app", get_app, methods=["GET"]),
    Route("/_sandbox/app", set_app, methods=["POST"]),
    Route("/_sandbox/config", get_config, methods=["GET"]),
    Route("/_sandbox/config", set_config, methods=["PATCH", "POST"]),
    Route("/_sandbox/clock", get_clock, methods=["GET"]),
    Route("/_sandbox/clock", set_clock, methods=["POST"]),
    Route("/_sandbox/deliveries", list_deliveries, methods=["GET"]),
    Route("/_sandbox/deliveries", clear_deliveries, methods=["DELETE"]),
    Route("/_sandbox/sends", list_sends, methods=["GET"]),
    Route("/_sandbox/sends", clear_sends, methods=["DELETE"]),
    Route("/_sandbox/flush", flush, methods=["POST"]),
    Route("/_sandbox/reset", reset, methods=["POST"]),
    Route("/_sandbox/state", dump_state, methods=["GET"]),
    Route("/_sandbox/pages", list_pages, methods=["GET"]),
    Route("/_sandbox/pages", create_page, methods=["POST"]),
    Route("/_sandbox/pages/{page_id}", get_page, methods=["GET"]),
    Route("/_sandbox/pages/{page_id}", update_page, methods=["PATCH"]),
    Route("/_sandbox/pages/{page_id}/posts", create_post, methods=["POST"]),
    Route("/_sandbox/pages/{page_id}/policy_enforcement", policy_enforcement, methods=["POST"]),
    Route("/_sandbox/pages/{page_id}/app_roles", app_roles, methods=["POST"]),
    *customer_routes(),
    *control_groups.routes,
    *media.routes,
]
