"""Bearer-token authentication: every request acts for the token's workspace.

A token that is unknown, revoked or badly formed is refused exactly like a missing
one, so the answer says nothing about which tokens exist.
"""

from __future__ import annotations

from django.http import HttpRequest
from ninja.security import HttpBearer

from pagedesk.core.actions import authenticate_api_token
from pagedesk.core.models import ApiToken, Workspace


class ApiRequest(HttpRequest):
    """The request as views see it once authenticated (for type hints only)."""

    auth: ApiToken
    workspace: Workspace


class ApiTokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> ApiToken | None:
        api_token = authenticate_api_token(token.strip())
        if api_token is None:
            return None
        request.workspace = api_token.workspace  # type: ignore[attr-defined]
        return api_token
