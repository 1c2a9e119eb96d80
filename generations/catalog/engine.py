"""The catalog's engine: how a model is described (``Param``, ``SubModel``, ``ModelSpec``), how
a price is worked out (``PriceRule`` and its kinds) and how a request is checked (``Rule`` and its
kinds). No model is described here: the data is one file per kind beside this one.

Pure Python: no Django, no HTTP.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping
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
    # Values the upstream's documentation names, offered as suggestions while any is allowed
    # (a dialogue's voices: the manual lists none, its examples use "narrator" and "user").
    suggestions: tuple[str, ...] = ()


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


def _text(param: Param, raw: Any) -> str:
    if not isinstance(raw, str):
        raise _Invalid(f"{param.label} must be text.")
    return raw


def _choice(param: Param, raw: Any) -> str:
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        return _fmt(raw)
    if not isinstance(raw, str):
        raise _Invalid(f"{param.label} must be one of: {', '.join(param.choices)}.")
    return raw.strip()


def _number(convert: Callable[[Any], Any], what: str) -> Callable[[Param, Any], Any]:
    def coerce(param: Param, raw: Any) -> Any:
        try:
            return convert(raw)
        except (TypeError, ValueError):
            raise _Invalid(f"{param.label} must be {what}.") from None

    return coerce


def _link(param: Param, raw: Any) -> str:
    if not _is_url(raw):
        raise _Invalid(f"{param.label} must be a link starting with http:// or https://.")
    return raw.strip()


def _links(param: Param, raw: Any) -> list[str]:
    items = raw.split() if isinstance(raw, str) and not raw.lstrip().startswith("[") else raw
    urls = _as_list(param, items, "image links")
    for number, url in enumerate(urls, start=1):
        if not _is_url(url):
            raise _Invalid(
                f"Image {number} in {param.label} must be a link starting with http:// or https://."
            )
    return [url.strip() for url in urls]


def _rows(what: str, each: str, needs: str) -> Callable[[Param, Any], list[dict[str, Any]]]:
    def coerce(param: Param, raw: Any) -> list[dict[str, Any]]:
        rows = _as_list(param, raw, what)
        for number, row in enumerate(rows, start=1):
            if not isinstance(row, Mapping):
                raise _Invalid(f"{each} {number} must have {needs}.")
        return [dict(row) for row in rows]

    return coerce


# How a form or JSON value becomes each kind of param's value (each raises _Invalid).
_COERCE: dict[str, Callable[[Param, Any], Any]] = {
    "text": _text,
    "longtext": _text,
    "choice": _choice,
    "int": _number(_to_int, "a whole number"),
    "float": _number(_to_float, "a number"),
    "bool": _number(_to_bool, "true or false"),
    "image_url": _link,
    "video_url": _link,
    "audio_url": _link,
    "image_urls": _links,
    "dialogue": _rows("lines", "Line", "a text and an optional voice"),
    "multi_prompt": _rows("shots", "Shot", "a prompt and a duration"),
    "json": _load_json,
}


def _coerce(param: Param, raw: Any) -> Any:
    """Convert a form or JSON value to the param's type; raises _Invalid."""
    coerce = _COERCE.get(param.kind)
    if coerce is None:  # pragma: no cover
        raise _Invalid(f"{param.label} has an unknown kind {param.kind!r}.")
    return coerce(param, raw)


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


def table(keys: tuple[str, ...], prices: Mapping[Any, int], per: str | None = None) -> Table:
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
