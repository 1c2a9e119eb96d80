"""The Chat page end to end: forms → Message rows → the real client → the sandbox over HTTP, both
the blocking path (no JavaScript) and the server-sent event stream."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.test import Client
from django.utils import timezone

from generations import chat
from generations.models import Conversation, Message
from studio.models import Membership, Role
from tests.conftest import make_user

pytestmark = pytest.mark.django_db

QUESTION = "What is a credit?"
HTMX = {"HTTP_HX_REQUEST": "true"}


def balance(upstream) -> int:
    return upstream.sandbox.state.account(settings.SANDBOX_API_KEY)["balance"]


def start_chat(client: Client, content: str = QUESTION, **data) -> Conversation:
    """A conversation started without JavaScript: the reply is fetched before the redirect."""
    form = {"content": content, "reasoning_effort": "high", "include_thoughts": "on", **data}
    response = client.post("/chat/new", form)
    assert response.status_code == 302
    return Conversation.objects.latest("created_at")


def send_with_htmx(client: Client, conversation: Conversation, content: str = QUESTION) -> str:
    """Sends a message as the page's htmx form does; returns the fragment."""
    response = client.post(f"/chat/{conversation.code}/send", {"content": content}, **HTMX)
    assert response.status_code == 200
    return response.content.decode()


def read_events(response) -> list[tuple[str, dict]]:
    """The (event, data) pairs of an SSE response, read the way the ASGI server reads them."""

    async def collect() -> list[bytes]:
        return [part async for part in response.streaming_content]

    body = b"".join(async_to_sync(collect)()).decode()
    events = []
    for block in body.split("\n\n"):
        name = data = None
        for line in block.splitlines():
            if line.startswith("event: "):
                name = line.removeprefix("event: ")
            elif line.startswith("data: "):
                data = json.loads(line.removeprefix("data: "))
        if name:
            events.append((name, data))
    return events


def test_it_starts_a_chat_and_answers_without_javascript(alice_client, upstream) -> None:
    before = balance(upstream)
    response = alice_client.post(
        "/chat/new",
        {"content": QUESTION, "reasoning_effort": "high", "include_thoughts": "on"},
    )
    conversation = Conversation.objects.get()
    question, reply = conversation.messages.all()
    assert response.status_code == 302
    assert response["Location"] == f"/chat/{conversation.code}/#message-{reply.pk}"
    assert conversation.title == QUESTION
    assert (question.role, question.content) == ("user", QUESTION)
    assert reply.role == "assistant"
    assert reply.complete
    assert QUESTION in reply.content
    assert reply.content.startswith("Here is a considered answer")  # high effort was sent
    assert QUESTION in reply.thoughts
    assert reply.usage["total_tokens"] > 0
    assert reply.credits_consumed == before - balance(upstream)
    assert reply.error_message == ""

    page = alice_client.get(response["Location"]).content.decode()
    assert "<summary>Thoughts</summary>" in page
    assert f"Used {reply.credits_consumed:.0f} credit" in page
    assert "data-stream=" not in page  # a finished reply is not streamed again
    assert 'aria-live="polite"' in page


def test_it_names_a_chat_after_the_start_of_its_first_message(alice_client, upstream) -> None:
    conversation = start_chat(alice_client, "Tell me " + "a very long story " * 10)
    assert len(conversation.title) == 60
    assert conversation.title.startswith("Tell me a very long story")
    listing = alice_client.get("/chat/").content.decode()
    assert conversation.title in listing


def test_it_leaves_out_thoughts_when_asked(alice_client, upstream) -> None:
    conversation = start_chat(alice_client, reasoning_effort="low", include_thoughts="")
    reply = conversation.messages.get(role="assistant")
    assert reply.thoughts == ""
    assert reply.content.startswith("In short")
    page = alice_client.get(f"/chat/{conversation.code}/").content.decode()
    assert "<summary>Thoughts</summary>" not in page


