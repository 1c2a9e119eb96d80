"""Every model the studio offers, described as data.

The facts come from API in One's public manual and model pages (copied into
/work/shared/api-in-one when this file was written; never read at run time). Where
sources disagree, the API manual wins; the model pages come second. Prices that are not
published are the studio's own estimates and say so in ``price_note``; speeds that are
not published say so in ``speed_note``.

Pure Python: no Django, no HTTP. Forms, the client and the sandbox all read this package.
The engine (how a model is described, priced and checked) is ``engine.py``; the models are
one file per kind (``image.py``, ``video.py``, ``music.py``, ``speech.py``, ``chat.py``,
``tools.py``), so what a model costs is in one short file.

Public API
----------
``Param``, ``SubModel``, ``ModelSpec``     the description of one model.
``MODELS``, ``KINDS``, ``get``, ``for_kind``  the catalog itself.
``find_upstream(route, model)``            which spec an upstream request body is for.
``chat_credits(prompt, completion)``       the studio's settlement rate for chat tokens.
``ModelSpec.estimate / validate / upstream_model / filled / request_body``.
"""

from __future__ import annotations

from collections.abc import Iterable

from generations.catalog import chat, image, music, speech, tools, video
from generations.catalog.engine import (
    CHAT_HOLD_CREDITS,
    CHAT_MIN_CREDITS,
    CHAT_TOKENS_PER_CREDIT,
    KIND_LABELS,
    KINDS,
    PARAM_KINDS,
    URL_PREFIXES,
    BySubModel,
    ChatMessages,
    Fixed,
    MaxLength,
    Mode,
    ModelSpec,
    Modes,
    Param,
    PerCharacters,
    PerSecond,
    PriceRule,
    Require,
    Rule,
    ShotTotal,
    SubModel,
    Table,
    When,
    chat_credits,
)

__all__ = [
    "CHAT_HOLD_CREDITS",
    "CHAT_MIN_CREDITS",
    "CHAT_TOKENS_PER_CREDIT",
    "KINDS",
    "KIND_LABELS",
    "MODELS",
    "PARAM_KINDS",
    "URL_PREFIXES",
    "BySubModel",
    "ChatMessages",
    "Fixed",
    "MaxLength",
    "Mode",
    "ModelSpec",
    "Modes",
    "Param",
    "PerCharacters",
    "PerSecond",
    "PriceRule",
    "Require",
    "Rule",
    "ShotTotal",
    "SubModel",
    "Table",
    "When",
    "chat_credits",
    "find_upstream",
    "for_kind",
    "get",
    "name_of",
]


def _index(specs: Iterable[ModelSpec]) -> dict[str, ModelSpec]:
    models: dict[str, ModelSpec] = {}
    for spec in specs:
        if spec.slug in models:
            raise ValueError(f"duplicate model slug {spec.slug!r}")
        models[spec.slug] = spec
    return models


MODELS: dict[str, ModelSpec] = _index(
    image.SPECS + video.SPECS + music.SPECS + speech.SPECS + chat.SPECS + tools.SPECS
)  # display order


def get(slug: str) -> ModelSpec:
    """The spec for ``slug``; KeyError when there is none."""
    try:
        return MODELS[slug]
    except KeyError:
        raise KeyError(f"unknown model {slug!r}") from None


def name_of(slug: str) -> str:
    """A model's name ("Kling 3.0"); the slug itself when the catalog has no such model."""
    spec = MODELS.get(slug)
    return spec.name if spec else slug


def for_kind(kind: str) -> list[ModelSpec]:
    """Specs of one kind, in display order."""
    return [spec for spec in MODELS.values() if spec.kind == kind]


def find_upstream(route: str, model: str | None) -> ModelSpec | None:
    """The spec an upstream request is for, from its route and its "model" field.

    ``route`` may carry a leading "/", "/api/v1/" or "api/v1/". Tools that take no
    model field are found by route alone.
    """
    path = route.strip("/")
    if path.startswith("api/v1/"):
        path = path[len("api/v1/") :]
    candidates = [spec for spec in MODELS.values() if spec.route == path]
    for spec in candidates:
        if spec.accepts_model(model):
            return spec
    if len(candidates) == 1 and candidates[0].upstream_model() is None:
        return candidates[0]
    return None
