"""What a person does to a chat besides sending: Stop, Regenerate, Copy, Edit and resend, the
chat's settings, rename, delete, search; each against the sandbox over HTTP, each bill checked
against what the sandbox took."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.test import Client

from generations import chat
from generations.models import Conversation, Message
from studio.models import LedgerEntry
from tests.test_chat import HTMX, QUESTION, balance, read_events, send_with_htmx, start_chat

pytestmark = pytest.mark.django_db


def charged(reply: Message) -> Decimal:
    """What the studio's ledger took for a reply, all entries together."""
    return -sum(LedgerEntry.objects.filter(message=reply).values_list("amount", flat=True))


def settles_to(upstream, before: int, amount) -> int:
    """The sandbox's balance once it took `amount` since `before` (it notices a closed stream at
    its next write), or as it is after waiting."""
    for _ in range(80):
        if before - balance(upstream) == amount:
            break
        time.sleep(0.05)
    return balance(upstream)


def last_reply(conversation: Conversation) -> Message:
    return conversation.messages.filter(role="assistant").last()


# -- Stop ------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_it_stops_a_streaming_reply_and_bills_what_the_service_took(alice_client, upstream) -> None:
    """Stop while the service is partway (it goes quiet for 3 s at half the answer): the stream
    ends within a second, keeps what arrived, says it was stopped, ends the upstream request,
    and charges the pre-deduction the sandbox keeps for a stream cut short."""
    conversation = start_chat(alice_client, "Tell me slowly [sandbox:stall=3]")
    before = balance(upstream)
    send_with_htmx(alice_client, conversation, "And again")
    reply = last_reply(conversation)
    response = alice_client.get(f"/chat/{conversation.code}/stream/{reply.pk}")
    events: list[bytes] = []
    timings: dict[str, float] = {}

    async def stop_after_the_first_words() -> None:
        async for part in response.streaming_content:
            events.append(part)
            if b"event: token" in part and "stop" not in timings:
                timings["stop"] = time.monotonic()
                stopped = await sync_to_async(alice_client.post)(
                    f"/chat/{conversation.code}/stop/{reply.pk}", **HTMX
                )
                assert stopped.status_code == 204  # the stream sends the finished bubble
        timings["end"] = time.monotonic()

    async_to_sync(stop_after_the_first_words)()

    assert timings["end"] - timings["stop"] < 2  # well before the service would have gone on
    assert b"event: done" in events[-1]
    reply.refresh_from_db()
    assert reply.complete
    assert reply.content  # what arrived is kept
    assert reply.error_message == chat.STOPPED
    assert "You stopped this reply" in events[-1].decode()
    assert reply.credits_consumed is None
    assert charged(reply) == 5
    assert before - settles_to(upstream, before, 5) == 5


@pytest.mark.django_db(transaction=True)
def test_stop_before_the_reply_was_sent_charges_nothing(alice_client, upstream) -> None:
    conversation = start_chat(alice_client)
    before = balance(upstream)
    send_with_htmx(alice_client, conversation)
    reply = last_reply(conversation)

    response = alice_client.post(f"/chat/{conversation.code}/stop/{reply.pk}", **HTMX)

    assert response.status_code == 200  # ended already: the finished bubble, at once
    assert chat.STOPPED_BEFORE in response.content.decode()
    assert alice_client.get(f"/chat/{conversation.code}/stream/{reply.pk}").status_code == 410
    reply.refresh_from_db()
    assert reply.complete
    assert reply.error_message == chat.STOPPED_BEFORE
    assert not LedgerEntry.objects.filter(message=reply).exists()
    assert balance(upstream) == before


def test_stop_without_javascript_goes_back_to_the_page(alice_client, upstream) -> None:
    conversation = start_chat(alice_client)
    reply = last_reply(conversation)  # answered already: Stop changes nothing
    response = alice_client.post(f"/chat/{conversation.code}/stop/{reply.pk}")
    assert response.status_code == 302
    assert response["Location"] == f"/chat/{conversation.code}/#message-{reply.pk}"
    reply.refresh_from_db()
    assert reply.error_message == ""
    assert reply.stop_requested_at is None


# -- Regenerate ------------------------------------------------------------------------------


