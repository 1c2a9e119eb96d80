"""The Chat page: conversations with the `gemini` model, each reply streamed in as it is written.

The upstream answers chat synchronously (no task to poll), so a reply is either relayed token by
token to the page (`stream`, served as server-sent events) or, without JavaScript, asked for in
one blocking call while the form is posted (`send`, then a redirect). Either way an assistant
`Message` is claimed once before anything is sent upstream, so a reply is never paid for twice.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Iterator
from urllib.parse import urlencode

from asgiref.sync import sync_to_async
from django import forms
from django.contrib.auth.decorators import login_required
from django.db import close_old_connections, transaction
from django.http import Http404, HttpResponse, HttpResponseGone, StreamingHttpResponse
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect, reswap, retarget

from generations import catalog, client, upstream
from generations.models import Conversation, Message
from generations.views import HtmxHttpRequest, current_workspace
from studio import ledger
from studio.access import require_spender

GEMINI = catalog.get("gemini")
EFFORTS = GEMINI.param("reasoning_effort").choices
MAX_MESSAGE_LENGTH = 20_000
TITLE_LENGTH = 60

OUT_OF_CREDITS = (
    "The workspace's API in One account is out of credits. Ask an admin to add credits, "
    "then send your message again."
)
KEY_REFUSED = (
    "API in One did not accept the studio's key. Tell an admin so they can check the key "
    "in the studio's settings."
)
NO_ANSWER = "The chat service did not answer; try again."
CUT_OFF = "The reply was cut off before it finished; send your message again for a full answer."


class MessageForm(forms.Form):
    """What a person sends. Kept next to its views: it belongs to this page alone."""

    content = forms.CharField(
        label="Message",
        max_length=MAX_MESSAGE_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={
            "required": "Write a message first.",
            "max_length": "Keep a message under 20,000 characters (this one has %(show_value)d).",
        },
    )
    reasoning_effort = forms.ChoiceField(
        label="Reasoning effort",
        choices=[(effort, effort.capitalize()) for effort in EFFORTS],
        initial="high",
    )
    include_thoughts = forms.BooleanField(label="Include thoughts", required=False, initial=True)

    def options(self) -> dict:
        return {
            "reasoning_effort": self.cleaned_data["reasoning_effort"],
            "include_thoughts": self.cleaned_data["include_thoughts"],
        }


def _options(query) -> dict:
    """Reply options from a query string (the stream URL, a page after a send); defaults for
    anything missing or unknown."""
    effort = query.get("reasoning_effort")
    return {
        "reasoning_effort": effort if effort in EFFORTS else "high",
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


def _ask(conversation: Conversation, text: str) -> tuple[Message, Message]:
    """Stores the question and an empty reply waiting to be answered."""
    with transaction.atomic():
        question = Message.objects.create(
            conversation=conversation, role=Message.Role.USER, content=text
        )
        reply = Message.objects.create(
            conversation=conversation, role=Message.Role.ASSISTANT, complete=False
        )
    return question, reply


def _claim(reply: Message) -> bool:
    # Only one request may answer a reply: a second stream, a reload or a resent form finds it
    # taken and sends (and pays for) nothing.
    claimed = Message.objects.filter(
        pk=reply.pk, role=Message.Role.ASSISTANT, complete=False, content="", usage__isnull=True
    ).update(usage={"claimed_at": timezone.now().isoformat()})
    return claimed == 1


def _request_body(reply: Message, options: dict) -> dict:
    """The whole conversation before `reply`, in the upstream's {role, content} shape."""
    history = (
        Message.objects.filter(conversation_id=reply.conversation_id, pk__lt=reply.pk)
        .exclude(content="")
        .order_by("created_at", "pk")
    )
    return {
        "model": GEMINI.model_value,
        "messages": [{"role": m.role, "content": m.content} for m in history],
        "include_thoughts": options["include_thoughts"],
        "reasoning_effort": options["reasoning_effort"],
    }


def _ran(error: client.UpstreamError, arrived: bool = False) -> bool:
    """Whether the service may have run (and billed) a request that ended in `error`: yes once
    any of the reply arrived, or when the connection broke or timed out after sending; no when
    it answered with an error status (it refused: 4xx, or failed before starting: 5xx)."""
    return arrived or error.kind in (client.TIMEOUT_ERROR, client.TRANSPORT_ERROR)


def _failure_sentence(error: client.UpstreamError) -> str:
    if error.kind == client.INSUFFICIENT_CREDITS or error.status == 402:
        return OUT_OF_CREDITS
    if error.kind == client.AUTHENTICATION or error.status in (401, 403):
        return KEY_REFUSED
    return NO_ANSWER


