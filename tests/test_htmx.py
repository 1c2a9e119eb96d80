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


def test_an_htmx_request_without_a_session_is_sent_to_log_in_with_its_page_as_next(db) -> None:
    from django.test import Client

    response = Client().post(
        "/create/flux-2/",
        {"prompt": "a kite"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_CURRENT_URL="http://testserver/?model=flux-2",
    )
    assert response.status_code == 200  # htmx acts on HX-Redirect, not on a 302 it follows
    assert response["HX-Redirect"] == "/accounts/login/?next=%2F%3Fmodel%3Dflux-2"
    card = Client().get("/g/00000000-0000-0000-0000-000000000000/card", HTTP_HX_REQUEST="true")
    assert card["HX-Redirect"].startswith("/accounts/login/?next=")
    plain = Client().get("/gallery/")
    assert plain.status_code == 302  # a browser's own request still gets the usual redirect