def test_it_sends_the_whole_conversation_upstream(alice_client, upstream) -> None:
    conversation = start_chat(alice_client)
    alice_client.post(
        f"/chat/{conversation.code}/send",
        {"content": QUESTION, "reasoning_effort": "high", "include_thoughts": "on"},
    )
    first, second = conversation.messages.filter(role="assistant")
    assert second.complete
    # The second prompt holds the first question, its answer and the second question.
    assert second.usage["prompt_tokens"] > 2 * first.usage["prompt_tokens"]


@pytest.mark.django_db(transaction=True)  # the stream pulls chunks (and a rate slot) in a thread
def test_it_streams_a_reply_and_saves_it(alice_client, upstream) -> None:
    conversation = start_chat(alice_client)
    low = {"reasoning_effort": "low", "include_thoughts": "on"}
    assert alice_client.post(f"/chat/{conversation.code}/settings", low).status_code == 302
    before = balance(upstream)
    fragment = send_with_htmx(alice_client, conversation)
    reply = conversation.messages.filter(role="assistant").last()
    assert not reply.complete
    stream_url = f"/chat/{conversation.code}/stream/{reply.pk}"
    assert f'data-stream="{stream_url}"' in fragment
    assert fragment.count('class="bubble ') == 2
    assert 'hx-swap-oob="true"' in fragment  # a fresh form
    assert balance(upstream) == before  # nothing asked yet: the page opens the stream

    response = alice_client.get(stream_url)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/event-stream"
    assert response.is_async  # served incrementally under ASGI, not buffered
    events = read_events(response)

    names = [name for name, _ in events]
    assert names[-1] == "done"
    assert names.count("done") == 1
    assert "thought" in names
    assert names.index("token") > max(i for i, name in enumerate(names) if name == "thought")
    assert len([n for n in names if n == "token"]) > 5  # piece by piece, not all at once
    reply.refresh_from_db()
    assert reply.complete
    assert reply.content == "".join(data["text"] for name, data in events if name == "token")
    assert reply.thoughts == "".join(data["text"] for name, data in events if name == "thought")
    assert reply.content.startswith("In short")
    assert QUESTION in reply.content
    assert reply.usage["total_tokens"] > 0
    assert reply.credits_consumed == before - balance(upstream)
    done = events[-1][1]["html"]
    assert f'id="message-{reply.pk}"' in done
    assert "data-stream=" not in done
    assert "<summary>Thoughts</summary>" in done
    assert f"Used {reply.credits_consumed:.0f} credit" in done


@pytest.mark.django_db(transaction=True)
def test_it_streams_a_reply_only_once(alice_client, upstream) -> None:
    conversation = start_chat(alice_client)
    send_with_htmx(alice_client, conversation)
    reply = conversation.messages.filter(role="assistant").last()
    url = f"/chat/{conversation.code}/stream/{reply.pk}"
    read_events(alice_client.get(url))
    after_first = balance(upstream)

    again = alice_client.get(url)
    assert again.status_code == 410
    assert balance(upstream) == after_first
    # Nor is a reply answered by the page without JavaScript.
    answered = conversation.messages.filter(role="assistant").first()
    assert alice_client.get(f"/chat/{conversation.code}/stream/{answered.pk}").status_code == 410
    assert balance(upstream) == after_first
    reply.refresh_from_db()
    assert reply.complete


@pytest.mark.parametrize("content", ["", "   \n  ", "x" * 20_001])
def test_it_refuses_empty_and_overlong_messages(alice_client, upstream, content) -> None:
    conversation = start_chat(alice_client)
    messages = Message.objects.count()
    before = balance(upstream)
    form = {"content": content, "reasoning_effort": "high", "include_thoughts": "on"}

    page = alice_client.post(f"/chat/{conversation.code}/send", form)
    fragment = alice_client.post(f"/chat/{conversation.code}/send", form, **HTMX)
    first = alice_client.post("/chat/new", form)

    expected = "Write a message first." if not content.strip() else "under 20,000 characters"
    for response in (page, fragment, first):
        assert response.status_code == 200
        assert expected in response.content.decode()
    assert fragment["HX-Retarget"] == "#chat-form"
    assert fragment["HX-Reswap"] == "outerHTML"
    assert 'class="bubble ' not in fragment.content.decode()
    assert Message.objects.count() == messages
    assert Conversation.objects.count() == 1
    assert balance(upstream) == before


