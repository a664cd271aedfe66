"""Cookies of a page served over HTTPS are marked ``Secure``.

Django's ``SESSION_COOKIE_SECURE`` is all or nothing, and pagedesk runs both on plain
http://127.0.0.1 (the demo, a laptop) and behind TLS. So the flag follows the request:
a cookie set on an HTTPS response is never sent back over plain HTTP. Behind a
reverse proxy, the ASGI server turns the proxy's ``X-Forwarded-Proto`` into the
request's scheme (uvicorn trusts it from ``FORWARDED_ALLOW_IPS``, loopback by default).
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse


class SecureCookiesOverHttpsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.is_secure():
            for morsel in response.cookies.values():
                morsel["secure"] = True
        return response
