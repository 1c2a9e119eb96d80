"""Contract tests: the client against the sandbox over real HTTP, for every route in the manual."""

from __future__ import annotations

import json
import threading
import time
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, HTTPServer

import httpx
import pytest

from generations import client
from generations.client import UpstreamError
from generations.sandbox import media
from generations.sandbox.server import SandboxConfig, SandboxServer
from tests.conftest import SANDBOX_KEY


def wait_for(account: client.Account, task_id: str, timeout: float = 30.0) -> client.Task:
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        task = client.get_task(account, task_id)
        seen.append(task.status_word)
        if task.finished:
            return task
        time.sleep(0.05)
    raise AssertionError(f"task {task_id} did not finish; saw {seen[-5:]}")


def download(url: str) -> httpx.Response:
    return httpx.get(url, timeout=10)


def test_it_creates_an_image_and_serves_real_pngs(account) -> None:
    task = client.create_image(
        account, {"model": "imagen4-fast", "prompt": "a red fox in snow", "num_images": 2}
    )
    assert task.state == client.RUNNING
    assert task.status_word == "IN_PROGRESS"
    done = wait_for(account, task.task_id)
    assert done.state == client.SUCCEEDED
    assert done.status_word == "SUCCESS"
    assert done.consumed_credits == Decimal(8)  # 4 per image × 2
    assert len(done.result_urls) == 2
    response = download(done.result_urls[0])
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert media.sniff(response.content) == "image/png"


def test_it_reports_pending_then_running(tmp_path) -> None:
    server = SandboxServer(SandboxConfig(state_dir=tmp_path, speed=0.3, rate_limit=100_000)).start()
    try:
        account = client.Account(base_url=server.url, api_key=SANDBOX_KEY)
        task = client.create_image(account, {"model": "flux-2", "prompt": "a quiet harbour"})
        words = []
        while True:
            current = client.get_task(account, task.task_id)
            if not words or words[-1] != current.status_word:
                words.append(current.status_word)
            if current.finished:
                break
            time.sleep(0.02)
        assert words == ["pending", "IN_PROGRESS", "SUCCESS"]
    finally:
        server.stop()


def test_it_makes_a_video_with_sound_in_the_flat_shape(account) -> None:
    task = client.create_video(
        account, {"model": "kling-3", "prompt": "a dog running", "duration": 3, "sound": True}
    )
    assert task.status_word == "pending"  # the manual's flat {id, status, model, created_at}
    assert task.raw["model"] == "kling-3"
    done = wait_for(account, task.task_id)
    assert done.status_word == "completed"
    assert done.consumed_credits == Decimal(180)  # std 40/s + sound 20/s, 3 s
    video = download(done.result_urls[0])
    assert video.headers["content-type"] in ("video/mp4", "video/quicktime")


def test_it_makes_music_in_the_suno_shapes(account) -> None:
    task = client.create_music(
        account, {"model": "chirp-v4-0", "gpt_description_prompt": "a calm piano piece"}
    )
    assert task.status_word == "pending"
    done = wait_for(account, task.task_id)
    assert done.status_word == "complete"
    assert done.consumed_credits == Decimal(8)
    assert len(done.result_urls) == 2  # Suno returns two variations
    assert download(done.result_urls[1]).headers["content-type"] == "audio/mpeg"


def test_it_accepts_the_msg_taskid_shape(account) -> None:
    task = client.create_music(account, {"model": "minimax-music", "prompt": "la la la, a song"})
    assert task.raw == {"taskId": task.task_id}
    assert wait_for(account, task.task_id).state == client.SUCCEEDED


def test_it_speaks_a_dialogue_priced_per_character(account) -> None:
    text = "x" * 500
    task = client.create_speech(
        account,
        {
            "model": "elevenlabs-v3",
            "dialogue": [{"text": text, "voice": "narrator"}, {"text": text}],
            "stability": 0.5,
        },
    )
    done = wait_for(account, task.task_id)
    assert done.consumed_credits == Decimal(28)  # 1000 characters
    assert download(done.result_urls[0]).headers["content-type"] == "audio/mpeg"


