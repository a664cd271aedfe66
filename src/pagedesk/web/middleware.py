"""Per-user interface language.

Django's ``LocaleMiddleware`` picks a language from the cookie or the browser. A
signed-in person's own choice (``UserPreference``) wins over both; it is read once
per session and kept in the session so later requests need no query.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import translation

SESSION_KEY = "pagedesk_language"


class UserLanguageMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        language = _user_language(request)
        if language:
            translation.activate(language)
            request.LANGUAGE_CODE = language
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
