from __future__ import annotations

from django.test import Client


def test_favicon_ico_sends_browsers_to_the_pages_icon() -> None:
    response = Client().get("/favicon.ico")
    assert response.status_code == 301
    assert response["Location"] == "/static/img/favicon.svg"
    assert Client().get(response["Location"]).status_code in (200, 404)  # served by whitenoise
