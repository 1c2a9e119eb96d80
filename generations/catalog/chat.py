"""The chat model: answered synchronously, streamed, billed by its tokens.

What each costs and accepts, as API in One documents it."""

from __future__ import annotations

from generations.catalog.engine import (
    CHAT_HOLD_CREDITS,
    ChatMessages,
    Fixed,
    ModelSpec,
    Param,
)

SPECS: tuple[ModelSpec, ...] = (
    ModelSpec(
        slug="gemini",
        name="Gemini",
        kind="chat",
        route="chat/completions",
        output="text",
        model_value="gemini",
        params=(
            Param(
                "messages",
                "json",
                "Conversation",
                required=True,
                help="OpenAI-style list of {role, content}; roles user, assistant, system, "
                "developer.",
            ),
            Param(
                "stream",
                "bool",
                "Stream",
                default=True,
                help="Send the reply as server-sent events.",
                advanced=True,
            ),
            Param(
                "include_thoughts",
                "bool",
                "Show reasoning",
                default=True,
                help="Include the model's thinking steps.",
            ),
            Param(
                "reasoning_effort",
                "choice",
                "Reasoning effort",
                default="high",
                choices=("low", "high"),
            ),
            Param(
                "tools",
                "json",
                "Tools",
                help="OpenAI-style function definitions.",
                advanced=True,
            ),
            Param(
                "response_format",
                "json",
                "Response format",
                help='For example {"type": "json_object"}.',
                advanced=True,
            ),
        ),
        rules=(ChatMessages("messages", ("user", "assistant", "system", "developer")),),
        price=Fixed(CHAT_HOLD_CREDITS),
        # The per-token rate is not published: the studio settles at chat_credits' rate.
        price_note=(
            "5 credits are held when you send; a reply then costs 1 credit per 1,000 tokens "
            "(at least 1), the studio's estimate."
        ),
        async_task=False,
        typical_seconds=(1, 5),
        callback=False,
        inputs=frozenset({"text"}),
        description="Google Gemini (3 Flash): chat, reasoning and writing.",
    ),
)
