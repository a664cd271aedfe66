"""Write endpoints: reply, add a note, change status / assignee / team / labels.

Registered on the read router (imported at the bottom of ``routes.py``) because a
path can only belong to one router: ``PATCH /conversations/{id}`` sits beside
``GET /conversations/{id}``. Views resolve emails and names to rows of the token's
workspace and call the inbox actions; every rule lives in the actions.

An API token is an integration, not a person: its messages are automated unless
the body says ``"human": true`` *and* names the member who wrote it in
``agent_email`` (Meta's HUMAN_AGENT tag is only for replies written by a person).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Prefetch
from ninja import Status

from pagedesk.api.auth import ApiRequest
from pagedesk.api.routes import router
from pagedesk.api.schemas import ContactOut, ConversationDetailOut, ErrorOut, MessageOut
from pagedesk.api.schemas_write import (
    ContactPatch,
    ConversationPatch,
    NoteIn,
    NoteOut,
    SendMessageIn,
)
from pagedesk.core.errors import PagedeskError
from pagedesk.core.models import Team, Workspace
from pagedesk.inbox import actions, selectors
from pagedesk.inbox.models import Contact, Conversation, Message, Note

_ERRORS: dict[int, Any] = {401: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}


def _member(workspace: Workspace, email: str, *, field: str) -> Any:
    user = (
        get_user_model()
        .objects.filter(memberships__workspace=workspace, email__iexact=email.strip())
        .first()
    )
    if user is None:
        raise PagedeskError(
            "unknown_member",
            f"{field}: no member of this workspace has the email {email!r}.",
            status=422,
        )
    return user


def _conversation(request: ApiRequest, conversation_id: int) -> Conversation:
    return selectors.conversation_get(workspace=request.workspace, conversation_id=conversation_id)


@router.post(
    "/conversations/{conversation_id}/messages",
    response={201: MessageOut, **_ERRORS},
    operation_id="sendMessage",
    tags=["conversations"],
)
def send_message(request: ApiRequest, conversation_id: int, body: SendMessageIn) -> Status[Message]:
    """Queue a message to the customer. 201 with the message (status `queued`, then
    `sent`, `delivered`, `read` or `failed` with `failed_reason`); 409 with the policy
    code (e.g. `window_closed`) and what is still allowed when Messenger's rules
    forbid it."""
    conversation = _conversation(request, conversation_id)
    author = None
    if body.human:
        if not body.agent_email:
            raise PagedeskError(
                "agent_required",
                "A human reply needs agent_email: the workspace member who wrote it.",
                status=422,
            )
        author = _member(request.workspace, body.agent_email, field="agent_email")
    elif body.agent_email:
        raise PagedeskError(
            "invalid_request",
            'agent_email names the person behind a human reply; send it with "human": true.',
            status=422,
        )
    message = actions.do_send_message(
        conversation=conversation,
        author=author,
        text=body.text,
        attachment_url=body.attachment.url if body.attachment else None,
        attachment_type=body.attachment.type if body.attachment else None,
        quick_replies=[reply.dict() for reply in body.quick_replies or ()] or None,
        tag=body.tag,
        automated=not body.human,
    )
    return Status(201, message)


@router.post(
    "/conversations/{conversation_id}/notes",
    response={201: NoteOut, **_ERRORS},
    operation_id="addNote",
    tags=["conversations"],
)
def add_note(request: ApiRequest, conversation_id: int, body: NoteIn) -> Status[Note]:
    """An internal note; `@email` or `@username` mentions name workspace members."""
    conversation = _conversation(request, conversation_id)
    author = _member(request.workspace, body.author_email, field="author_email")
    note = actions.do_add_note(conversation=conversation, author=author, text=body.text)
    return Status(
        201,
        Note.objects.select_related("author")
        .prefetch_related(Prefetch("mentions", queryset=get_user_model().objects.order_by("id")))
        .get(pk=note.pk),
    )


@router.patch(
    "/conversations/{conversation_id}",
    response={200: ConversationDetailOut, **_ERRORS},
    operation_id="updateConversation",
    tags=["conversations"],
)
def update_conversation(
    request: ApiRequest, conversation_id: int, body: ConversationPatch
) -> Conversation:
    """Change only the fields given: `status`, `assignee` (an email, `null` to
    unassign), `team` (a name or `null`), `labels` (the full new set)."""
    conversation = _conversation(request, conversation_id)
    given = body.model_fields_set
    changes: dict[str, Any] = {}
    if "status" in given:
        if body.status is None:
            raise PagedeskError("invalid_request", "status: use 'open' or 'done'.", status=422)
        changes["status"] = body.status
    if "assignee" in given:
        changes["assignee"] = (
            None
            if body.assignee is None
            else _member(request.workspace, body.assignee, field="assignee")
        )
    if "team" in given:
        team = None
        if body.team is not None:
            team = Team.objects.filter(workspace=request.workspace, name=body.team).first()
            if team is None:
                raise PagedeskError(
                    "unknown_team", f"team: no team named {body.team!r} here.", status=422
                )
        changes["team"] = team
    if "labels" in given:
        changes["labels"] = body.labels or []
    actions.do_update_conversation(conversation=conversation, actor=None, **changes)
    return _conversation(request, conversation_id)


@router.patch(
    "/contacts/{contact_id}",
    response={200: ContactOut, **_ERRORS},
    operation_id="updateContact",
    tags=["contacts"],
)
def update_contact(request: ApiRequest, contact_id: int, body: ContactPatch) -> Contact:
    """Set or remove custom attributes (`{"attributes": {"plan": "gold", "old": null}}`);
    attributes not named stay as they are."""
    contact = selectors.contact_get(workspace=request.workspace, contact_id=contact_id)
    return actions.do_set_contact_attributes(
        contact=contact, actor=None, changes=dict(body.attributes)
    )


@router.post(
    "/conversations/{conversation_id}/messages/{message_id}/retry",
    response={200: MessageOut, **_ERRORS},
    operation_id="retryMessage",
    tags=["conversations"],
)
def retry_message(request: ApiRequest, conversation_id: int, message_id: int) -> Message:
    """Send a failed reply again. 409 `outcome_unknown` when Meta may already have it
    (never sent twice), `not_retryable` when it did not fail, or the policy code when
    Messenger's rules no longer allow it."""
    conversation = _conversation(request, conversation_id)
    message = conversation.messages.filter(pk=message_id).first()
    if message is None:
        raise PagedeskError("not_found", "No message with this id in the conversation.", status=404)
    return actions.do_retry_message(message=message, actor=None)
