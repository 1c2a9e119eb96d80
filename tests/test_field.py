"""The studio on the field: against the sandbox set up as a real network and service are (results
on a CDN host, links that expire, callbacks that never come, durations off the catalog's)."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from generations import tasks
from generations.models import Generation, State
from generations.sandbox.server import SandboxConfig, SandboxServer
from studio import ledger

pytestmark = pytest.mark.django_db


@pytest.fixture
def field(tmp_path, settings):
    """The studio pointed at a sandbox with the given field conditions."""
    servers = []

    def start(**config) -> SandboxServer:
        config = {"speed": 0.01, "rate_limit": 100_000, **config}
        server = SandboxServer(SandboxConfig(state_dir=tmp_path / "field", **config)).start()
        servers.append(server)
        settings.APIINONE_BASE_URL = settings.SANDBOX_URL = server.url
        settings.SANDBOX = {**settings.SANDBOX, "speed": server.config.speed}
        settings.APIINONE_RATE_LIMIT = 10_000
        return server

    yield start
    for server in servers:
        server.stop()


def run(client, slug: str, data: dict, capture) -> Generation:
    with capture(execute=True):
        response = client.post(f"/create/{slug}/", {"token": slug, **data})
    assert response.status_code == 302, response.content.decode()[:500]
    return Generation.objects.get()


def upstream_charged(server: SandboxServer, generation: Generation) -> Decimal:
    row = server.sandbox.state.task(generation.upstream_task_id)
    return Decimal(str(row.credits))


def test_results_on_a_host_other_than_the_api_s_are_kept(
    alice_client, field, django_capture_on_commit_callbacks
) -> None:
    server = field()
    generation = run(
        alice_client, "flux-2", {"prompt": "a lighthouse"}, django_capture_on_commit_callbacks
    )
    assert generation.state == State.SUCCEEDED
    (kept,) = generation.files.all()
    assert httpx.URL(server.url).host == "127.0.0.1"
    assert httpx.URL(kept.source_url).host == "localhost"  # the second name, as a CDN's


def test_a_result_whose_links_keep_expiring_ends_failed_billed_as_the_upstream_charged(
    alice_client, field, django_capture_on_commit_callbacks, monkeypatch
) -> None:
    # Every link the sandbox hands out has expired before anyone fetches it.
    server = field(url_ttl=-5)
    waits = []

    def quick_backoff(attempts: int) -> float:
        waits.append(tasks.keep_backoff.__wrapped__(attempts))
        return 0.01

    quick_backoff.__wrapped__ = tasks.keep_backoff
    monkeypatch.setattr(tasks, "keep_backoff", quick_backoff)
    lookups = []
    get_task = tasks.client.get_task
    monkeypatch.setattr(
        tasks.client, "get_task", lambda *a, **k: lookups.append(1) or get_task(*a, **k)
    )
    generation = run(
        alice_client, "flux-2", {"prompt": "a lost kite"}, django_capture_on_commit_callbacks
    )
    generation.refresh_from_db()
    assert generation.state == State.FAILED
    assert generation.error_kind == "result_lost"
    charged = upstream_charged(server, generation)
    assert charged == 5
    # The bill is what the upstream charged, not nothing.
    assert generation.cost == charged
    assert ledger.problems() == []
    assert generation.error_message.startswith("API in One charged 5 credits; the studio could not")
    # One look-up at once for fresh links, then backing off (never once a second), bounded.
    assert waits == [4.0, 8.0, 16.0]
    assert generation.keep_attempts == tasks.KEEP_ATTEMPTS
    assert len(lookups) <= tasks.KEEP_ATTEMPTS + 3
    card = alice_client.get(f"/g/{generation.code}/").content.decode()
    assert "API in One charged 5 credits; the studio could not keep the result" in card
    assert "Nothing charged" not in card
