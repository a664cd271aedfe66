"""The customer phone: one self-contained HTML page to play a customer."""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import HTMLResponse


async def phone_page(request: Request) -> HTMLResponse:
    base = json.dumps(request.scope.get("root_path", "")).replace("<", "\\u003c")
    return HTMLResponse(PHONE_HTML.replace("__BASE_JSON__", base))


PHONE_HTML = "<!doctype html><title>phone</title><script>const BASE = __BASE_JSON__;</script>"
