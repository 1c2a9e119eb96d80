"""The client's parsing and retry rules, with httpx.MockTransport standing in for the network
(the contract tests in tests/sandbox/ run the same client against the sandbox over real HTTP)."""

from __future__ import annotations

import logging
from decimal import Decimal

import httpx
import pytest

from generations import client
from generations.client import UpstreamError


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch) -> list[float]:
    """Backoff delays are recorded instead of slept."""
    delays: list[float] = []
    monkeypatch.setattr(client.time, "sleep", delays.append)
    return delays


def account_for(handler) -> client.Account:
    return client.Account(
        base_url="https://api.test/api/v1",
        api_key="aio_test_key_0000",
        transport=httpx.MockTransport(handler),
    )


@pytest.mark.parametrize(
    ("word", "state"),
    [
        ("pending", client.QUEUED),
        ("IN_PROGRESS", client.RUNNING),
        ("in_progress", client.RUNNING),
        ("SUCCESS", client.SUCCEEDED),
        ("success", client.SUCCEEDED),
        ("completed", client.SUCCEEDED),
        ("COMPLETE", client.SUCCEEDED),
        ("FAILED", client.FAILED),
        ("failed", client.FAILED),
        ("Failed", client.FAILED),
    ],
)
def test_it_normalises_every_documented_status_word(word: str, state: str) -> None:
    assert client.normalise_status(word) == state


def test_it_treats_an_unknown_word_as_running_and_logs_it_once(caplog) -> None:
    client._unknown_words_logged.discard("baking")
    with caplog.at_level(logging.WARNING, logger="generations.client"):
        assert client.normalise_status("BAKING") == client.RUNNING
        assert client.normalise_status("baking") == client.RUNNING
    assert len([r for r in caplog.records if "BAKING" in r.getMessage()]) == 1


@pytest.mark.parametrize(
    "payload",
    [
        {"code": 200, "message": "success", "data": {"task_id": "t1", "status": "IN_PROGRESS"}},
        {"id": "t1", "status": "pending", "model": "kling-3", "created_at": "2026-02-24T12:00:00Z"},
        {"task_id": "t1", "status": "pending", "model": "suno-v4-5", "created_at": "2026"},
        {"code": 200, "message": "success", "data": {"task_id": "t1"}},
        {"code": 200, "msg": "success", "data": {"taskId": "t1"}},
    ],
)
def test_it_reads_every_creation_shape(payload: dict) -> None:
    task = client.parse_task(payload)
    assert task.task_id == "t1"
    assert task.state in (client.QUEUED, client.RUNNING)


def test_it_reads_the_task_status_example_from_the_manual() -> None:
    task = client.parse_task(
        {
            "code": 200,
            "message": "success",
            "data": {
                "task_id": "n41xxxx_flux2",
                "status": "SUCCESS",
                "consumed_credits": 5,
                "error_message": None,
                "created_at": "2026-02-25T12:00:00Z",
                "request": {"model": "flux-2", "prompt": "A serene Japanese garden..."},
                "response": ["https://cdn.example.com/generated-image.png"],
            },
        }
    )
    assert task.state == client.SUCCEEDED
    assert task.consumed_credits == Decimal(5)
    assert task.result_urls == ("https://cdn.example.com/generated-image.png",)
    assert task.error_message == ""


def test_it_reads_the_suno_feed_shape() -> None:
    task = client.parse_task(
        {
            "code": 200,
            "message": "success",
            "data": {
                "type": "SUCCESS",
                "response_data": [
                    {"id": "s1", "audio_url": "https://a.example/1.mp3", "status": "complete"},
                    {"id": "s2", "audio_url": "https://a.example/2.mp3", "status": "complete"},
                ],
            },
        },
        fallback_id="t9",
    )
    assert task.task_id == "t9"
    assert task.state == client.SUCCEEDED
    assert task.result_urls == ("https://a.example/1.mp3", "https://a.example/2.mp3")


