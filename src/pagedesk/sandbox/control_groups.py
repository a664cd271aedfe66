"""Control API, group threads: a group chat with the page's bot and several customers.

Meta does not document the group-thread webhook; the sandbox models it the way pagedesk
files it (a normal ``message`` event plus ``thread.id``), see the README."""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from pagedesk.sandbox import ids, media, simulate
from pagedesk.sandbox.control_base import (
    check_fields,
    control,
    find_group,
    find_page,
    group_json,
    thread_items,
)
from pagedesk.sandbox.errors import ControlError
from pagedesk.sandbox.models import GroupThread
from pagedesk.sandbox.state import SandboxState

THREAD_ID = re.compile(r"^t_\d{1,32}$")
MIN_MEMBERS = 2  # with the page, three participants: a 1:1 chat is not a group
MAX_MEMBERS = 250  # Messenger's group size limit
MAX_TITLE = 100


@control
async def create_group(request: Request, state: SandboxState, data: dict[str, Any]) -> Any:
    page = find_page(state, request.path_params["page_id"])
    check_fields(data, {"title": str, "members": list, "thread_id": str})
    title = (data.get("title") or "").strip()
    if not title or len(title) > MAX_TITLE:
        raise ControlError(400, f"title is required (at most {MAX_TITLE} characters)")
    members = data.get("members") or []
    if not all(isinstance(psid, str) and psid for psid in members):
        raise ControlError(400, "members must be a list of PSIDs (strings)")
    if len(set(members)) != len(members):
        raise ControlError(400, "members has duplicates")
    if not MIN_MEMBERS <= len(members) <= MAX_MEMBERS:
        raise ControlError(400, f"A group needs {MIN_MEMBERS} to {MAX_MEMBERS} members")
    strangers = [
        psid
        for psid in members
        if psid not in state.customers or state.customers[psid].page_id != page.page_id
    ]
    if strangers:
        raise ControlError(
            400, f"Not customers of page {page.page_id}: {', '.join(strangers)}", psids=strangers
        )
    thread_id = data.get("thread_id") or ids.thread_id()
    if not THREAD_ID.match(thread_id):
        raise ControlError(400, "thread_id must look like t_<digits>")
    if thread_id in state.groups:
        raise ControlError(409, f"group thread {thread_id} already exists")
    group = GroupThread(
        thread_id=thread_id,
        page_id=page.page_id,
        title=title,
        members=list(members),
        created_ms=state.clock.now_ms(),
    )
    state.groups[thread_id] = group
    return group_json(state, group)


@control
async def list_groups(request: Request, state: SandboxState, data: dict[str, Any]) -> Any:
    page = find_page(state, request.path_params["page_id"])
    return {"data": [group_json(state, group) for group in state.groups_of(page.page_id)]}


@control
async def get_group(request: Request, state: SandboxState, data: dict[str, Any]) -> Any:
    return group_json(state, find_group(state, request.path_params["thread_id"]))


@control
async def group_thread(request: Request, state: SandboxState, data: dict[str, Any]) -> Any:
    group = find_group(state, request.path_params["thread_id"])
    page = state.pages[group.page_id]
    members = [state.customers[psid] for psid in group.members if psid in state.customers]
    return {
        "group": group_json(state, group),
        "page": {"page_id": page.page_id, "name": page.name, "username": page.username},
        "members": [{"psid": c.psid, "name": c.name} for c in members],
        "typing": group.typing,
        "items": thread_items(state, state.thread(group.thread_id)),
    }


@control
async def group_message(request: Request, state: SandboxState, data: dict[str, Any]) -> Any:
    group = find_group(state, request.path_params["thread_id"])
    check_fields(data, {"psid": str, "text": str, "attachments": list})
    if not data.get("psid"):
        raise ControlError(400, "psid (the member who writes) is required")
    return simulate.group_message(
        state,
        group,
        data["psid"],
        text=data.get("text"),
        attachments=data.get("attachments"),
        media=media.links(request, state),
    )


routes: list[Route] = [
    Route("/_sandbox/pages/{page_id}/groups", list_groups, methods=["GET"]),
    Route("/_sandbox/pages/{page_id}/groups", create_group, methods=["POST"]),
    Route("/_sandbox/groups/{thread_id}", get_group, methods=["GET"]),
    Route("/_sandbox/groups/{thread_id}/thread", group_thread, methods=["GET"]),
    Route("/_sandbox/groups/{thread_id}/messages", group_message, methods=["POST"]),
]
