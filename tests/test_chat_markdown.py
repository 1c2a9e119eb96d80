"""A finished reply is shown as Markdown, rendered on the server and sanitised: code blocks
highlighted, lists and tables, and nothing a reply holds can run on the page."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from generations.chat import render_markdown
from generations.models import Conversation, Message
from tests.test_chat import read_events, send_with_htmx, start_chat

REPLY = """Here is **how**, in *three* steps:

1. Install it
2. Import it
   - with `import json`

```python
def answer() -> int:
    return 42
```

| Model | Credits |
|-------|--------:|
| gemini | 5 |

> A quote, and [the manual](https://apiin.one/docs).
"""

ATTACKS = [
    "<script>window.pwned = 1</script>",
    '<img src=x onerror="window.pwned = 2">',
    "[x](javascript:window.pwned=3)",
    "[x](JaVaScRiPt:alert(1))",
    "[x](&#106;avascript:alert(1))",
    "[x](java\tscript:alert(1))",
    "<javascript:alert(1)>",
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[x](vbscript:msgbox(1))",
    '<a href="javascript:alert(1)">x</a>',
    "<svg onload=alert(1)>",
    "<iframe src=https://example.com></iframe>",
    '<p style="background:url(javascript:alert(1))">x</p>',
    '<div onmouseover="alert(1)">hover</div>',
    "![x](https://example.com/track.png)",
    '[x](https://example.com "title" onclick="alert(1)")',
    "```html\n<script>alert(1)</script>\n```",
    "`<script>alert(1)</script>`",
    "<details open ontoggle=alert(1)>",
    "[x]: javascript:alert(1)\n\n[x]",
]


class Tags(HTMLParser):
    """Every tag and attribute of an HTML fragment, as a browser's parser sees them."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs) -> None:
        self.tags.append((tag, dict(attrs)))


SAFE_TAGS = {
    *("p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "strong", "em"),
    *("s", "del", "code", "pre", "span", "a", "ul", "ol", "li", "table", "thead", "tbody"),
    *("tr", "th", "td"),
}


def assert_inert(html: str) -> None:
    for tag, attrs in Tags(html).tags:
        assert tag in SAFE_TAGS, (tag, html)
        for name, value in attrs.items():
            assert not name.startswith("on"), (name, html)
            assert name in {"href", "title", "class", "rel", "start"}, (name, html)
            if name == "href":
                assert (value or "").startswith(("http://", "https://", "mailto:")), html


def test_it_renders_code_lists_tables_and_links() -> None:
    html = render_markdown(REPLY)
    assert "<strong>how</strong>" in html
    assert "<em>three</em>" in html
    assert "<ol>" in html
    assert "<li>Install it</li>" in html
    assert "<code>import json</code>" in html
    assert '<pre class="highlight"><code>' in html
    assert '<span class="k">def</span>' in html  # Pygments' classes, styled by studio.css
    assert '<span class="mi">42</span>' in html
    assert "<table>" in html
    assert "<th>Credits</th>" in html
    assert "<td>gemini</td>" in html
    assert "<blockquote>" in html
    assert '<a href="https://apiin.one/docs" rel="noopener noreferrer nofollow">' in html
    assert "style=" not in html  # a table's alignment would need an inline style (CSP)
    assert_inert(html)


def test_it_shows_a_block_in_an_unknown_language_as_plain_text() -> None:
    html = render_markdown("```no-such-language\n<b>x</b> & y\n```")
    assert "<pre><code" in html
    assert "&lt;b&gt;x&lt;/b&gt; &amp; y" in html
    assert_inert(html)


def test_it_shows_a_json_reply_as_a_json_block() -> None:
    html = render_markdown('{"answer": 42, "units": ["credits"]}')
    assert html.startswith('<pre class="highlight"><code>')
    assert '<span class="nt">&quot;answer&quot;</span>' in html or '"answer"' in html
    assert '<span class="mi">42</span>' in html
    assert render_markdown("{not json").startswith("<p>")


@pytest.mark.parametrize("attack", ATTACKS)
def test_nothing_in_a_reply_can_run(attack) -> None:
    html = render_markdown(f"Before {attack} after")
    assert_inert(html)  # what the browser would parse: only plain tags, only web links
    for tag in ("<script", "<img", "<iframe", "<svg", "<details", "<div"):
        assert tag not in html.lower()


@pytest.mark.django_db
def test_the_page_renders_replies_and_leaves_questions_as_typed(alice, alice_client) -> None:
    conversation = Conversation.objects.create(
        workspace=alice.memberships.get().workspace, user=alice, title="Markdown"
    )
    Message.objects.create(conversation=conversation, role="user", content="**not bold** <i>x</i>")
    Message.objects.create(conversation=conversation, role="assistant", content=REPLY)
    page = alice_client.get(f"/chat/{conversation.code}/").content.decode()
    assert '<div class="bubble-text">**not bold** &lt;i&gt;x&lt;/i&gt;</div>' in page
    assert '<div class="bubble-text markdown"><p>Here is <strong>how</strong>' in page
    assert '<span class="k">def</span>' in page
    assert "<td>gemini</td>" in page


@pytest.mark.django_db(transaction=True)  # the stream pulls chunks (and a rate slot) in a thread
def test_the_stream_sends_plain_text_and_ends_with_the_rendered_reply(
    alice_client, upstream
) -> None:
    question = "Say **bold** and `code` <script>window.pwned = 1</script> [x](javascript:alert(1))"
    conversation = start_chat(alice_client)
    send_with_htmx(alice_client, conversation, question)
    reply = conversation.messages.filter(role="assistant").last()

    events = read_events(alice_client.get(f"/chat/{conversation.code}/stream/{reply.pk}"))

    tokens = "".join(data["text"] for name, data in events if name == "token")
    assert "**bold**" in tokens  # pieces go out as the plain text they are (the page appends text)
    name, data = events[-1]
    assert name == "done"
    assert "<strong>bold</strong>" in data["html"]
    assert "<code>code</code>" in data["html"]
    assert "&lt;script&gt;" in data["html"]
    assert "<script" not in data["html"]
    assert 'href="javascript' not in data["html"]