def test_it_hides_other_peoples_conversations(alice_client, bob, upstream) -> None:
    conversation = start_chat(alice_client)
    reply = conversation.messages.get(role="assistant")
    bob_client = Client()
    bob_client.force_login(bob)
    before = balance(upstream)
    form = {"content": "Hello", "reasoning_effort": "high", "include_thoughts": "on"}

    assert bob_client.get(f"/chat/{conversation.code}/").status_code == 404
    assert bob_client.post(f"/chat/{conversation.code}/send", form).status_code == 404
    assert bob_client.post(f"/chat/{conversation.code}/send", form, **HTMX).status_code == 404
    assert bob_client.get(f"/chat/{conversation.code}/stream/{reply.pk}").status_code == 404
    assert conversation.title not in bob_client.get("/chat/").content.decode()
    assert Message.objects.count() == 2
    assert balance(upstream) == before


def test_it_finds_a_reply_only_in_its_own_conversation(alice_client, upstream) -> None:
    first = start_chat(alice_client)
    second = start_chat(alice_client, "Another question")
    reply = first.messages.get(role="assistant")
    question = second.messages.get(role="user")
    assert alice_client.get(f"/chat/{second.code}/stream/{reply.pk}").status_code == 404
    assert alice_client.get(f"/chat/{second.code}/stream/{question.pk}").status_code == 404


def test_it_says_when_the_account_is_out_of_credits(alice_client, upstream) -> None:
    upstream.sandbox.state.set_balance(settings.SANDBOX_API_KEY, 0)
    conversation = start_chat(alice_client)
    reply = conversation.messages.get(role="assistant")
    assert reply.complete
    assert reply.content == ""
    assert reply.credits_consumed is None
    assert reply.error_message == chat.OUT_OF_CREDITS
    assert reply.error_message.startswith("The workspace's API in One account is out of credits")
    page = alice_client.get(f"/chat/{conversation.code}/").content.decode()
    assert "out of credits" in page


@pytest.mark.django_db(transaction=True)
def test_it_ends_the_stream_with_the_sentence_when_out_of_credits(alice_client, upstream) -> None:
    conversation = start_chat(alice_client)
    upstream.sandbox.state.set_balance(settings.SANDBOX_API_KEY, 0)
    send_with_htmx(alice_client, conversation)
    reply = conversation.messages.filter(role="assistant").last()

    events = read_events(alice_client.get(f"/chat/{conversation.code}/stream/{reply.pk}"))

    assert [name for name, _ in events] == ["failed"]
    assert "out of credits" in events[0][1]["html"]
    reply.refresh_from_db()
    assert reply.complete
    assert reply.error_message == chat.OUT_OF_CREDITS
    assert balance(upstream) == 0


def test_it_tells_people_to_ask_an_admin_when_the_key_is_refused(
    alice_client, upstream, settings
) -> None:
    settings.APIINONE_API_KEY = "aio_not_a_key_the_sandbox_knows"
    upstream.sandbox.state.revoke(settings.APIINONE_API_KEY)
    conversation = start_chat(alice_client)
    reply = conversation.messages.get(role="assistant")
    assert reply.error_message == chat.KEY_REFUSED
    assert "admin" in reply.error_message


def test_it_asks_to_try_again_when_the_service_does_not_answer(alice_client, upstream) -> None:
    conversation = start_chat(alice_client, "Hello? [sandbox:500]")
    reply = conversation.messages.get(role="assistant")
    assert reply.error_message == "The chat service did not answer; try again."
    assert reply.credits_consumed is None


def test_it_lists_conversations_newest_first(alice_client, upstream) -> None:
    older = start_chat(alice_client, "The older one")
    newer = start_chat(alice_client, "The newer one")
    page = alice_client.get("/chat/").content.decode()
    assert page.index(newer.title) < page.index(older.title)
    assert 'action="/chat/new"' in page
    assert Decimal(older.messages.get(role="assistant").credits_consumed) > 0


