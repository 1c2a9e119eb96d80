from __future__ import annotations
import pytest
from tests.browser.test_chat import sign_up
pytestmark = pytest.mark.browser

def test_debug(page):
    sign_up(page)
    print(page.viewport_size)
    print(page.locator("nav.mainnav").inner_html())
    print(page.locator("nav.mainnav a").evaluate_all("els => els.map(e => [e.textContent, e.offsetWidth, e.offsetHeight, getComputedStyle(e.parentElement).display])"))
    page.screenshot(path="/tmp/chat_debug.png")
