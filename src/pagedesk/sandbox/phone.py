"""The customer phone: one self-contained HTML page (no build step, no external assets)
to play a customer against the sandbox. Message text is only ever set with
``textContent``; the page talks to ``BASE + "/_sandbox/..."`` where BASE is the
mount's ``root_path``, so it works under any prefix."""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files

from starlette.requests import Request
from starlette.responses import HTMLResponse


async def phone_page(request: Request) -> HTMLResponse:
    base = json.dumps(request.scope.get("root_path", "")).replace("<", "\\u003c")
    return HTMLResponse(
        _template().replace("__BASE_JSON__", base),
        headers={"Content-Security-Policy": CSP, "Cache-Control": "no-store"},
    )


CSP = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "connect-src 'self'; img-src * data:; base-uri 'none'; form-action 'none'"
)


@cache
def _template() -> str:
    return files("pagedesk.sandbox").joinpath("templates/phone.html").read_text("utf-8")
