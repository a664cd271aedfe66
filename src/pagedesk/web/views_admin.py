"""Admin pages under ``/settings/``: members and invites, teams, labels, channels and
personas (owners and admins only), and the invite link everyone can open."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import authenticate, get_user_model, login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from pagedesk.core import actions_admin as admin
from pagedesk.core.actions import do_update_channel_credentials
from pagedesk.core.errors import PagedeskError
from pagedesk.core.models import Channel, Invite, Membership, Team
from pagedesk.delivery.models import Persona
from pagedesk.inbox.models import Label
from pagedesk.messenger.errors import GraphError
from pagedesk.web import forms_admin as forms
from pagedesk.web import workspace as ws

manager_required = ws.member_required(roles=ws.MANAGER_ROLES)

# People read these instead of the actions' English messages.
ERRORS = {
    "invalid_role": gettext_lazy("Pick a role from the list."),
    "owners_only": gettext_lazy("Only an owner can do that."),
    "last_owner": gettext_lazy(
        "A workspace needs at least one owner. Make someone else an owner first."
    ),
    "invalid_email": gettext_lazy("Enter a valid email address."),
    "already_member": gettext_lazy("This person is already a member of the workspace."),
    "unknown_invite": gettext_lazy("This invitation link is not valid. Check the link."),
    "invite_used": gettext_lazy(
        "This invitation was already used. Sign in, or ask an admin for a new link."
    ),
    "invite_expired": gettext_lazy("This invitation has expired. Ask an admin for a new link."),
    "account_exists": gettext_lazy("An account with this email exists already. Sign in instead."),
    "invalid_name": gettext_lazy("Enter a name (not too long)."),
    "name_taken": gettext_lazy("That name is already used in this workspace."),
    "not_a_member": gettext_lazy("That person is not a member of this workspace."),
    "invalid_color": gettext_lazy("A colour looks like #1a2b3c."),
    "invalid_tags": gettext_lazy("Pick message tags from the list."),
    "invalid_url": gettext_lazy("The picture must be an http(s) URL."),
    "persona_exists": gettext_lazy("This agent already has a persona on this page."),
}


def _problem(error: PagedeskError) -> str:
    return str(ERRORS.get(error.code, error.message))


def _current(request: HttpRequest) -> ws.Current:
    return request.current  # type: ignore[attr-defined,no-any-return]


# --- members and invites -------------------------------------------------------------


@manager_required
def settings_home(request: HttpRequest) -> HttpResponse:
    return redirect("web:settings-members")


def _members_page(
    request: HttpRequest, *, form: forms.InviteForm | None = None, link: str = "", status: int = 200
) -> HttpResponse:
    current = _current(request)
    members = (
        Membership.objects.filter(workspace=current.workspace)
        .select_related("user")
        .order_by("user__email", "pk")
    )
    invites = Invite.objects.filter(workspace=current.workspace, accepted_at__isnull=True).order_by(
        "-created_at"
    )
    context = {
        "section": "members",
        "members": members,
        "invites": invites,
        "roles": forms.role_choices(),
        "form": form or forms.InviteForm(),
        "invite_link": link,
    }
    return render(request, "pagedesk/admin/members.html", context, status=status)


@manager_required
def members(request: HttpRequest) -> HttpResponse:
    return _members_page(request)


@manager_required
@require_POST
def member_role(request: HttpRequest, pk: int) -> HttpResponse:
    current = _current(request)
    membership = get_object_or_404(Membership, pk=pk, workspace=current.workspace)
    form = forms.RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, ERRORS["invalid_role"])
        return redirect("web:settings-members")
    try:
        admin.do_change_role(
            actor=current.membership, membership=membership, role=form.cleaned_data["role"]
        )
    except PagedeskError as error:
        messages.error(request, _problem(error))
    else:
        messages.success(request, _("The role was changed."))
    return redirect("web:settings-members")


@manager_required
@require_POST
def member_remove(request: HttpRequest, pk: int) -> HttpResponse:
    current = _current(request)
    membership = get_object_or_404(Membership, pk=pk, workspace=current.workspace)
    try:
        admin.do_remove_member(actor=current.membership, membership=membership)
    except PagedeskError as error:
        messages.error(request, _problem(error))
    else:
        messages.success(request, _("The member was removed."))
    return redirect("web:settings-members")


@manager_required
@require_POST
def invite_create(request: HttpRequest) -> HttpResponse:
    current = _current(request)
    form = forms.InviteForm(request.POST)
    if not form.is_valid():
        return _members_page(request, form=form, status=400)
    try:
        new = admin.do_create_invite(
            actor=current.membership,
            email=form.cleaned_data["email"],
            role=form.cleaned_data["role"],
        )
    except PagedeskError as error:
        form.add_error(None, _problem(error))
        return _members_page(request, form=form, status=400)
    # The link is shown on this response only: its token is not stored anywhere.
    link = request.build_absolute_uri(reverse("web:invite", args=[new.token]))
    return _members_page(request, link=link)


@manager_required
@require_POST
def invite_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    invite = get_object_or_404(Invite, pk=pk, workspace=_current(request).workspace)
    admin.do_revoke_invite(invite=invite)
    messages.success(request, _("The invitation was withdrawn."))
    return redirect("web:settings-members")


# --- accepting an invite (anyone with the link) -------------------------------------


def invite(request: HttpRequest, token: str) -> HttpResponse:
    template = "pagedesk/admin/invite.html"
    try:
        found = admin.find_invite(token)
    except PagedeskError as error:
        return render(request, template, {"problem": _problem(error)}, status=error.status)
    users = get_user_model().objects
    existing = (
        users.filter(username__iexact=found.email).first()
        or users.filter(email__iexact=found.email).first()
    )
    context: dict[str, Any] = {"invite": found, "existing": existing is not None}
    if request.user.is_authenticated:
        context["mode"] = "join"
        if request.method == "POST":
            return _joined(request, token, request.user)
        return render(request, template, context)
    if existing is not None:
        context["mode"] = "sign-in"
        form: Any = forms.InvitePasswordForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            user = authenticate(
                request,
                username=existing.get_username(),
                password=form.cleaned_data["password"],
            )
            if user is not None:
                login(request, user)
                return _joined(request, token, user)
            form.add_error(None, _("That email and password do not match. Try again."))
    else:
        context["mode"] = "new"
        form = forms.NewPasswordForm(request.POST or None, email=found.email)
        if request.method == "POST" and form.is_valid():
            try:
                user, _membership = admin.do_accept_invite_as_new_user(
                    token=token, password=form.cleaned_data["password1"]
                )
            except PagedeskError as error:
                form.add_error(None, _problem(error))
            else:
                login(request, user, backend="django.contrib.auth.backends.ModelBackend")
                return _welcome(request, found)
    context["form"] = form
    return render(request, template, context, status=400 if form.errors else 200)


def _joined(request: HttpRequest, token: str, user: Any) -> HttpResponse:
    try:
        membership = admin.do_accept_invite(token=token, user=user)
    except PagedeskError as error:
        return render(
            request,
            "pagedesk/admin/invite.html",
            {"problem": _problem(error)},
            status=error.status,
        )
    return _welcome(request, membership)


def _welcome(request: HttpRequest, joined: Invite | Membership) -> HttpResponse:
    ws.switch(request, joined.workspace_id)
    messages.success(request, _("Welcome to %(workspace)s.") % {"workspace": joined.workspace.name})
    return redirect("web:inbox")


# --- teams ---------------------------------------------------------------------------


@manager_required
def teams(request: HttpRequest) -> HttpResponse:
    current = _current(request)
    form = forms.NameForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                admin.do_create_team(workspace=current.workspace, name=form.cleaned_data["name"])
            except PagedeskError as error:
                form.add_error("name", _problem(error))
            else:
                messages.success(request, _("The team was created."))
                return redirect("web:settings-teams")
        status = 400
    all_teams = (
        Team.objects.filter(workspace=current.workspace)
        .prefetch_related("members", "channels")
        .order_by("name")
    )
    members = (
        Membership.objects.filter(workspace=current.workspace)
        .select_related("user")
        .order_by("user__email")
    )
    channels = Channel.objects.filter(workspace=current.workspace).order_by("name", "id")
    context = {
        "section": "teams",
        "teams": all_teams,
        "members": members,
        "channels": channels,
        "form": form,
    }
    return render(request, "pagedesk/admin/teams.html", context, status=status)


@manager_required
@require_POST
def team_edit(request: HttpRequest, pk: int, op: str) -> HttpResponse:
    current = _current(request)
    team = get_object_or_404(Team, pk=pk, workspace=current.workspace)
    if op not in ("rename", "delete", "add", "remove", "channels"):
        raise Http404
    try:
        if op == "rename":
            form: Any = forms.NameForm(request.POST)
            if not form.is_valid():
                raise PagedeskError("invalid_name", "bad name")
            admin.do_rename_team(team=team, name=form.cleaned_data["name"])
            messages.success(request, _("The team was renamed."))
        elif op == "delete":
            admin.do_delete_team(team=team)
            messages.success(request, _("The team was deleted."))
        elif op == "channels":
            ids = list(
                Channel.objects.filter(workspace=current.workspace).values_list("pk", flat=True)
            )
            form = forms.TeamChannelsForm(request.POST, channel_ids=ids)
            if not form.is_valid():
                raise PagedeskError("not_found", "bad channel")
            admin.do_set_team_channels(team=team, channel_ids=form.cleaned_data["channels"])
            messages.success(request, _("The team was changed."))
        else:  # add / remove a member
            form = forms.TeamMemberForm(request.POST)
            if not form.is_valid():
                raise PagedeskError("not_a_member", "bad user")
            admin.do_set_team_membership(
                team=team, user_id=form.cleaned_data["user"], member=op == "add"
            )
            messages.success(request, _("The team was changed."))
    except PagedeskError as error:
        messages.error(request, _problem(error))
    return redirect("web:settings-teams")


# --- labels --------------------------------------------------------------------------


@manager_required
def labels(request: HttpRequest) -> HttpResponse:
    current = _current(request)
    form = forms.LabelForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                admin.do_create_label(workspace=current.workspace, **form.cleaned_data)
            except PagedeskError as error:
                form.add_error("name", _problem(error))
            else:
                messages.success(request, _("The label was created."))
                return redirect("web:settings-labels")
        status = 400
    context = {
        "section": "labels",
        "labels": Label.objects.filter(workspace=current.workspace).order_by("name"),
        "form": form,
    }
    return render(request, "pagedesk/admin/labels.html", context, status=status)


@manager_required
@require_POST
def label_edit(request: HttpRequest, pk: int, op: str) -> HttpResponse:
    label = get_object_or_404(Label, pk=pk, workspace=_current(request).workspace)
    if op not in ("update", "delete"):
        raise Http404
    try:
        if op == "delete":
            admin.do_delete_label(label=label)
            messages.success(request, _("The label was deleted."))
        else:
            form = forms.LabelForm(request.POST)
            if not form.is_valid():
                raise PagedeskError("invalid_name", "bad label")
            admin.do_update_label(label=label, **form.cleaned_data)
            messages.success(request, _("The label was changed."))
    except PagedeskError as error:
        messages.error(request, _problem(error))
    return redirect("web:settings-labels")


# --- channels and personas -----------------------------------------------------------


@manager_required
def channels(request: HttpRequest) -> HttpResponse:
    context = {
        "section": "channels",
        "channels": Channel.objects.filter(workspace=_current(request).workspace)
        .only("pk", "name", "page_id", "kind", "status", "status_reason", "personas_enabled")
        .order_by("name"),
    }
    return render(request, "pagedesk/admin/channels.html", context)


def _channel_page(
    request: HttpRequest,
    channel: Channel,
    *,
    form: forms.ChannelForm | None = None,
    token_form: forms.PageTokenForm | None = None,
    status: int = 200,
) -> HttpResponse:
    initial = {
        "name": channel.name,
        "allowed_tags": list(channel.allowed_tags or []),
        "personas_enabled": channel.personas_enabled,
    }
    context = {
        "section": "channels",
        "channel": channel,
        "form": form or forms.ChannelForm(initial=initial),
        "token_form": token_form or forms.PageTokenForm(),
    }
    return render(request, "pagedesk/admin/channel.html", context, status=status)


@manager_required
def channel_edit(request: HttpRequest, pk: int) -> HttpResponse:
    channel = get_object_or_404(Channel, pk=pk, workspace=_current(request).workspace)
    if request.method != "POST":
        return _channel_page(request, channel)
    form = forms.ChannelForm(request.POST)
    if form.is_valid():
        try:
            admin.do_update_channel_settings(channel=channel, **form.cleaned_data)
        except PagedeskError as error:
            form.add_error(None, _problem(error))
        else:
            messages.success(request, _("The channel was saved."))
            return redirect("web:settings-channel", pk=channel.pk)
    return _channel_page(request, channel, form=form, status=400)


@manager_required
@require_POST
def channel_token(request: HttpRequest, pk: int) -> HttpResponse:
    channel = get_object_or_404(Channel, pk=pk, workspace=_current(request).workspace)
    form = forms.PageTokenForm(request.POST)
    if not form.is_valid():
        return _channel_page(request, channel, token_form=form, status=400)
    do_update_channel_credentials(channel=channel, page_token=form.cleaned_data["page_token"])
    messages.success(request, _("The page token was replaced."))
    return redirect("web:settings-channel", pk=channel.pk)


def _member_choices(channel: Channel) -> list[tuple[int, str]]:
    rows = (
        Membership.objects.filter(workspace_id=channel.workspace_id)
        .select_related("user")
        .order_by("user__email")
    )
    return [(m.user_id, m.user.email or m.user.get_username()) for m in rows]


@manager_required
def personas(request: HttpRequest, pk: int) -> HttpResponse:
    channel = get_object_or_404(Channel, pk=pk, workspace=_current(request).workspace)
    form = forms.PersonaForm(request.POST or None, members=_member_choices(channel))
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                admin.do_create_persona(
                    channel=channel,
                    user_id=form.cleaned_data["user"],
                    name=form.cleaned_data["name"],
                    picture_url=form.cleaned_data["picture_url"],
                )
            except PagedeskError as error:
                form.add_error(None, _problem(error))
            except GraphError as error:
                form.add_error(None, error.user_message)
            else:
                messages.success(request, _("The persona was created."))
                return redirect("web:settings-personas", pk=channel.pk)
        status = 400
    rows = (
        Persona.objects.filter(channel=channel)
        .select_related("user")
        .order_by("-active", "user__email", "-created_at")
    )
    context = {"section": "channels", "channel": channel, "personas": rows, "form": form}
    return render(request, "pagedesk/admin/personas.html", context, status=status)


@manager_required
@require_POST
def persona_deactivate(request: HttpRequest, pk: int, persona_pk: int) -> HttpResponse:
    current = _current(request)
    persona = get_object_or_404(
        Persona.objects.select_related("channel"),
        pk=persona_pk,
        channel_id=pk,
        workspace=current.workspace,
    )
    try:
        admin.do_deactivate_persona(persona=persona)
    except GraphError as error:
        messages.error(request, error.user_message)
    else:
        messages.success(request, _("The persona was deactivated."))
    return redirect("web:settings-personas", pk=pk)