def test_it_regenerates_the_last_reply_as_a_new_billed_reply(alice_client, upstream) -> None:
    conversation = start_chat(alice_client)
    first = last_reply(conversation)
    before = balance(upstream)

    response = alice_client.post(f"/chat/{conversation.code}/regenerate/{first.pk}")

    assert response.status_code == 302
    second = last_reply(conversation)
    assert second.pk != first.pk
    assert response["Location"] == f"/chat/{conversation.code}/#message-{second.pk}"
    first.refresh_from_db()
    assert first.replaced_at is not None  # kept (it was billed), out of the conversation
    assert second.complete
    assert QUESTION in second.content
    # Asked with the same history as the first: the question only, not the first reply.
    assert second.usage["prompt_tokens"] == first.usage["prompt_tokens"]
    assert charged(second) == second.credits_consumed == before - balance(upstream)
    assert charged(first) == first.credits_consumed  # its own bill stays as it was
    page = alice_client.get(f"/chat/{conversation.code}/").content.decode()
    assert "Earlier reply, replaced" in page
    assert page.count("Regenerate</button>") == 1  # the replaced one has none


@pytest.mark.django_db(transaction=True)
def test_it_regenerates_with_htmx_for_the_page_to_stream(alice_client, upstream) -> None:
    conversation = start_chat(alice_client)
    first = last_reply(conversation)
    before = balance(upstream)

    response = alice_client.post(f"/chat/{conversation.code}/regenerate/{first.pk}", **HTMX)

    assert response.status_code == 200
    second = last_reply(conversation)
    fragment = response.content.decode()
    assert fragment.strip().startswith('<div id="messages"')
    assert f'data-stream="/chat/{conversation.code}/stream/{second.pk}"' in fragment
    assert balance(upstream) == before  # the page asks, through the stream
    events = read_events(alice_client.get(f"/chat/{conversation.code}/stream/{second.pk}"))
    assert events[-1][0] == "done"
    second.refresh_from_db()
    assert charged(second) == second.credits_consumed == before - balance(upstream)


def test_it_regenerates_only_the_last_finished_reply_once(alice_client, upstream) -> None:
    conversation = start_chat(alice_client)
    first = last_reply(conversation)
    alice_client.post(f"/chat/{conversation.code}/send", {"content": "Another"})
    second = last_reply(conversation)
    replies = Message.objects.count()

    earlier = alice_client.post(f"/chat/{conversation.code}/regenerate/{first.pk}", follow=True)
    assert "Only the last reply, once finished, can be regenerated." in earlier.content.decode()
    assert Message.objects.count() == replies

    alice_client.post(f"/chat/{conversation.code}/regenerate/{second.pk}")
    twice = alice_client.post(f"/chat/{conversation.code}/regenerate/{second.pk}", **HTMX)
    assert twice.status_code == 200
    assert twice["HX-Redirect"] == f"/chat/{conversation.code}/"
    assert Message.objects.count() == replies + 1  # the second click made nothing

    send_with_htmx(alice_client, conversation, "A third")  # waiting, not finished
    waiting = last_reply(conversation)
    alice_client.post(f"/chat/{conversation.code}/regenerate/{waiting.pk}")
    assert last_reply(conversation) == waiting


# -- Edit and resend -------------------------------------------------------------------------


def test_it_edits_and_resends_the_last_question(alice_client, upstream) -> None:
    conversation = start_chat(alice_client, "What is a kredit?")
    question = conversation.messages.get(role="user")
    first = last_reply(conversation)
    before = balance(upstream)

    response = alice_client.post(
        f"/chat/{conversation.code}/edit/{question.pk}", {"content": "What is a credit, really?"}
    )

    assert response.status_code == 302
    current = list(conversation.current_messages())
    assert [(m.role, m.pk > first.pk) for m in current] == [("user", True), ("assistant", True)]
    new_question, reply = current
    assert new_question.content == "What is a credit, really?"
    assert "What is a credit, really?" in reply.content
    assert "kredit" not in reply.content
    question.refresh_from_db()
    first.refresh_from_db()
    assert question.replaced_at is not None
    assert first.replaced_at is not None
    assert charged(reply) == reply.credits_consumed == before - balance(upstream)
    page = alice_client.get(f"/chat/{conversation.code}/").content.decode()
    assert "Earlier message, replaced" in page
    assert "Earlier reply, replaced" in page


def test_it_edits_only_the_last_question(alice_client, upstream) -> None:
    conversation = start_chat(alice_client)
    first_question = conversation.messages.get(role="user")
    alice_client.post(f"/chat/{conversation.code}/send", {"content": "Second"})
    messages = Message.objects.count()

    response = alice_client.post(
        f"/chat/{conversation.code}/edit/{first_question.pk}", {"content": "Changed"}, follow=True
    )

    assert "Only the last message can be edited" in response.content.decode()
    assert Message.objects.count() == messages
    assert not conversation.messages.filter(replaced_at__isnull=False).exists()


