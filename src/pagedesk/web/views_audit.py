"""The audit log page, ``/settings/audit/``: who changed what in the workspace's
settings (owners and admins only; nobody can edit it)."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from pagedesk.audit.selectors import audit_entries
from pagedesk.web import workspace as ws
from pagedesk.web.audit_labels import ACTIONS, action_label

PER_PAGE = 50


@ws.member_required(roles=ws.MANAGER_ROLES)
@require_GET
def audit_log(request: HttpRequest) -> HttpResponse:
    current: ws.Current = request.current  # type: ignore[attr-defined]
    action = request.GET.get("action", "")
    if action not in ACTIONS:
        action = ""
    rows = audit_entries(workspace=current.workspace, action=action)
    page = Paginator(rows, PER_PAGE).get_page(request.GET.get("page"))
    entries = [
        {
            "at": entry.at,
            "actor": entry.actor_label,
            "action": action_label(entry.action),
            "target": entry.target,
            "details": sorted(entry.details.items()) if isinstance(entry.details, dict) else [],
            "ip": entry.ip or "",
        }
        for entry in page
    ]
    context = {
        "section": "audit",
        "page": page,
        "entries": entries,
        "action": action,
        "actions": sorted(((code, str(label)) for code, label in ACTIONS.items()), key=_second),
    }
    return render(request, "pagedesk/admin/audit.html", context)


def _second(pair: tuple[str, str]) -> str:
    return pair[1]
