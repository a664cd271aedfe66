"""Pages for people: the start page and the log of received webhooks (the inbox and
signing in are in ``views_inbox`` and ``views_account``)."""

from __future__ import annotations

import json

from django.contrib.admin.views.decorators import staff_member_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from pagedesk.core.models import RawWebhook
from pagedesk.messenger.webhook import WebhookParseError, parse_webhook


def home(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("web:inbox")
    # Nothing about any workspace is shown before sign-in.
    return render(request, "pagedesk/home.html")


@staff_member_required
def event_log(request: HttpRequest) -> HttpResponse:
    rows = RawWebhook.objects.all()
    status = request.GET.get("status", "")
    if status in RawWebhook.Status.values:
        rows = rows.filter(status=status)
    page = Paginator(rows.defer("body"), 50).get_page(request.GET.get("page"))
    return render(
        request,
        "pagedesk/event_log.html",
        {"page": page, "status": status, "statuses": RawWebhook.Status.choices},
    )


@staff_member_required
def event_detail(request: HttpRequest, pk: int) -> HttpResponse:
    row = get_object_or_404(RawWebhook, pk=pk)
    raw = bytes(row.body)
    events, parse_error = [], ""
    if row.status == RawWebhook.Status.ACCEPTED:
        try:
            events = list(parse_webhook(raw))
        except WebhookParseError as exc:
            parse_error = str(exc)
    try:
        pretty = json.dumps(json.loads(raw), indent=2, ensure_ascii=False)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than Python goes
        pretty = raw.decode("utf-8", errors="replace")
    return render(
        request,
        "pagedesk/event_detail.html",
        {"row": row, "events": events, "parse_error": parse_error, "pretty": pretty},
    )