def test_an_empty_edit_says_so_in_place(alice_client, upstream) -> None:
    conversation = start_chat(alice_client)
    question = conversation.messages.get(role="user")
    messages = Message.objects.count()
    url = f"/chat/{conversation.code}/edit/{question.pk}"

    fragment = alice_client.post(url, {"content": "  "}, **HTMX)
    page = alice_client.post(url, {"content": ""})

    assert fragment["HX-Retarget"] == f"#edit-form-{question.pk}"
    assert "Write a message first." in fragment.content.decode()
    assert "Write a message first." in page.content.decode()
    assert '<details class="bubble-edit" open>' in page.content.decode()
    assert Message.objects.count() == messages


# -- Copy ------------------------------------------------------------------------------------


def test_a_finished_reply_carries_its_markdown_for_copy(alice_client, upstream) -> None:
    conversation = start_chat(alice_client, "Copy **this** <b>as typed</b>")
    reply = last_reply(conversation)
    page = alice_client.get(f"/chat/{conversation.code}/").content.decode()
    assert f'data-copy="source-{reply.pk}">Copy</button>' in page
    assert f'<template id="source-{reply.pk}">' in page
    assert "Copy **this** &lt;b&gt;as typed&lt;/b&gt;" in page  # the source, escaped


# -- settings --------------------------------------------------------------------------------


def test_a_chat_starts_with_its_settings_and_asks_with_them(alice_client, upstream) -> None:
    conversation = start_chat(
        alice_client,
        reasoning_effort="low",
        include_thoughts="",
        json_output="on",
        system_prompt="  Answer as a pirate.  ",
    )
    reply = last_reply(conversation)
    assert (conversation.reasoning_effort, conversation.include_thoughts) == ("low", False)
    assert conversation.json_output
    assert conversation.system_prompt == "Answer as a pirate."
    assert reply.error_message == ""  # the sandbox took response_format as the manual has it
    assert reply.content.startswith("In short")
    assert reply.thoughts == ""
    body = chat.request_body(reply)
    assert body["messages"][0] == {"role": "system", "content": "Answer as a pirate."}
    assert body["messages"][1] == {"role": "user", "content": QUESTION}
    assert body["response_format"] == {"type": "json_object"}
    assert (body["reasoning_effort"], body["include_thoughts"]) == ("low", False)


def test_it_changes_a_chats_settings_for_the_next_reply(alice_client, upstream) -> None:
    conversation = start_chat(alice_client)
    response = alice_client.post(
        f"/chat/{conversation.code}/settings",
        {"reasoning_effort": "low", "system_prompt": "Be brief."},
    )
    assert response.status_code == 302
    conversation.refresh_from_db()
    assert conversation.reasoning_effort == "low"
    assert not conversation.include_thoughts
    assert not conversation.json_output
    page = alice_client.get(f"/chat/{conversation.code}/").content.decode()
    assert "Settings saved: the next reply uses them." in page
    assert "Low reasoning effort · thinking hidden · with a system prompt" in page

    alice_client.post(f"/chat/{conversation.code}/send", {"content": "Next"})
    reply = last_reply(conversation)
    assert reply.content.startswith("In short")
    body = chat.request_body(reply)
    assert "response_format" not in body
    assert body["messages"][0] == {"role": "system", "content": "Be brief."}


def test_it_refuses_a_reasoning_effort_the_manual_does_not_have(alice_client, upstream) -> None:
    conversation = start_chat(alice_client)
    response = alice_client.post(
        f"/chat/{conversation.code}/settings", {"reasoning_effort": "medium"}
    )
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    conversation.refresh_from_db()
    assert conversation.reasoning_effort == "high"
    refused = alice_client.post("/chat/new", {"content": "Hi", "reasoning_effort": "max"})
    assert refused.status_code == 200
    assert Conversation.objects.count() == 1


# -- rename, delete, search ------------------------------------------------------------------


def test_it_renames_a_chat(alice_client, upstream) -> None:
    conversation = start_chat(alice_client)
    response = alice_client.post(f"/chat/{conversation.code}/rename", {"title": "Credits, 101"})
    assert response.status_code == 302
    conversation.refresh_from_db()
    assert conversation.title == "Credits, 101"
    empty = alice_client.post(f"/chat/{conversation.code}/rename", {"title": "  "})
    assert "Give the chat a name." in empty.content.decode()
    conversation.refresh_from_db()
    assert conversation.title == "Credits, 101"


def test_it_deletes_a_chat_and_keeps_its_bill(alice_client, upstream) -> None:
    conversation = start_chat(alice_client)
    reply = last_reply(conversation)
    bill = charged(reply)

    response = alice_client.post(f"/chat/{conversation.code}/delete", follow=True)

    page = response.content.decode()
    assert "Deleted the chat" in page
    assert f"Deleted the chat “{conversation.title}”." in page
    assert f'href="/chat/{conversation.code}/"' not in page  # gone from the list
    assert alice_client.get(f"/chat/{conversation.code}/").status_code == 404
    assert alice_client.post(f"/chat/{conversation.code}/send", {"content": "x"}).status_code == 404
    assert charged(reply) == bill  # the ledger still names the reply it billed


