"""The Chat page: conversations with the `gemini` model, each reply streamed in as it is written.

A reply is either relayed token by token to the page (`stream`, served as server-sent events)
or, without JavaScript, asked for in one blocking call while the form is posted (`send`, then a
redirect). How a reply is asked for and billed is generations/chat.py and `Message`'s methods:
claimed once before anything is sent upstream, so a reply is never paid for twice. Regenerate
and edit add a new reply (billed as one) in place of the last; Stop ends the one streaming.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

from asgiref.sync import sync_to_async
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import close_old_connections, transaction
from django.http import Http404, HttpResponse, HttpResponseGone, StreamingHttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect, reswap, retarget

from generations import chat, client, upstream
from generations.forms import ConversationSettingsForm, ConversationTitleForm, MessageForm
from generations.models import Conversation, Message
from generations.views import HtmxHttpRequest, current_workspace
from studio.access import require_spender

TITLE_LENGTH = 60
LIST_LENGTH = 50
DRAIN_SECONDS = 0.5  # after the page left or Stop: how long what the service sent is read
STOP_LOOK_SECONDS = 0.25  # how often a streaming reply looks whether Stop was pressed


def _get_conversation(request: HtmxHttpRequest, code) -> Conversation:
    """One of the user's own conversations in the current workspace, or 404."""
    conversation = (
        Conversation.objects.visible_to(request.user, request.membership).filter(code=code).first()
    )
    if conversation is None:
        raise Http404("No such conversation")
    return conversation


def _get_reply(request: HtmxHttpRequest, code, message_id: int) -> Message:
    """A reply in one of the user's own conversations, with it, in one query (the stream's
    first token waits on every query before it), or 404."""
    visible = Conversation.objects.visible_to(request.user, request.membership)
    reply = (
        Message.objects.select_related("conversation")
        .filter(pk=message_id, role=Message.Role.ASSISTANT, conversation__in=visible)
        .filter(conversation__code=code)
        .first()
    )
    if reply is None:
        raise Http404("No such reply")
    return reply


def _get_message(conversation: Conversation, message_id: int, role: str) -> Message:
    message = conversation.messages.filter(pk=message_id, role=role).first()
    if message is None:
        raise Http404("No such message")
    return message


def _conversations(request: HtmxHttpRequest) -> list[Conversation]:
    found = Conversation.objects.visible_to(request.user, request.membership)
    return list(found.matching(request.GET.get("q", "")).newest_first()[:LIST_LENGTH])


def _page(
    request: HtmxHttpRequest,
    conversation: Conversation | None,
    form: MessageForm | None = None,
    *,
    settings_form: ConversationSettingsForm | None = None,
    title_form: ConversationTitleForm | None = None,
    edit: tuple[Message, MessageForm] | None = None,
) -> TemplateResponse:
    if settings_form is None:
        initial = ConversationSettingsForm.initial_for(conversation) if conversation else None
        settings_form = ConversationSettingsForm(initial=initial)
    context = {
        "conversation": conversation,
        "conversations": _conversations(request),
        "query": request.GET.get("q", ""),
        "form": form or MessageForm(),
        "settings_form": settings_form,
        "title_form": title_form
        or ConversationTitleForm(initial={"title": conversation.title if conversation else ""}),
        "chat_messages": list(conversation.messages.all()) if conversation else [],
    }
    if request.htmx and request.htmx.target == "chat-results":  # the search box, as you type
        return TemplateResponse(request, "generations/chat.html#chat-results", context)
    if edit is not None:  # an edit refused: its form shows why, open, with the words sent
        question, edit_form = edit
        context |= {
            "message": question,
            "edit_message": question,
            "edit_error": edit_form.errors.get("content"),
            "edit_text": edit_form.data.get("content", ""),
        }
        if request.htmx:
            response = TemplateResponse(request, "generations/chat.html#edit-form", context)
            return reswap(retarget(response, f"#edit-form-{question.pk}"), "outerHTML")
    if request.htmx and form is not None and form.errors:  # in place of the form, nothing moves
        response = TemplateResponse(request, "generations/chat.html#message-form", context)
        return reswap(retarget(response, "#chat-form"), "outerHTML")
    return TemplateResponse(request, "generations/chat.html", context)


def _url(conversation: Conversation, message: Message | None = None) -> str:
    url = reverse("chat-conversation", args=[conversation.code])
    return f"{url}#message-{message.pk}" if message else url