def test_it_runs_every_tool_on_inputs_it_downloads(account) -> None:
    image = wait_for(
        account, client.create_image(account, {"model": "flux-2", "prompt": "a portrait"}).task_id
    ).result_urls[0]
    face = wait_for(
        account, client.create_image(account, {"model": "flux-2", "prompt": "a face"}).task_id
    ).result_urls[0]

    cutout = wait_for(account, client.remove_background(account, {"image": image}).task_id)
    assert cutout.consumed_credits == Decimal(1)
    assert download(cutout.result_urls[0]).headers["content-type"] == "image/png"

    bigger = wait_for(account, client.upscale(account, {"image": image}).task_id)
    original = download(image).content
    upscaled = download(bigger.result_urls[0]).content
    from io import BytesIO

    from PIL import Image

    assert Image.open(BytesIO(upscaled)).width == 2 * Image.open(BytesIO(original)).width

    swap = client.face_swap(
        account, {"image": image, "face_image": face, "target_index": 1, "output_format": "webp"}
    )
    swapped = wait_for(account, swap.task_id)
    assert swapped.consumed_credits == Decimal(4)
    assert download(swapped.result_urls[0]).headers["content-type"] == "image/webp"

    video = wait_for(
        account,
        client.create_video(
            account, {"model": "kling-3", "prompt": "waves", "duration": 3, "sound": False}
        ).task_id,
    ).result_urls[0]
    keyed = wait_for(
        account,
        client.remove_video_background(
            account, {"video": video, "background_image": image}
        ).task_id,
    )
    assert keyed.consumed_credits == Decimal(10)
    assert download(keyed.result_urls[0]).headers["content-type"] in (
        "video/mp4",
        "video/quicktime",
    )


def test_it_fails_a_tool_whose_input_cannot_be_downloaded(account) -> None:
    task = client.remove_background(account, {"image": "http://127.0.0.1:9/nothing.png"})
    done = wait_for(account, task.task_id)
    assert done.state == client.FAILED
    assert "Could not download" in done.error_message
    assert done.result_urls == ()


def test_it_chats_blocking_with_usage_and_credits(account) -> None:
    reply = client.chat(
        account,
        {"model": "gemini", "messages": [{"role": "user", "content": "What is a credit?"}]},
    )
    assert "What is a credit?" in reply.content
    assert reply.thoughts  # include_thoughts defaults to true
    assert (
        reply.usage["total_tokens"]
        == reply.usage["prompt_tokens"] + reply.usage["completion_tokens"]
    )
    assert reply.credits_consumed == Decimal(1)


def test_it_streams_a_chat_reply_to_done(account) -> None:
    chunks = list(
        client.chat_stream(
            account,
            {
                "model": "gemini",
                "messages": [{"role": "user", "content": "Say hello"}],
                "include_thoughts": True,
            },
        )
    )
    assert chunks[-1].done
    assert any(c.thoughts for c in chunks)
    text = "".join(c.content for c in chunks)
    assert "Say hello" in text
    final = [c for c in chunks if c.usage]
    assert len(final) == 1
    assert final[0].credits_consumed == Decimal(1)


def test_it_streams_without_thoughts_when_asked(account) -> None:
    chunks = list(
        client.chat_stream(
            account,
            {
                "model": "gemini",
                "messages": [{"role": "user", "content": "hi"}],
                "include_thoughts": False,
            },
        )
    )
    assert not any(c.thoughts for c in chunks)


SPEECH = {"model": "elevenlabs-v3", "dialogue": [{"text": "hi"}]}
SWAP = {"image": "http://a.example/a.png", "face_image": "http://a.example/b.png"}


