"""The request an action runs for, so the audit log knows who acted and from where
without every action taking a ``request`` argument.

``AuditContextMiddleware`` sets it for each web request; actions run from the command
line or the worker have none and are recorded without a person or address.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from django.http import HttpRequest, HttpResponse

_request: ContextVar[HttpRequest | None] = ContextVar("pagedesk_audit_request", default=None)


def current_request() -> HttpRequest | None:
    return _request.get()


def client_ip(request: HttpRequest | None) -> str | None:
    """The address the request came from (the ASGI server already applied trusted
    proxy headers), or ``None`` when it is not an IP address."""
    if request is None:
        return None
    value = str(request.META.get("REMOTE_ADDR") or "")
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def request_user(request: HttpRequest | None) -> Any:
    user = getattr(request, "user", None)
    return user if user is not None and user.is_authenticated else None


class AuditContextMiddleware:
    """Remember the request while its view runs (after authentication)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = _request.set(request)
        try:
            return self.get_response(request)
        finally:
            _request.reset(token)
