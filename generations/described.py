"""A job's parameters as people read them on its page: each under its form's label (never a
`snake_case` key), in the form's words ("Yes", a sub-model's name), dialogue as lines, shots as
a list, and every input file as a thumbnail linked to where it came from."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.urls import reverse

from generations import catalog
from generations.inputs import FILE_KINDS
from generations.models import Generation, GenerationFile, Upload, file_refs

INPUT_KINDS = {*FILE_KINDS, "image_urls"}


@dataclass
class Input:
    """One input file of a job, as its page shows it."""

    label: str
    thumb: str = ""  # an image to show for it ("" when there is none to show)
    href: str = ""  # where it leads: the job that made it, the link pasted, the uploaded file
    external: bool = False  # a link the person pasted: shown as a link, never fetched by the page


@dataclass
class Shown:
    """One parameter: its label and its value as text, lines, code or input files."""

    label: str
    text: str = ""
    lines: list[str] = field(default_factory=list)
    inputs: list[Input] = field(default_factory=list)
    code: bool = False


def describe(generation: Generation, user, membership) -> list[Shown]:
    """The job's parameters in the order of its form; inputs seen by `user` (whose membership
    decides which earlier results they may see: a private one of someone else is not shown)."""
    spec = generation.spec
    params = dict(generation.params or {})
    shown: list[Shown] = []
    model = params.pop("model", None)
    if model and spec.sub_models:
        names = {sub.value: sub.label for sub in spec.sub_models}
        shown.append(Shown("Model", text=names.get(model, str(model))))
    files = _files(generation, user, membership)
    for param in spec.params:
        value = params.pop(param.name, None)
        if value in (None, "", [], {}):
            continue
        if param.kind in INPUT_KINDS:
            refs = value if isinstance(value, list) else [value]
            inputs = [_input(generation, param.name, i, ref, files) for i, ref in enumerate(refs)]
            shown.append(Shown(param.label, inputs=inputs))
        else:
            shown.append(_value(param, value))
    for name, value in params.items():  # kept from an older form of the model
        if value not in (None, "", [], {}):
            shown.append(Shown(name.replace("_", " ").capitalize(), text=_words(value)))
    return shown


def _value(param: catalog.Param, value: Any) -> Shown:
    if param.kind == "dialogue" and isinstance(value, list):
        lines = [f"{row.get('voice') or '—'}: {row.get('text', '')}" for row in _rows(value)]
        return Shown(param.label, lines=lines)
    if param.kind == "multi_prompt" and isinstance(value, list):
        lines = [
            f"{row.get('prompt', '')} ({row['duration']} s)" if row.get("duration") else
            str(row.get("prompt", ""))
            for row in _rows(value)
        ]  # fmt: skip
        return Shown(param.label, lines=lines)
    if param.kind == "json":
        return Shown(param.label, text=json.dumps(value, indent=2, ensure_ascii=False), code=True)
    return Shown(param.label, text=_words(value))


def _rows(value: list) -> list[dict]:
    return [row for row in value if isinstance(row, dict)]


def _words(value: Any) -> str:
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _files(generation: Generation, user, membership) -> dict[int, GenerationFile]:
    """The earlier results this job used that `user` may see, by id, read in one query."""
    ids = file_refs(generation.params)
    if not ids:
        return {}
    visible = Generation.objects.visible_to(user, membership)
    found = GenerationFile.objects.filter(pk__in=ids, generation__in=visible)
    return {f.pk: f for f in found.select_related("generation")}


def _input(generation: Generation, name: str, index: int, ref: Any, files) -> Input:
    if isinstance(ref, str) or (isinstance(ref, dict) and "url" in ref):
        url = ref if isinstance(ref, str) else str(ref["url"])
        return Input(label=url, href=url, external=True)
    if isinstance(ref, dict) and "upload" in ref:
        path = reverse("generation-input", args=[generation.code, name, index])
        return Input(label="Uploaded file", thumb=path, href=path)
    if isinstance(ref, dict) and "file" in ref:
        result = files.get(ref["file"])
        if result is None:
            return Input(label="An earlier result you cannot see (private, or deleted)")
        source = result.generation
        words = source.prompt_excerpt
        words = words if len(words) <= 60 else words[:59].rstrip() + "…"
        thumb = ""
        if result.kind == "image" or result.preview:
            thumb = reverse("generation-file", args=[source.code, result.position])
            thumb += "?preview=1" if result.preview else ""
        return Input(
            label=f"{source.model_name}: {words or 'result'}",
            thumb=thumb,
            href=reverse("generation", args=[source.code]),
        )
    return Input(label="An input the studio cannot show")


def uploaded_input(generation: Generation, name: str, index: int) -> Upload | None:
    """The file a member uploaded as input `name` (item `index` of a list) of this job."""
    value = (generation.params or {}).get(name)
    refs = value if isinstance(value, list) else [value]
    ref = refs[index] if 0 <= index < len(refs) else None
    if not isinstance(ref, dict):
        return None
    try:
        code = uuid.UUID(str(ref.get("upload")))
    except ValueError:
        return None
    return Upload.objects.filter(code=code, workspace_id=generation.workspace_id).first()


@dataclass
class Lineage:
    """Where a result came from and where it went: the jobs whose results it was made from,
    those made from its results, and the credits of the whole chain that led to it."""

    made_from: list[Generation]
    made_into: list[Generation]
    chain: list[Generation]  # itself and every job upstream of it the person may see

    @property
    def chain_cost(self):
        return sum((job.cost for job in self.chain), start=Decimal(0))


def lineage(generation: Generation, user, membership, limit: int = 50) -> Lineage:
    visible = Generation.objects.visible_to(user, membership)
    made_from = list(
        visible.filter(files__used_by__generation=generation).distinct().order_by("created_at")
    )
    made_into = list(
        visible.filter(inputs_used__file__generation=generation)
        .distinct()
        .order_by("created_at")[:limit]
    )
    chain, seen, frontier = [generation], {generation.pk}, made_from
    while frontier and len(chain) < limit:  # up the chain, a generation at a time
        frontier = [job for job in frontier if job.pk not in seen]
        chain += frontier
        seen |= {job.pk for job in frontier}
        frontier = list(
            visible.filter(files__used_by__generation__in=frontier).exclude(pk__in=seen).distinct()
        )
    return Lineage(made_from=made_from, made_into=made_into, chain=chain[:limit])
