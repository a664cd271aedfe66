"""Shared plumbing of the ``/_sandbox/`` control API: the endpoint decorator, field
checks, lookups and the JSON shapes of pages and customers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import asdict
from functools import wraps
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from pagedesk.sandbox.errors import ControlError, GraphError
from pagedesk.sandbox.httpio import control_error_response, json_response, read_json
from pagedesk.sandbox.media import MediaLinks
from pagedesk.sandbox.models import Customer, GroupThread, Page, ThreadMessage
from pagedesk.sandbox.send_api import window_from, window_state
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
    return request.url.path.endswith(("/pages", "/customers", "/posts", "/groups"))


# -- field checking ----------------------------------------------------------------------


def check_fields(data: dict[str, Any], types: dict[str, Any]) -> dict[str, Any]:
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


def check_range(data: dict[str, Any], key: str, low: float, high: float) -> None:
    if key in data and data[key] is not None and not low <= data[key] <= high:
        raise ControlError(400, f"Field {key} must be between {low} and {high}")


def find_page(state: SandboxState, page_id: str) -> Page:
    page = state.page_by_ref(page_id)
    if page is None:
        raise ControlError(404, f"No page {page_id}")
    return page


def find_customer(state: SandboxState, psid: str) -> Customer:
    customer = state.customers.get(psid)
    if customer is None:
        raise ControlError(404, f"No customer {psid}")
    return customer


def page_json(state: SandboxState, page: Page) -> dict[str, Any]:
    data = asdict(page)
    data["link"] = f"https://m.me/{page.username}"
    data["customer_count"] = len(state.customers_of(page.page_id))
    return data


def find_group(state: SandboxState, thread_id: str) -> GroupThread:
    group = state.groups.get(thread_id)
    if group is None:
        raise ControlError(404, f"No group thread {thread_id}")
    return group


def customer_json(
    state: SandboxState, customer: Customer, media: MediaLinks | None = None
) -> dict[str, Any]:
    data = asdict(customer)
    data["name"] = customer.name
    if not customer.profile_pic and media is not None:
        data["profile_pic"] = media.profile_pic()
    data["thread_owner_app_id"] = customer.thread_owner_app_id or state.app.app_id
    data["window"] = window_state(customer, state.clock.now_ms())
    return data


def group_json(state: SandboxState, group: GroupThread) -> dict[str, Any]:
    data = asdict(group)
    data["window"] = window_from(group.last_interaction_ms, None, state.clock.now_ms())
    return data


def thread_items(state: SandboxState, messages: list[ThreadMessage]) -> list[dict[str, Any]]:
    """Messages as the thread views show them: ``from`` and the persona spelled out."""
    items = []
    for message in messages:
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
    return items
