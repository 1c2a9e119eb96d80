"""Fixtures every test may use. Users and workspaces are built by hand, here and only here."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from generations import client
from generations.sandbox.server import SandboxConfig, SandboxServer
from studio.models import Membership, Role, Workspace

PASSWORD = "correct horse battery staple"


def pytest_xdist_make_scheduler(config, log):
    """Under pytest-xdist (`make test` runs on every core) the browser tests all go to one
    worker, which starts their live studio once; every other test is handed out on its own.
    (xdist's own `loadgroup` mode cannot do it under pytest 9: it renames items by a field
    pytest no longer reads.)"""
    from xdist.scheduler import LoadScopeScheduling

    class BrowserTestsTogether(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return "browser" if nodeid.startswith("tests/browser/") else nodeid

    return BrowserTestsTogether(config, log)


@pytest.fixture(autouse=True)
def _fast_passwords(settings) -> None:
    """Hashing a password the production way takes ~0.3 s; tests make users by the hundred."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


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
def team(alice):
    """alice's workspace, and carol: a member of it (alice owns it), working in it."""
    workspace = alice.memberships.get().workspace
    carol = make_user("carol")
    Membership.objects.filter(user=carol).update(selected_at=None)
    Membership.objects.create(
        workspace=workspace, user=carol, role=Role.MEMBER, selected_at=timezone.now()
    )
    return workspace, carol


@pytest.fixture
def bob(db):
    return make_user("bob")


def client_for(user) -> Client:
    """A browser-less client signed in as `user`."""
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def alice_client(alice) -> Client:
    return client_for(alice)


SANDBOX_KEY = "aio_tests_primary_key"


@pytest.fixture
def sandbox(tmp_path) -> SandboxServer:
    """The sandbox upstream, in this process, over real HTTP; fast (speed 0.01), and with its
    rate limit raised so that tests may poll quickly (the limit has tests of its own)."""
    config = SandboxConfig(state_dir=tmp_path / "sandbox", speed=0.01, rate_limit=100_000)
    server = SandboxServer(config).start()
    yield server
    server.stop()


@pytest.fixture
def account(sandbox) -> client.Account:
    """An account on the test sandbox, without the shared limiter (its own tests cover it)."""
    return client.Account(base_url=sandbox.url, api_key=SANDBOX_KEY)


@pytest.fixture
def upstream(sandbox, settings) -> SandboxServer:
    """The studio pointed at the test sandbox, paced for its speed, limits raised for tests."""
    settings.APIINONE_BASE_URL = sandbox.url
    settings.SANDBOX_URL = sandbox.url
    settings.USES_SANDBOX = True
    settings.SANDBOX = {**settings.SANDBOX, "speed": sandbox.config.speed}
    settings.APIINONE_RATE_LIMIT = 10_000
    # A keyed workspace takes the test sandbox for the real service: its files come from the
    # sandbox's second name, a private host that must be named to be trusted.
    settings.APIINONE_RESULT_HOSTS = [sandbox.config.files_host]
    return sandbox


def sandbox_tasks(sandbox: SandboxServer) -> int:
    """How many tasks the sandbox has accepted: what reached the upstream."""
    return sandbox.sandbox.state._execute("SELECT count(*) FROM tasks").fetchone()[0]
