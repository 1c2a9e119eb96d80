"""Remix: a new job's form filled from an earlier job, on its own model or on another one.

On the same model every parameter and input carries over (seed included). On another model only
what means the same there carries: the prompt, the negative prompt, the aspect ratio, the seed,
the duration and the reference images, each where the model takes it and the value is one it
allows; everything else is named in a note with the reason it did not carry.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

from generations import catalog
from generations.forms import ROW_KINDS
from generations.inputs import FILE_KINDS
from generations.models import Generation

# Parameters that mean the same on every model that has them (by the upstream's own names).
SHARED = ("prompt", "negative_prompt", "aspect_ratio", "seed", "duration")
IMAGE_KINDS = ("image_url", "image_urls")


@dataclass
class Plan:
    """What the new form starts with, and what did not carry over."""

    source: Generation
    initial: dict[str, Any] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    picks: dict[str, list[int]] = field(default_factory=dict)  # input → gallery file ids
    not_carried: list[str] = field(default_factory=list)
    target_slug: str = ""

    @property
    def same_job(self) -> bool:
        """The form holds exactly the source job: its own model, and everything carried."""
        return self.source.model_slug == self.target_slug and not self.not_carried


def plan(source: Generation, target: catalog.ModelSpec) -> Plan:
    same = source.model_slug == target.slug
    result = Plan(source=source, target_slug=target.slug)
    params = dict(source.params or {})
    model = params.pop("model", None)
    if model and same:
        result.initial["model"] = model
    elif model:
        sub = {s.value: s.label for s in source.spec.sub_models}.get(model, str(model))
        result.not_carried.append(f"Model ({sub}): a choice of {source.model_name} only.")
    images: list[tuple[catalog.Param, Any]] = []
    for param in source.spec.params:
        value = params.get(param.name)
        if value in (None, "", [], {}):
            continue
        if same:
            _carry_same(result, param, value)
        elif param.kind in IMAGE_KINDS:
            images.append((param, value))
        else:
            _carry_across(result, param, value, target)
    if images:
        _carry_images(result, images, target)
    return result


def _carry_same(result: Plan, param: catalog.Param, value: Any) -> None:
    name = param.name
    if param.kind in ROW_KINDS:
        rows = [row for row in value if isinstance(row, dict)] if isinstance(value, list) else []
        result.rows[name] = max(1, len(rows))
        for index, row in enumerate(rows):
            for part in ROW_KINDS[param.kind]:
                if row.get(part) not in (None, ""):
                    result.initial[f"{name}-{index}-{part}"] = row[part]
    elif param.kind in FILE_KINDS or param.kind == "image_urls":
        _carry_refs(result, param, value if isinstance(value, list) else [value], param)
    else:
        result.initial[name] = value


def _carry_refs(result: Plan, source: catalog.Param, refs: list, target: catalog.Param) -> None:
    """Gallery files become picks, pasted links the link box; an uploaded file cannot be put
    back in a file box, so it is named in the notes."""
    links = []
    uploads = 0
    for ref in refs:
        if isinstance(ref, dict) and isinstance(ref.get("file"), int):
            result.picks.setdefault(target.name, []).append(ref["file"])
        elif isinstance(ref, dict) and ref.get("url"):
            links.append(str(ref["url"]))
        elif isinstance(ref, str):
            links.append(ref)
        else:
            uploads += 1
    if links:
        result.initial[target.name] = "\n".join(links) if target.kind == "image_urls" else links[0]
    if uploads:
        files = "file" if uploads == 1 else f"{uploads} files"
        result.not_carried.append(
            f"{source.label}: the uploaded {files} (a browser cannot refill a file box): upload "
            "again, or pick the same image from the gallery."
        )


def _carry_across(
    result: Plan, param: catalog.Param, value: Any, target: catalog.ModelSpec
) -> None:
    if param.name not in SHARED:
        result.not_carried.append(f"{param.label}: {target.name} has no such setting.")
        return
    there = target.param(param.name)
    if there is None:
        result.not_carried.append(f"{param.label}: {target.name} does not take one.")
        return
    fitted = _fit(there, value)
    if fitted is None:
        allowed = ", ".join(there.choices) if there.choices else _range(there)
        result.not_carried.append(
            f"{param.label} {value}: {target.name} takes {allowed}." if allowed
            else f"{param.label} {value}: not a value {target.name} takes."
        )  # fmt: skip
        return
    if isinstance(fitted, str) and there.max_length and len(fitted) > there.max_length:
        result.not_carried.append(
            f"{param.label}: {len(fitted)} characters, over {target.name}'s "
            f"{there.max_length}; it is carried, shorten it before Run."
        )
    result.initial[there.name] = fitted


def _fit(param: catalog.Param, value: Any) -> Any:
    """`value` as the target parameter takes it, or None when it allows no such value."""
    if param.kind == "choice":
        text = str(value)
        return text if text in param.choices else None
    if param.kind in ("int", "float"):
        number: float | None = None
        with contextlib.suppress(TypeError, ValueError):
            number = float(value)
        if number is None:
            return None
        if param.min_value is not None and number < param.min_value:
            return None
        if param.max_value is not None and number > param.max_value:
            return None
        return int(number) if param.kind == "int" and number.is_integer() else number
    if param.kind in ("text", "longtext"):
        return str(value)
    return None


def _range(param: catalog.Param) -> str:
    if param.min_value is not None and param.max_value is not None:
        return f"{param.min_value:g} to {param.max_value:g}"
    return ""


def _carry_images(result: Plan, images: list, target: catalog.ModelSpec) -> None:
    """The source's image inputs go to the target's first image input (its main one: not a
    mask, not a face); what does not fit is named."""
    slot = next((p for p in target.params if p.kind in IMAGE_KINDS), None)
    labels = ", ".join(param.label for param, _ in images)
    if slot is None:
        result.not_carried.append(f"{labels}: {target.name} takes no image.")
        return
    refs: list = []
    for _, value in images:
        refs += value if isinstance(value, list) else [value]
    room = (slot.max_items or len(refs)) if slot.kind == "image_urls" else 1
    if len(refs) > room:
        result.not_carried.append(
            f"{labels}: {target.name} takes {room} image{'s' if room > 1 else ''} "
            f"as {slot.label.lower()}; the first {room} carried, {len(refs) - room} did not."
        )
        refs = refs[:room]
    _carry_refs(result, images[0][0], refs, slot)
