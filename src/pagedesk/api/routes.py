"""Read endpoints. Views only hand the token's workspace and the parameters to a
selector; filtering, pagination and tenant checks live in ``inbox.selectors``."""

from __future__ import annotations

from typing import Any

from ninja import Query, Router

from pagedesk.api.auth import ApiRequest
from pagedesk.api.schemas import (
    ContactOut,
    ConversationDetailOut,
    ConversationFilters,
    ConversationPage,
    ErrorOut,
    MessagePage,
    PageParams,
    ValidationErrorOut,
)
from pagedesk.inbox import selectors
from pagedesk.inbox.models import Contact, Conversation

router = Router()

_ERRORS: dict[int, Any] = {401: ErrorOut, 422: ValidationErrorOut}
_ERRORS_404: dict[int, Any] = {**_ERRORS, 404: ErrorOut}


@router.get(
    "/conversations",
    response={200: ConversationPage, **_ERRORS},
    operation_id="listConversations",
    tags=["conversations"],
)
def list_conversations(request: ApiRequest, filters: Query[ConversationFilters]) -> dict[str, Any]:
    """Conversations, most recently updated first, one page at a time."""
    page = selectors.conversation_list(workspace=request.workspace, **filters.selector_kwargs())
    return {"data": page.items, "next_cursor": page.next_cursor}


@router.get(
    "/conversations/{conversation_id}",
    response={200: ConversationDetailOut, **_ERRORS_404},
    operation_id="getConversation",
    tags=["conversations"],
)
def get_conversation(request: ApiRequest, conversation_id: int) -> Conversation:
    """One conversation, with the participants of a group thread."""
    return selectors.conversation_get(workspace=request.workspace, conversation_id=conversation_id)


@router.get(
    "/conversations/{conversation_id}/messages",
    response={200: MessagePage, **_ERRORS_404},
    operation_id="listMessages",
    tags=["conversations"],
)
def list_messages(
    request: ApiRequest, conversation_id: int, params: Query[PageParams]
) -> dict[str, Any]:
    """A conversation's messages, oldest first, one page at a time."""
    page = selectors.message_list(
        workspace=request.workspace,
        conversation_id=conversation_id,
        cursor=params.cursor,
        limit=params.limit,
    )
    return {"data": page.items, "next_cursor": page.next_cursor}


@router.get(
    "/contacts/{contact_id}",
    response={200: ContactOut, **_ERRORS_404},
    operation_id="getContact",
    tags=["contacts"],
)
def get_contact(request: ApiRequest, contact_id: int) -> Contact:
    """One contact: profile, reachability and how they came to the page."""
    return selectors.contact_get(workspace=request.workspace, contact_id=contact_id)