@pytest.mark.parametrize(
    ("value", "expected"),
    [(5, Decimal(5)), ("12.5", Decimal("12.5")), (None, None), ("lots", None), (True, None),
     ("NaN", None), ([], None)],
)  # fmt: skip
def test_it_keeps_credits_exact_or_missing(value, expected) -> None:
    task = client.parse_task({"task_id": "t", "status": "SUCCESS", "consumed_credits": value})
    assert task.consumed_credits == expected


def test_it_drops_result_urls_that_are_not_http() -> None:
    task = client.parse_task(
        {"task_id": "t", "status": "SUCCESS", "response": ["file:///etc/passwd", "https://x/a.png"]}
    )
    assert task.result_urls == ("https://x/a.png",)


def test_it_raises_an_enveloped_error() -> None:
    with pytest.raises(UpstreamError) as caught:
        client.parse_task({"code": 402, "message": "Not enough credits", "data": None})
    assert caught.value.kind == client.INSUFFICIENT_CREDITS


def test_it_sends_the_bearer_key_and_json() -> None:
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"code": 200, "data": {"task_id": "t1"}})

    client.create_image(account_for(handler), {"model": "flux-2", "prompt": "a cat"})
    assert seen[0].url == "https://api.test/api/v1/images/generations"
    assert seen[0].headers["Authorization"] == "Bearer aio_test_key_0000"
    assert seen[0].headers["Content-Type"] == "application/json"


def test_it_never_shows_the_key_in_an_account_repr() -> None:
    assert "aio_test_key_0000" not in repr(account_for(lambda r: httpx.Response(200)))


def test_it_retries_reads_on_5xx_and_timeouts(no_sleep) -> None:
    answers = iter(
        [
            httpx.Response(502, text="bad gateway"),
            httpx.ReadTimeout("slow"),
            httpx.ConnectError("refused"),
            httpx.Response(200, json={"task_id": "t1", "status": "SUCCESS"}),
        ]
    )

    def handler(request: httpx.Request) -> httpx.Response:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    task = client.get_task(account_for(handler), "t1")
    assert task.state == client.SUCCEEDED
    assert len(no_sleep) == 3


def test_it_honours_retry_after_on_reads(no_sleep) -> None:
    answers = iter(
        [
            httpx.Response(429, headers={"Retry-After": "7"}, json={"error": {"code": 429}}),
            httpx.Response(200, json={"task_id": "t1", "status": "pending"}),
        ]
    )
    client.get_task(account_for(lambda r: next(answers)), "t1")
    assert no_sleep[0] >= 7


def test_it_gives_up_reads_after_a_bounded_number_of_tries(no_sleep) -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(
            503, json={"error": {"code": 500, "message": "down", "type": "server_error"}}
        )

    with pytest.raises(UpstreamError) as caught:
        client.get_task(account_for(handler), "t1")
    assert len(calls) == client.READ_ATTEMPTS
    assert caught.value.kind == client.SERVER_ERROR
    assert not caught.value.permanent
    assert all(d <= client.BACKOFF_CAP for d in no_sleep)


