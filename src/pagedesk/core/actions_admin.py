"""Writes of the admin pages: members and invites, teams, labels, channel settings,
personas.

Each action validates first, then writes in one transaction. Errors are
:class:`PagedeskError` with a stable code; the web layer words them for people.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from pagedesk.audit.actions import record
from pagedesk.core.actions import hash_token
from pagedesk.core.errors import PagedeskError
from pagedesk.core.models import Channel, Invite, Membership, Team, Workspace

INVITE_LIFETIME = timedelta(days=7)
ALLOWED_TAGS = ("HUMAN_AGENT", "CUSTOMER_FEEDBACK")
RETIRED_TAGS = ("CONFIRMED_EVENT_UPDATE", "POST_PURCHASE_UPDATE", "ACCOUNT_UPDATE")
PERSONA_NAME_MAX = 50
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
_ROLES = frozenset(Membership.Role.values)


# --- members -------------------------------------------------------------------------


def _check_owner_rights(*, actor: Membership, role: str, target_role: str = "") -> None:
    """Only owners hand out the owner role or change an owner."""
    if role not in _ROLES:
        raise PagedeskError("invalid_role", f"Role must be one of {sorted(_ROLES)}.")
    owner = Membership.Role.OWNER
    if actor.role != owner and owner in (role, target_role):
        raise PagedeskError("owners_only", "Only an owner can do that.", status=403)


def _email_of(user_id: int) -> str:
    user = get_user_model().objects.filter(pk=user_id).first()
    return "" if user is None else (user.email or user.get_username())


def _other_owners(membership: Membership) -> bool:
    return (
        Membership.objects.select_for_update()
        .filter(workspace_id=membership.workspace_id, role=Membership.Role.OWNER)
        .exclude(pk=membership.pk)
        .exists()
    )


def do_change_role(*, actor: Membership, membership: Membership, role: str) -> Membership:
    _check_owner_rights(actor=actor, role=role, target_role=membership.role)
    with transaction.atomic():
        membership = Membership.objects.select_for_update().get(pk=membership.pk)
        if membership.role == role:
            return membership
        if membership.role == Membership.Role.OWNER and not _other_owners(membership):
            raise PagedeskError("last_owner", "A workspace needs at least one owner.", status=409)
        before = membership.role
        membership.role = role
        membership.save(update_fields=["role"])
        record(
            workspace_id=membership.workspace_id,
            action="member.role_changed",
            target=_email_of(membership.user_id),
            details={"from": before, "to": role},
            actor=actor.user,
        )
    return membership


def do_remove_member(*, actor: Membership, membership: Membership) -> None:
    _check_owner_rights(actor=actor, role=actor.role, target_role=membership.role)
    with transaction.atomic():
        membership = Membership.objects.select_for_update().get(pk=membership.pk)
        if membership.role == Membership.Role.OWNER and not _other_owners(membership):
            raise PagedeskError("last_owner", "A workspace needs at least one owner.", status=409)
        Team.members.through.objects.filter(
            team__workspace_id=membership.workspace_id, user_id=membership.user_id
        ).delete()
        membership.delete()
        record(
            workspace_id=membership.workspace_id,
            action="member.removed",
            target=_email_of(membership.user_id),
            details={"role": membership.role},
            actor=actor.user,
        )


# --- invites -------------------------------------------------------------------------


@dataclass(frozen=True)
class NewInvite:
    invite: Invite
    token: str  # shown once, never stored


def do_create_invite(*, actor: Membership, email: str, role: str) -> NewInvite:
    email = email.strip().lower()
    if not _EMAIL.match(email):
        raise PagedeskError("invalid_email", f"{email!r} is not an email address.")
    _check_owner_rights(actor=actor, role=role)
    workspace = actor.workspace
    if Membership.objects.filter(workspace=workspace, user__email__iexact=email).exists():
        raise PagedeskError("already_member", f"{email} is already a member.", status=409)
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        invite = Invite.objects.create(
            workspace=workspace,
            email=email,
            role=role,
            token_hash=hash_token(token),
            created_by=actor.user,
            expires_at=timezone.now() + INVITE_LIFETIME,
        )
        record(
            workspace_id=workspace.pk,
            action="invite.created",
            target=email,
            details={"role": role},
            actor=actor.user,
        )
    return NewInvite(invite=invite, token=token)


def do_revoke_invite(*, invite: Invite) -> None:
    with transaction.atomic():
        deleted, _ = Invite.objects.filter(pk=invite.pk, accepted_at__isnull=True).delete()
        if deleted:
            record(workspace_id=invite.workspace_id, action="invite.revoked", target=invite.email)


def find_invite(token: str) -> Invite:
    """The open invite for ``token``; unknown, used and expired links raise."""
    invite = Invite.objects.select_related("workspace").filter(token_hash=hash_token(token)).first()
    if invite is None:
        raise PagedeskError("unknown_invite", "This invitation link is not valid.", status=404)
    if invite.accepted_at is not None:
        raise PagedeskError("invite_used", "This invitation was already used.", status=410)
    if invite.expires_at <= timezone.now():
        raise PagedeskError("invite_expired", "This invitation has expired.", status=410)
    return invite


def do_accept_invite(*, token: str, user: Any) -> Membership:
    """Join the invite's workspace as ``user`` (already a member: keep the role)."""
    with transaction.atomic():
        invite = find_invite(token)
        invite = Invite.objects.select_for_update().get(pk=invite.pk)
        if invite.accepted_at is not None:
            raise PagedeskError("invite_used", "This invitation was already used.", status=410)
        membership, _ = Membership.objects.get_or_create(
            workspace_id=invite.workspace_id, user=user, defaults={"role": invite.role}
        )
        invite.accepted_at = timezone.now()
        invite.save(update_fields=["accepted_at"])
        record(
            workspace_id=invite.workspace_id,
            action="invite.accepted",
            target=invite.email,
            details={"role": membership.role},
            actor=user,
        )
    return membership


