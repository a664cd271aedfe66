"""Send API calls as an operator's fault test sees them: a log of every call and its
answer, and slow answers (time-outs) on demand.

Meta's Send API sometimes answers late. The caller times out not knowing whether the
message went out, which is the case a sender must never "fix" by sending again. A
page's ``slow_next_sends`` makes the next calls answer only after
``slow_send_seconds``; ``slow_sends_deliver`` says whether Meta acted on them anyway
(the answer was lost) or not (the call hung, then failed).

Every call is recorded, refused ones included (a bad token, say), with what it
carried (``metadata`` identifies the sender's message) and how it was answered, so a
test can count calls, duplicates and losses from the outside: ``GET /_sandbox/sends``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from pagedesk.sandbox import errors, send_api
from pagedesk.sandbox.errors import GraphError
from pagedesk.sandbox.models import Page
from pagedesk.sandbox.state import SandboxState

Record = dict[str, Any]


def log_call(
    state: SandboxState, method: str, path: list[str], params: dict[str, Any]
) -> Record | None:
    """Open the log record of a Send API call (``POST /{me or page}/messages``)."""
    if method != "POST" or len(path) != 2 or path[1] != "messages":
        return None
    message = params.get("message")
    message = message if isinstance(message, dict) else {}
    recipient = params.get("recipient")
    return state.log_send(
        {
            "page_id": None,
            "recipient": recipient if isinstance(recipient, dict) else None,
            "metadata": message.get("metadata"),
            "text": message.get("text"),
            "sender_action": params.get("sender_action"),
            "slow": False,
            "status_code": None,
            "error_code": None,
            "message_id": None,
        }
    )


def log_error(record: Record | None, error: GraphError) -> None:
    """The call was refused before or during sending (if not noted already)."""
    if record is not None and record["status_code"] is None:
        record.update(status_code=error.status, error_code=error.code)


async def send(
    state: SandboxState, page: Page, params: dict[str, Any], record: Record | None
) -> dict[str, Any]:
    """One Send API call with the page's injected faults."""
    record = record if record is not None else {}
    slow = page.slow_next_sends > 0
    if slow:
        page.slow_next_sends -= 1
    record.update(page_id=page.page_id, slow=slow)
    try:
        if slow and not page.slow_sends_deliver:
            await asyncio.sleep(page.slow_send_seconds)
            raise errors.temporary_failure()
        result = send_api.send(state, page, params)
    except GraphError as error:
        log_error(record, error)
        raise
    # Noted before a slow answer: Meta has acted, whatever becomes of the answer.
    record.update(status_code=200, message_id=result.get("message_id"))
    if slow:
        await asyncio.sleep(page.slow_send_seconds)
    return result
