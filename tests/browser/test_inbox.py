"""An agent's day in a real browser: sign in, work the inbox, answer a customer."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from django.utils import timezone
from playwright.sync_api import Page, expect

from pagedesk.inbox.models import Conversation, Message, Note
from tests.browser.conftest import PASSWORD, Shop, sign_in


def open_conversation(page: Page, shop: Shop) -> None:
    page.locator(".row-link", has_text="Ada Lovelace").click()
    expect(page.locator("#pane .conv-head h2")).to_have_text("Ada Lovelace")


def test_sign_in_with_a_wrong_then_the_right_password(page: Page, shop: Shop) -> None:
    page.goto(f"{shop.base_url}/inbox/")
    expect(page).to_have_url(re.compile(r"/sign-in/\?next=/inbox/"))
    sign_in(page, shop.base_url, "owner@acme.test", "not my password")
    expect(page.get_by_role("alert")).to_contain_text("That email and password do not match")
    page.get_by_label("Password").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()
    expect(page).to_have_url(f"{shop.base_url}/inbox/")
    expect(page.locator(".row-link", has_text="Ada Lovelace")).to_be_visible()


def test_the_inbox_lists_the_conversation_and_opens_its_thread(
    page: Page, shop: Shop, shots: Path
) -> None:
    sign_in(page, shop.base_url, "owner@acme.test")
    row = page.locator(".row", has_text="Ada Lovelace")
    expect(row.locator(".unread-badge")).to_have_text("2")
    expect(row.locator(".snippet")).to_contain_text("Attachment")
    page.screenshot(path=str(shots / "inbox.png"))

    # Keyboard: j moves to the first row, Enter opens it (htmx swaps the pane, URL pushed).
    page.locator("body").press("j")
    page.keyboard.press("Enter")
    expect(page.locator("#pane .conv-head h2")).to_have_text("Ada Lovelace")
    conversation = shop.conversation
    expect(page).to_have_url(re.compile(rf"/inbox/c/{conversation.pk}/$"))
    expect(row.locator(".unread-badge")).to_have_count(0)
    assert Conversation.objects.get(pk=conversation.pk).unread_count == 0

    thread = page.locator("#thread")
    expect(thread.locator(".msg.in", has_text="Is the red bike in stock?")).to_be_visible()
    expect(thread.locator(".sys", has_text="Came in through an m.me link")).to_contain_text(
        "ref: spring-sale"
    )
    image = thread.locator(".attachment.image img")
    expect(image).to_be_visible()
    assert image.evaluate("img => img.complete && img.naturalWidth > 0")
    expect(page.locator(".sidebar")).to_contain_text("spring-sale")
    page.screenshot(path=str(shots / "conversation.png"))

    # A full load of the pushed URL shows the same conversation.
    page.reload()
    expect(page.locator("#pane .conv-head h2")).to_have_text("Ada Lovelace")


def test_note_label_assignment_and_done(page: Page, shop: Shop) -> None:
    sign_in(page, shop.base_url, "owner@acme.test")
    open_conversation(page, shop)
    conversation = shop.conversation

    composer = page.locator("#composer")
    composer.get_by_label("Internal note").check()
    expect(composer).to_have_class(re.compile("as-note"))
    composer.locator("textarea").fill("She asked about the red bike; call back tomorrow.")
    composer.get_by_role("button", name="Add note").click()
    expect(page.locator("#thread .msg.note")).to_contain_text("call back tomorrow")
    assert Note.objects.get(conversation=conversation).author == shop.owner
    assert not Message.objects.filter(conversation=conversation, direction="out").exists()

    page.get_by_placeholder("New label").fill("VIP")
    page.get_by_role("button", name="Save labels").click()
    expect(page.locator(".labels-form .label", has_text="VIP")).to_be_visible()
    expect(page.locator(".row", has_text="Ada Lovelace").locator(".label")).to_have_text("VIP")

    page.get_by_role("button", name="Assign to me").click()
    expect(page.locator(".conv-head")).to_contain_text("Assigned to Olivia")
    page.locator(".tab[data-tab=mine]").click()
    expect(page.locator(".row", has_text="Ada Lovelace")).to_be_visible()

    open_conversation(page, shop)
    page.get_by_role("button", name="Mark done").click()
    expect(page.get_by_role("button", name="Reopen")).to_be_visible()
    expect(page.locator(".list .row", has_text="Ada Lovelace")).to_have_count(0)
    page.locator(".tab[data-tab=done]").click()
    expect(page.locator(".row", has_text="Ada Lovelace")).to_be_visible()
    fresh = Conversation.objects.get(pk=conversation.pk)
    assert fresh.status == "done" and fresh.assignee == shop.owner
    assert list(fresh.labels.values_list("name", flat=True)) == ["VIP"]


def test_the_german_ui(page: Page, shop: Shop, shots: Path) -> None:
    sign_in(page, shop.base_url, "owner@acme.test")
    page.locator("#language-switch").select_option("de")
    expect(page.locator(".tab[data-tab=unassigned]")).to_contain_text("Nicht zugewiesen")
    expect(page.locator("header.top")).to_contain_text("Posteingang")
    expect(page.get_by_placeholder("Namen und Nachrichten durchsuchen")).to_be_visible()
    page.screenshot(path=str(shots / "inbox-de.png"))
    page.locator(".row-link", has_text="Ada Lovelace").click()
    expect(page.get_by_role("button", name="Als erledigt markieren")).to_be_visible()
    expect(page.locator("#thread .sys", has_text="Kam über einen m.me-Link")).to_be_visible()
    # Signed out and in again (a new session): still German, it is the person's choice.
    page.locator("header.top form[action='/sign-out/'] button").click()
    sign_in(page, shop.base_url, "owner@acme.test")
    expect(page.locator(".tab[data-tab=done]")).to_contain_text("Erledigt")


def test_outside_the_window_the_composer_offers_human_agent(
    page: Page, shop: Shop, shots: Path
) -> None:
    Conversation.objects.filter(pk=shop.conversation.pk).update(
        last_customer_message_at=timezone.now() - timedelta(hours=30)
    )
    sign_in(page, shop.base_url, "owner@acme.test")
    open_conversation(page, shop)
    composer = page.locator("#composer")
    expect(composer.locator(".window")).to_contain_text("The 24-hour reply window closed")
    human_agent = composer.get_by_label("Reply with the HUMAN_AGENT tag")
    expect(human_agent).to_be_checked()
    expect(composer.locator(".why")).to_contain_text(
        "Outside the 24-hour window Meta still lets a person"
    )
    composer.locator("textarea").fill("Sorry for the wait: the red bike is back in stock.")
    page.screenshot(path=str(shots / "composer-outside-window.png"))

    # Without the tag Meta would refuse it, and the composer says so.
    human_agent.uncheck()
    composer.get_by_role("button", name="Send").click()
    expect(page.locator("#composer .alert")).to_be_visible()
    assert not Message.objects.filter(conversation=shop.conversation, direction="out").exists()


def test_a_reply_is_sent_and_its_ticks_go_to_read(page: Page, shop: Shop) -> None:
    sign_in(page, shop.base_url, "owner@acme.test")
    open_conversation(page, shop)
    composer = page.locator("#composer")
    expect(composer.locator(".window")).to_contain_text("Reply window open")
    composer.locator("textarea").fill("Yes, it is! Come by any time before 6 pm.")
    composer.locator("textarea").press("Control+Enter")
    reply = page.locator("#thread .msg.out", has_text="Come by any time")
    expect(reply).to_be_visible()
    expect(composer.locator("textarea")).to_have_value("")

    shop.settle()  # the worker sends it; the sandbox echoes it and reports delivery
    page.reload()
    expect(reply.locator(".tick")).to_have_class(re.compile(r"\b(sent|delivered)\b"))

    shop.control.post(f"/customers/{shop.psid}/read").raise_for_status()
    shop.settle()
    page.reload()
    expect(reply.locator(".tick")).to_have_class(re.compile(r"\bread\b"))
    expect(reply.locator(".tick")).to_have_text(re.compile("✓✓"))
    sent = Message.objects.get(conversation=shop.conversation, direction="out")
    assert sent.status == "read" and sent.sender_user == shop.owner


def test_a_customer_message_arrives_live_without_a_reload(page: Page, shop: Shop) -> None:
    sign_in(page, shop.base_url, "owner@acme.test")
    open_conversation(page, shop)
    expect(page.locator(".inbox")).to_have_attribute("data-live", "on")
    page.locator("#pane textarea").fill("a draft the agent is typing")

    # Meanwhile, in Messenger: the customer writes again; a second customer appears.
    shop.control.post(f"/customers/{shop.psid}/messages", json={"text": "Still there?"})
    page_id = shop.conversation.channel.page_id
    grace = shop.control.post(
        f"/pages/{page_id}/customers", json={"first_name": "Grace", "last_name": "Hopper"}
    ).json()
    shop.control.post(f"/customers/{grace['psid']}/messages", json={"text": "Hello!"})
    shop.settle()

    expect(page.locator("#thread .msg.in", has_text="Still there?")).to_be_visible()
    expect(page.locator(".row-link", has_text="Grace Hopper")).to_be_visible()
    # the thread refreshed in place: the reply being typed is still there
    expect(page.locator("#pane textarea")).to_have_value("a draft the agent is typing")
