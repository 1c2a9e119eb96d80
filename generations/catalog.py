"""Every model the studio offers, described as data.

The facts come from API in One's public manual and model pages (copied into
/work/shared/api-in-one when this file was written; never read at run time). Where
sources disagree, the API manual wins; the model pages come second. Prices that are not
published are the studio's own estimates and say so in ``price_note``; speeds that are
not published say so in ``speed_note``.

Pure Python: no Django, no HTTP. Forms, the client and the sandbox all read this module.

Public API
----------
``Param``, ``SubModel``, ``ModelSpec``     the description of one model.
``MODELS``, ``KINDS``, ``get``, ``for_kind``  the catalog itself.
``find_upstream(route, model)``            which spec an upstream request body is for.
``chat_credits(prompt, completion)``       the studio's settlement rate for chat tokens.
``ModelSpec.estimate / validate / upstream_model / filled / request_body``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

URL_PREFIXES = ("http://", "https://")

PARAM_KINDS = frozenset(
    {
        "text",
        "longtext",
        "choice",
        "int",
        "float",
        "bool",
        "image_url",
        "image_urls",
        "video_url",
        "audio_url",
        "dialogue",
        "multi_prompt",
        "json",
    }
)

KINDS: tuple[tuple[str, str], ...] = (
    ("image", "Images"),
    ("video", "Video"),
    ("music", "Music"),
    ("speech", "Speech"),
    ("chat", "Chat"),
    ("tool", "Tools"),
)
KIND_LABELS: dict[str, str] = dict(KINDS)

# Chat is billed by the upstream as "5 credits pre-deducted, then adjusted by token
# usage"; the per-token rate is not published. The studio (and its sandbox) settle chat
# at 1 credit per 1000 tokens (prompt + completion), rounded up, minimum 1 credit.
CHAT_HOLD_CREDITS = 5
CHAT_TOKENS_PER_CREDIT = 1000
CHAT_MIN_CREDITS = 1


def chat_credits(prompt_tokens: int, completion_tokens: int) -> int:
    """Credits the studio charges for one chat reply (its own documented rate)."""
    tokens = max(0, int(prompt_tokens or 0)) + max(0, int(completion_tokens or 0))
    return max(CHAT_MIN_CREDITS, math.ceil(tokens / CHAT_TOKENS_PER_CREDIT))


# --------------------------------------------------------------------------------------
# Parameters and sub-models
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Param:
    name: str  # the upstream JSON field name, e.g. "aspect_ratio"
    kind: str  # one of PARAM_KINDS
    label: str  # human label for a form
    required: bool = False
    default: Any = None
    choices: tuple[str, ...] = ()  # allowed values for "choice"
    min_value: float | None = None  # for int/float
    max_value: float | None = None
    min_length: int | None = None  # for text/longtext (and each multi_prompt prompt)
    max_length: int | None = None
    max_items: int | None = None  # for image_urls / dialogue / multi_prompt
    help: str = ""
    advanced: bool = False  # hide behind "more options" in the form


@dataclass(frozen=True)
class SubModel:
    value: str  # what goes in the upstream "model" field, e.g. "imagen4-fast"
    label: str
    credits: int | None = None


class _Invalid(Exception):
    """A value breaks a documented rule; the message is shown to the person."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _is_blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, (list, tuple, dict)):
        return len(value) == 0
    return False


def _fmt(number: float | None) -> str:
    if number is None:
        return ""
    if float(number).is_integer():
        return str(int(number))
    return str(number)


def _to_int(value: Any) -> int:
    """An int from an int, an integral float or a numeric string; raises ValueError."""
    if isinstance(value, bool):
        raise ValueError("bool is not a number")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        raise ValueError("not whole")
    if isinstance(value, str):
        number = float(value.strip())
        if number.is_integer():
            return int(number)
    raise ValueError("not a whole number")


