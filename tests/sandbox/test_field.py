"""The sandbox shows the field: the conditions a real network and the real service bring, which
the studio's other tests then meet (results on a second host, callbacks that never come, proxy
pages, charges in other spellings, durations off the catalog's)."""

from __future__ import annotations

import time
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, HTTPServer
from threading import Thread

import httpx
import pytest

from generations import catalog, client
from generations.client import UpstreamError
from generations.sandbox.server import SandboxConfig, SandboxServer
from tests.conftest import SANDBOX_KEY
from tests.sandbox.test_contract import wait_for


@pytest.fixture
def field(tmp_path, request):
    servers = []

    def start(**config) -> tuple[SandboxServer, client.Account]:
        config = {"speed": 0.01, "rate_limit": 100_000, **config}
        server = SandboxServer(SandboxConfig(state_dir=tmp_path / str(len(servers)), **config))
        servers.append(server.start())
        return server, client.Account(base_url=server.url, api_key=SANDBOX_KEY)

    yield start
    for server in servers:
        server.stop()


def test_results_are_served_under_a_second_host_name(field) -> None:
    server, account = field()
    task = client.create_image(account, {"model": "flux-2", "prompt": "a harbour"})
    url = wait_for(account, task.task_id).result_urls[0]
    assert httpx.URL(server.url).host == "127.0.0.1"
    assert httpx.URL(url).host == "localhost"  # not the API's host, as on a CDN
    kept = client.download(url, max_bytes=10**7, trusted_hosts=["localhost"])
    assert kept.content.startswith(b"\x89PNG")


def test_callbacks_can_be_accepted_and_never_delivered(field) -> None:
    arrived = []
    _, account = field(deliver_callbacks=False)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            arrived.append(self.path)
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args) -> None:
            return

    catcher = HTTPServer(("127.0.0.1", 0), Handler)
    Thread(target=catcher.serve_forever, daemon=True).start()
    try:
        callback_url = f"http://127.0.0.1:{catcher.server_address[1]}/cb"
        task = client.create_image(
            account, {"model": "flux-2", "prompt": "a kite", "callback_url": callback_url}
        )
        assert wait_for(account, task.task_id).state == client.SUCCEEDED
        time.sleep(0.3)
        assert arrived == []
    finally:
        catcher.shutdown()


def test_a_proxy_in_front_answers_an_html_502(field) -> None:
    server, account = field()
    response = httpx.get(
        f"{server.url}/tasks/x",
        headers={"Authorization": f"Bearer {SANDBOX_KEY}", "X-Sandbox-Fault": "502"},
    )
    assert response.status_code == 502
    assert response.headers["content-type"] == "text/html"
    # The client reads it as a server error, not as a crash on JSON.
    with pytest.raises(UpstreamError) as caught:
        client.create_image(account, {"model": "flux-2", "prompt": "a kite [sandbox:502]"})
    assert caught.value.status == 502
    assert caught.value.ambiguous  # a create may have reached the service behind the proxy


@pytest.mark.parametrize(
    ("fault", "answered", "read"),
    [("7", 7, Decimal(7)), ("7.0", 7.0, Decimal(7)), ("s7", "7", Decimal(7))],
)
def test_charges_come_as_number_float_or_numeric_string(field, fault, answered, read) -> None:
    _, account = field()
    task = client.create_image(
        account, {"model": "flux-2", "prompt": f"x [sandbox:credits={fault}]"}
    )
    done = wait_for(account, task.task_id)
    assert done.raw["consumed_credits"] == answered
    assert type(done.raw["consumed_credits"]) is type(answered)
    assert done.consumed_credits == read


def test_a_key_whose_balance_runs_out_gets_402(field) -> None:
    _, account = field(starting_balance=10)
    client.create_image(account, {"model": "flux-2", "prompt": "one"})  # 5 of 10
    client.create_image(account, {"model": "flux-2", "prompt": "two"})
    with pytest.raises(UpstreamError) as caught:
        client.create_image(account, {"model": "flux-2", "prompt": "three"})
    assert caught.value.status == 402
    assert caught.value.kind == client.INSUFFICIENT_CREDITS


@pytest.mark.parametrize("drift", [0.5, 2.0])
def test_real_durations_drift_off_the_catalog(field, drift) -> None:
    server, account = field(speed=0.05, drift=drift)
    low, high = catalog.get("flux-2").typical_seconds
    task = client.create_image(account, {"model": "flux-2", "prompt": "a drifting kite"})
    row = server.sandbox.state.task(task.task_id)
    took = row.finish_at - row.created_at
    assert low * 0.05 * drift <= took <= high * 0.05 * drift


def test_every_creation_envelope_is_read_on_every_route(field) -> None:
    """The manual shows a different creation answer per family of routes; the real service may
    answer any route in any of them. Each route × each shape: the task id and status are read,
    and the job is followed to its result."""
    from generations.sandbox.server import DIALECTS

    server, account = field()
    image = wait_for(
        account, client.create_image(account, {"model": "flux-2", "prompt": "an input"}).task_id
    ).result_urls[0]
    video = wait_for(
        account,
        client.create_video(
            account, {"model": "kling-3", "prompt": "waves", "duration": 3, "sound": False}
        ).task_id,
    ).result_urls[0]
    bodies = {
        "images/generations": {"model": "flux-2", "prompt": "a kite"},
        "videos/generations": {"model": "kling-3", "prompt": "a kite", "duration": 3},
        "audio/music": {"model": "chirp-v4-0", "gpt_description_prompt": "a calm tune"},
        "audio/speech": {"model": "elevenlabs-v3", "dialogue": [{"text": "Hello there."}]},
        "images/tools/remove-bg": {"image": image},
        "images/tools/upscale": {"image": image},
        "images/tools/face-swap": {"image": image, "face_image": image},
        "videos/tools/bg-remover": {"video": video},
    }
    routes = {spec.route for spec in catalog.MODELS.values() if spec.kind != "chat"}
    assert routes == set(bodies)
    sent = []
    for route, body in bodies.items():
        for shape in DIALECTS:
            headers = {"X-Sandbox-Fault": f"shape={shape}"}
            answered = httpx.post(
                f"{server.url}/{route}",
                json=body,
                headers={"Authorization": f"Bearer {SANDBOX_KEY}", **headers},
                timeout=10,
            )
            assert answered.status_code == 200, (route, shape, answered.text)
            task = client.parse_task(answered.json())
            assert task.task_id.startswith("sbx"), (route, shape, answered.json())
            sent.append((route, shape, task.task_id))
    for route, shape, task_id in sent:  # all sent first: their media are made side by side
        done = wait_for(account, task_id)
        assert done.state == client.SUCCEEDED, (route, shape, done.raw)
        assert done.status_word == DIALECTS[shape][3]
        assert done.result_urls, (route, shape)
