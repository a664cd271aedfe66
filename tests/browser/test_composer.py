"""The composer's helpers in a real browser: canned replies, the live countdown, emoji."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from pagedesk.web.models import CannedReply
from tests.browser.conftest import Shop, sign_in


def test_shortcut_expansion_countdown_and_emoji(page: Page, shop: Shop) -> None:
    CannedReply.objects.create(
        workspace=shop.workspace, shortcut="stock", text="Yes, it is in stock.", created_by=None
    )
    sign_in(page, shop.base_url, "owner@acme.test")
    page.locator(".row-link", has_text="Ada Lovelace").click()
    expect(page.locator("#pane .conv-head h2")).to_have_text("Ada Lovelace")

    # The 24-hour window counts down live (the customer wrote a moment ago).
    countdown = page.locator("#composer .window .countdown").first
    expect(countdown).to_have_text(re.compile(r"^23:59:\d\d$"))
    first = countdown.text_content()
    expect(countdown).not_to_have_text(first or "", timeout=3000)

    # "/st" suggests the canned reply; Tab inserts it in place of the shortcut.
    box = page.locator("#composer-text")
    box.click()
    box.press_sequentially("Hi! /st")
    suggestion = page.locator("#canned-suggestions li")
    expect(suggestion).to_have_count(1)
    expect(suggestion).to_contain_text("/stock")
    box.press("Tab")
    expect(box).to_have_value("Hi! Yes, it is in stock.")
    expect(page.locator("#canned-suggestions")).to_be_hidden()

    # The emoji picker inserts at the cursor.
    box.press("Home")
    page.locator("#composer .emoji-toggle").click()
    grid = page.locator("#emoji-grid")
    expect(grid).to_be_visible()
    expect(grid.locator("button")).to_have_count(40)
    grid.locator('[data-emoji="👍"]').click()
    expect(box).to_have_value("👍Hi! Yes, it is in stock.")
