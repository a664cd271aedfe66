"""Writes of the core app: workspaces, API tokens, channels.

Actions validate, then write in one transaction; side effects run on commit.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from pagedesk.audit.actions import record
from pagedesk.core.errors import PagedeskError
from pagedesk.core.models import ApiToken, Channel, Membership, Workspace

TOKEN_PREFIX = "pdk_"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PAGE_ID = re.compile(r"^\d{5,32}$")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def do_create_workspace(*, name: str, owner_email: str) -> Workspace:
    name = name.strip()
    if not name:
        raise PagedeskError("invalid_name", "A workspace needs a name.")
    if not _EMAIL.match(owner_email):
        raise PagedeskError("invalid_email", f"{owner_email!r} is not an email address.")
    base = slugify(name)[:50] or "workspace"
    slug, n = base, 1
    with transaction.atomic():
        while Workspace.objects.filter(slug=slug).exists():
            n += 1
            slug = f"{base}-{n}"
        workspace = Workspace.objects.create(name=name, slug=slug)
        user_model = get_user_model()
        owner, _ = user_model.objects.get_or_create(
            username=owner_email.lower(), defaults={"email": owner_email.lower()}
        )
        Membership.objects.create(workspace=workspace, user=owner, role=Membership.Role.OWNER)
        record(
            workspace_id=workspace.pk,
            action="workspace.created",
            target=name,
            details={"owner": owner_email.lower()},
        )
    return workspace


def get_workspace(ref: str) -> Workspace:
    """A workspace by slug, id or exact name, with a clear error when there is none."""
    query = Workspace.objects.filter(slug=ref) or Workspace.objects.filter(name=ref)
    if not query and ref.isdigit():
        query = Workspace.objects.filter(pk=int(ref))
    found = list(query[:2])
    if len(found) != 1:
        raise PagedeskError(
            "unknown_workspace",
            f"No workspace {ref!r}. `pagedesk workspace list` shows them."
            if not found
            else f"{ref!r} names several workspaces; use the slug.",
            status=404,
        )
    return found[0]


@dataclass(frozen=True)
class NewToken:
    token: ApiToken
    secret: str  # shown once, never stored


def do_create_api_token(*, workspace: Workspace, name: str = "") -> NewToken:
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        token = ApiToken.objects.create(
            workspace=workspace, name=name, prefix=secret[:12], token_hash=hash_token(secret)
        )
        record(
            workspace_id=workspace.pk,
            action="api_token.created",
            target=name or token.prefix,
            details={"token_prefix": token.prefix},
        )
    return NewToken(token=token, secret=secret)


def authenticate_api_token(secret: str) -> ApiToken | None:
    if not secret.startswith(TOKEN_PREFIX):
        return None
    token = (
        ApiToken.objects.select_related("workspace")
        .filter(token_hash=hash_token(secret), revoked_at__isnull=True)
        .first()
    )
    if token is not None:
        now = timezone.now()
        if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token


def do_add_channel(
    *,
    workspace: Workspace,
    page_id: str,
    page_token: str,
    app_secret: str,
    verify_token: str,
    name: str = "",
    username: str = "",
    kind: str = Channel.Kind.FACEBOOK,
) -> Channel:
    page_id = page_id.strip()
    if not _PAGE_ID.match(page_id):
        raise PagedeskError("invalid_page_id", f"Page id {page_id!r} must be digits.")
    for label, value in (("page token", page_token), ("app secret", app_secret)):
        if len(value.strip()) < 8:
            raise PagedeskError("invalid_credentials", f"The {label} looks too short.")
    if len(verify_token) < 8:
        raise PagedeskError("invalid_verify_token", "Use a verify token of 8 characters or more.")
    if kind not in Channel.Kind.values:
        raise PagedeskError("invalid_kind", f"Channel kind must be one of {Channel.Kind.values}.")
    try:
        with transaction.atomic():
            channel = Channel.objects.create(
                workspace=workspace,
                kind=kind,
                page_id=page_id,
                name=name.strip() or f"Page {page_id}",
                username=username.strip(),
                page_access_token=page_token.strip(),
                app_secret=app_secret.strip(),
                verify_token=verify_token,
            )
            record(
                workspace_id=workspace.pk,
                action="channel.added",
                target=f"{channel.name} ({page_id})",
                details={"kind": kind},
            )
            return channel
    except IntegrityError:
        raise PagedeskError(
            "channel_exists", f"Page {page_id} is already connected.", status=409
        ) from None


def do_update_channel_credentials(
    *, channel: Channel, page_token: str | None = None, app_secret: str | None = None
) -> Channel:
    fields = []
    if page_token:
        channel.page_access_token = page_token.strip()
        fields.append("page_access_token")
    if app_secret:
        channel.app_secret = app_secret.strip()
        fields.append("app_secret")
    if page_token and channel.status == Channel.Status.PAUSED:
        channel.status, channel.status_reason = Channel.Status.ACTIVE, ""
        fields += ["status", "status_reason"]
    if fields:
        with transaction.atomic():
            channel.save(update_fields=fields)
            # Which credentials were replaced, never their values.
            replaced = [f for f in ("page_access_token", "app_secret") if f in fields]
            record(
                workspace_id=channel.workspace_id,
                action="channel.credentials_replaced",
                target=f"{channel.name} ({channel.page_id})",
                details={"replaced": replaced},
            )
    if page_token:
        from pagedesk.delivery.sender import resume_channel

        # Messages that waited for a working token go out once this is committed.
        transaction.on_commit(lambda: resume_channel(channel.pk))
    return channel


def do_revoke_api_token(*, prefix: str) -> ApiToken:
    """Revoke the token with this prefix (or this whole token); revoking twice is a no-op.

    A whole token is matched by its hash and never echoed back in an error.
    """
    prefix = prefix.strip()
    is_whole_token = len(prefix) > ApiToken._meta.get_field("prefix").max_length
    query = ApiToken.objects.select_related("workspace")
    if is_whole_token:
        found = list(query.filter(token_hash=hash_token(prefix))[:2])
        problem = "That is not a known API token."
    else:
        found = list(query.filter(prefix=prefix)[:2])
        problem = f"No API token has the prefix {prefix!r}."
    if not found:
        raise PagedeskError(
            "unknown_token", f"{problem} `pagedesk token list` shows them.", status=404
        )
    if len(found) > 1:
        raise PagedeskError(
            "ambiguous_token", f"Several API tokens have the prefix {prefix!r}.", status=409
        )
    token = found[0]
    with transaction.atomic():
        revoked = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        if revoked:
            record(
                workspace_id=token.workspace_id,
                action="api_token.revoked",
                target=token.name or token.prefix,
                details={"token_prefix": token.prefix},
            )
    token.refresh_from_db(fields=["revoked_at"])
    return token