def do_accept_invite_as_new_user(*, token: str, password: str) -> tuple[Any, Membership]:
    """Create the invited person's account with ``password`` and join."""
    with transaction.atomic():
        invite = find_invite(token)
        users = get_user_model().objects
        if users.filter(username__iexact=invite.email).exists():
            raise PagedeskError("account_exists", "An account with this email exists.", status=409)
        user = users.create_user(username=invite.email, email=invite.email, password=password)
        membership = do_accept_invite(token=token, user=user)
    return user, membership


# --- teams ---------------------------------------------------------------------------


def _team_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 100:
        raise PagedeskError("invalid_name", "A team needs a name of at most 100 characters.")
    return name


def do_create_team(*, workspace: Workspace, name: str) -> Team:
    name = _team_name(name)
    try:
        with transaction.atomic():
            team = Team.objects.create(workspace=workspace, name=name)
            record(workspace_id=workspace.pk, action="team.created", target=name)
            return team
    except IntegrityError:
        raise PagedeskError(
            "name_taken", f"There is already a team {name!r}.", status=409
        ) from None


def do_rename_team(*, team: Team, name: str) -> Team:
    name = _team_name(name)
    try:
        with transaction.atomic():
            before = Team.objects.get(pk=team.pk).name
            team.name = name
            team.save(update_fields=["name"])
            record(
                workspace_id=team.workspace_id,
                action="team.renamed",
                target=name,
                details={"from": before, "to": name},
            )
    except IntegrityError:
        raise PagedeskError(
            "name_taken", f"There is already a team {name!r}.", status=409
        ) from None
    return team


def do_delete_team(*, team: Team) -> None:
    with transaction.atomic():
        record(workspace_id=team.workspace_id, action="team.deleted", target=team.name)
        team.delete()


def do_set_team_membership(*, team: Team, user_id: int, member: bool) -> Team:
    with transaction.atomic():
        if not Membership.objects.filter(workspace_id=team.workspace_id, user_id=user_id).exists():
            raise PagedeskError("not_a_member", "That person is not in this workspace.")
        if member:
            team.members.add(user_id)
        else:
            team.members.remove(user_id)
        record(
            workspace_id=team.workspace_id,
            action="team.member_added" if member else "team.member_removed",
            target=_email_of(user_id),
            details={"team": team.name},
        )
    return team


def do_set_team_channels(*, team: Team, channel_ids: list[int]) -> Team:
    """The pages this team answers (its agents then see those conversations)."""
    wanted = set(channel_ids)
    found = list(Channel.objects.filter(workspace_id=team.workspace_id, pk__in=wanted))
    if len(found) != len(wanted):
        raise PagedeskError("not_found", "No such channel in this workspace.", status=404)
    with transaction.atomic():
        team.channels.set(found)
        record(
            workspace_id=team.workspace_id,
            action="team.channels_changed",
            target=team.name,
            details={"page_ids": sorted(channel.page_id for channel in found)},
        )
    return team


# --- labels --------------------------------------------------------------------------


def _label_fields(name: str, color: str) -> tuple[str, str]:
    name = name.strip()
    if not name or len(name) > 64:
        raise PagedeskError("invalid_name", "A label needs a name of at most 64 characters.")
    if not _COLOR.match(color):
        raise PagedeskError("invalid_color", "A colour looks like #1a2b3c.")
    return name, color.lower()


def do_create_label(*, workspace: Workspace, name: str, color: str) -> Any:
    from pagedesk.inbox.models import Label

    name, color = _label_fields(name, color)
    try:
        with transaction.atomic():
            label = Label.objects.create(workspace=workspace, name=name, color=color)
            record(
                workspace_id=workspace.pk,
                action="label.created",
                target=name,
                details={"color": color},
            )
            return label
    except IntegrityError:
        raise PagedeskError(
            "name_taken", f"There is already a label {name!r}.", status=409
        ) from None


