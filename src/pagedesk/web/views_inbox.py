"""The inbox: the conversation list, one conversation, and the writes an agent makes.

Views stay thin: reads go through ``pagedesk.web.selectors``, writes through the
inbox's actions (imported when called, so these pages load before they exist).
With htmx a write answers with the refreshed conversation pane and tells the list
to refresh itself; without JavaScript it redirects back to the conversation.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from pagedesk.core.errors import PagedeskError
from pagedesk.inbox.models import Attachment, Conversation
from pagedesk.web import actions as web_actions
from pagedesk.web import presenters, selectors
from pagedesk.web.forms import (
    AssignForm,
    AttributeForm,
    CannedReplyForm,
    ComposerForm,
    InboxFilterForm,
    LabelsForm,
    StatusForm,
    upload_type,
)
from pagedesk.web.models import OutboundUpload
from pagedesk.web.workspace import MANAGER_ROLES, Current, member_required

LIST_CHANGED = "inbox-changed"
PANE = "pane"


# --- reads ---------------------------------------------------------------------------


@require_GET
@member_required
def inbox(request: HttpRequest) -> HttpResponse:
    return _page(request, conversation=None)


@require_GET
@member_required
def inbox_list(request: HttpRequest) -> HttpResponse:
    """The list alone: refreshed after a write, and "load more" pages."""
    context = _list_context(request, selected_id=_int(request.GET.get("selected")))
    template = "pagedesk/inbox/_rows.html" if context["cursor"] else "pagedesk/inbox/_list.html"
    return render(request, template, context)


@require_GET
@member_required
def conversation(request: HttpRequest, pk: int) -> HttpResponse:
    current = _current(request)
    found = selectors.conversation_get(viewer=current.membership, conversation_id=pk)
    if found.unread_count:
        _actions().do_mark_read(conversation=found, actor=request.user)
    if _wants_pane(request):
        response = render(request, "pagedesk/inbox/_conversation.html", _pane(request, found))
    else:
        response = _page(request, conversation=found)
    patch_vary_headers(response, ("HX-Request",))
    return response


@require_GET
@member_required
def attachment(request: HttpRequest, pk: int) -> HttpResponse:
    """A stored attachment, for members of its workspace only.

    Raster images are shown inline; everything else downloads. ``nosniff`` and a
    sandboxing CSP keep a hostile file from running as a page of this site.
    """
    found = selectors.attachment_get(viewer=_current(request).membership, attachment_id=pk)
    # At most 25 MB (checked when downloaded): read at once, like the API does.
    try:
        with found.file.open("rb") as stored:
            body = stored.read()
    except OSError:  # the row says stored, the file is gone (restored backup, …)
        raise Http404 from None
    inline = presenters.is_inline_image(found)
    content_type = found.content_type if inline else "application/octet-stream"
    response = HttpResponse(body, content_type=content_type)
    name = found.file.name.rsplit("/", 1)[-1]
    disposition = "inline" if inline else "attachment"
    response["Content-Disposition"] = f'{disposition}; filename="{_ascii(name)}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, max-age=3600"
    return response


# --- writes ------------------------------------------------------------------------


@require_POST
@member_required
def compose(request: HttpRequest, pk: int) -> HttpResponse:
    """Send a reply, or add an internal note (never sent) when the note box is ticked.

    A reply may carry quick replies and one uploaded file; text and file go out as
    two messages (Messenger's rule), the quick replies with the last of them.
    """
    found = _conversation(request, pk)
    form = ComposerForm(request.POST, request.FILES)
    if not form.is_valid():
        return _after_write(request, found, form=form)
    data = form.cleaned_data
    text = data["text"]
    try:
        actions = _actions()
        if data["note"]:
            actions.do_add_note(conversation=found, author=request.user, text=text)
        else:
            _send(request, found, form)
    except PagedeskError as exc:
        return _after_write(request, found, form=form, error=exc.message)
    return _after_write(request, found)


def _send(request: HttpRequest, found: Conversation, form: ComposerForm) -> None:
    data = form.cleaned_data
    send = _actions().do_send_message
    tag = "HUMAN_AGENT" if data["human_agent"] else None
    quick = data["quick_replies"] or None
    upload = data["attachment"]
    if upload is None:
        send(
            conversation=found, author=request.user, text=data["text"], tag=tag, quick_replies=quick
        )
        return
    stored = web_actions.do_store_outbound_upload(
        workspace=_current(request).workspace,
        upload=upload,
        content_type=upload.content_type.split(";", 1)[0].strip().lower(),
        author=request.user,
    )
    url = request.build_absolute_uri(
        reverse("web:outbound-media", args=[stored.token, stored.name])
    )
    try:
        if data["text"].strip():
            send(conversation=found, author=request.user, text=data["text"], tag=tag)
        send(
            conversation=found,
            author=request.user,
            attachment_url=url,
            attachment_type=upload_type(upload),
            tag=tag,
            quick_replies=quick,
        )
    except PagedeskError:
        if not Attachment.objects.filter(url=url).exists():
            web_actions.do_discard_outbound_upload(upload=stored)
        raise


@require_POST
@member_required
def typing(request: HttpRequest, pk: int) -> HttpResponse:
    """The agent is typing: show the customer "typing…" (throttled, best effort)."""
    found = _conversation(request, pk)
    from pagedesk.delivery.typing import do_signal_typing

    do_signal_typing(conversation=found)
    return HttpResponse(status=204)


def outbound_media(request: HttpRequest, token: str, name: str) -> HttpResponse:
    """A file an agent attached to a reply, served without signing in.

    Meta fetches the attachment from this URL when the message is sent, so it must
    be public; the random token in the path is what keeps it private. Only files
    recorded in ``OutboundUpload`` are served, and never as a page of this site.
    """
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    upload = OutboundUpload.objects.filter(token=token, name=name).first()
    if upload is None:
        raise Http404
    try:
        body = upload.file.open("rb")
    except OSError:
        raise Http404 from None
    response = FileResponse(body, content_type=upload.content_type)
    response["Content-Disposition"] = f'inline; filename="{_ascii(upload.name)}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "public, max-age=86400"
    return response


# --- canned replies ----------------------------------------------------------------


@member_required
def canned_replies(request: HttpRequest) -> HttpResponse:
    """Everyone sees the workspace's canned replies; owners and admins add them."""
    current = _current(request)
    form = CannedReplyForm()
    if request.method == "POST":
        if not current.can_manage:
            raise PermissionDenied
        form = CannedReplyForm(request.POST)
        if form.is_valid():
            try:
                web_actions.do_add_canned_reply(
                    workspace=current.workspace,
                    shortcut=form.cleaned_data["shortcut"],
                    text=form.cleaned_data["text"],
                    author=request.user,
                )
            except PagedeskError as exc:
                form.add_error("shortcut", exc.message)
            else:
                messages.success(request, _("Canned reply saved."))
                return redirect("web:canned-replies")
    elif request.method != "GET":
        return HttpResponseNotAllowed(["GET", "POST"])
    return render(
        request,
        "pagedesk/inbox/canned.html",
        {
            "replies": selectors.canned_replies(workspace=current.workspace),
            "form": form,
            "can_manage": current.can_manage,
        },
    )


@require_POST
@member_required(roles=MANAGER_ROLES)
def canned_reply_delete(request: HttpRequest, pk: int) -> HttpResponse:
    reply = selectors.canned_reply_get(workspace=_current(request).workspace, reply_id=pk)
    if reply is None:
        raise Http404
    web_actions.do_delete_canned_reply(reply=reply)
    messages.success(request, _("Canned reply deleted."))
    return redirect("web:canned-replies")


@require_POST
@member_required
def assign(request: HttpRequest, pk: int) -> HttpResponse:
    """Set the assignee and the team. Agents may only take a conversation or let it go."""
    current = _current(request)
    found = _conversation(request, pk)
    form = AssignForm(request.POST)
    form.is_valid()
    changes: dict[str, Any] = {}
    if "assignee" in request.POST:
        assignee = _assignee(current, form.cleaned_data.get("assignee", ""), request)
        if assignee != found.assignee:
            if not current.can_manage and assignee not in (None, request.user):
                raise PermissionDenied
            changes["assignee"] = assignee
    if "team" in request.POST:
        team_id = _int(form.cleaned_data.get("team"))
        team = (
            None
            if team_id is None
            else _or_404(selectors.team_get, workspace=current.workspace, team_id=team_id)
        )
        if team != found.team:
            changes["team"] = team
    return _update(request, found, changes)


@require_POST
@member_required
def labels(request: HttpRequest, pk: int) -> HttpResponse:
    """Set the conversation's labels; owners and admins may also create a new one."""
    current = _current(request)
    found = _conversation(request, pk)
    form = LabelsForm(request.POST)
    if not form.is_valid():
        return _after_write(request, found, error=_("Pick labels from the list."))
    chosen = _or_404(
        selectors.labels_by_ids, workspace=current.workspace, ids=form.cleaned_data["labels"]
    )
    new_name = form.cleaned_data["new_label"]
    if new_name:
        existing = selectors.label_named(workspace=current.workspace, name=new_name)
        if existing is None and not current.can_manage:
            raise PermissionDenied
        # A name the workspace does not have yet is created by the action.
        chosen = [*chosen, existing or new_name]
    return _update(request, found, {"labels": chosen})


@require_POST
@member_required
def retry(request: HttpRequest, pk: int, message_pk: int) -> HttpResponse:
    """Send a failed reply again (the action says why when it may not)."""
    found = _conversation(request, pk)
    message = found.messages.filter(pk=message_pk).first() if _int(message_pk) else None
    if message is None:
        raise Http404
    try:
        _actions().do_retry_message(message=message, actor=request.user)
    except PagedeskError as exc:
        return _after_write(request, found, error=exc.message)
    return _after_write(request, found)


@require_POST
@member_required(roles=MANAGER_ROLES)
def allow_tagged(request: HttpRequest, pk: int) -> HttpResponse:
    """Lift the stop on tagged messages after Meta's tag-misuse warning."""
    found = _conversation(request, pk)
    _actions().do_allow_tagged_sends(contact=found.contact, actor=request.user)
    return _after_write(request, found)


@require_POST
@member_required
def contact_attributes(request: HttpRequest, pk: int) -> HttpResponse:
    """Add, change or remove one custom attribute of the conversation's contact."""
    found = _conversation(request, pk)
    form = AttributeForm(request.POST)
    if not form.is_valid():
        return _after_write(request, found, error=_("An attribute needs a name."))
    data = form.cleaned_data
    value = None if data["remove"] else data["value"]
    try:
        _actions().do_set_contact_attributes(
            contact=found.contact, actor=request.user, changes={data["key"]: value}
        )
    except PagedeskError as exc:
        return _after_write(request, found, error=exc.message)
    return _after_write(request, found)


@require_POST
@member_required
def set_status(request: HttpRequest, pk: int) -> HttpResponse:
    found = _conversation(request, pk)
    form = StatusForm(request.POST)
    if not form.is_valid():
        return _after_write(request, found, error=_("Unknown status."))
    return _update(request, found, {"status": form.cleaned_data["status"]})


def _update(request: HttpRequest, found: Conversation, changes: dict[str, Any]) -> HttpResponse:
    if changes:
        try:
            found = _actions().do_update_conversation(
                conversation=found, actor=request.user, **changes
            )
        except PagedeskError as exc:
            return _after_write(request, found, error=exc.message)
    return _after_write(request, found)


def _after_write(
    request: HttpRequest,
    found: Conversation,
    *,
    form: ComposerForm | None = None,
    error: str = "",
) -> HttpResponse:
    """htmx: the refreshed pane (and a nudge for the list); otherwise back to the page."""
    if not _wants_pane(request):
        if error:
            messages.error(request, error)
        elif form is not None:
            for problems in form.errors.values():
                for problem in problems:
                    messages.error(request, problem)
        return redirect(_conversation_url(found, request.GET.urlencode()))
    fresh = selectors.conversation_get(
        viewer=_current(request).membership, conversation_id=found.pk
    )
    response = render(
        request, "pagedesk/inbox/_conversation.html", _pane(request, fresh, form=form, error=error)
    )
    response["HX-Trigger"] = LIST_CHANGED
    return response


# --- context -----------------------------------------------------------------------


def _page(request: HttpRequest, *, conversation: Conversation | None) -> HttpResponse:
    context = _list_context(request, selected_id=conversation.pk if conversation else None)
    if conversation is not None:
        # The list has read the workspace's teams and labels already.
        context.update(
            _pane(request, conversation, teams=context["teams"], labels=context["all_labels"])
        )
    return render(request, "pagedesk/inbox/inbox.html", context)


def _list_context(request: HttpRequest, *, selected_id: int | None) -> dict[str, Any]:
    current = _current(request)
    filters, cursor = InboxFilterForm.parse(request.GET)
    page = selectors.inbox_page(viewer=current.membership, filters=filters, cursor=cursor or None)
    query = filters.query()
    encoded = urlencode(query)
    return {
        "filters": filters,
        "query": encoded,
        "tab_links": [
            (tab, urlencode({**query, "tab": tab}), label)
            for tab, label in (
                ("mine", _("Mine")),
                ("unassigned", _("Unassigned")),
                ("all", _("All")),
                ("done", _("Done")),
            )
        ],
        "counts": selectors.tab_counts(viewer=current.membership),
        "rows": presenters.list_rows(
            page.rows, labels=page.labels, query=encoded, selected_id=selected_id
        ),
        "next_query": urlencode({**query, "cursor": page.next_cursor}) if page.next_cursor else "",
        "cursor": cursor,
        "selected_id": selected_id,
        "channels": selectors.visible_channels(viewer=current.membership),
        "teams": selectors.teams(workspace=current.workspace),
        "sources": presenters.source_choices(),
        "all_labels": selectors.labels(workspace=current.workspace),
    }


def _pane(
    request: HttpRequest,
    found: Conversation,
    *,
    form: ComposerForm | None = None,
    error: str = "",
    teams: list[Any] | None = None,
    labels: list[Any] | None = None,
) -> dict[str, Any]:
    current = _current(request)
    workspace = current.workspace
    story = selectors.thread(workspace=workspace, conversation=found)
    composer = selectors.composer_info(conversation=found)
    if form is None:
        form = ComposerForm(initial={"human_agent": not composer.window_open})
    filters, _cursor = InboxFilterForm.parse(request.GET)
    return {
        "conversation": found,
        "contact": found.contact,
        "items": presenters.thread_items(story.messages, story.notes),
        "truncated": story.truncated,
        "composer": composer,
        "form": form,
        "error": error,
        "members": selectors.members(workspace=workspace),
        "teams": selectors.teams(workspace=workspace) if teams is None else teams,
        "labels": selectors.labels(workspace=workspace) if labels is None else labels,
        "applied_labels": {label.pk for label in found.labels.all()},
        "others": selectors.other_conversations(viewer=current.membership, conversation=found),
        "can_manage": current.can_manage,
        "canned": [
            {"shortcut": r.shortcut, "text": r.text}
            for r in selectors.canned_replies(workspace=workspace)
        ],
        "list_query": urlencode(filters.query()),
    }


# --- helpers -----------------------------------------------------------------------


def _current(request: HttpRequest) -> Current:
    return request.current  # type: ignore[attr-defined,no-any-return]


def _conversation(request: HttpRequest, pk: int) -> Conversation:
    return selectors.conversation_get(viewer=_current(request).membership, conversation_id=pk)


def _wants_pane(request: HttpRequest) -> bool:
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and htmx.target == PANE and not htmx.history_restore_request  # type: ignore[union-attr]


def _conversation_url(found: Conversation, query: str = "") -> str:
    url = reverse("web:conversation", args=[found.pk])
    return f"{url}?{query}" if query else url


def _assignee(current: Current, value: str, request: HttpRequest) -> Any:
    if value in ("", None):
        return None
    if value == "me":
        return request.user
    user_id = _int(value)
    if user_id is None:
        raise PermissionDenied
    return _or_404(selectors.member_user, workspace=current.workspace, user_id=user_id)


def _or_404(selector: Any, **kwargs: Any) -> Any:
    try:
        return selector(**kwargs)
    except PagedeskError as exc:
        raise Http404(exc.message) from None


def _int(value: Any) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if 0 < number <= selectors.MAX_ID else None


def _ascii(name: str) -> str:
    return "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in name)


def _actions() -> ModuleType:
    """The inbox's write actions (imported on first use: they pull in delivery)."""
    from pagedesk.inbox import actions

    return actions
