"""The stored-XSS payloads in a real browser (Chromium): the inbox, the conversation
and its sidebar show them as text, and none of them runs."""

from __future__ import annotations

import os

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import CHROMIUM, Shop, chromium, page, sandbox_url, sign_in  # noqa: F401
from tests.security.hostile import FIRST_NAME, LABEL, MESSAGE, NOTE, hostile  # noqa: F401

pytestmark = pytest.mark.skipif(
    not os.path.exists(CHROMIUM) and not os.environ.get("CI"),
    reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)",
)


def test_no_payload_runs_in_the_browser(page: Page, hostile: Shop) -> None:  # noqa: F811
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    sign_in(page, hostile.base_url, "owner@acme.test")
    row = page.locator(".row-link").first
    expect(row).to_contain_text(FIRST_NAME)  # the name, shown as text
    row.click()
    pane = page.locator("#pane")
    expect(pane.locator("#thread")).to_contain_text(MESSAGE)
    expect(pane).to_contain_text(NOTE.split(" @")[0])
    label = pane.get_by_text(LABEL).first
    expect(label).to_be_visible()
    label.hover()  # would fire an onmouseover
    # A new payload arriving while the conversation is open comes in by the live
    # update (htmx swaps server-rendered HTML): rendered as text too.
    live = "<img src=x onerror=\"window.__xss='live'\">live"
    hostile.control.post(f"/customers/{hostile.psid}/messages", json={"text": live})
    hostile.settle()
    expect(pane.locator("#thread")).to_contain_text(live, timeout=15_000)
    page.reload()
    page.wait_for_load_state("networkidle")
    assert page.evaluate("() => window.__xss") is None
    assert page.evaluate("() => document.title") != "owned"
    # No element built from customer input carries an event handler.
    assert (
        page.evaluate(
            "() => [...document.querySelectorAll('#pane *, .row-link *')]"
            ".filter(el => [...el.attributes].some(a => a.name.startsWith('on'))).length"
        )
        == 0
    )
    assert dialogs == []
