"""Chat replies: what is asked of the upstream and how a reply's bill ends.

The upstream answers chat synchronously (no task to poll). A reply is a `Message` that is
claimed once (`Message.claim`), holds the documented pre-deduction (`Message.hold`), is asked for
in one call (`answer_now`) or relayed as a stream by the view, and ends with `Message.finish`,
which stores it and settles the hold to what the service charged (or, cut off, to the
pre-deduction; released only when the service surely never ran it: `ran`).

A finished reply is shown as Markdown (`render_markdown`): rendered without raw HTML, code
highlighted by Pygments' classes, then sanitised, so nothing in a reply can run on the page.
"""

from __future__ import annotations

import dataclasses
import json
from functools import lru_cache

import nh3
from django.db import transaction
from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.token import STANDARD_TYPES
from pygments.util import ClassNotFound

from generations import catalog, client, ratelimit, upstream
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
KEPT = "What arrived is kept above; regenerate the reply for a whole one."
BROKE_OFF = "The chat service broke off the reply partway. " + KEPT
STALLED = "The reply stopped arriving: the chat service went quiet partway. " + KEPT
STOPPED = (
    f"You stopped this reply. What arrived is kept; the service keeps its "
    f"{catalog.CHAT_HOLD_CREDITS}-credit pre-deduction for a reply cut short."
)
STOPPED_BEFORE = "You stopped this reply before it was sent; nothing was charged."


def stream_account(member: str, workspace) -> client.Account:
    """The account a streamed reply is asked for with. When its key has a free slot now, the
    slot is taken here, in the request's own thread and database connection, and the stream
    takes none (its first pull then only waits on the network); else the first pull waits for
    one, as every call does."""
    account = upstream.studio_account(member, workspace)
    try:
        ratelimit.take_now(account.rate_key, account.member)
    except ratelimit.KeyBusy:
        return account
    return dataclasses.replace(account, limiter=None)


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


def request_body(reply: Message) -> dict:
    """The conversation before `reply`, asked for with the conversation's settings."""
    conversation = reply.conversation
    body = {
        "model": GEMINI.model_value,
        "messages": conversation.history(before=reply),
        "include_thoughts": conversation.include_thoughts,
        "reasoning_effort": conversation.reasoning_effort,
    }
    if conversation.json_output:
        body["response_format"] = {"type": "json_object"}
    return body


def ran(error: client.UpstreamError, arrived: bool = False) -> bool:
    """Whether the service may have run (and billed) a request that ended in `error`: yes once
    any of the reply arrived, or when the connection broke or timed out after sending; no when
    it answered with an error status (it refused: 4xx, or failed before starting: 5xx)."""
    return arrived or error.kind in (client.TIMEOUT_ERROR, client.TRANSPORT_ERROR)


def failure_sentence(error: client.UpstreamError, arrived: bool = False) -> str:
    """What the reply says when it ended in `error`; `arrived`: after some of it was shown."""
    if error.kind == client.INSUFFICIENT_CREDITS or error.status == 402:
        return f"{OUT_OF_CREDITS} {KEPT}" if arrived else OUT_OF_CREDITS
    if error.kind == client.AUTHENTICATION or error.status in (401, 403):
        return KEY_REFUSED
    if arrived:
        return STALLED if error.kind == client.TIMEOUT_ERROR else BROKE_OFF
    return NO_ANSWER


def answer_now(account: client.Account, reply: Message) -> None:
    """One blocking call (the page without JavaScript), the reply stored and billed after it."""
    if not reply.claim() or reply.hold():
        return
    try:
        answer = client.chat(account, request_body(reply))
    except client.UpstreamError as error:
        reply.finish(error=failure_sentence(error), ran=ran(error))
        return
    reply.finish(
        content=answer.content,
        thoughts=answer.thoughts,
        usage=answer.usage,
        credits_consumed=answer.credits_consumed,
    )


# -- a reply as the page shows it -----------------------------------------------------------

# What rendered Markdown may hold. The renderer already refuses raw HTML and unsafe link
# schemes; the sanitiser is the second lock, so that a parser bug cannot open the door.
MARKDOWN_TAGS = {
    *("p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote"),
    *("strong", "em", "s", "del", "code", "pre", "span", "a"),
    *("ul", "ol", "li", "table", "thead", "tbody", "tr", "th", "td"),
}
MARKDOWN_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}}
HIGHLIGHT_CLASSES = {"span": {c for c in STANDARD_TYPES.values() if c}, "pre": {"highlight"}}


def _highlight(code: str, language: str, _attrs) -> str:
    """A fenced block in a known language as Pygments' spans (styled by studio.css); ""
    lets the renderer show any other block as plain, escaped text."""
    try:
        lexer = get_lexer_by_name(language.strip()) if language.strip() else None
    except ClassNotFound:
        lexer = None
    if lexer is None:
        return ""
    spans = highlight(code, lexer, HtmlFormatter(nowrap=True))
    return f'<pre class="highlight"><code>{spans}</code></pre>\n'


@lru_cache(maxsize=1)
def _markdown() -> MarkdownIt:
    renderer = MarkdownIt("commonmark", {"html": False, "highlight": _highlight})
    return renderer.enable(["table", "strikethrough"]).disable("image")  # no outside images


def render_markdown(text: str) -> SafeString:
    """A reply's Markdown as HTML safe to put on the page. A reply that is one JSON document
    (JSON output mode) is shown as a highlighted JSON block."""
    if text.lstrip()[:1] in ("{", "["):
        try:
            json.loads(text)
        except ValueError:
            pass
        else:
            text = f"```json\n{text.strip()}\n```"
    html = _markdown().render(text)
    clean = nh3.clean(
        html,
        tags=MARKDOWN_TAGS,
        attributes=MARKDOWN_ATTRIBUTES,
        allowed_classes=HIGHLIGHT_CLASSES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
    return mark_safe(clean)  # sanitised just above
