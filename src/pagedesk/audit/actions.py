"""Writing the audit log. Call :func:`record` inside the transaction of the change it
describes, so a change that is rolled back leaves no entry either."""

from __future__ import annotations

import re
from typing import Any

from pagedesk.audit.context import client_ip, current_request, request_user
from pagedesk.audit.models import AuditEntry

# Details describe a change; credentials never belong in them (say "page_token"
# changed in a list of field names instead). A key like these is a programming error.
_SECRET_KEY = re.compile(r"secret|password|token$", re.I)


def record(
    *,
    workspace_id: int,
    action: str,
    target: str,
    details: dict[str, Any] | None = None,
    actor: Any = None,
) -> AuditEntry:
    """Add one entry. ``actor`` defaults to the signed-in person of the current request;
    the address is the request's, or none outside a request (command line, worker)."""
    details = dict(details or {})
    leaked = sorted(key for key in details if _SECRET_KEY.search(key))
    if leaked:
        raise ValueError(f"audit details must not carry credentials: {leaked}")
    request = current_request()
    actor = actor if actor is not None else request_user(request)
    label = ""
    if actor is not None:
        label = (getattr(actor, "email", "") or actor.get_username())[:254]
    return AuditEntry.objects.create(
        workspace_id=workspace_id,
        actor=actor,
        actor_label=label,
        action=action,
        target=target[:255],
        details=details,
        ip=client_ip(request),
    )