def _answer(request: HtmxHttpRequest, conversation: Conversation, reply: Message) -> HttpResponse:
    """After a new reply was made to wait: with htmx, the whole conversation again (the page
    streams the reply it finds waiting); without, the reply asked for now, then the page."""
    if request.htmx:
        context = {"conversation": conversation, "chat_messages": conversation.messages.all()}
        return TemplateResponse(request, "generations/chat.html#messages", context)
    account = upstream.studio_account(str(request.user.pk), current_workspace(request))
    chat.answer_now(account, reply)
    return redirect(_url(conversation, reply))


# -- pages ---------------------------------------------------------------------------------------


@login_required
@require_GET
def index(request: HtmxHttpRequest) -> HttpResponse:
    return _page(request, None)


@login_required
@require_GET
def conversation(request: HtmxHttpRequest, code) -> HttpResponse:
    return _page(request, _get_conversation(request, code))


@sensitive_variables()
@login_required
@require_POST
def new(request: HtmxHttpRequest) -> HttpResponse:
    """Starts a conversation with its first message and its settings."""
    require_spender(request)
    form = MessageForm(request.POST)
    settings_form = ConversationSettingsForm(request.POST)
    if not (form.is_valid() and settings_form.is_valid()):
        if request.htmx and not form.errors:  # a bad setting: shown in the same form
            form.add_error(None, "Check the chat's settings below.")
        return _page(request, None, form, settings_form=settings_form)
    text = form.cleaned_data["content"]
    with transaction.atomic():
        conv = Conversation.objects.create(
            workspace=current_workspace(request),
            user=request.user,
            title=" ".join(text.split())[:TITLE_LENGTH],
            **settings_form.settings(),
        )
        _question, reply = chat.ask(conv, text)
    if request.htmx:  # the conversation page opens and streams the reply it finds waiting
        return HttpResponseClientRedirect(_url(conv))
    account = upstream.studio_account(str(request.user.pk), current_workspace(request))
    chat.answer_now(account, reply)
    return redirect(_url(conv, reply))


@sensitive_variables()
@login_required
@require_POST
def send(request: HtmxHttpRequest, code) -> HttpResponse:
    require_spender(request)
    conv = _get_conversation(request, code)
    form = MessageForm(request.POST)
    if not form.is_valid():
        return _page(request, conv, form)
    question, reply = chat.ask(conv, form.cleaned_data["content"])
    if not request.htmx:
        account = upstream.studio_account(str(request.user.pk), current_workspace(request))
        chat.answer_now(account, reply)
        return redirect(_url(conv, reply))
    context = {"conversation": conv, "sent": [question, reply], "form": MessageForm()}
    return TemplateResponse(request, "generations/chat.html#sent", context)


@sensitive_variables()
@login_required
@require_POST
def regenerate(request: HtmxHttpRequest, code, message_id: int) -> HttpResponse:
    """A new reply to the last question, in place of the last reply (which stays billed)."""
    require_spender(request)
    conv = _get_conversation(request, code)
    reply = _get_message(conv, message_id, Message.Role.ASSISTANT)
    new_reply = conv.regenerate(reply)
    if new_reply is None:
        messages.error(request, "Only the last reply, once finished, can be regenerated.")
        return _answer_refused(request, conv)
    return _answer(request, conv, new_reply)


@sensitive_variables()
@login_required
@require_POST
def edit(request: HtmxHttpRequest, code, message_id: int) -> HttpResponse:
    """The last question in other words, sent again: a new question and reply replace the
    last two (the old reply stays billed)."""
    require_spender(request)
    conv = _get_conversation(request, code)
    question = _get_message(conv, message_id, Message.Role.USER)
    form = MessageForm(request.POST)
    if not form.is_valid():
        return _page(request, conv, edit=(question, form))
    asked = conv.edit_last_question(question, form.cleaned_data["content"])
    if asked is None:
        messages.error(request, "Only the last message can be edited, once its reply finished.")
        return _answer_refused(request, conv)
    return _answer(request, conv, asked[1])


def _answer_refused(request: HtmxHttpRequest, conv: Conversation) -> HttpResponse:
    if request.htmx:
        return HttpResponseClientRedirect(_url(conv))
    return redirect(_url(conv))