def test_it_opens_a_new_chat_for_the_page_to_stream_with_htmx(alice_client, upstream) -> None:
    before = balance(upstream)
    response = alice_client.post(
        "/chat/new",
        {"content": QUESTION, "reasoning_effort": "low", "include_thoughts": ""},
        **HTMX,
    )
    conversation = Conversation.objects.get()
    reply = conversation.messages.get(role="assistant")
    assert response.status_code == 200
    assert response["HX-Redirect"] == f"/chat/{conversation.code}/"
    assert not reply.complete
    assert balance(upstream) == before  # the page asks, through the stream
    page = alice_client.get(response["HX-Redirect"]).content.decode()
    stream_url = f"/chat/{conversation.code}/stream/{reply.pk}"
    assert f'data-stream="{stream_url}"' in page
    assert '<option value="low" selected>' in page  # the chat's settings, as they were chosen


@pytest.mark.django_db
def test_it_holds_the_pre_deduction_then_settles_to_the_reply(
    alice, alice_client, upstream
) -> None:
    from decimal import Decimal

    from studio import audit
    from studio.models import LedgerEntry

    alice_client.post("/chat/new", {"content": "What is a credit?", "reasoning_effort": "high"})
    reply = Message.objects.get(role=Message.Role.ASSISTANT)
    kinds = list(LedgerEntry.objects.filter(message=reply).values_list("kind", "amount"))
    assert kinds == [("hold", Decimal(-5)), ("settle", Decimal(5) - reply.credits_consumed)]
    assert audit.problems() == []


@pytest.mark.django_db
def test_it_stops_a_chat_over_budget_before_sending(
    alice, alice_client, upstream, settings
) -> None:
    from studio.models import Budget, Membership

    Budget.objects.create(membership=Membership.objects.get(user=alice), limit=3, period="day")
    before = upstream.sandbox.state.account(settings.SANDBOX_API_KEY)["balance"]
    alice_client.post("/chat/new", {"content": "What is a credit?", "reasoning_effort": "high"})
    reply = Message.objects.get(role=Message.Role.ASSISTANT)
    assert "needs 5 credits" in reply.error_message
    assert reply.complete
    assert upstream.sandbox.state.account(settings.SANDBOX_API_KEY)["balance"] == before


def test_a_viewer_reads_the_chat_page_without_a_box_to_type_in(alice) -> None:
    workspace = alice.memberships.get().workspace
    vera = make_user("vera")
    Membership.objects.filter(user=vera).update(selected_at=None)
    Membership.objects.create(
        workspace=workspace, user=vera, role=Role.VIEWER, selected_at=timezone.now()
    )
    viewer = Client()
    viewer.force_login(vera)
    page = viewer.get("/chat/").content.decode()
    assert "You can look, not spend" in page
    assert 'id="chat-form"' not in page
    assert viewer.post("/chat/new", {"content": "hello"}).status_code == 404  # still refused


@pytest.mark.django_db(transaction=True)  # the stream pulls chunks (and a rate slot) in a thread
def test_a_stream_dropped_by_the_browser_is_billed_as_the_service_bills_it(
    alice_client, upstream
) -> None:
    """The page goes away after the first words: what arrived is kept, and the bill is what the
    service took: the documented pre-deduction for a cut-off reply (never nothing), or the
    reply's price when the service had already sent it whole."""
    import time
    from decimal import Decimal

    from studio.models import LedgerEntry

    conversation = start_chat(alice_client)
    before = balance(upstream)
    send_with_htmx(alice_client, conversation)
    reply = conversation.messages.filter(role="assistant").last()
    response = alice_client.get(f"/chat/{conversation.code}/stream/{reply.pk}")

    async def first_words() -> None:
        parts = response.streaming_content
        async for part in parts:
            if b"event: token" in part:
                break
        await parts.aclose()  # the browser is gone

    async_to_sync(first_words)()
    reply.refresh_from_db()
    assert reply.complete
    assert reply.content  # what arrived is kept
    entries = dict(LedgerEntry.objects.filter(message=reply).values_list("kind", "amount"))
    assert entries["hold"] == Decimal(-5)
    charged = -(entries["hold"] + entries["settle"])  # settled, never released
    if reply.error_message:  # cut off: the pre-deduction the service keeps
        assert reply.error_message.startswith("The reply was cut off")
        assert charged == 5
    else:  # what the service had already sent was read to its end: billed at its price
        assert charged == reply.credits_consumed
    for _ in range(40):  # the sandbox notices the closed connection at its next write
        if before - balance(upstream) == charged:
            break
        time.sleep(0.05)
    assert before - balance(upstream) == charged