def _settle(
    reply: Message,
    *,
    content: str = "",
    thoughts: str = "",
    usage: dict | None = None,
    credits_consumed=None,
    error: str = "",
    ran: bool = True,
) -> None:
    """Stores the reply and closes its bill. The hold of catalog.CHAT_HOLD_CREDITS becomes the
    reply's real charge; without one (a stream cut off before its last chunk, by the browser or
    the network) the pre-deduction itself, which the service keeps; it comes back only when the
    service surely did not run it (`ran=False`: it refused, or was never asked)."""
    conversation = Conversation.objects.only("workspace_id", "user_id").get(
        pk=reply.conversation_id
    )
    with transaction.atomic():
        _store(reply, content, thoughts, usage, credits_consumed, error)
        where = (reply, conversation.workspace_id, conversation.user_id)
        if error and credits_consumed is None and not ran:
            ledger.release_message(*where, reason=error[:300])
        else:  # None: the hold (the documented pre-deduction) is charged, and the entry says why
            ledger.settle_message(*where, credits_consumed)


def _hold(reply: Message) -> str | None:
    """Takes the documented pre-deduction for a reply; the budget's sentence when it does not
    fit (the reply is then ended with that sentence and nothing is sent)."""
    conversation = reply.conversation
    try:
        ledger.hold_message(
            reply, conversation.workspace_id, conversation.user_id, catalog.CHAT_HOLD_CREDITS
        )
    except ledger.BudgetExceeded as e:
        Message.objects.filter(pk=reply.pk, complete=False).update(
            error_message=str(e), complete=True
        )
        return str(e)
    return None


def _store(reply: Message, content, thoughts, usage, credits_consumed, error) -> None:
    changes = {
        "content": content,
        "thoughts": thoughts,
        "credits_consumed": credits_consumed,
        "error_message": error,
        "complete": True,
    }
    if usage is not None:
        changes["usage"] = usage
    Message.objects.filter(pk=reply.pk, complete=False).update(**changes)


def _answer_now(request: HtmxHttpRequest, reply: Message, options: dict) -> None:
    """The page without JavaScript: one blocking call, the reply stored before the redirect."""
    if not _claim(reply) or _hold(reply):
        return
    try:
        answer = client.chat(
            upstream.studio_account(str(request.user.pk), current_workspace(request)),
            _request_body(reply, options),
        )
    except client.UpstreamError as error:
        _settle(reply, error=_failure_sentence(error), ran=_ran(error))
        return
    _settle(
        reply,
        content=answer.content,
        thoughts=answer.thoughts,
        usage=answer.usage,
        credits_consumed=answer.credits_consumed,
    )


def _after_send(
    request: HtmxHttpRequest, conversation: Conversation, reply: Message, form: MessageForm
) -> HttpResponse:
    options = form.options()
    url = f"{reverse('chat-conversation', args=[conversation.code])}?{_query(options)}"
    if not request.htmx:
        _answer_now(request, reply, options)
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
    chat = _get_conversation(request, code)
    options = _options(request.GET)
    return _page(request, chat, MessageForm(initial=options), options)


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
        chat = Conversation.objects.create(
            workspace=current_workspace(request),
            user=request.user,
            title=" ".join(text.split())[:TITLE_LENGTH],
        )
        _question, reply = _ask(chat, text)
    # With htmx, the conversation page opens and streams the reply it finds waiting.
    return _after_send(request, chat, reply, form)


@sensitive_variables()
@login_required
@require_POST
def send(request: HtmxHttpRequest, code) -> HttpResponse:
    require_spender(request)
    chat = _get_conversation(request, code)
    form = MessageForm(request.POST)
    if not form.is_valid():
        return _page(request, chat, form, _options(request.POST))
    question, reply = _ask(chat, form.cleaned_data["content"])
    if not request.htmx:
        return _after_send(request, chat, reply, form)
    options = form.options()
    context = {
        "conversation": chat,
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
    chat = _get_conversation(request, code)
    reply = chat.messages.filter(pk=message_id, role=Message.Role.ASSISTANT).first()
    if reply is None:
        raise Http404("No such reply")
    if not _claim(reply):
        return HttpResponseGone("This reply has already been answered.", content_type="text/plain")
    refused = _hold(reply)
    if refused:
        reply.refresh_from_db()
        bubble = render_to_string(
            "generations/chat.html#message", {"message": reply, "conversation": chat}
        )
        return StreamingHttpResponse(
            iter([_event("failed", {"html": bubble})]), content_type="text/event-stream"
        )
    body = _request_body(reply, _options(request.GET))
    chunks = client.chat_stream(
        upstream.studio_account(str(request.user.pk), current_workspace(request)), body
    )
    response = StreamingHttpResponse(_relay(chat, reply, chunks), content_type="text/event-stream")
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
    _settle(reply, **changes)
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
                error=_failure_sentence(error),
                ran=_ran(error, arrived=bool(content or thoughts)),
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
        if not stored:  # the page went away mid-reply: keep what arrived, say it is partial
            await settle(
                conversation,
                reply,
                content="".join(content),
                thoughts="".join(thoughts),
                error=CUT_OFF,
                ran=asked,  # once asked, the service bills it (its pre-deduction at least)
            )
        await sync_to_async(_close, thread_sensitive=False)(chunks)