@login_required
@require_POST
def stop(request: HtmxHttpRequest, code, message_id: int) -> HttpResponse:
    """Stop pressed on a reply: the stream answering it ends (and so does the upstream
    request), billed as the service bills it. With htmx: the finished bubble when the reply has
    ended already, else 204 and the stream itself sends it."""
    conv = _get_conversation(request, code)
    reply = _get_message(conv, message_id, Message.Role.ASSISTANT)
    reply.request_stop()
    if not request.htmx:
        return redirect(_url(conv, reply))
    reply.refresh_from_db()
    if not reply.complete:
        return HttpResponse(status=204)
    context = {"conversation": conv, "message": reply}
    return TemplateResponse(request, "generations/chat.html#message", context)


@login_required
@require_POST
def rename(request: HtmxHttpRequest, code) -> HttpResponse:
    conv = _get_conversation(request, code)
    form = ConversationTitleForm(request.POST)
    if not form.is_valid():
        return _page(request, conv, title_form=form)
    conv.rename(form.cleaned_data["title"])
    return redirect(_url(conv))


@login_required
@require_POST
def delete(request: HtmxHttpRequest, code) -> HttpResponse:
    conv = _get_conversation(request, code)
    conv.remove()
    messages.success(request, f"Deleted the chat “{conv}”. The credits it used stay in Usage.")
    return redirect("chat")


@login_required
@require_POST
def change_settings(request: HtmxHttpRequest, code) -> HttpResponse:
    conv = _get_conversation(request, code)
    form = ConversationSettingsForm(request.POST)
    if not form.is_valid():
        return _page(request, conv, settings_form=form)
    conv.change_settings(**form.settings())
    messages.success(request, "Settings saved: the next reply uses them.")
    return redirect(_url(conv))


# -- the stream ----------------------------------------------------------------------------------