def _to_float(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError("bool is not a number")
    number = float(value.strip()) if isinstance(value, str) else float(value)
    if not math.isfinite(number):
        raise ValueError("not finite")
    return number


_TRUE_WORDS = frozenset({"true", "1", "yes", "on"})
_FALSE_WORDS = frozenset({"false", "0", "no", "off"})


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE_WORDS:
            return True
        if word in _FALSE_WORDS:
            return False
    raise ValueError("not a boolean")


def _is_url(value: Any) -> bool:
    return isinstance(value, str) and value.strip().lower().startswith(URL_PREFIXES)


def _load_json(param: Param, value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            raise _Invalid(f"{param.label} must be valid JSON.") from None
    return value


def _as_list(param: Param, value: Any, what: str) -> list[Any]:
    value = _load_json(param, value)
    if not isinstance(value, (list, tuple)):
        raise _Invalid(f"{param.label} must be a list of {what}.")
    return list(value)


def _coerce(param: Param, raw: Any) -> Any:
    """Convert a form or JSON value to the param's type; raises _Invalid."""
    kind = param.kind
    label = param.label
    if kind in ("text", "longtext"):
        if not isinstance(raw, str):
            raise _Invalid(f"{label} must be text.")
        return raw
    if kind == "choice":
        if isinstance(raw, (int, float)) and not isinstance(raw, bool):
            return _fmt(raw)
        if not isinstance(raw, str):
            raise _Invalid(f"{label} must be one of: {', '.join(param.choices)}.")
        return raw.strip()
    if kind == "int":
        try:
            return _to_int(raw)
        except (TypeError, ValueError):
            raise _Invalid(f"{label} must be a whole number.") from None
    if kind == "float":
        try:
            return _to_float(raw)
        except (TypeError, ValueError):
            raise _Invalid(f"{label} must be a number.") from None
    if kind == "bool":
        try:
            return _to_bool(raw)
        except ValueError:
            raise _Invalid(f"{label} must be true or false.") from None
    if kind in ("image_url", "video_url", "audio_url"):
        if not _is_url(raw):
            raise _Invalid(f"{label} must be a link starting with http:// or https://.")
        return raw.strip()
    if kind == "image_urls":
        items = raw.split() if isinstance(raw, str) and not raw.lstrip().startswith("[") else raw
        urls = _as_list(param, items, "image links")
        for number, url in enumerate(urls, start=1):
            if not _is_url(url):
                raise _Invalid(
                    f"Image {number} in {label} must be a link starting with http:// or https://."
                )
        return [url.strip() for url in urls]
    if kind == "dialogue":
        lines = _as_list(param, raw, "lines")
        for number, line in enumerate(lines, start=1):
            if not isinstance(line, Mapping):
                raise _Invalid(f"Line {number} must have a text and an optional voice.")
        return [dict(line) for line in lines]
    if kind == "multi_prompt":
        shots = _as_list(param, raw, "shots")
        for number, shot in enumerate(shots, start=1):
            if not isinstance(shot, Mapping):
                raise _Invalid(f"Shot {number} must have a prompt and a duration.")
        return [dict(shot) for shot in shots]
    if kind == "json":
        return _load_json(param, raw)
    raise _Invalid(f"{label} has an unknown kind {kind!r}.")  # pragma: no cover


def _check_text(param: Param, text: str, what: str) -> None:
    if param.min_length is not None and len(text.strip()) < param.min_length:
        raise _Invalid(f"{what} must be at least {param.min_length} characters.")
    if param.max_length is not None and len(text) > param.max_length:
        raise _Invalid(
            f"{what} must be at most {param.max_length} characters (it has {len(text)})."
        )


def _check(param: Param, value: Any) -> None:
    """Check a coerced value against the param's documented limits; raises _Invalid."""
    kind = param.kind
    label = param.label
    if kind in ("text", "longtext"):
        _check_text(param, value, label)
    elif kind == "choice":
        if value not in param.choices:
            raise _Invalid(f"{label} must be one of: {', '.join(param.choices)}.")
    elif kind in ("int", "float"):
        low, high = param.min_value, param.max_value
        if low is not None and high is not None and not low <= value <= high:
            raise _Invalid(f"{label} must be between {_fmt(low)} and {_fmt(high)}.")
        if low is not None and value < low:
            raise _Invalid(f"{label} must be at least {_fmt(low)}.")
        if high is not None and value > high:
            raise _Invalid(f"{label} must be at most {_fmt(high)}.")
    elif kind in ("image_urls", "dialogue", "multi_prompt"):
        if param.max_items is not None and len(value) > param.max_items:
            raise _Invalid(f"{label} can have at most {param.max_items} items.")
        if kind == "dialogue":
            _check_dialogue(value)
        elif kind == "multi_prompt":
            _check_shots(param, value)


def _check_dialogue(lines: list[dict[str, Any]]) -> None:
    for number, line in enumerate(lines, start=1):
        text = line.get("text")
        if not isinstance(text, str) or not text.strip():
            raise _Invalid(f"Line {number} needs some text.")
        voice = line.get("voice")
        if voice is not None and not isinstance(voice, str):
            raise _Invalid(f"The voice on line {number} must be text.")


def _check_shots(param: Param, shots: list[dict[str, Any]]) -> None:
    for number, shot in enumerate(shots, start=1):
        prompt = shot.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            raise _Invalid(f"Shot {number} needs a prompt.")
        _check_text(param, prompt, f"The prompt of shot {number}")
        try:
            seconds = _to_int(shot.get("duration"))
        except (TypeError, ValueError):
            raise _Invalid(f"Shot {number} needs a duration in whole seconds.") from None
        if seconds < 1:
            raise _Invalid(f"Shot {number} must last at least 1 second.")


_REQUIRED_MESSAGES = {
    "image_url": "{label} is required.",
    "image_urls": "{label} needs at least one image.",
    "dialogue": "Add at least one line of dialogue.",
    "multi_prompt": "Add at least one shot.",
}


def _required_message(param: Param) -> str:
    return _REQUIRED_MESSAGES.get(param.kind, "{label} is required.").format(label=param.label)


# --------------------------------------------------------------------------------------
# Price rules: how many credits a request costs. ``values`` are ModelSpec.filled(params).
# --------------------------------------------------------------------------------------


def _count(values: Mapping[str, Any], per: str | None) -> int:
    if per is None:
        return 1
    try:
        return max(1, _to_int(values.get(per)))
    except (TypeError, ValueError):
        return 1


class PriceRule:
    """Base class of the price rules below."""

    def credits(self, spec: ModelSpec, values: Mapping[str, Any]) -> int:
        raise NotImplementedError


@dataclass(frozen=True)
class Fixed(PriceRule):
    """The same price for every request."""

    amount: int

    def credits(self, spec: ModelSpec, values: Mapping[str, Any]) -> int:
        return self.amount


@dataclass(frozen=True)
class Table(PriceRule):
    """A price looked up by the values of one or more params, optionally x a count param."""

    keys: tuple[str, ...]
    table: tuple[tuple[tuple[str, ...], int], ...]
    per: str | None = None  # e.g. "num_images"

    def credits(self, spec: ModelSpec, values: Mapping[str, Any]) -> int:
        prices = dict(self.table)
        key = tuple(str(values.get(name)) for name in self.keys)
        # An unknown combination is invalid anyway; hold the dearest price meanwhile.
        unit = prices.get(key, max(prices.values()))
        return unit * _count(values, self.per)


def _table(keys: tuple[str, ...], prices: Mapping[Any, int], per: str | None = None) -> Table:
    rows = tuple(((k,) if isinstance(k, str) else tuple(k), v) for k, v in prices.items())
    return Table(keys=keys, table=rows, per=per)


@dataclass(frozen=True)
class BySubModel(PriceRule):
    """The chosen sub-model's ``credits``, optionally x a count param."""

    per: str | None = None

    def credits(self, spec: ModelSpec, values: Mapping[str, Any]) -> int:
        chosen = spec.sub_model(values.get("model"))
        prices = [sub.credits for sub in spec.sub_models if sub.credits is not None]
        unit = chosen.credits if chosen and chosen.credits is not None else max(prices)
        return unit * _count(values, self.per)


@dataclass(frozen=True)
class PerSecond(PriceRule):
    """``base`` credits per second plus ``extras`` (param, value, credits per second).

    With ``shots_switch`` on, the duration is the sum of the shots' durations.
    """

    base: int
    extras: tuple[tuple[str, Any, int], ...] = ()
    duration: str = "duration"
    shots: str | None = None
    shots_switch: str | None = None

    def seconds(self, values: Mapping[str, Any]) -> int:
        if self.shots and self.shots_switch and values.get(self.shots_switch):
            total = 0
            for shot in values.get(self.shots) or ():
                try:
                    total += max(0, _to_int(shot.get("duration")))
                except (AttributeError, TypeError, ValueError):
                    continue
            if total > 0:
                return total
        try:
            return max(0, math.ceil(_to_float(values.get(self.duration))))
        except (TypeError, ValueError):
            return 0

    def rate(self, values: Mapping[str, Any]) -> int:
        extra = sum(cost for name, value, cost in self.extras if values.get(name) == value)
        return self.base + extra

    def credits(self, spec: ModelSpec, values: Mapping[str, Any]) -> int:
        return self.rate(values) * self.seconds(values)


@dataclass(frozen=True)
class PerCharacters(PriceRule):
    """``per_thousand`` credits per 1000 characters of text, rounded up, with a minimum."""

    field: str
    text_key: str
    per_thousand: int
    minimum: int = 1

    def characters(self, values: Mapping[str, Any]) -> int:
        total = 0
        for item in values.get(self.field) or ():
            text = item.get(self.text_key) if isinstance(item, Mapping) else None
            if isinstance(text, str):
                total += len(text)
        return total

    def credits(self, spec: ModelSpec, values: Mapping[str, Any]) -> int:
        chars = self.characters(values)
        return max(self.minimum, -(-chars * self.per_thousand // 1000))


# --------------------------------------------------------------------------------------
# Cross-field validation rules
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class When:
    """A condition on a request: ``field`` is filled in, or (with ``values``) equals one.

    ``field == "model"`` means the upstream model value that would be sent.
    """

    field: str
    values: tuple[Any, ...] = ()

    def holds(self, spec: ModelSpec, params: Mapping[str, Any]) -> bool:
        if not self.values:
            return not _is_blank(params.get(self.field))
        return spec.value(self.field, params) in self.values


class Rule:
    """Base class of the validation rules below; yields (field, message) pairs."""

    def check(self, spec: ModelSpec, params: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
        raise NotImplementedError


@dataclass(frozen=True)
class Require(Rule):
    field: str
    when: When
    message: str

    def check(self, spec: ModelSpec, params: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
        if self.when.holds(spec, params) and _is_blank(params.get(self.field)):
            yield self.field, self.message


@dataclass(frozen=True)
class MaxLength(Rule):
    """A tighter length limit that applies only under a condition (e.g. a sub-model)."""

    field: str
    max_length: int
    when: When
    why: str

    def check(self, spec: ModelSpec, params: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
        text = params.get(self.field)
        if isinstance(text, str) and len(text) > self.max_length and self.when.holds(spec, params):
            label = spec.label_of(self.field)
            yield (
                self.field,
                f"{label} must be at most {self.max_length} characters {self.why} "
                f"(it has {len(text)}).",
            )


@dataclass(frozen=True)
class Mode:
    name: str  # e.g. "custom"
    needs: str  # the field this mode requires
    signals: tuple[str, ...]  # any of these filled in means this mode is in use


@dataclass(frozen=True)
class Modes(Rule):
    """Exactly one of several input modes must be used, and it needs its field."""

    modes: tuple[Mode, ...]
    none_message: str
    both_message: str

    def check(self, spec: ModelSpec, params: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
        used = [m for m in self.modes if any(not _is_blank(params.get(f)) for f in m.signals)]
        if not used:
            yield self.modes[0].needs, self.none_message
        elif len(used) > 1:
            yield used[0].needs, self.both_message
        elif _is_blank(params.get(used[0].needs)):
            mode = used[0]
            label = spec.label_of(mode.needs)
            yield mode.needs, f"{mode.name.capitalize()} mode needs {label}."


@dataclass(frozen=True)
class ShotTotal(Rule):
    """The shots' durations must add up to a total within bounds."""

    field: str
    min_total: int
    max_total: int
    when: When

    def check(self, spec: ModelSpec, params: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
        if not self.when.holds(spec, params):
            return
        shots = spec.value(self.field, params) or []
        try:
            total = sum(_to_int(shot.get("duration")) for shot in shots)
        except (AttributeError, TypeError, ValueError):
            return  # the per-shot check reports this
        if shots and not self.min_total <= total <= self.max_total:
            yield (
                self.field,
                f"Shot durations must add up to between {self.min_total} and "
                f"{self.max_total} seconds (they add up to {total}).",
            )


@dataclass(frozen=True)
class ChatMessages(Rule):
    """OpenAI-style messages: a non-empty list of {role, content}."""

    field: str
    roles: tuple[str, ...]

    def check(self, spec: ModelSpec, params: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
        raw = params.get(self.field)
        if _is_blank(raw):
            return  # the required check reports this
        try:
            messages = _load_json(spec.param(self.field), raw)
        except _Invalid:
            return  # the param check reports this
        if not isinstance(messages, list) or not messages:
            yield self.field, "Conversation must be a list of messages."
            return
        for number, message in enumerate(messages, start=1):
            if not isinstance(message, Mapping):
                yield self.field, f"Message {number} must have a role and content."
                return
            if message.get("role") not in self.roles:
                roles = ", ".join(self.roles)
                yield self.field, f"Message {number} needs a role: one of {roles}."
                return
            if _is_blank(message.get("content")):
                yield self.field, f"Message {number} needs some content."
                return


# --------------------------------------------------------------------------------------
# Model spec
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelSpec:
    slug: str  # studio id, e.g. "imagen-4"; unique
    name: str  # display name
    kind: str  # "image" | "video" | "music" | "speech" | "chat" | "tool"
    route: str  # path under the base URL, no leading slash, e.g. "images/generations"
    output: str  # "image" | "video" | "audio" | "text"
    params: tuple[Param, ...]
    price: PriceRule
    typical_seconds: tuple[float, float]  # (low, high) wait for a result
    callback: bool  # accepts callback_url
    inputs: frozenset[str]  # subset of {"text", "image", "video", "audio"}
    sub_models: tuple[SubModel, ...] = ()  # choices for the upstream "model" field
    model_value: str | None = None  # fixed upstream "model" when there are no sub_models
    default_model: str | None = None  # default sub-model when not the first listed
    description: str = ""
    price_note: str = ""
    async_task: bool = True  # False only for chat
    rules: tuple[Rule, ...] = ()  # cross-field validation rules
    aliases: tuple[str, ...] = ()  # other "model" values that mean this model
    results_param: str | None = None  # param that sets how many results come back
    results_per_unit: int = 1  # results per unit of results_param (Suno returns 2)
    speed_note: str = ""

    # -- lookups --------------------------------------------------------------------
    def param(self, name: str) -> Param | None:
        for param in self.params:
            if param.name == name:
                return param
        return None

    def label_of(self, name: str) -> str:
        param = self.param(name)
        return param.label if param else name

    def sub_model(self, value: Any) -> SubModel | None:
        for sub in self.sub_models:
            if sub.value == value:
                return sub
        return None

    @property
    def typical_duration(self) -> float:
        low, high = self.typical_seconds
        return (low + high) / 2

    @property
    def kind_label(self) -> str:
        return KIND_LABELS.get(self.kind, self.kind)

    @property
    def price_label(self) -> str:
        """What a job costs with the form's defaults, for lists of models."""
        credits = self.estimate()
        return f"{credits} credit{'s' if credits != 1 else ''} by default"

    @property
    def typical_label(self) -> str:
        low, high = self.typical_seconds
        if high >= 120:
            return f"{low / 60:g}–{high / 60:g} min"
        return f"{low:g}–{high:g} s"

    @property
    def default_sub_model(self) -> str | None:
        if not self.sub_models:
            return None
        return self.default_model or self.sub_models[0].value

    def accepts_model(self, value: Any) -> bool:
        """Whether ``value`` in an upstream "model" field names this model."""
        if not isinstance(value, str) or not value:
            return False
        names = {self.slug, *self.aliases, *(sub.value for sub in self.sub_models)}
        if self.model_value:
            names.add(self.model_value)
        return value in names

    def upstream_model(self, params: Mapping[str, Any] | None = None) -> str | None:
        """The value for the upstream "model" field; None for tools that take none."""
        if self.sub_models:
            chosen = (params or {}).get("model")
            if self.sub_model(chosen) is not None:
                return chosen
            return self.default_sub_model
        return self.model_value

    # -- values ---------------------------------------------------------------------
    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params if p.default is not None}

    def value(self, name: str, params: Mapping[str, Any] | None) -> Any:
        """One param's value as it would be used: coerced, or its default."""
        params = params or {}
        if name == "model":
            return self.upstream_model(params)
        param = self.param(name)
        if param is None:
            return params.get(name)
        raw = params.get(name)
        if _is_blank(raw):
            return param.default
        try:
            value = _coerce(param, raw)
        except _Invalid:
            return param.default
        if param.kind == "choice" and value not in param.choices:
            return param.default
        if param.kind in ("int", "float"):
            if param.min_value is not None and value < param.min_value:
                value = type(value)(param.min_value)
            if param.max_value is not None and value > param.max_value:
                value = type(value)(param.max_value)
        return value

    def filled(self, params: Mapping[str, Any] | None) -> dict[str, Any]:
        """Every param with defaults filled in (None when unset), plus "model" when sent.

        Invalid values fall back to defaults and numbers are clamped to their range, so
        call ``validate`` first when the difference matters.
        """
        values = {p.name: self.value(p.name, params) for p in self.params}
        model = self.upstream_model(params)
        if model is not None:
            values["model"] = model
        return values

    def request_body(self, params: Mapping[str, Any] | None) -> dict[str, Any]:
        """``filled`` without the unset values: a body for the upstream route."""
        return {k: v for k, v in self.filled(params).items() if v is not None}

    def expected_results(self, params: Mapping[str, Any] | None = None) -> int:
        return _count(self.filled(params), self.results_param) * self.results_per_unit

    # -- price and validation ---------------------------------------------------------
    def estimate(self, params: Mapping[str, Any] | None = None) -> int:
        """Credits for a request with these params, defaults filled in."""
        return int(self.price.credits(self, self.filled(params)))

    def validate(self, params: Mapping[str, Any] | None) -> dict[str, str]:
        """{field name: message} for every documented rule the params break."""
        params = params or {}
        errors: dict[str, str] = {}
        for param in self.params:
            raw = params.get(param.name)
            if _is_blank(raw):
                if param.required and param.default is None:
                    errors[param.name] = _required_message(param)
                continue
            try:
                _check(param, _coerce(param, raw))
            except _Invalid as error:
                errors[param.name] = error.message
        chosen = params.get("model")
        if self.sub_models and not _is_blank(chosen) and not self.accepts_model(chosen):
            values = ", ".join(sub.value for sub in self.sub_models)
            errors["model"] = f"Model must be one of: {values}."
        for rule in self.rules:
            for name, message in rule.check(self, params):
                errors.setdefault(name, message)
        return errors


# --------------------------------------------------------------------------------------
# Shared parameter shapes
# --------------------------------------------------------------------------------------

IMAGE_PROMPT_MIN = 3
IMAGE_PROMPT_MAX = 5000
VIDEO_PROMPT_MAX = 2500
VIDEO_ASPECT_RATIOS = ("1:1", "9:16", "16:9")
VIDEO_RESOLUTIONS = ("480p", "720p", "1080p")
GENERIC_IMAGE_ASPECT_RATIOS = ("1:1", "16:9", "9:16")


def _image_prompt(*, required: bool = True, help: str = "") -> Param:
    return Param(
        "prompt",
        "longtext",
        "Prompt",
        required=required,
        min_length=IMAGE_PROMPT_MIN,
        max_length=IMAGE_PROMPT_MAX,
        help=help or "Describe the image (3 to 5000 characters).",
    )


def _video_prompt(*, required: bool = True, help: str = "") -> Param:
    return Param(
        "prompt",
        "longtext",
        "Prompt",
        required=required,
        max_length=VIDEO_PROMPT_MAX,
        help=help or "Describe the video (up to 2500 characters).",
    )


def _aspect(choices: tuple[str, ...], default: str) -> Param:
    return Param("aspect_ratio", "choice", "Aspect ratio", default=default, choices=choices)


def _start_image() -> Param:
    return Param(
        "image",
        "image_url",
        "Start image",
        help="Optional: an image to animate (image-to-video).",
    )


def _video_resolution(default: str = "720p") -> Param:
    return Param("resolution", "choice", "Resolution", default=default, choices=VIDEO_RESOLUTIONS)


def _source_image(label: str = "Image", help: str = "") -> Param:
    return Param("image", "image_url", label, required=True, help=help)


ESTIMATED_PRICE = "The studio's estimate: API in One publishes no price for this model."
ESTIMATED_SPEED = "The studio's estimate: no speed is published for this model."

SUNO_SHORT_LIMIT_MODELS = ("chirp-v3-5", "chirp-v4-0")

# --------------------------------------------------------------------------------------
# The catalog, in display order
# --------------------------------------------------------------------------------------

_SPECS: tuple[ModelSpec, ...] = (
    # ---------------------------------------------------------------- images
    ModelSpec(
        slug="flux-2",
        name="Flux 2",
        kind="image",
        route="images/generations",
        output="image",
        model_value="flux-2",
        params=(
            _image_prompt(),
            _aspect(GENERIC_IMAGE_ASPECT_RATIOS, "1:1"),
            Param(
                "type",
                "choice",
                "Mode",
                default="pro",
                choices=("pro", "flex"),
                help="pro: 5 credits at 1K, 7 at 2K. flex: 14 at 1K, 24 at 2K.",
            ),
            Param("resolution", "choice", "Resolution", default="1K", choices=("1K", "2K")),
            Param(
                "input_urls",
                "image_urls",
                "Reference images",
                max_items=8,
                help="Optional: up to 8 image links for image-to-image.",
            ),
        ),
        price=_table(
            ("type", "resolution"),
            {("pro", "1K"): 5, ("pro", "2K"): 7, ("flex", "1K"): 14, ("flex", "2K"): 24},
        ),
        price_note=(
            "Per request by mode and resolution. The page calls flex faster and cheaper "
            "but prices it above pro; the published prices are used."
        ),
        typical_seconds=(3, 8),
        callback=True,
        inputs=frozenset({"text", "image"}),
        description="Black Forest Labs' Flux 2: sharp text-to-image and image-to-image.",
    ),
    ModelSpec(
        slug="imagen-4",
        name="Imagen 4",
        kind="image",
        route="images/generations",
        output="image",
        sub_models=(
            SubModel("imagen4-fast", "Fast", 4),
            SubModel("imagen4", "Standard", 8),
            SubModel("imagen4-ultra", "Ultra", 12),
        ),
        default_model="imagen4",
        params=(
            _image_prompt(),
            _aspect(("1:1", "4:3", "3:4", "16:9", "9:16"), "1:1"),
            Param(
                "num_images",
                "int",
                "Number of images",
                default=1,
                min_value=1,
                max_value=4,
                help="1 to 4 (the studio's limit); each image is charged.",
            ),
            Param(
                "negative_prompt",
                "longtext",
                "Negative prompt",
                help="Things to keep out of the image.",
                advanced=True,
            ),
            Param(
                "seed",
                "int",
                "Seed",
                min_value=0,
                help="Same seed and prompt give a similar image.",
                advanced=True,
            ),
        ),
        price=BySubModel(per="num_images"),
        price_note=(
            "Per image: fast 4, standard 8, ultra 12 credits, times the number of images. "
            "The page sets no maximum for num_images; the studio allows 1 to 4."
        ),
        results_param="num_images",
        typical_seconds=(3, 8),
        callback=True,
        inputs=frozenset({"text"}),
        aliases=("imagen-4",),
        description="Google's Imagen 4: photorealistic images in three quality tiers.",
    ),
    ModelSpec(
        slug="gpt-image-1.5-official",
        name="GPT Image 1.5",
        kind="image",
        route="images/generations",
        output="image",
        # The page's model ID is gpt-image-1.5-official, but every example body sends
        # "gpt-image-1-5"; the examples are what the upstream has been shown to accept.
        model_value="gpt-image-1-5",
        aliases=("gpt-image-1.5-official",),
        params=(
            _image_prompt(),
            _aspect(("1:1", "2:3", "3:2"), "1:1"),
            Param(
                "quality",
                "choice",
                "Quality",
                default="medium",
                choices=("medium", "high"),
                help="medium: 10 credits. high: 28 credits.",
            ),
            Param(
                "input_urls",
                "image_urls",
                "Images to edit",
                help="Optional: image links for editing mode.",
            ),
        ),
        price=_table(("quality",), {"medium": 10, "high": 28}),
        price_note="Per request: medium 10, high 28 credits.",
        typical_seconds=(3, 10),
        callback=True,
        inputs=frozenset({"text", "image"}),
        description="OpenAI's GPT Image 1.5: precise prompts, text in images, and edits.",
    ),
    ModelSpec(
        slug="ideogram-v3",
        name="Ideogram V3",
        kind="image",
        route="images/generations",
        output="image",
        sub_models=(
            SubModel("ideogram-v3-turbo", "Turbo", 8),
            SubModel("ideogram-v3-balanced", "Balanced", 13),
            SubModel("ideogram-v3-quality", "Quality", 20),
        ),
        params=(
            _image_prompt(),
            _aspect(("1:1", "16:9", "9:16", "4:3", "3:4"), "1:1"),
            Param(
                "style",
                "choice",
                "Style",
                default="Auto",
                choices=("Auto", "General", "Realistic", "Design"),
            ),
            Param(
                "image",
                "image_url",
                "Image to edit",
                help="Optional: an image to edit.",
                advanced=True,
            ),
            Param(
                "mask_image",
                "image_url",
                "Mask",
                help="Optional: a mask marking the area to repaint.",
                advanced=True,
            ),
            Param(
                "reference_images",
                "image_urls",
                "Style references",
                help="Optional: image links that guide the style.",
                advanced=True,
            ),
        ),
        price=BySubModel(),
        price_note="Per request: turbo 8, balanced 13, quality 20 credits.",
        typical_seconds=(3, 8),
        callback=False,
        inputs=frozenset({"text", "image"}),
        description="Ideogram V3: strong typography and graphic design.",
    ),
    ModelSpec(
        slug="seedream-4-5",
        name="Seedream 4.5",
        kind="image",
        route="images/generations",
        output="image",
        sub_models=(
            SubModel("seedream/4.5-text-to-image", "Text to image", 12),
            SubModel("seedream/4.5-edit", "Edit", 12),
        ),
        params=(
            _image_prompt(),
            _aspect(("1:1", "4:3", "3:4", "16:9", "9:16", "2:3", "3:2", "21:9"), "1:1"),
            Param("quality", "choice", "Quality", default="basic", choices=("basic", "high")),
            Param(
                "image_urls",
                "image_urls",
                "Images to edit",
                help="Needed for the Edit sub-model.",
            ),
        ),
        rules=(
            Require(
                "image_urls",
                When("model", ("seedream/4.5-edit",)),
                "Edit needs at least one image to edit.",
            ),
        ),
        price=Fixed(12),
        price_note="12 credits per request, whatever the quality.",
        typical_seconds=(3, 10),
        callback=True,
        inputs=frozenset({"text", "image"}),
        description="ByteDance's Seedream 4.5: text-to-image and image editing.",
    ),
    ModelSpec(
        slug="seedream",
        name="Seedream",
        kind="image",
        route="images/generations",
        output="image",
        model_value="seedream",
        params=(
            _image_prompt(),
            Param(
                "type",
                "choice",
                "Mode",
                default="text-to-image",
                choices=("text-to-image", "edit"),
            ),
            _aspect(GENERIC_IMAGE_ASPECT_RATIOS, "1:1"),
            Param(
                "input_urls",
                "image_urls",
                "Images to edit",
                help="Needed in edit mode.",
            ),
        ),
        rules=(
            Require(
                "input_urls",
                When("type", ("edit",)),
                "Edit mode needs at least one image to edit.",
            ),
        ),
        price=Fixed(12),
        price_note=ESTIMATED_PRICE + " Assumed equal to Seedream 4.5 (12 credits).",
        typical_seconds=(3, 10),
        speed_note=ESTIMATED_SPEED,
        # callback_url support is not documented for this model: the studio polls.
        callback=False,
        inputs=frozenset({"text", "image"}),
        description="ByteDance's Seedream with a text-to-image or edit mode.",
    ),
    ModelSpec(
        slug="kling-image-o1",
        name="Kling Image O1",
        kind="image",
        route="images/generations",
        output="image",
        model_value="kling-image-o1",
        params=(
            _image_prompt(),
            Param(
                "type",
                "choice",
                "Mode",
                default="image-to-image",
                choices=("image-to-image", "ai-multi-shot"),
                help="image-to-image: 6 credits. ai-multi-shot: 16 credits, "
                "consistent characters across shots.",
            ),
            Param(
                "images",
                "image_urls",
                "Reference images",
                max_items=10,
                help="Up to 10 image links.",
            ),
            _aspect(
                ("1:1", "16:9", "9:16", "4:3", "3:4", "3:2", "2:3", "21:9", "auto"),
                "1:1",
            ),
            Param("resolution", "choice", "Resolution", default="1k", choices=("1k", "2k")),
            Param(
                "num_images",
                "int",
                "Number of images",
                default=1,
                min_value=1,
                max_value=9,
            ),
        ),
        price=_table(("type",), {"image-to-image": 6, "ai-multi-shot": 16}, per="num_images"),
        price_note=(
            "Published: image-to-image 6, ai-multi-shot 16 credits. Whether the price "
            "scales with num_images is not stated; the studio assumes it does."
        ),
        results_param="num_images",
        typical_seconds=(5, 15),
        callback=False,
        inputs=frozenset({"text", "image"}),
        description="Kuaishou's Kling Image O1: reference-driven images and multi-shot sets.",
    ),
    ModelSpec(
        slug="grok-imagine",
        name="Grok Imagine",
        kind="image",
        route="images/generations",
        output="image",
        sub_models=(
            SubModel("grok-imagine/text-to-image", "Text to image", 5),
            SubModel("grok-imagine/upscale", "Upscale", 12),
        ),
        params=(
            _image_prompt(required=False, help="Describe the image (needed for text-to-image)."),
            Param(
                "task_id",
                "text",
                "Image task ID",
                help="For Upscale: the task ID of an earlier Grok Imagine image.",
            ),
        ),
        rules=(
            Require(
                "prompt",
                When("model", ("grok-imagine/text-to-image",)),
                "Prompt is required for text-to-image.",
            ),
            Require(
                "task_id",
                When("model", ("grok-imagine/upscale",)),
                "Upscale needs the task ID of an earlier Grok Imagine image.",
            ),
        ),
        price=BySubModel(),
        price_note="Per request: text-to-image 5, upscale 12 credits.",
        typical_seconds=(3, 10),
        callback=True,
        inputs=frozenset({"text"}),
        description="xAI's Grok Imagine: quick text-to-image, plus upscaling of its results.",
    ),
    # ---------------------------------------------------------------- video
    ModelSpec(
        slug="kling-3",
        name="Kling 3.0",
        kind="video",
        route="videos/generations",
        output="video",
        model_value="kling-3",
        params=(
            _video_prompt(
                required=False,
                help="Describe the video (up to 2500 characters). Not needed in multi-shot.",
            ),
            Param(
                "mode",
                "choice",
                "Quality",
                default="std",
                choices=("std", "pro"),
                help="std: 40 credits a second. pro: 60.",
            ),
            Param(
                "duration",
                "int",
                "Duration (seconds)",
                default=5,
                min_value=3,
                max_value=15,
            ),
            _aspect(VIDEO_ASPECT_RATIOS, "16:9"),
            Param(
                "sound",
                "bool",
                "Sound",
                default=True,
                help="Generate audio with the video (+20 credits a second).",
            ),
            _start_image(),
            Param(
                "multi_shots",
                "bool",
                "Multi-shot",
                default=False,
                help="Describe several shots instead of one prompt.",
                advanced=True,
            ),
            Param(
                "multi_prompt",
                "multi_prompt",
                "Shots",
                max_length=VIDEO_PROMPT_MAX,
                help="Each shot has a prompt and a duration; durations add up to 3-15 s.",
                advanced=True,
            ),
        ),
        rules=(
            Require(
                "prompt",
                When("multi_shots", (False,)),
                "Prompt is required (or turn on multi-shot and describe each shot).",
            ),
            Require(
                "multi_prompt",
                When("multi_shots", (True,)),
                "Multi-shot needs at least one shot.",
            ),
            ShotTotal("multi_prompt", 3, 15, When("multi_shots", (True,))),
        ),
        price=PerSecond(
            base=40,
            extras=(("mode", "pro", 20), ("sound", True, 20)),
            shots="multi_prompt",
            shots_switch="multi_shots",
        ),
        price_note=(
            "Published: 120 to 1200 credits; std, 5 s, with sound = 300. The per-second "
            "split (std 40/s, +20/s for pro, +20/s for sound) is the studio's fit to those "
            "figures. Multi-shot is priced on the sum of the shot durations."
        ),
        typical_seconds=(60, 180),
        callback=True,
        inputs=frozenset({"text", "image"}),
        description="Kuaishou's Kling 3.0: cinematic 3-15 s video with sound and multi-shot.",
    ),
    ModelSpec(
        slug="seedance",
        name="Seedance",
        kind="video",
        route="videos/generations",
        output="video",
        model_value="seedance",
        params=(
            _video_prompt(),
            _start_image(),
            Param(
                "duration",
                "choice",
                "Duration (seconds)",
                default="5",
                choices=("5", "10"),
            ),
            _aspect(VIDEO_ASPECT_RATIOS, "16:9"),
            _video_resolution(),
            Param(
                "generateAudio",
                "bool",
                "Sound",
                default=False,
                help="Generate audio with the video.",
            ),
        ),
        price=PerSecond(
            base=6,
            extras=(
                ("resolution", "720p", 6),
                ("resolution", "1080p", 18),
                ("generateAudio", True, 12),
            ),
        ),
        price_note=(
            ESTIMATED_PRICE + " Per second: 480p 6, 720p 12, 1080p 24 credits, +12 with sound."
        ),
        typical_seconds=(30, 120),
        speed_note=ESTIMATED_SPEED,
        callback=False,
        inputs=frozenset({"text", "image"}),
        description="ByteDance's Seedance: text-to-video and image-to-video.",
    ),
    ModelSpec(
        slug="pixverse",
        name="PixVerse",
        kind="video",
        route="videos/generations",
        output="video",
        model_value="pixverse",
        params=(
            _video_prompt(),
            _start_image(),
            Param(
                "duration",
                "choice",
                "Duration (seconds)",
                default="5",
                choices=("5", "8"),
            ),
            _aspect(VIDEO_ASPECT_RATIOS, "16:9"),
            _video_resolution(),
            Param(
                "generate_audio_switch",
                "bool",
                "Sound",
                default=False,
                help="Generate audio with the video.",
            ),
        ),
        price=PerSecond(
            base=6,
            extras=(
                ("resolution", "720p", 2),
                ("resolution", "1080p", 10),
                ("generate_audio_switch", True, 4),
            ),
        ),
        price_note=(
            ESTIMATED_PRICE + " Per second: 480p 6, 720p 8, 1080p 16 credits, +4 with sound."
        ),
        typical_seconds=(30, 90),
        speed_note=ESTIMATED_SPEED,
        callback=False,
        inputs=frozenset({"text", "image"}),
        description="PixVerse: stylised short videos from text or an image.",
    ),
    # ---------------------------------------------------------------- music
    ModelSpec(
        slug="suno",
        name="Suno",
        kind="music",
        route="audio/music",
        output="audio",
        sub_models=(
            SubModel("chirp-v3-5", "v3.5", 5),
            SubModel("chirp-v4-0", "v4", 8),
            SubModel("chirp-v4-5", "v4.5", 10),
            SubModel("chirp-v4-5-plus", "v4.5+", 10),
            SubModel("chirp-v5", "v5", 12),
            SubModel("chirp-v5-5", "v5.5", 12),
        ),
        aliases=("suno",),
        params=(
            Param(
                "gpt_description_prompt",
                "longtext",
                "Song description",
                max_length=400,
                help="Inspiration mode: describe the song; Suno writes lyrics and style.",
            ),
            Param(
                "prompt",
                "longtext",
                "Lyrics",
                max_length=5000,
                help="Custom mode: the lyrics (3000 characters for v3.5/v4, 5000 for v4.5+).",
            ),
            Param(
                "style",
                "text",
                "Style",
                max_length=1000,
                help="Custom mode: genre and mood (200 characters for v3.5/v4, 1000 after).",
            ),
            Param("title", "text", "Title", max_length=80),
            Param("make_instrumental", "bool", "Instrumental", default=False),
            Param(
                "tags",
                "text",
                "Avoid",
                help="Styles or elements to keep out (negative tags).",
                advanced=True,
            ),
            Param(
                "gender",
                "choice",
                "Vocal gender",
                choices=("male", "female"),
                advanced=True,
            ),
            Param(
                "style_weight",
                "float",
                "Style weight",
                min_value=0,
                max_value=1,
                help="0 to 1: how closely to follow the style.",
                advanced=True,
            ),
            Param(
                "weirdness_constraint",
                "float",
                "Weirdness",
                min_value=0,
                max_value=1,
                help="0 to 1: how far to stray creatively.",
                advanced=True,
            ),
            Param(
                "audio_weight",
                "float",
                "Audio weight",
                min_value=0,
                max_value=1,
                help="0 to 1: balance of audio features.",
                advanced=True,
            ),
        ),
        rules=(
            Modes(
                modes=(
                    Mode("inspiration", "gpt_description_prompt", ("gpt_description_prompt",)),
                    Mode("custom", "prompt", ("prompt", "style")),
                ),
                none_message=(
                    "Describe the song (inspiration mode) or enter lyrics (custom mode)."
                ),
                both_message=(
                    "Use either a song description (inspiration mode) or lyrics and "
                    "style (custom mode), not both."
                ),
            ),
            MaxLength("prompt", 3000, When("model", SUNO_SHORT_LIMIT_MODELS), "for v3.5 and v4"),
            MaxLength("style", 200, When("model", SUNO_SHORT_LIMIT_MODELS), "for v3.5 and v4"),
        ),
        price=BySubModel(),
        price_note=(
            "Per task (two songs): v3.5 5, v4 8, v4.5 and v4.5+ 10, v5 and v5.5 12 credits, "
            "from the current model page (an older page listed v4 at 5)."
        ),
        results_per_unit=2,
        typical_seconds=(30, 90),
        callback=True,
        inputs=frozenset({"text"}),
        description="Suno: full songs with vocals from a description or your own lyrics.",
    ),
    ModelSpec(
        slug="minimax-music",
        name="MiniMax Music",
        kind="music",
        route="audio/music",
        output="audio",
        model_value="minimax-music",
        params=(
            Param(
                "prompt",
                "longtext",
                "Lyrics and style",
                required=True,
                max_length=3000,
                help="MiniMax Music is lyrics-driven: write the lyrics, with a short style "
                "description (up to 3000 characters, the studio's limit).",
            ),
        ),
        price=Fixed(10),
        price_note=ESTIMATED_PRICE,
        typical_seconds=(30, 120),
        speed_note=ESTIMATED_SPEED,
        callback=False,
        inputs=frozenset({"text"}),
        description="MiniMax Music: songs driven by your lyrics.",
    ),
    # ---------------------------------------------------------------- speech
    ModelSpec(
        slug="elevenlabs-v3",
        name="ElevenLabs V3",
        kind="speech",
        route="audio/speech",
        output="audio",
        model_value="elevenlabs-v3",
        params=(
            Param(
                "dialogue",
                "dialogue",
                "Dialogue",
                required=True,
                help="One or more lines, each with text and an optional voice.",
            ),
            Param(
                "stability",
                "float",
                "Stability",
                default=0.5,
                min_value=0,
                max_value=1,
                help="0 to 1: lower varies more, higher is more consistent.",
            ),
            Param(
                "language_code",
                "text",
                "Language",
                default="auto",
                max_length=16,
                help="A language code such as en, zh or ja, or auto to detect it.",
                advanced=True,
            ),
        ),
        price=PerCharacters(field="dialogue", text_key="text", per_thousand=28, minimum=1),
        price_note="28 credits per 1000 characters of dialogue, rounded up; 1 credit minimum.",
        typical_seconds=(3, 10),
        callback=True,
        inputs=frozenset({"text"}),
        description="ElevenLabs V3: expressive multi-voice dialogue in 30+ languages.",
    ),
    # ---------------------------------------------------------------- chat
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
        price_note=(
            "5 credits are pre-deducted per request, then adjusted by token usage. The "
            "per-token rate is not published; the studio settles at 1 credit per 1000 "
            "tokens, minimum 1 (chat_credits)."
        ),
        async_task=False,
        typical_seconds=(1, 5),
        callback=False,
        inputs=frozenset({"text"}),
        description="Google Gemini (3 Flash): chat, reasoning and writing.",
    ),
    # ---------------------------------------------------------------- tools
    ModelSpec(
        slug="bg-remover",
        name="Background Remover",
        kind="tool",
        route="images/tools/remove-bg",
        output="image",
        params=(_source_image(help="The image to cut out."),),
        price=Fixed(1),
        price_note="1 credit per image.",
        typical_seconds=(2, 8),
        speed_note=ESTIMATED_SPEED,
        callback=False,
        inputs=frozenset({"image"}),
        description="Removes the background from an image.",
    ),
    ModelSpec(
        slug="image-upscale",
        name="Image Upscale",
        kind="tool",
        route="images/tools/upscale",
        output="image",
        params=(_source_image(help="The image to enlarge (up to 4x)."),),
        price=Fixed(1),
        price_note="1 credit per image.",
        typical_seconds=(3, 10),
        speed_note=ESTIMATED_SPEED,
        callback=True,
        inputs=frozenset({"image"}),
        description="Enlarges an image up to 4x with AI detail.",
    ),
    ModelSpec(
        slug="face-swap",
        name="Face Swap",
        kind="tool",
        route="images/tools/face-swap",
        output="image",
        params=(
            _source_image("Target image", help="The body or scene to put the face into."),
            Param(
                "face_image",
                "image_url",
                "Face image",
                required=True,
                help="The face to swap in.",
            ),
            Param(
                "target_index",
                "int",
                "Face number",
                default=0,
                min_value=0,
                max_value=10,
                help="Which face to replace when the target has several (0 to 10).",
                advanced=True,
            ),
            Param(
                "output_format",
                "choice",
                "Output format",
                default="jpeg",
                choices=("jpeg", "png", "webp"),
            ),
        ),
        price=Fixed(4),
        price_note="4 credits per swap (older pages said 3; the manual's 4 is used).",
        typical_seconds=(3, 8),
        callback=False,
        inputs=frozenset({"image"}),
        description="Puts a face from one photo into another.",
    ),
    ModelSpec(
        slug="video-bg-remover",
        name="Video Background Remover",
        kind="tool",
        route="videos/tools/bg-remover",
        output="video",
        params=(
            Param(
                "video",
                "video_url",
                "Video",
                required=True,
                help="The video to process.",
            ),
            Param(
                "background_image",
                "image_url",
                "New background",
                help="Optional: an image to put behind the subject.",
            ),
        ),
        price=Fixed(10),
        price_note="10 credits per video.",
        typical_seconds=(30, 180),
        speed_note=ESTIMATED_SPEED,
        callback=False,
        inputs=frozenset({"video", "image"}),
        description="Removes or replaces the background of a video.",
    ),
)


def _index(specs: Iterable[ModelSpec]) -> dict[str, ModelSpec]:
    models: dict[str, ModelSpec] = {}
    for spec in specs:
        if spec.slug in models:
            raise ValueError(f"duplicate model slug {spec.slug!r}")
        models[spec.slug] = spec
    return models


MODELS: dict[str, ModelSpec] = _index(_SPECS)


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