def test_it_resends_a_create_only_when_it_surely_did_not_arrive(no_sleep) -> None:
    calls = []
    answers = iter(
        [
            httpx.ConnectError("connection refused"),
            httpx.Response(429, headers={"Retry-After": "1"}, json={"error": {"code": 429}}),
            httpx.Response(
                200, json={"code": 200, "data": {"task_id": "t1", "status": "IN_PROGRESS"}}
            ),
        ]
    )

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    task = client.create_image(account_for(handler), {"model": "flux-2", "prompt": "a cat"})
    assert task.task_id == "t1"
    assert len(calls) == 3


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ReadTimeout("no answer"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
        httpx.ReadError("connection reset"),
        httpx.Response(
            500, json={"error": {"code": 500, "message": "oops", "type": "server_error"}}
        ),
        httpx.Response(504, text="gateway timeout"),
    ],
)
def test_it_never_resends_a_create_that_may_have_arrived(failure) -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if isinstance(failure, Exception):
            raise failure
        return failure

    with pytest.raises(UpstreamError) as caught:
        client.create_video(account_for(handler), {"model": "kling-3", "prompt": "a cat"})
    assert len(calls) == 1
    assert caught.value.ambiguous
    assert not caught.value.permanent


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, client.INVALID_REQUEST),
        (401, client.AUTHENTICATION),
        (402, client.INSUFFICIENT_CREDITS),
        (404, client.NOT_FOUND),
    ],
)
def test_it_raises_permanent_errors_at_once(status: int, kind: str) -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(
            status, json={"error": {"code": status, "message": "no", "type": kind}}
        )

    with pytest.raises(UpstreamError) as caught:
        client.create_image(account_for(handler), {"model": "flux-2", "prompt": "a cat"})
    assert len(calls) == 1
    assert caught.value.kind == kind
    assert caught.value.permanent
    assert not caught.value.ambiguous


def test_it_explains_a_reply_that_is_not_json() -> None:
    with pytest.raises(UpstreamError) as caught:
        client.get_task(account_for(lambda r: httpx.Response(200, text="<html>")), "t1")
    assert caught.value.kind == client.SERVER_ERROR


def test_it_takes_a_limiter_slot_before_every_request() -> None:
    slots = []
    answers = iter(
        [httpx.Response(503), httpx.Response(200, json={"task_id": "t1", "status": "pending"})]
    )
    account = client.Account(
        base_url="https://api.test/api/v1",
        api_key="aio_test_key_0000",
        member="alice",
        limiter=lambda key, member: slots.append((key, member)),
        transport=httpx.MockTransport(lambda r: next(answers)),
    )
    client.get_task(account, "t1")
    assert slots == [(account.rate_key, "alice")] * 2
    assert "aio_test_key" not in account.rate_key


def test_it_reports_a_limiter_timeout_as_nothing_sent() -> None:
    def limiter(key: str, member: str | None) -> None:
        raise TimeoutError("no slot")

    account = client.Account(
        base_url="https://api.test/api/v1",
        api_key="aio_test_key_0000",
        limiter=limiter,
        transport=httpx.MockTransport(lambda r: pytest.fail("nothing may be sent")),
    )
    with pytest.raises(UpstreamError) as caught:
        client.create_image(account, {"model": "flux-2", "prompt": "a cat"})
    assert caught.value.kind == client.RATE_LIMIT
    assert not caught.value.ambiguous


def test_it_parses_sse_lines() -> None:
    assert client.parse_sse_line("") is None
    assert client.parse_sse_line(": keep-alive") is None
    assert client.parse_sse_line("data: [DONE]").done
    chunk = client.parse_sse_line('data: {"choices":[{"delta":{"content":"Hi"}}]}')
    assert chunk.content == "Hi"
    final = client.parse_sse_line(
        'data: {"choices":[{"delta":{}}],"usage":{"total_tokens":3},"credits_consumed":2}'
    )
    assert final.usage == {"total_tokens": 3}
    assert final.credits_consumed == Decimal(2)


def test_it_reads_a_wrapped_chat_reply() -> None:
    reply = client.parse_chat(
        {
            "code": 200,
            "message": "success",
            "data": {
                "id": "c1",
                "model": "gemini-3-flash",
                "choices": [{"message": {"role": "assistant", "content": "Hello"}}],
                "usage": {"total_tokens": 5},
                "credits_consumed": 2,
            },
        }
    )
    assert reply.content == "Hello"
    assert reply.credits_consumed == Decimal(2)


def test_it_backs_off_exponentially_with_jitter() -> None:
    for attempt in range(8):
        delay = client.backoff(attempt)
        assert 0 <= delay <= min(client.BACKOFF_CAP, client.BACKOFF_BASE * 2**attempt)
    assert client.backoff(0, retry_after=9) >= 9