@sensitive_variables()
@login_required
@require_GET
def stream(request: HtmxHttpRequest, code, message_id: int) -> HttpResponse:
    """Server-sent events: `thought` and `token` pieces as they arrive, then `done` (or `failed`)
    carrying the finished bubble."""
    require_spender(request)
    reply = _get_reply(request, code, message_id)
    conv = reply.conversation
    if not reply.claim():
        return HttpResponseGone("This reply has already been answered.", content_type="text/plain")
    # The finished bubble is drawn outside the request (its forms need the token).
    drawn = {"conversation": conv, "csrf_token": get_token(request)}
    refused = reply.hold()
    if refused:
        reply.refresh_from_db()
        bubble = render_to_string("generations/chat.html#message", {**drawn, "message": reply})
        return StreamingHttpResponse(
            iter([_event("failed", {"html": bubble})]), content_type="text/event-stream"
        )
    account = chat.stream_account(str(request.user.pk), current_workspace(request))
    chunks = client.chat_stream(account, chat.request_body(reply))
    response = StreamingHttpResponse(_relay(drawn, reply, chunks), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # a proxy in front must pass each event on at once
    return response


def _next_chunk(chunks: Iterator[client.ChatChunk]) -> client.ChatChunk | None:
    """The next piece of the reply, or None at its end. Runs in a worker thread: it waits on the
    network, and its first call may wait for a rate-limit slot in the database (when none was
    free as the stream began: chat.stream_account)."""
    try:
        return next(chunks, None)
    finally:
        close_old_connections()  # the worker thread's own connection: no request closes it


_pull = sync_to_async(_next_chunk, thread_sensitive=False)


def _close(chunks: Iterator[client.ChatChunk]) -> None:
    with contextlib.suppress(ValueError):  # still waiting in a worker thread: it ends by itself
        chunks.close()  # type: ignore[attr-defined]


class NotYet(Exception):
    """No chunk within the time asked; the pull goes on and the next look takes it up."""


class _Upstream:
    """The upstream's chunks, pulled in a worker thread. At most one pull is in flight (a
    generator cannot run twice at once): one that outlasts a look for Stop, or the page that
    went away, is taken up again by the next."""

    def __init__(self, chunks: Iterator[client.ChatChunk]) -> None:
        self.chunks = chunks
        self.pending: asyncio.Future | None = None

    async def next(self, timeout: float | None = None) -> client.ChatChunk | None:
        if self.pending is None:
            self.pending = asyncio.ensure_future(_pull(self.chunks))
        done, _ = await asyncio.wait({self.pending}, timeout=timeout)
        if not done:
            raise NotYet
        pulled, self.pending = self.pending, None
        return pulled.result()

    async def close(self) -> None:
        """Closes the upstream request: now, or as soon as the pull in flight returns."""
        if self.pending is not None and not self.pending.done():
            self.pending.add_done_callback(lambda _pull: _close(self.chunks))
            return
        await sync_to_async(_close, thread_sensitive=False)(self.chunks)


@dataclass
class _Reply:
    """What arrived of a reply."""

    content: list[str] = field(default_factory=list)
    thoughts: list[str] = field(default_factory=list)
    usage: dict | None = None
    credits_consumed: object = None

    def add(self, chunk: client.ChatChunk) -> None:
        if chunk.thoughts:
            self.thoughts.append(chunk.thoughts)
        if chunk.content:
            self.content.append(chunk.content)
        if chunk.usage is not None:
            self.usage = chunk.usage
        if chunk.credits_consumed is not None:
            self.credits_consumed = chunk.credits_consumed

    def arrived(self) -> dict:
        return {"content": "".join(self.content), "thoughts": "".join(self.thoughts)}

    def priced(self) -> dict:
        return {**self.arrived(), "usage": self.usage, "credits_consumed": self.credits_consumed}

    async def drain(self, upstream: _Upstream) -> bool:
        """Reads, briefly, what the service already sent: whether the reply reached its end
        (then it is billed at its price, not at the pre-deduction)."""
        until = asyncio.get_running_loop().time() + DRAIN_SECONDS
        with contextlib.suppress(NotYet, client.UpstreamError):
            while True:
                left = until - asyncio.get_running_loop().time()
                chunk = await upstream.next(timeout=max(left, 0))
                if chunk is None or chunk.done:
                    return True
                self.add(chunk)
        return False


def _event(name: str, data: dict) -> str:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n"


def _settled_bubble(drawn: dict, reply: Message, **changes) -> str:
    reply.finish(**changes)
    reply.refresh_from_db()
    return render_to_string("generations/chat.html#message", {**drawn, "message": reply})


async def _relay(
    drawn: dict, reply: Message, chunks: Iterator[client.ChatChunk]
) -> AsyncIterator[str]:
    """Relays the upstream's chunks as events, then stores the whole reply.

    An async iterator, so that the ASGI server sends each event as it comes (Django buffers a
    sync one); the blocking upstream generator is pulled one chunk at a time in a worker thread.
    Every STOP_LOOK_SECONDS it looks whether Stop was pressed.
    """
    loop = asyncio.get_running_loop()
    source = _Upstream(chunks)
    got = _Reply()
    stored = False
    asked = False  # the upstream request goes out with the first pull
    settle = sync_to_async(_settled_bubble)
    stop_pressed = sync_to_async(reply.stop_requested)
    try:
        yield ": the reply is on its way\n\n"  # headers out now: the page knows it is connected
        asked = True
        stopped = False
        look_at = loop.time() + STOP_LOOK_SECONDS
        try:
            while True:
                try:
                    chunk = await source.next(timeout=max(look_at - loop.time(), 0))
                except NotYet:
                    chunk = None
                else:
                    if chunk is None or chunk.done:
                        break
                    got.add(chunk)
                    if chunk.thoughts:
                        yield _event("thought", {"text": chunk.thoughts})
                    if chunk.content:
                        yield _event("token", {"text": chunk.content})
                if loop.time() >= look_at:
                    look_at = loop.time() + STOP_LOOK_SECONDS
                    if await stop_pressed():
                        stopped = True
                        break
        except client.UpstreamError as error:
            stored = True
            arrived = bool(got.content or got.thoughts)
            html = await settle(
                drawn,
                reply,
                **got.arrived(),
                error=chat.failure_sentence(error, arrived=arrived),
                ran=chat.ran(error, arrived=arrived),
            )
            yield _event("failed", {"html": html})
            return
        # Stopped: what the service already sent is read, so a reply it had finished is billed
        # at its price; else the pre-deduction, which the service keeps for a reply cut short.
        finished = not stopped or await got.drain(source)
        ending = got.priced() if finished else {**got.arrived(), "error": chat.STOPPED}
        stored = True
        html = await settle(drawn, reply, **ending)
        yield _event("done", {"html": html})
    finally:
        if not stored:  # the page went away mid-reply
            # The service may have sent the whole reply already (the page left between its
            # last words and their end): what is already on the way is read, briefly, so that
            # a reply the service finished is billed at its price, not at the pre-deduction.
            finished = asked and await got.drain(source)
            # Finished: billed at its price. Else what arrived is kept, said to be partial; once
            # asked, the service bills it (its pre-deduction at least).
            ending = (
                got.priced() if finished else {**got.arrived(), "error": chat.CUT_OFF, "ran": asked}
            )
            await settle(drawn, reply, **ending)
        await source.close()