@pytest.mark.parametrize(
    ("route", "body", "fragment"),
    [
        ("images/generations", {"model": "flux-2", "prompt": "ab"}, "at least 3"),
        ("images/generations", {"model": "flux-2", "prompt": "x" * 5001}, "5000"),
        ("images/generations", {"model": "imagen4", "prompt": "a cat", "aspect_ratio": "5:1"}, ""),
        ("images/generations", {"model": "no-such-model", "prompt": "a cat"}, "Unknown model"),
        ("videos/generations", {"model": "kling-3", "prompt": "x" * 2501}, "2500"),
        ("videos/generations", {"model": "kling-3", "prompt": "a cat", "duration": 16}, "15"),
        ("videos/generations", {"model": "kling-3", "prompt": "a cat", "duration": 2}, "3"),
        ("audio/music", {"model": "chirp-v4-0", "gpt_description_prompt": "x" * 401}, "400"),
        ("audio/music", {"model": "chirp-v3-5", "prompt": "x" * 3001}, "3000"),
        ("audio/music", {"model": "chirp-v3-5", "title": "only a title"}, ""),
        ("audio/speech", {"model": "elevenlabs-v3", "dialogue": []}, ""),
        ("audio/speech", {**SPEECH, "stability": 2}, ""),
        ("images/tools/face-swap", {"image": "http://x.example/a.png"}, ""),
        ("images/tools/face-swap", {**SWAP, "target_index": 11}, "10"),
        ("images/tools/face-swap", {**SWAP, "output_format": "gif"}, ""),
    ],
)  # fmt: skip
def test_it_refuses_invalid_requests_with_the_documented_error(
    account, sandbox, route: str, body: dict, fragment: str
) -> None:
    with pytest.raises(UpstreamError) as caught:
        client.create_task(account, route, body)
    error = caught.value
    assert error.kind == client.INVALID_REQUEST
    assert error.status == 400
    assert error.permanent
    assert not error.ambiguous
    assert fragment in error.message
    assert sandbox.sandbox.state.unmade_tasks() == []


def test_it_answers_the_documented_error_body(sandbox) -> None:
    response = httpx.post(
        f"{sandbox.url}/images/generations",
        json={"model": "flux-2", "prompt": "a cat"},
        headers={"Authorization": "Bearer nope"},
    )
    assert response.status_code == 401
    assert response.json() == {
        "error": {"code": 401, "message": "Invalid API key", "type": "authentication_error"}
    }


def test_it_raises_authentication_errors(sandbox) -> None:
    bad = client.Account(base_url=sandbox.url, api_key="aio_x")
    with pytest.raises(UpstreamError) as caught:
        client.get_task(bad, "anything")
    assert caught.value.kind == client.AUTHENTICATION
    assert caught.value.permanent
    sandbox.sandbox.state.revoke("aio_revoked_key_123")
    revoked = client.Account(base_url=sandbox.url, api_key="aio_revoked_key_123")
    with pytest.raises(UpstreamError, match="revoked"):
        client.check_key(revoked)


def test_it_checks_a_key_without_spending(account, sandbox) -> None:
    before = sandbox.sandbox.state.account(SANDBOX_KEY)["balance"]
    client.check_key(account)
    assert sandbox.sandbox.state.account(SANDBOX_KEY)["balance"] == before


def test_it_raises_insufficient_credits_and_keeps_the_balance(account, sandbox) -> None:
    sandbox.sandbox.state.set_balance(SANDBOX_KEY, 3)
    with pytest.raises(UpstreamError) as caught:
        client.create_image(account, {"model": "imagen4-fast", "prompt": "a cat"})  # costs 4
    assert caught.value.kind == client.INSUFFICIENT_CREDITS
    assert caught.value.status == 402
    assert caught.value.permanent
    assert sandbox.sandbox.state.account(SANDBOX_KEY)["balance"] == 3
    sandbox.sandbox.state.top_up(SANDBOX_KEY, 1)
    task = client.create_image(account, {"model": "imagen4-fast", "prompt": "a cat"})
    assert wait_for(account, task.task_id).state == client.SUCCEEDED
    assert sandbox.sandbox.state.account(SANDBOX_KEY)["balance"] == 0


