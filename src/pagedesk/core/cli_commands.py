"""What the operator subcommands of ``pagedesk`` do: workspaces, channels, API tokens.

Each function takes plain, already-parsed values, calls the actions and returns the
text to print; ``pagedesk.cli`` only wires argparse to them. Domain problems raise
``PagedeskError`` (exit 1), problems with how the command was called raise
``UsageError`` (exit 2). Nothing here ever returns or raises a page token, app
secret, verify token or API token secret, except ``create_token``, whose whole point
is to show the new token once.
"""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import TextIO

from django.db.models import Count, Q
from django.utils import timezone

from pagedesk.core import actions
from pagedesk.core.errors import PagedeskError
from pagedesk.core.models import ApiToken, Channel, Workspace

STDIN = "-"
PAGE_TOKEN_ENV = "PAGEDESK_PAGE_TOKEN"
APP_SECRET_ENV = "PAGEDESK_APP_SECRET"
VERIFY_TOKEN_ENV = "PAGEDESK_VERIFY_TOKEN"


class UsageError(Exception):
    """The command was called wrongly (missing input, nothing to do): exit code 2."""


# --- output helpers -------------------------------------------------------------


def format_when(value: datetime | None) -> str:
    if value is None:
        return "-"
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S")


def one_line(text: str, width: int) -> str:
    """``text`` on one line, cut to ``width`` characters with an ellipsis."""
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def format_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """Left-aligned columns separated by two spaces, with a header line."""
    cells = [[str(h) for h in headers], *([str(c) for c in row] for row in rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(line.rstrip() for line in lines)


# --- secrets from the command line, the environment or stdin ------------------------


def read_secret(label: str, stdin: TextIO | None = None) -> str:
    """One secret from stdin: a hidden prompt on a terminal, else the next line."""
    stream = stdin if stdin is not None else sys.stdin
    on_terminal = stream.isatty()
    value = getpass.getpass(f"{label}: ") if on_terminal else stream.readline().rstrip("\r\n")
    if not value.strip():
        raise UsageError(f"expected the {label} on stdin, got an empty line")
    return value


def resolve_secret(
    value: str | None,
    *,
    label: str,
    option: str,
    env_var: str | None = None,
    environ: Mapping[str, str] | None = None,
    stdin: TextIO | None = None,
) -> str:
    """The secret an option stands for: its value, ``-`` for stdin, or an env var."""
    if value is None and env_var is not None:
        value = (environ if environ is not None else os.environ).get(env_var) or None
    if value is None:
        hint = f", set {env_var}" if env_var else ""
        raise UsageError(f"give {option}{hint}, or pass {option} - to read it from stdin")
    if value == STDIN:
        return read_secret(label, stdin)
    return value


# --- workspaces -----------------------------------------------------------------------


def create_workspace(*, name: str, owner_email: str) -> str:
    workspace = actions.do_create_workspace(name=name, owner_email=owner_email)
    return (
        f"Created workspace {workspace.name!r}: slug {workspace.slug}, id {workspace.pk} "
        f"(owner {owner_email.lower()})"
    )


def list_workspaces() -> str:
    workspaces = Workspace.objects.annotate(
        n_channels=Count("channels", distinct=True),
        n_members=Count("memberships", distinct=True),
    ).order_by("id")
    rows = [
        (w.pk, w.slug, w.name, w.n_channels, w.n_members, format_when(w.created_at))
        for w in workspaces
    ]
    if not rows:
        return "No workspaces yet. Create one with `pagedesk workspace create`."
    return format_table(("id", "slug", "name", "channels", "members", "created"), rows)


# --- channels -------------------------------------------------------------------------


def get_channel(ref: str) -> Channel:
    """A channel by its id or its page id."""
    query = Q(page_id=ref.strip())
    if ref.strip().isdigit():
        query |= Q(pk=int(ref))
    found = list(Channel.objects.select_related("workspace").filter(query)[:2])
    if not found:
        raise PagedeskError(
            "unknown_channel",
            f"No channel {ref!r}. `pagedesk channel list` shows them.",
            status=404,
        )
    if len(found) > 1:
        raise PagedeskError(
            "ambiguous_channel",
            f"{ref!r} is both a channel id and a page id; give the other one.",
        )
    return found[0]


def add_channel(
    *,
    workspace: str,
    page_id: str,
    page_token: str,
    app_secret: str,
    verify_token: str,
    name: str = "",
    username: str = "",
    kind: str = Channel.Kind.FACEBOOK,
) -> str:
    channel = actions.do_add_channel(
        workspace=actions.get_workspace(workspace),
        page_id=page_id,
        page_token=page_token,
        app_secret=app_secret,
        verify_token=verify_token,
        name=name,
        username=username,
        kind=kind,
    )
    return (
        f"Connected page {channel.page_id} ({channel.name}) to workspace "
        f"{channel.workspace.slug} as channel {channel.pk}.\n"
        "Next: in the Meta app's webhook settings, set the callback URL to "
        "https://<your host>/webhooks/messenger with the same verify token."
    )


def list_channels(*, workspace: str | None = None) -> str:
    channels = Channel.objects.select_related("workspace").order_by("workspace__slug", "id")
    if workspace is not None:
        channels = channels.filter(workspace=actions.get_workspace(workspace))
    # Only columns that are safe to show; the credentials are never read here.
    rows = [
        (c.pk, c.workspace.slug, c.page_id, c.name, c.username or "-", c.status)
        for c in channels.only("id", "page_id", "name", "username", "status", "workspace__slug")
    ]
    if not rows:
        return "No channels yet. Add one with `pagedesk channel add`."
    return format_table(("id", "workspace", "page id", "name", "username", "status"), rows)


def update_channel(
    *, channel: str, page_token: str | None = None, app_secret: str | None = None
) -> str:
    if page_token is None and app_secret is None:
        raise UsageError("nothing to update: give --page-token and/or --app-secret")
    for label, value in (("page token", page_token), ("app secret", app_secret)):
        if value is not None and not value.strip():
            raise PagedeskError("invalid_credentials", f"The new {label} is empty.")
    found = get_channel(channel)
    was_paused = found.status == Channel.Status.PAUSED
    found = actions.do_update_channel_credentials(
        channel=found, page_token=page_token, app_secret=app_secret
    )
    changed = [
        label
        for label, value in (("page token", page_token), ("app secret", app_secret))
        if value is not None
    ]
    message = f"Channel {found.pk} (page {found.page_id}): {' and '.join(changed)} updated."
    if was_paused and found.status == Channel.Status.ACTIVE:
        message += " The channel is active again."
    return message


# --- API tokens -----------------------------------------------------------------------


def create_token(*, workspace: str, name: str = "") -> actions.NewToken:
    return actions.do_create_api_token(workspace=actions.get_workspace(workspace), name=name)


def list_tokens(*, workspace: str) -> str:
    tokens = ApiToken.objects.filter(workspace=actions.get_workspace(workspace)).order_by("id")
    rows = [
        (
            t.prefix,
            t.name or "-",
            format_when(t.created_at),
            format_when(t.last_used_at),
            format_when(t.revoked_at) if t.revoked_at else "no",
        )
        for t in tokens.only("prefix", "name", "created_at", "last_used_at", "revoked_at")
    ]
    if not rows:
        return "No API tokens yet. Create one with `pagedesk token create`."
    return format_table(("prefix", "name", "created", "last used", "revoked"), rows)


def revoke_token(*, prefix: str) -> str:
    started = timezone.now()
    token = actions.do_revoke_api_token(prefix=prefix)
    if token.revoked_at is not None and token.revoked_at < started:
        return f"Token {token.prefix} was already revoked on {format_when(token.revoked_at)}."
    return f"Token {token.prefix} revoked; requests using it are refused from now on."
