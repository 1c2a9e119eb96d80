"""Fixtures every test may use. Users and workspaces are built by hand, here and only here."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from studio.models import Workspace

PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def _plain_static_files(settings) -> None:
    """Pages render without a collectstatic run (the browser tests run the real thing)."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


def make_user(username: str = "alice"):
    user = get_user_model().objects.create_user(username, password=PASSWORD)
    Workspace.create_personal(user)
    return user


@pytest.fixture
def alice(db):
    return make_user("alice")


@pytest.fixture
def bob(db):
    return make_user("bob")


@pytest.fixture
def alice_client(alice) -> Client:
    client = Client()
    client.force_login(alice)
    return client
