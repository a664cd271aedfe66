"""The workspace a signed-in person is working in, kept in the session.

Every inbox view runs under :func:`member_required`, which resolves the current
workspace and the person's membership of it, and refuses roles a view does not
allow. Views then read and write only through that workspace.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from pagedesk.core.models import Membership, Workspace

SESSION_KEY = "pagedesk_workspace_id"
MANAGER_ROLES = frozenset({Membership.Role.OWNER, Membership.Role.ADMIN})


@dataclass(frozen=True)
class Current:
    """Who is asking, in which workspace, with which role."""

    membership: Membership
    memberships: tuple[Membership, ...]

    @property
    def workspace(self) -> Workspace:
        return self.membership.workspace

    @property
    def role(self) -> str:
        return self.membership.role

    @property
    def can_manage(self) -> bool:
        """Owners and admins: assign anyone, create labels."""
        return self.membership.role in MANAGER_ROLES


def resolve(request: HttpRequest) -> Current | None:
    """The current membership: the one named in the session, else the first."""
    from pagedesk.web.selectors import memberships_of

    if not request.user.is_authenticated:
        return None
    memberships = tuple(memberships_of(user=request.user))
    if not memberships:
        return None
    wanted = request.session.get(SESSION_KEY)
    chosen = next((m for m in memberships if m.workspace_id == wanted), memberships[0])
    if wanted != chosen.workspace_id:
        request.session[SESSION_KEY] = chosen.workspace_id
    return Current(membership=chosen, memberships=memberships)


def switch(request: HttpRequest, workspace_id: int) -> bool:
    """Make ``workspace_id`` current if the person is a member of it."""
    from pagedesk.web.selectors import memberships_of

    if any(m.workspace_id == workspace_id for m in memberships_of(user=request.user)):
        request.session[SESSION_KEY] = workspace_id
        return True
    return False


View = Callable[..., HttpResponse]


def member_required(view: View | None = None, *, roles: Iterable[str] | None = None) -> Any:
    """Signed in and a member of a workspace (of one of ``roles``, when given).

    Sets ``request.current`` (:class:`Current`). Anonymous people go to sign-in,
    people without a workspace to the "no workspace" page, other roles get 403.
    """
    allowed = frozenset(roles) if roles is not None else None

    def decorate(func: View) -> View:
        @wraps(func)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            current = resolve(request)
            if current is None:
                return redirect("web:no-workspace")
            if allowed is not None and current.role not in allowed:
                raise PermissionDenied
            request.current = current  # type: ignore[attr-defined]
            return func(request, *args, **kwargs)

        return wrapper

    return decorate(view) if view is not None else decorate
