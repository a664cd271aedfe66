"""Per-user interface language and time zone.

Django's ``LocaleMiddleware`` picks a language from the cookie or the browser. A
signed-in person's own choice (``UserPreference``) wins over both; it is read once
per session and kept in the session so later requests need no query. The person's
time zone (UTC unless chosen) is activated the same way, so every time on a page is
in their own clock.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone, translation

SESSION_KEY = "pagedesk_language"
TIME_ZONE_SESSION_KEY = "pagedesk_time_zone"


class UserLanguageMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        language = _user_language(request)
        if language:
            translation.activate(language)
            request.LANGUAGE_CODE = language
        zone = _user_time_zone(request)
        if zone:
            timezone.activate(zoneinfo.ZoneInfo(zone))
        else:
            timezone.deactivate()
        return self.get_response(request)


def _user_language(request: HttpRequest) -> str:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return ""
    if SESSION_KEY not in request.session:
        from pagedesk.web.selectors import preferred_language

        request.session[SESSION_KEY] = preferred_language(user=user)
    language = str(request.session.get(SESSION_KEY) or "")
    return language if language in dict(settings.LANGUAGES) else ""


def _user_time_zone(request: HttpRequest) -> str:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return ""
    if TIME_ZONE_SESSION_KEY not in request.session:
        from pagedesk.web.selectors import preferred_time_zone

        request.session[TIME_ZONE_SESSION_KEY] = preferred_time_zone(user=user)
    zone = str(request.session.get(TIME_ZONE_SESSION_KEY) or "")
    from pagedesk.web.actions import available_time_zones

    return zone if zone in available_time_zones() else ""
