"""The REST API instance, mounted at ``/api/v1/`` (OpenAPI at ``/api/v1/openapi.json``).

Every error answers ``{"code", "message"}`` with a stable code: domain errors keep
their own code and status, bad parameters are 422 ``invalid_request`` (plus the
per-field ``errors``), a missing or bad token is 401 ``unauthorized``.
"""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from pagedesk.api.auth import ApiTokenAuth
from pagedesk.api.routes import router
from pagedesk.core.errors import PagedeskError

api = NinjaAPI(
    title="pagedesk API",
    version="1",
    description="A workspace's inbox: read conversations, messages and contacts; send "
    "replies, add notes, assign, label and close conversations. Authenticate with "
    "`Authorization: Bearer <token>`; a token only ever sees its own workspace.",
    urls_namespace="api",
    auth=ApiTokenAuth(),
)
api.add_router("/", router)

_HTTP_CODES = {403: "forbidden", 404: "not_found", 405: "method_not_allowed", 429: "throttled"}


def _error(request: HttpRequest, status: int, body: dict[str, Any]) -> HttpResponse:
    return api.create_response(request, body, status=status)


@api.exception_handler(PagedeskError)
def on_domain_error(request: HttpRequest, exc: PagedeskError) -> HttpResponse:
    return _error(request, exc.status, exc.as_dict())


@api.exception_handler(ValidationError)
def on_invalid_request(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    errors = [
        {"loc": list(err.get("loc", ())), "msg": err.get("msg", ""), "type": err.get("type", "")}
        for err in exc.errors
    ]
    details = "; ".join(f"{_where(err['loc'])}: {err['msg']}" for err in errors)
    body = {"code": "invalid_request", "message": f"Invalid request. {details}", "errors": errors}
    return _error(request, 422, body)


@api.exception_handler(AuthenticationError)
def on_unauthorized(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    body = {
        "code": "unauthorized",
        "message": "Send a valid, unrevoked API token: `Authorization: Bearer <token>`.",
    }
    response = _error(request, 401, body)
    response["WWW-Authenticate"] = 'Bearer realm="pagedesk"'
    return response


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    code = _HTTP_CODES.get(exc.status_code, "error")
    return _error(request, exc.status_code, {"code": code, "message": exc.message})


@api.exception_handler(Http404)
def on_not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return _error(request, 404, {"code": "not_found", "message": "Not found."})


def _where(loc: list[Any]) -> str:
    """``["query", "limit"]`` → ``limit``: the parameter name a caller knows."""
    return ".".join(str(part) for part in loc[1:]) or ".".join(str(part) for part in loc)