def test_it_refunds_a_failed_task(account, sandbox) -> None:
    before = sandbox.sandbox.state.account(SANDBOX_KEY)["balance"]
    task = client.create_image(account, {"model": "flux-2", "prompt": "a cat [sandbox:fail]"})
    done = wait_for(account, task.task_id)
    assert done.state == client.FAILED
    assert done.status_word == "FAILED"
    assert done.error_message
    assert done.consumed_credits == Decimal(0)
    assert sandbox.sandbox.state.account(SANDBOX_KEY)["balance"] == before


def test_it_raises_not_found_for_an_unknown_task(account) -> None:
    with pytest.raises(UpstreamError) as caught:
        client.get_task(account, "no-such-task")
    assert caught.value.kind == client.NOT_FOUND
    assert caught.value.permanent


def test_it_hides_other_keys_tasks(account, sandbox) -> None:
    task = client.create_image(account, {"model": "flux-2", "prompt": "mine"})
    other = client.Account(base_url=sandbox.url, api_key="aio_someone_else_key")
    with pytest.raises(UpstreamError) as caught:
        client.get_task(other, task.task_id)
    assert caught.value.kind == client.NOT_FOUND


def test_it_rate_limits_per_key_with_retry_after(tmp_path) -> None:
    server = SandboxServer(
        SandboxConfig(state_dir=tmp_path, speed=0.01, rate_limit=3, rate_window=1.5)
    ).start()
    try:
        headers = {"Authorization": f"Bearer {SANDBOX_KEY}"}
        codes = [httpx.get(f"{server.url}/tasks/x", headers=headers).status_code for _ in range(4)]
        assert codes == [404, 404, 404, 429]
        limited = httpx.get(f"{server.url}/tasks/x", headers=headers)
        assert limited.json()["error"]["type"] == "rate_limit"
        assert 1 <= int(limited.headers["Retry-After"]) <= 2
        other = {"Authorization": "Bearer aio_another_key_1"}
        assert httpx.get(f"{server.url}/tasks/x", headers=other).status_code == 404
        # The client waits as told and gets through.
        account = client.Account(base_url=server.url, api_key=SANDBOX_KEY)
        started = time.monotonic()
        with pytest.raises(UpstreamError) as caught:
            client.get_task(account, "x")
        assert caught.value.kind == client.NOT_FOUND
        assert time.monotonic() - started >= 0.5
    finally:
        server.stop()


def test_it_expires_result_urls(tmp_path) -> None:
    server = SandboxServer(
        SandboxConfig(state_dir=tmp_path, speed=0.01, url_ttl=1, rate_limit=100_000)
    ).start()
    try:
        account = client.Account(base_url=server.url, api_key=SANDBOX_KEY)
        task = client.create_image(account, {"model": "flux-2", "prompt": "ephemeral"})
        url = wait_for(account, task.task_id).result_urls[0]
        assert download(url).status_code == 200
        assert download(url.replace("sig=", "sig=0")).status_code == 404  # forged signature
        time.sleep(2.1)
        expired = download(url)
        assert expired.status_code == 403
        assert expired.text == "Request has expired"
        fresh = client.get_task(account, task.task_id).result_urls[0]  # a new lookup, new URL
        assert download(fresh).status_code == 200
    finally:
        server.stop()


def test_it_keeps_tasks_and_balances_across_a_restart(tmp_path) -> None:
    config = SandboxConfig(state_dir=tmp_path, speed=0.01, rate_limit=100_000)
    server = SandboxServer(config).start()
    account = client.Account(base_url=server.url, api_key=SANDBOX_KEY)
    done = wait_for(
        account, client.create_image(account, {"model": "flux-2", "prompt": "abc"}).task_id
    )
    # Stop before the media of the next task can be made: a restart must still make it.
    server.sandbox.executor.shutdown(wait=True)
    server.sandbox.executor = _NoExecutor()
    pending = client.create_image(account, {"model": "imagen4", "prompt": "after restart"})
    balance = server.sandbox.state.account(SANDBOX_KEY)["balance"]
    server.stop()

    server = SandboxServer(config).start()
    try:
        account = client.Account(base_url=server.url, api_key=SANDBOX_KEY)
        assert client.get_task(account, done.task_id).state == client.SUCCEEDED
        assert wait_for(account, pending.task_id).state == client.SUCCEEDED
        assert server.sandbox.state.account(SANDBOX_KEY)["balance"] == balance
    finally:
        server.stop()


