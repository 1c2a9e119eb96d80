"""The Chat page: conversations with the `gemini` model, each reply streamed in as it is written.

A reply is either relayed token by token to the page (`stream`, served as server-sent events)
or, without JavaScript, asked for in one blocking call while the form is posted (`send`, then a
redirect). How a reply is asked for and billed is generations/chat.py and `Message`'s methods:
claimed once before anything is sent upstream, so a reply is never paid for twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Iterator
from urllib.parse import urlencode

from asgiref.sync import sync_to_async
from django.contrib.auth.decorators import login_required
from django.db import close_old_connections, transaction
from django.http import Http404, HttpResponse, HttpResponseGone, StreamingHttpResponse
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect, reswap, retarget

from generations import chat, client, upstream
from generations.forms import MessageForm
from generations.models import Conversation, Message
from generations.views import HtmxHttpRequest, current_workspace
from studio.access import require_spender

TITLE_LENGTH = 60
DRAIN_SECONDS = 0.5  # after the page left: how long what the service already sent is read


def _options(query) -> dict:
    """Reply options from a query string (the stream URL, a page after a send); defaults for
    anything missing or unknown."""
    effort = query.get("reasoning_effort")
    return {
        "reasoning_effort": effort if effort in chat.EFFORTS else "high",
        "include_thoughts": query.get("include_thoughts", "1") != "0",
    }


def _query(options: dict) -> str:
    return urlencode(
        {
            "reasoning_effort": options["reasoning_effort"],
            "include_thoughts": "1" if options["include_thoughts"] else "0",
        }
    )


def _get_conversation(request: HtmxHttpRequest, code) -> Conversation:
    """One of the user's own conversations in the current workspace, or 404."""
    conversation = Conversation.objects.filter(
        workspace=current_workspace(request), user=request.user, code=code
    ).first()
    if conversation is None:
        raise Http404("No such conversation")
    return conversation


def _conversations(request: HtmxHttpRequest) -> list[Conversation]:
    return list(
        Conversation.objects.filter(
            workspace=current_workspace(request), user=request.user
        ).order_by("-created_at")[:50]
    )


def _page(
    request: HtmxHttpRequest,
    conversation: Conversation | None,
    form: MessageForm,
    options: dict | None = None,
) -> TemplateResponse:
    context = {
        "conversation": conversation,
        "conversations": _conversations(request),
        "form": form,
        "options_query": _query(options or _options({})),
        "chat_messages": list(conversation.messages.all()) if conversation else [],
    }
    if request.htmx and form.errors:  # errors show in place of the form, nothing else moves
        response = TemplateResponse(request, "generations/chat.html#message-form", context)
        return reswap(retarget(response, "#chat-form"), "outerHTML")
    return TemplateResponse(request, "generations/chat.html", context)


def _after_send(
    request: HtmxHttpRequest, conversation: Conversation, reply: Message, form: MessageForm
) -> HttpResponse:
    options = form.options()
    url = f"{reverse('chat-conversation', args=[conversation.code])}?{_query(options)}"
    if not request.htmx:
        account = upstream.studio_account(str(request.user.pk), current_workspace(request))
        chat.answer_now(account, reply, options)
        return redirect(f"{url}#message-{reply.pk}")
    return HttpResponseClientRedirect(url)


# -- pages ---------------------------------------------------------------------------------------


@login_required
@require_GET
def index(request: HtmxHttpRequest) -> HttpResponse:
    return _page(request, None, MessageForm())


@login_required
@require_GET
def conversation(request: HtmxHttpRequest, code) -> HttpResponse:
    conv = _get_conversation(request, code)
    options = _options(request.GET)
    return _page(request, conv, MessageForm(initial=options), options)


@sensitive_variables()
@login_required
@require_POST
def new(request: HtmxHttpRequest) -> HttpResponse:
    """Starts a conversation with its first message."""
    require_spender(request)
    form = MessageForm(request.POST)
    if not form.is_valid():
        return _page(request, None, form)
    text = form.cleaned_data["content"]
    with transaction.atomic():
        conv = Conversation.objects.create(
            workspace=current_workspace(request),
            user=request.user,
            title=" ".join(text.split())[:TITLE_LENGTH],
        )
        _question, reply = chat.ask(conv, text)
    # With htmx, the conversation page opens and streams the reply it finds waiting.
    return _after_send(request, conv, reply, form)


@sensitive_variables()
@login_required
@require_POST
def send(request: HtmxHttpRequest, code) -> HttpResponse:
    require_spender(request)
    conv = _get_conversation(request, code)
    form = MessageForm(request.POST)
    if not form.is_valid():
        return _page(request, conv, form, _options(request.POST))
    question, reply = chat.ask(conv, form.cleaned_data["content"])
    if not request.htmx:
        return _after_send(request, conv, reply, form)
    options = form.options()
    context = {
        "conversation": conv,
        "sent": [question, reply],
        "form": MessageForm(initial=options),
        "options_query": _query(options),
    }
    return TemplateResponse(request, "generations/chat.html#sent", context)


# -- the stream ----------------------------------------------------------------------------------


