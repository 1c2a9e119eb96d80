"""Chat replies: what is asked of the upstream and how a reply's bill ends.

The upstream answers chat synchronously (no task to poll). A reply is a `Message` that is
claimed once (`Message.claim`), holds the documented pre-deduction (`Message.hold`), is asked for
in one call (`answer_now`) or relayed as a stream by the view, and ends with `Message.finish`,
which stores it and settles the hold to what the service charged (or, cut off, to the
pre-deduction; released only when the service surely never ran it: `ran`).
"""

from __future__ import annotations

from django.db import transaction

from generations import catalog, client
from generations.models import Conversation, Message

GEMINI = catalog.get("gemini")
EFFORTS = GEMINI.param("reasoning_effort").choices
MAX_MESSAGE_LENGTH = 20_000

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


def ask(conversation: Conversation, text: str) -> tuple[Message, Message]:
    """Stores the question and an empty reply waiting to be answered."""
    with transaction.atomic():
        question = Message.objects.create(
            conversation=conversation, role=Message.Role.USER, content=text
        )
        reply = Message.objects.create(
            conversation=conversation, role=Message.Role.ASSISTANT, complete=False
        )
    return question, reply


def request_body(reply: Message, options: dict) -> dict:
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


def ran(error: client.UpstreamError, arrived: bool = False) -> bool:
    """Whether the service may have run (and billed) a request that ended in `error`: yes once
    any of the reply arrived, or when the connection broke or timed out after sending; no when
    it answered with an error status (it refused: 4xx, or failed before starting: 5xx)."""
    return arrived or error.kind in (client.TIMEOUT_ERROR, client.TRANSPORT_ERROR)


def failure_sentence(error: client.UpstreamError) -> str:
    if error.kind == client.INSUFFICIENT_CREDITS or error.status == 402:
        return OUT_OF_CREDITS
    if error.kind == client.AUTHENTICATION or error.status in (401, 403):
        return KEY_REFUSED
    return NO_ANSWER


def answer_now(account: client.Account, reply: Message, options: dict) -> None:
    """One blocking call (the page without JavaScript), the reply stored and billed after it."""
    if not reply.claim() or reply.hold():
        return
    try:
        answer = client.chat(account, request_body(reply, options))
    except client.UpstreamError as error:
        reply.finish(error=failure_sentence(error), ran=ran(error))
        return
    reply.finish(
        content=answer.content,
        thoughts=answer.thoughts,
        usage=answer.usage,
        credits_consumed=answer.credits_consumed,
    )