class _NoExecutor:
    def submit(self, *args, **kwargs) -> None:
        return None

    def shutdown(self, *args, **kwargs) -> None:
        return None


class _Receiver(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        self.received.append(json.loads(self.rfile.read(length)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def receiver():
    _Receiver.received = []
    httpd = HTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/hook", _Receiver.received
    httpd.shutdown()
    httpd.server_close()


def test_it_posts_a_callback_when_a_supported_task_ends(account, receiver) -> None:
    url, received = receiver
    task = client.create_image(
        account, {"model": "flux-2", "prompt": "call me", "callback_url": url}
    )
    wait_for(account, task.task_id)
    deadline = time.monotonic() + 5
    while not received and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(received) == 1
    parsed = client.parse_task(received[0])
    assert parsed.task_id == task.task_id
    assert parsed.state == client.SUCCEEDED
    assert parsed.result_urls


def test_it_sends_no_callback_for_models_without_support(account, receiver) -> None:
    url, received = receiver
    task = client.create_image(
        account, {"model": "ideogram-v3-turbo", "prompt": "quiet", "callback_url": url}
    )
    wait_for(account, task.task_id)
    time.sleep(0.3)
    assert received == []


def test_it_treats_a_lost_create_as_ambiguous_and_never_resends(account, sandbox) -> None:
    faulty = client.Account(
        base_url=sandbox.url, api_key=SANDBOX_KEY, extra_headers={"X-Sandbox-Fault": "lost"}
    )
    with pytest.raises(UpstreamError) as caught:
        client.create_image(faulty, {"model": "flux-2", "prompt": "did it arrive?"})
    assert caught.value.ambiguous
    assert not caught.value.permanent
    tasks = sandbox.sandbox.state._execute("SELECT count(*) FROM tasks").fetchone()[0]
    assert tasks == 1  # it did arrive, exactly once


def test_it_treats_a_500_after_create_as_ambiguous(account, sandbox) -> None:
    faulty = client.Account(
        base_url=sandbox.url, api_key=SANDBOX_KEY, extra_headers={"X-Sandbox-Fault": "500-after"}
    )
    with pytest.raises(UpstreamError) as caught:
        client.create_image(faulty, {"model": "flux-2", "prompt": "did it arrive?"})
    assert caught.value.ambiguous
    assert caught.value.kind == client.SERVER_ERROR
    assert sandbox.sandbox.state._execute("SELECT count(*) FROM tasks").fetchone()[0] == 1


def test_it_treats_a_create_timeout_as_ambiguous(account, sandbox, monkeypatch) -> None:
    monkeypatch.setattr(client, "TIMEOUT", httpx.Timeout(0.3))
    client._clients.clear()
    faulty = client.Account(
        base_url=sandbox.url, api_key=SANDBOX_KEY, extra_headers={"X-Sandbox-Fault": "slow=1"}
    )
    try:
        with pytest.raises(UpstreamError) as caught:
            client.create_image(faulty, {"model": "flux-2", "prompt": "too slow"})
    finally:
        client._clients.clear()
    assert caught.value.kind == client.TIMEOUT_ERROR
    assert caught.value.ambiguous


def test_it_reports_permanent_and_transient_kinds() -> None:
    assert UpstreamError(client.INVALID_REQUEST, "x").permanent
    assert UpstreamError(client.INSUFFICIENT_CREDITS, "x").permanent
    assert not UpstreamError(client.RATE_LIMIT, "x").permanent
    assert not UpstreamError(client.SERVER_ERROR, "x").permanent
    assert not UpstreamError(client.TIMEOUT_ERROR, "x").permanent
