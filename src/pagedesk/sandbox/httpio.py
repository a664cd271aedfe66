"""Request parameters and JSON responses the way the Graph API handles them."""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from pagedesk.sandbox import errors, ids
from pagedesk.sandbox.errors import ControlError, GraphError

_BRACKETS = re.compile(r"\[([^\]]*)\]")


def _maybe_json(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _set_nested(target: dict[str, Any], key: str, value: Any) -> None:
    """``recipient[id]=1`` → ``{"recipient": {"id": "1"}}`` (form-style nesting)."""
    head = key.split("[", 1)[0]
    parts = [head, *_BRACKETS.findall(key[len(head) :])]
    node = target
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[parts[-1]] = value


async def read_params(request: Request) -> dict[str, Any]:
    """Query string and body merged, as Graph does; JSON-looking strings are decoded."""
    params: dict[str, Any] = {}
    for key, value in request.query_params.multi_items():
        _set_nested(params, key, _maybe_json(value))
    body = await request.body()
    if not body.strip():
        return params
    content_type = request.headers.get("content-type", "")
    if "json" in content_type or body.lstrip()[:1] == b"{":
        try:
            data = json.loads(body)
        except ValueError:
            raise errors.param("The request body is not valid JSON") from None
        if not isinstance(data, dict):
            raise errors.param("The request body must be a JSON object")
        params.update(data)
    elif "form" in content_type:
        form = await request.form()
        for key, field_value in form.multi_items():
            if isinstance(field_value, str):
                _set_nested(params, key, _maybe_json(field_value))
    return params


async def read_json(request: Request) -> dict[str, Any]:
    """A control endpoint's JSON body (empty body → ``{}``)."""
    body = await request.body()
    if not body.strip():
        return {}
    try:
        data = json.loads(body)
    except ValueError:
        raise ControlError(400, "The request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise ControlError(400, "The request body must be a JSON object")
    return data


def access_token(request: Request, params: dict[str, Any]) -> str | None:
    token = params.get("access_token")
    if isinstance(token, str) and token:
        return token
    authorization = request.headers.get("authorization", "")
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() in ("bearer", "oauth") and value.strip():
        return value.strip()
    return None


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def graph_response(data: Any, *, version: str | None, status: int = 200) -> Response:
    headers = {"x-fb-trace-id": ids.fbtrace_id(), "x-fb-rev": "1020304050"}
    if version:
        headers["facebook-api-version"] = version
    return json_response(data, status, headers)


def graph_error_response(error: GraphError, *, version: str | None) -> Response:
    response = graph_response(error.payload(), version=version, status=error.status)
    if error.code == 190:
        response.headers["www-authenticate"] = (
            f'OAuth "Facebook Platform" "invalid_token" "{error.message}"'
        )
    return response


def control_error_response(error: ControlError) -> Response:
    return json_response(error.payload(), error.status)
