"""Pages and their htmx fragments share addresses: responses say they vary by HX-Request, and a
history restore gets the whole page."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_a_page_and_its_fragment_say_they_vary_by_hx_request(alice_client) -> None:
    page = alice_client.get("/?model=flux-2")
    fragment = alice_client.get(
        "/?model=flux-2", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="model-panel"
    )
    assert '<header class="topbar">' in page.content.decode()
    assert '<header class="topbar">' not in fragment.content.decode()
    for response in (page, fragment):
        assert "HX-Request" in response["Vary"]
        assert "Cookie" in response["Vary"]


def test_a_history_restore_gets_the_whole_page(alice_client) -> None:
    restored = alice_client.get(
        "/?model=flux-2",
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="model-panel",
        HTTP_HX_HISTORY_RESTORE_REQUEST="true",
    )
    assert '<header class="topbar">' in restored.content.decode()
