"""The Chat page's tools in Chromium: a reply's Markdown never runs anything; Stop, Edit, Copy
and Regenerate; rename, search and delete on a phone, with the keyboard."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.test_chat import sign_up

pytestmark = pytest.mark.browser

# The sandbox's reply repeats the first line of the question: this is what the "model" sends.
ATTACK = (
    '<script>window.__pwned=1</script> <img src=x onerror="window.__pwned=2"> '
    "[x](javascript:window.__pwned=3)"
)


def finished(page):
    """The last reply, once it has its bill (the relay sent its finished bubble)."""
    reply = page.locator(".bubble-assistant").last
    expect(reply.locator(".bubble-credits, .bubble-error").first).to_be_visible(timeout=30_000)
    return reply


def start(page, question: str) -> None:
    page.goto("/chat/")
    page.get_by_label("Message").fill(question)
    page.get_by_role("button", name="Start chat").click()
    expect(page.get_by_role("heading", name=question[:60].strip())).to_be_visible()


def test_nothing_in_a_reply_runs(page) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    sign_up(page)
    assert len(ATTACK) <= 120  # the sandbox repeats up to 120 characters of it

    page.goto("/chat/")
    page.get_by_label("Message").fill(ATTACK)
    page.get_by_role("button", name="Start chat").click()
    reply = finished(page)

    text = reply.locator(".bubble-text.markdown")
    expect(text).to_contain_text("<script>window.__pwned=1</script>")  # shown, as words
    expect(text).to_contain_text('onerror="window.__pwned=2"')
    expect(text).to_contain_text("[x](javascript:window.__pwned=3)")
    for clicked in (text, reply.locator(".bubble-role"), text):
        clicked.click()
    for _ in range(2):  # as streamed and settled, then as the server renders the page
        assert page.evaluate("window.__pwned") is None
        assert page.locator(".chat-messages script, .chat-messages img").count() == 0
        assert page.locator('a[href^="javascript"], [onerror], [onclick]').count() == 0
        page.reload()
        expect(page.locator(".bubble-assistant .bubble-text.markdown")).to_contain_text("<img")
    assert dialogs == []


def test_it_stops_edits_copies_and_regenerates(browser, live_studio) -> None:
    context = browser.new_context(
        base_url=live_studio.url, permissions=["clipboard-read", "clipboard-write"]
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        sign_up(page)
        # The sandbox goes quiet for 6 s halfway through this chat's replies: time to stop.
        start(page, "Tell me slowly [sandbox:stall=6]")
        reply = page.locator(".bubble-assistant").last
        expect(reply.locator(".bubble-text")).to_contain_text("Here is", timeout=30_000)
        reply.get_by_role("button", name="Stop").click()
        stopped = page.locator(".bubble-assistant").last
        expect(stopped.locator(".bubble-error")).to_contain_text(
            "You stopped this reply", timeout=4_000
        )
        expect(stopped.locator(".bubble-text")).to_contain_text("Here is")  # what arrived stays
        expect(page.get_by_role("button", name="Stop")).to_have_count(0)

        # Edit the question with the keyboard: the stall goes with the old words.
        edit = page.locator(".bubble-user").last.locator("summary", has_text="Edit")
        edit.focus()
        page.keyboard.press("Enter")
        box = page.get_by_label("Edit your question")
        expect(box).to_be_focused()
        box.fill("What is a credit, edited?")
        page.keyboard.press("Tab")
        expect(page.get_by_role("button", name="Send again")).to_be_focused()
        page.keyboard.press("Enter")
        expect(page.get_by_text("Earlier reply, replaced")).to_be_visible()
        reply = finished(page)
        expect(reply.locator(".bubble-text")).to_contain_text("What is a credit, edited?")
        expect(page.get_by_text("Earlier message, replaced")).to_be_visible()
        expect(page.get_by_text("Earlier reply, replaced")).to_be_visible()

        # Copy puts the reply's own words on the clipboard.
        reply.get_by_role("button", name="Copy").click()
        expect(reply.locator(".copy-status")).to_have_text("Copied.")
        copied = page.evaluate("navigator.clipboard.readText()")
        assert copied.strip() == reply.locator(".bubble-text").inner_text().strip()
        assert "What is a credit, edited?" in copied

        # Regenerate: a new reply to the same question, the old one folded away.
        first_words = reply.locator(".bubble-text").inner_text()
        reply.get_by_role("button", name="Regenerate").click()
        expect(page.locator("details.replaced")).to_have_count(3)
        again = finished(page)
        expect(again.locator(".bubble-text")).to_contain_text("What is a credit, edited?")
        expect(page.locator(".chat-messages > .bubble-assistant")).to_have_count(1)
        assert again.locator(".bubble-text").inner_text() == first_words  # the sandbox is plain
        # Only the last turn offers Regenerate and Edit.
        expect(page.get_by_role("button", name="Regenerate")).to_have_count(1)
        expect(page.locator(".bubble-edit:visible")).to_have_count(1)
    finally:
        context.close()


def test_it_renames_searches_and_deletes_on_a_phone(page) -> None:
    sign_up(page)
    page.set_viewport_size({"width": 375, "height": 740})
    start(page, "Budgets for the team")
    finished(page)
    start(page, "Holograms in the lobby")
    finished(page)

    page.locator(".chat-tools summary", has_text="Rename").click()
    page.get_by_label("Name").fill("Lobby holograms")
    page.get_by_label("Name").press("Enter")
    expect(page.get_by_role("heading", name="Lobby holograms")).to_be_visible()
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0

    search = page.get_by_label("Search chats")
    search.fill("budget")  # the list follows as you type
    results = page.locator("#chat-results")
    expect(results).to_contain_text("Budgets for the team")
    expect(results).not_to_contain_text("Lobby holograms")
    search.fill("the lobby")  # a message's words find a renamed chat
    expect(results).to_contain_text("Lobby holograms")
    expect(results).not_to_contain_text("Budgets")

    page.locator(".chat-tools summary", has_text="Delete").click()
    page.get_by_role("button", name="Delete this chat").click()
    expect(page.get_by_text("Deleted the chat “Lobby holograms”")).to_be_visible()
    expect(page.locator("#chat-results")).not_to_contain_text("Lobby holograms")
    expect(page.locator("#chat-results")).to_contain_text("Budgets for the team")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