def do_update_label(*, label: Any, name: str, color: str) -> Any:
    before = {"name": label.name, "color": label.color}
    label.name, label.color = _label_fields(name, color)
    try:
        with transaction.atomic():
            label.save(update_fields=["name", "color"])
            after = {"name": label.name, "color": label.color}
            record(
                workspace_id=label.workspace_id,
                action="label.changed",
                target=label.name,
                details={k: [before[k], after[k]] for k in after if before[k] != after[k]},
            )
    except IntegrityError:
        raise PagedeskError(
            "name_taken", f"There is already a label {label.name!r}.", status=409
        ) from None
    return label


def do_delete_label(*, label: Any) -> None:
    with transaction.atomic():
        record(workspace_id=label.workspace_id, action="label.deleted", target=label.name)
        label.delete()


# --- channels ------------------------------------------------------------------------


def do_update_channel_settings(
    *, channel: Channel, name: str, allowed_tags: list[str], personas_enabled: bool
) -> Channel:
    name = name.strip()
    if not name or len(name) > 255:
        raise PagedeskError("invalid_name", "A channel needs a name of at most 255 characters.")
    known = set(ALLOWED_TAGS + RETIRED_TAGS)
    unknown = sorted(set(allowed_tags) - known)
    if unknown:
        raise PagedeskError("invalid_tags", f"Unknown message tags: {', '.join(unknown)}.")
    with transaction.atomic():
        before = {
            "name": channel.name,
            "allowed_tags": list(channel.allowed_tags or []),
            "personas_enabled": channel.personas_enabled,
        }
        channel.name = name
        channel.allowed_tags = [tag for tag in ALLOWED_TAGS + RETIRED_TAGS if tag in allowed_tags]
        channel.personas_enabled = personas_enabled
        channel.save(update_fields=["name", "allowed_tags", "personas_enabled"])
        after = {
            "name": channel.name,
            "allowed_tags": channel.allowed_tags,
            "personas_enabled": channel.personas_enabled,
        }
        record(
            workspace_id=channel.workspace_id,
            action="channel.changed",
            target=f"{channel.name} ({channel.page_id})",
            details={k: [before[k], after[k]] for k in after if before[k] != after[k]},
        )
    return channel


# --- personas ------------------------------------------------------------------------


def graph_client_for(channel: Channel) -> Any:
    from pagedesk.messenger.graph import GraphClient

    return GraphClient(
        channel.page_access_token,
        base_url=settings.PAGEDESK_GRAPH_URL,
        version=channel.graph_version or settings.PAGEDESK_GRAPH_VERSION,
    )


async def _create_remote_persona(channel: Channel, name: str, picture_url: str) -> str:
    async with graph_client_for(channel) as client:
        return str(await client.create_persona(name, picture_url))


async def _delete_remote_persona(channel: Channel, persona_id: str) -> bool:
    async with graph_client_for(channel) as client:
        return bool(await client.delete_persona(persona_id))


def do_create_persona(*, channel: Channel, user_id: int, name: str, picture_url: str) -> Any:
    """Create the persona at Meta, then store it. Graph errors propagate
    (:class:`pagedesk.messenger.errors.GraphError`)."""
    from pagedesk.delivery.models import Persona

    name, picture_url = name.strip(), picture_url.strip()
    if not name or len(name) > PERSONA_NAME_MAX:
        raise PagedeskError(
            "invalid_name", f"A persona needs a name of at most {PERSONA_NAME_MAX} characters."
        )
    if not picture_url.startswith(("https://", "http://")):
        raise PagedeskError("invalid_url", "The picture must be an http(s) URL.")
    if not Membership.objects.filter(workspace_id=channel.workspace_id, user_id=user_id).exists():
        raise PagedeskError("not_a_member", "That person is not in this workspace.")
    if Persona.objects.filter(channel=channel, user_id=user_id, active=True).exists():
        raise PagedeskError(
            "persona_exists", "This agent already has a persona on this page.", status=409
        )
    persona_id = asyncio.run(_create_remote_persona(channel, name, picture_url))
    try:
        with transaction.atomic():
            persona = Persona.objects.create(
                workspace_id=channel.workspace_id,
                channel=channel,
                user_id=user_id,
                persona_id=persona_id,
                name=name,
                picture_url=picture_url,
            )
            record(
                workspace_id=channel.workspace_id,
                action="persona.created",
                target=name,
                details={"agent": _email_of(user_id), "page_id": channel.page_id},
            )
            return persona
    except IntegrityError:
        asyncio.run(_delete_remote_persona(channel, persona_id))
        raise PagedeskError(
            "persona_exists", "This agent already has a persona on this page.", status=409
        ) from None


def do_deactivate_persona(*, persona: Any) -> Any:
    """Delete the persona at Meta, then mark it inactive. Graph errors propagate."""
    if not persona.active:
        return persona
    asyncio.run(_delete_remote_persona(persona.channel, persona.persona_id))
    with transaction.atomic():
        persona.active = False
        persona.save(update_fields=["active"])
        record(
            workspace_id=persona.workspace_id,
            action="persona.deactivated",
            target=persona.name,
            details={"agent": _email_of(persona.user_id), "page_id": persona.channel.page_id},
        )
    return persona