def test_it_searches_titles_and_messages_newest_first(alice_client, upstream) -> None:
    budgets = start_chat(alice_client, "Budgets for the team")
    alice_client.post(f"/chat/{budgets.code}/send", {"content": "and what about holograms?"})
    holograms = start_chat(alice_client, "Holograms in the lobby")
    other = start_chat(alice_client, "Something else")

    found = alice_client.get("/chat/?q=hologram").content.decode()
    assert holograms.title in found
    assert budgets.title in found  # by a message's words
    assert other.title not in found
    assert found.index(holograms.title) < found.index(budgets.title)  # newest first

    fragment = alice_client.get(
        "/chat/?q=lobby", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="chat-results"
    ).content.decode()
    assert fragment.strip().startswith('<ul id="chat-results">')
    assert holograms.title in fragment
    assert budgets.title not in fragment
    none = alice_client.get("/chat/?q=zebras").content.decode()
    assert "No chat matches “zebras”." in none


# -- other people's chats --------------------------------------------------------------------

NEW_URLS = [
    ("post", "/chat/{code}/stop/{reply}", {}),
    ("post", "/chat/{code}/regenerate/{reply}", {}),
    ("post", "/chat/{code}/edit/{question}", {"content": "Mine now"}),
    ("post", "/chat/{code}/rename", {"title": "Mine now"}),
    ("post", "/chat/{code}/delete", {}),
    ("post", "/chat/{code}/settings", {"reasoning_effort": "low", "system_prompt": "Mine"}),
    ("get", "/chat/{code}/", {}),
]


@pytest.mark.parametrize(("method", "url", "data"), NEW_URLS)
@pytest.mark.parametrize("htmx", [False, True])
def test_another_workspaces_chat_does_not_exist_at_any_url(
    alice_client, bob, upstream, method, url, data, htmx
) -> None:
    conversation = start_chat(alice_client)
    send_with_htmx(alice_client, conversation)  # a reply waiting, for Stop
    question = conversation.messages.filter(role="user").last()
    reply = last_reply(conversation)
    snapshot = list(Message.objects.order_by("pk").values())
    before = balance(upstream)
    bob_client = Client()
    bob_client.force_login(bob)
    assert bob.memberships.get().workspace != conversation.workspace
    target = url.format(code=conversation.code, reply=reply.pk, question=question.pk)

    response = getattr(bob_client, method)(target, data, **(HTMX if htmx else {}))

    assert response.status_code == 404
    assert list(Message.objects.order_by("pk").values()) == snapshot
    conversation.refresh_from_db()
    assert conversation.deleted_at is None
    assert conversation.title == QUESTION
    assert conversation.system_prompt == ""
    assert balance(upstream) == before


def test_a_deleted_chat_does_not_exist_at_any_url_for_its_owner(alice_client, upstream) -> None:
    conversation = start_chat(alice_client)
    question = conversation.messages.get(role="user")
    reply = last_reply(conversation)
    alice_client.post(f"/chat/{conversation.code}/delete")
    for method, url, data in NEW_URLS:
        target = url.format(code=conversation.code, reply=reply.pk, question=question.pk)
        assert getattr(alice_client, method)(target, data).status_code == 404, url
    assert alice_client.get(f"/chat/{conversation.code}/stream/{reply.pk}").status_code == 404


def test_an_admin_of_the_same_workspace_does_not_see_a_members_chat(
    alice, alice_client, upstream
) -> None:
    """Chats are private, as they were before these URLs: an admin manages the workspace's
    jobs and credits, not the words its members typed."""
    from django.utils import timezone

    from studio.models import Membership, Role
    from tests.conftest import make_user

    conversation = start_chat(alice_client)
    question = conversation.messages.get(role="user")
    reply = last_reply(conversation)
    ada = make_user("ada")
    Membership.objects.filter(user=ada).update(selected_at=None)
    Membership.objects.create(
        workspace=conversation.workspace, user=ada, role=Role.ADMIN, selected_at=timezone.now()
    )
    admin = Client()
    admin.force_login(ada)
    for method, url, data in NEW_URLS:
        target = url.format(code=conversation.code, reply=reply.pk, question=question.pk)
        assert getattr(admin, method)(target, data).status_code == 404, url
    assert conversation.title not in admin.get("/chat/?q=credit").content.decode()
    conversation.refresh_from_db()
    assert conversation.deleted_at is None