def test_a_refusal_before_the_stream_gives_the_hold_back(alice_client, upstream) -> None:
    from studio.models import LedgerEntry

    conversation = start_chat(alice_client, "Hello? [sandbox:500]")
    reply = conversation.messages.get(role="assistant")
    kinds = sorted(LedgerEntry.objects.filter(message=reply).values_list("kind", flat=True))
    assert kinds == ["hold", "release"]  # the service answered 500 and ran nothing


def _stream_parts(client: Client, conversation: Conversation, keep: int | None):
    """Streams the conversation's waiting reply; the browser goes away after `keep` parts
    (None: it reads to the end). Returns how many parts it read."""
    reply = conversation.messages.filter(role="assistant").last()
    response = client.get(f"/chat/{conversation.code}/stream/{reply.pk}")
    read = 0

    async def browse() -> None:
        nonlocal read
        parts = response.streaming_content
        async for _part in parts:
            read += 1
            if keep is not None and read >= keep:
                break
        await parts.aclose()

    async_to_sync(browse)()
    return read


@pytest.mark.django_db(transaction=True)
def test_a_stream_dropped_at_any_part_is_billed_exactly_as_the_service_billed_it(
    alice_client, upstream
) -> None:
    """The ledger against the upstream, not against itself: for a drop after every part of a
    streamed reply (before the question went out, between any two words, after the last), the
    studio's charge for the reply equals what the sandbox took from the account."""
    import time

    from studio.models import LedgerEntry

    first = start_chat(alice_client)
    send_with_htmx(alice_client, first)
    whole = _stream_parts(alice_client, first, None)
    assert whole > 4
    for keep in range(1, whole + 1):
        before = balance(upstream)
        send_with_htmx(alice_client, first)
        _stream_parts(alice_client, first, keep)
        reply = first.messages.filter(role="assistant").last()
        reply.refresh_from_db()
        assert reply.complete, keep
        studio = -sum(LedgerEntry.objects.filter(message=reply).values_list("amount", flat=True))
        for _ in range(40):  # the sandbox notices a closed connection at its next write
            if before - balance(upstream) == studio:
                break
            time.sleep(0.05)
        assert before - balance(upstream) == studio, (keep, whole, reply.error_message)


@pytest.mark.django_db(transaction=True)
def test_a_stream_takes_its_rate_slot_before_answering_when_one_is_free(
    alice_client, upstream, settings
) -> None:
    """Issue 14's time to the first word: with room on the key, the slot is taken in the view
    (the request's own connection), so the stream's first pull only waits on the network. With
    the key full, the view still answers at once and the stream waits for a slot itself."""
    import time

    from generations.models import RateLimitSlot

    conversation = start_chat(alice_client)
    key = chat.stream_account("", None).rate_key
    RateLimitSlot.objects.all().delete()
    send_with_htmx(alice_client, conversation)
    reply = conversation.messages.filter(role="assistant").last()
    response = alice_client.get(f"/chat/{conversation.code}/stream/{reply.pk}")
    assert RateLimitSlot.objects.filter(key=key).count() == 1  # taken before a chunk was read
    assert read_events(response)[-1][0] == "done"
    assert RateLimitSlot.objects.filter(key=key).count() == 1  # and not a second time

    settings.APIINONE_RATE_LIMIT = 1  # the key full for a window
    settings.APIINONE_RATE_WINDOW = 1.0
    send_with_htmx(alice_client, conversation)
    reply = conversation.messages.filter(role="assistant").last()
    started = time.monotonic()
    response = alice_client.get(f"/chat/{conversation.code}/stream/{reply.pk}")
    assert time.monotonic() - started < 0.5  # the view did not wait for the window
    assert RateLimitSlot.objects.filter(key=key).count() == 1
    assert read_events(response)[-1][0] == "done"  # the stream waited for its slot
    assert time.monotonic() - started > 1.0
