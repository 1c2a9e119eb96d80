"""A stream that goes wrong, before its first word or partway (the sandbox's fault words): the
reply ends with a sentence saying what happened and what to do, keeps what arrived, and is
billed as the sandbox billed it."""

from __future__ import annotations

import httpx
import pytest

from generations import chat, client
from tests.test_chat import balance, read_events, send_with_htmx, start_chat
from tests.test_chat_actions import charged, last_reply, settles_to

pytestmark = pytest.mark.django_db(transaction=True)  # the stream pulls chunks in a thread


@pytest.fixture
def quick_timeout(monkeypatch) -> None:
    """The stream's read timeout (90 s in production) cut to half a second."""
    monkeypatch.setattr(
        client, "STREAM_TIMEOUT", httpx.Timeout(connect=5.0, read=0.5, write=5.0, pool=5.0)
    )


def stream_with_fault(alice_client, upstream, fault: str):
    """A chat whose first message carries `fault`, its second reply streamed to its end."""
    conversation = start_chat(alice_client, f"Tell me about credits [sandbox:{fault}]")
    before = balance(upstream)
    send_with_htmx(alice_client, conversation, "And more?")
    reply = last_reply(conversation)
    events = read_events(alice_client.get(f"/chat/{conversation.code}/stream/{reply.pk}"))
    reply.refresh_from_db()
    return events, reply, before


@pytest.mark.parametrize(
    ("fault", "sentence"),
    [
        ("500-after", chat.BROKE_OFF),
        ("402-after", f"{chat.OUT_OF_CREDITS} {chat.KEPT}"),
    ],
)
def test_an_error_partway_ends_the_reply_and_keeps_what_arrived(
    alice_client, upstream, fault, sentence
) -> None:
    events, reply, before = stream_with_fault(alice_client, upstream, fault)

    names = [name for name, _ in events]
    assert "token" in names
    assert names[-1] == "failed"
    shown = "".join(data["text"] for name, data in events if name == "token")
    assert reply.content == shown  # what arrived is kept, and only that
    assert reply.content.startswith("Here is a considered answer")
    assert not reply.content.endswith("Gemini answers.")  # the end never came
    assert reply.error_message == sentence
    assert sentence in events[-1][1]["html"].replace("&#x27;", "'")
    assert "regenerate the reply" in reply.error_message
    # Partway, the service keeps its pre-deduction; the studio charges the same.
    assert reply.credits_consumed is None
    assert charged(reply) == 5
    assert before - settles_to(upstream, before, 5) == 5


def test_a_stream_that_goes_quiet_partway_ends_with_a_sentence(
    alice_client, upstream, quick_timeout
) -> None:
    events, reply, before = stream_with_fault(alice_client, upstream, "stall=1.5")

    names = [name for name, _ in events]
    assert "token" in names
    assert names[-1] == "failed"
    assert reply.content == "".join(data["text"] for name, data in events if name == "token")
    assert reply.content
    assert reply.error_message == chat.STALLED
    assert reply.error_message.startswith("The reply stopped arriving")
    assert charged(reply) == 5
    assert before - settles_to(upstream, before, 5) == 5  # once the sandbox writes again


def test_a_stream_that_never_starts_in_time_says_so(alice_client, upstream, quick_timeout) -> None:
    """Timed out before the first word: the service may have run it (the request went out),
    so the pre-deduction is charged, as the sandbox charges a reply it could not deliver."""
    conversation = start_chat(alice_client, "Hello")
    before = balance(upstream)
    send_with_htmx(alice_client, conversation, "Slowly now [sandbox:slow=1.5]")
    reply = last_reply(conversation)

    events = read_events(alice_client.get(f"/chat/{conversation.code}/stream/{reply.pk}"))

    assert [name for name, _ in events] == ["failed"]
    reply.refresh_from_db()
    assert reply.error_message == chat.NO_ANSWER
    assert reply.content == ""
    assert charged(reply) == 5
    assert before - settles_to(upstream, before, 5) == 5


def test_a_server_error_before_the_first_word_gives_the_hold_back(alice_client, upstream) -> None:
    conversation = start_chat(alice_client, "Hello")
    before = balance(upstream)
    send_with_htmx(alice_client, conversation, "Now fail [sandbox:500]")
    reply = last_reply(conversation)

    events = read_events(alice_client.get(f"/chat/{conversation.code}/stream/{reply.pk}"))

    assert [name for name, _ in events] == ["failed"]
    reply.refresh_from_db()
    assert reply.error_message == chat.NO_ANSWER
    assert charged(reply) == 0  # held, then released: the service ran nothing
    assert balance(upstream) == before


def test_a_stream_out_of_credits_before_the_first_word_says_so(alice_client, upstream) -> None:
    from django.conf import settings

    conversation = start_chat(alice_client, "Hello")
    upstream.sandbox.state.set_balance(settings.SANDBOX_API_KEY, 3)
    send_with_htmx(alice_client, conversation)
    reply = last_reply(conversation)

    events = read_events(alice_client.get(f"/chat/{conversation.code}/stream/{reply.pk}"))

    assert [name for name, _ in events] == ["failed"]
    reply.refresh_from_db()
    assert reply.error_message == chat.OUT_OF_CREDITS  # nothing arrived: nothing is said kept
    assert charged(reply) == 0
    assert balance(upstream) == 3
