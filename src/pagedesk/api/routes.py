"""Read endpoints. Views only hand the token's workspace and the parameters to a
selector; filtering, pagination and tenant checks live in ``inbox.selectors``."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
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


@router.get(
    "/attachments/{attachment_id}/file",
    response={200: None, **_ERRORS_404},
    operation_id="downloadAttachment",
    tags=["conversations"],
)
def download_attachment(request: ApiRequest, attachment_id: int) -> HttpResponse:
    """The stored copy of a customer's attachment (Meta's own URLs expire)."""
    attachment = selectors.attachment_file_get(
        workspace=request.workspace, attachment_id=attachment_id
    )
    # At most 25 MB (Meta's limit, checked on download): one read, no sync iterator
    # for the ASGI handler to adapt.
    with attachment.file.open("rb") as stored:
        response = HttpResponse(stored.read(), content_type=attachment.content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Disposition"] = "attachment"
    return response


from pagedesk.api import routes_write  # noqa: E402, F401  (write routes join this router)