@sensitive_variables()
@login_required
@require_GET
def stream(request: HtmxHttpRequest, code, message_id: int) -> HttpResponse:
    """Server-sent events: `thought` and `token` pieces as they arrive, then `done` (or `failed`)
    carrying the finished bubble."""
    require_spender(request)
    conv = _get_conversation(request, code)
    reply = conv.messages.filter(pk=message_id, role=Message.Role.ASSISTANT).first()
    if reply is None:
        raise Http404("No such reply")
    if not reply.claim():
        return HttpResponseGone("This reply has already been answered.", content_type="text/plain")
    refused = reply.hold()
    if refused:
        reply.refresh_from_db()
        bubble = render_to_string(
            "generations/chat.html#message", {"message": reply, "conversation": conv}
        )
        return StreamingHttpResponse(
            iter([_event("failed", {"html": bubble})]), content_type="text/event-stream"
        )
    body = chat.request_body(reply, _options(request.GET))
    chunks = client.chat_stream(
        upstream.studio_account(str(request.user.pk), current_workspace(request)), body
    )
    response = StreamingHttpResponse(_relay(conv, reply, chunks), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # a proxy in front must pass each event on at once
    return response


def _next_chunk(chunks: Iterator[client.ChatChunk]) -> client.ChatChunk | None:
    """The next piece of the reply, or None at its end. Runs in a worker thread: it waits on the
    network, and its first call takes a rate-limit slot in the database."""
    try:
        return next(chunks, None)
    finally:
        close_old_connections()  # the worker thread's own connection: no request closes it


_pull = sync_to_async(_next_chunk, thread_sensitive=False)


def _close(chunks: Iterator[client.ChatChunk]) -> None:
    with contextlib.suppress(ValueError):  # still waiting in a worker thread: it ends by itself
        chunks.close()  # type: ignore[attr-defined]


def _event(name: str, data: dict) -> str:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n"


def _settled_bubble(conversation: Conversation, reply: Message, **changes) -> str:
    reply.finish(**changes)
    reply.refresh_from_db()
    return render_to_string(
        "generations/chat.html#message", {"message": reply, "conversation": conversation}
    )


async def _relay(
    conversation: Conversation, reply: Message, chunks: Iterator[client.ChatChunk]
) -> AsyncIterator[str]:
    """Relays the upstream's chunks as events, then stores the whole reply.

    An async iterator, so that the ASGI server sends each event as it comes (Django buffers a
    sync one); the blocking upstream generator is pulled one chunk at a time in a worker thread.
    """
    content: list[str] = []
    thoughts: list[str] = []
    usage: dict | None = None
    credits_consumed = None
    stored = False
    asked = False  # the upstream request goes out with the first pull
    settle = sync_to_async(_settled_bubble)
    try:
        yield ": the reply is on its way\n\n"  # headers out now: the page knows it is connected
        asked = True
        try:
            while (chunk := await _pull(chunks)) is not None and not chunk.done:
                if chunk.thoughts:
                    thoughts.append(chunk.thoughts)
                    yield _event("thought", {"text": chunk.thoughts})
                if chunk.content:
                    content.append(chunk.content)
                    yield _event("token", {"text": chunk.content})
                if chunk.usage is not None:
                    usage = chunk.usage
                if chunk.credits_consumed is not None:
                    credits_consumed = chunk.credits_consumed
        except client.UpstreamError as error:
            stored = True
            html = await settle(
                conversation,
                reply,
                content="".join(content),
                thoughts="".join(thoughts),
                error=chat.failure_sentence(error),
                ran=chat.ran(error, arrived=bool(content or thoughts)),
            )
            yield _event("failed", {"html": html})
            return
        stored = True
        html = await settle(
            conversation,
            reply,
            content="".join(content),
            thoughts="".join(thoughts),
            usage=usage,
            credits_consumed=credits_consumed,
        )
        yield _event("done", {"html": html})
    finally:
        if not stored:  # the page went away mid-reply
            # The service may have sent the whole reply already (the page left between its
            # last words and their end): what is already on the way is read, briefly, so that
            # a reply the service finished is billed at its price, not at the pre-deduction.
            finished = False
            if asked:
                loop = asyncio.get_running_loop()
                until = loop.time() + DRAIN_SECONDS
                with contextlib.suppress(TimeoutError, client.UpstreamError):
                    while True:
                        chunk = await asyncio.wait_for(_pull(chunks), until - loop.time())
                        if chunk is None or chunk.done:
                            finished = True
                            break
                        content.append(chunk.content or "")
                        thoughts.append(chunk.thoughts or "")
                        usage = chunk.usage if chunk.usage is not None else usage
                        if chunk.credits_consumed is not None:
                            credits_consumed = chunk.credits_consumed
            # Finished: billed at its price. Else what arrived is kept, said to be partial; once
            # asked, the service bills it (its pre-deduction at least).
            ending = (
                {"usage": usage, "credits_consumed": credits_consumed}
                if finished
                else {"error": chat.CUT_OFF, "ran": asked}
            )
            await settle(
                conversation,
                reply,
                content="".join(content),
                thoughts="".join(thoughts),
                **ending,
            )
        await sync_to_async(_close, thread_sensitive=False)(chunks)
