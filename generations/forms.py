"""A Django form for each model, built from its catalog entry.

Field rules come from the catalog (`catalog.ModelSpec.validate` is the one place they live), so
the form, the estimate and the sandbox agree. Inputs that are files come three ways: a file
uploaded here (type sniffed from its bytes, size capped), an earlier result from the gallery, or
a pasted link (refused when it points anywhere private). Rows (dialogue lines, video shots) can
be added and removed, with or without JavaScript.
"""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass
from dataclasses import field as default
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import models
from django.db.models.functions import Cast, Coalesce
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from generations import catalog, chat, inputs, urlsafety
from generations.filetypes import pixel_problem, sniff
from generations.inputs import FILE_KINDS
from generations.models import (
    TAG_MAX,
    Board,
    Generation,
    GenerationFile,
    GenerationQuerySet,
    Tag,
    Upload,
    needs_approval,
    prompt_of,
    tag_names,
)
from studio import ledger

ROW_KINDS = {"dialogue": ("text", "voice"), "multi_prompt": ("prompt", "duration")}
DEFAULT_ROWS = {"dialogue": 2, "multi_prompt": 2}
MAX_ROWS = 20
PICK_JOBS = 24  # jobs whose results a gallery picker shows at a time (newest first; "Load more")
MAX_COPIES = 8  # Run ×N
SAME_RESULT_CANDIDATES = 20  # earlier jobs of the same prompt compared whole (newest first)
INPUT_TYPES = {
    "image_url": "image/",
    "image_urls": "image/",
    "video_url": "video/",
    "audio_url": "audio/",
}
PICK_KINDS = {
    "image_url": "image",
    "image_urls": "image",
    "video_url": "video",
    "audio_url": "audio",
}


def _one_newline(text: str) -> str:
    """A textarea sends each line break as CRLF; the browser's counter, the catalog's limits and
    the upstream count one character for it."""
    return text.replace("\r\n", "\n")


def _count_not_cut(field: forms.Field, limit: int | None) -> forms.Field:
    """A length limit the page counts against (static/js/studio.js) instead of `maxlength`, which
    cuts pasted text short without a word: the person sees how far over, the server refuses."""
    field.widget.attrs.pop("maxlength", None)
    if limit:
        field.widget.attrs["data-max-length"] = limit
    return field


class TextField(forms.CharField):
    def to_python(self, value):
        value = super().to_python(value)
        return _one_newline(value) if isinstance(value, str) else value


class SuggestionsInput(forms.TextInput):
    """A text box with a list of suggestions (a `<datalist>`): pick one or type another."""

    def __init__(self, suggestions: tuple[str, ...] = (), attrs=None) -> None:
        super().__init__(attrs)
        self.suggestions = suggestions

    def render(self, name, value, attrs=None, renderer=None):
        if not self.suggestions:
            return super().render(name, value, attrs, renderer)
        list_id = f"{(attrs or {}).get('id') or name}-suggestions"
        box = super().render(name, value, {**(attrs or {}), "list": list_id}, renderer)
        options = format_html_join("", '<option value="{}">', ((s,) for s in self.suggestions))
        return format_html('{}<datalist id="{}">{}</datalist>', box, list_id, options)


def _voice_help(suggestions: tuple[str, ...]) -> str:
    if not suggestions:
        return ""
    names = " or ".join(suggestions)
    return f"Optional: {names} (API in One's own examples), or any name."


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(d, initial) for d in data if d]
        return [single(data, initial)] if data else []


@dataclass
class Block:
    """One piece of the form's layout, for the template."""

    kind: str  # "field" | "media" | "rows"
    param: catalog.Param | None = None
    field: Any = None
    url: Any = None
    upload: Any = None
    pick: Any = None
    picks: Any = None  # the gallery picker (Picks)
    rows: list[list[Any]] = default(default_factory=list)
    errors: list[str] = default(default_factory=list)
    advanced: bool = False
    multiple: bool = False
    unreachable: str | None = None  # why uploads and gallery picks cannot reach the upstream

    @property
    def bound_fields(self) -> list[Any]:
        parts = [
            self.field,
            self.url,
            self.upload,
            self.pick,
            *(f for row in self.rows for f in row),
        ]
        return [part for part in parts if part is not None]


def _choice_label(value: str) -> str:
    return value


class GenerationForm(forms.Form):
    token = forms.CharField(widget=forms.HiddenInput, max_length=64)
    private = forms.BooleanField(
        required=False,
        label="Private: only me and the workspace's admins see it",
    )
    copies = forms.IntegerField(
        label="Copies", min_value=1, max_value=MAX_COPIES, initial=1, required=False,
        help_text=f"Run ×N: up to {MAX_COPIES} jobs at once, each its own card and hold.",
        widget=forms.NumberInput(attrs={"class": "copies-input"}),
        error_messages=dict.fromkeys(
            ("invalid", "min_value", "max_value"), f"Copies: a whole number from 1 to {MAX_COPIES}."
        ),
    )  # fmt: skip

    def __init__(
        self, spec: catalog.ModelSpec, membership, *args, rows=None, list_picks=True, **kwargs
    ) -> None:
        """`list_picks=False`: no first page of gallery files to show (the estimate and other
        answers that render no form); a posted pick is still checked against what may be seen."""
        super().__init__(*args, **kwargs)
        self.spec = spec
        self.list_picks = list_picks
        self.pick_files: dict[str, list[GenerationFile]] = {}
        self.more_picks: dict[str, Generation | None] = {}
        self.membership = membership
        self.workspace = membership.workspace
        self.row_counts = self._row_counts(rows)
        self.fields["token"].initial = uuid.uuid4().hex
        if spec.sub_models:
            self.fields["model"] = forms.ChoiceField(
                label="Model",
                choices=[(s.value, _sub_label(s)) for s in spec.sub_models],
                initial=spec.default_sub_model,
            )
        for param in spec.params:
            self._add(param)
        self.uploads: dict[str, list[UploadedFile]] = {}

    # -- building ------------------------------------------------------------------------------

    def _row_counts(self, rows: dict[str, int] | None) -> dict[str, int]:
        counts = {}
        for param in self.spec.params:
            if param.kind not in ROW_KINDS:
                continue
            count = DEFAULT_ROWS[param.kind]
            if self.is_bound:
                with contextlib.suppress(TypeError, ValueError):
                    count = int(self.data.get(f"{param.name}-rows", count))
            if rows and param.name in rows:
                count = rows[param.name]
            limit = min(MAX_ROWS, param.max_items or MAX_ROWS)
            counts[param.name] = max(1, min(limit, count))
        return counts

    def _add(self, param: catalog.Param) -> None:
        name, kind = param.name, param.kind
        common = {"label": param.label, "help_text": param.help, "required": False}
        if kind in ("text", "longtext"):
            widget = forms.Textarea(attrs={"rows": 4}) if kind == "longtext" else None
            field = TextField(widget=widget, strip=False, **common)
            self.fields[name] = _count_not_cut(field, param.max_length)
        elif kind == "choice":
            choices = [(c, _choice_label(c)) for c in param.choices]
            if param.default is None:
                choices = [("", "—"), *choices]
            self.fields[name] = forms.ChoiceField(choices=choices, **common)
        elif kind == "int":
            self.fields[name] = forms.IntegerField(
                min_value=param.min_value, max_value=param.max_value, **common
            )
        elif kind == "float":
            self.fields[name] = forms.FloatField(
                min_value=param.min_value, max_value=param.max_value, **common
            )
            self.fields[name].widget.attrs["step"] = "0.05"
        elif kind == "bool":
            self.fields[name] = forms.BooleanField(**common)
        elif kind in FILE_KINDS or kind == "image_urls":
            self._add_media(param)
        elif kind in ROW_KINDS:
            # Holds what is wrong with the rows together (too many seconds in all, no line):
            # said once below them, not under the first row's field.
            self.fields[f"{name}-rows"] = forms.CharField(required=False, widget=forms.HiddenInput)
            for index in range(self.row_counts[name]):
                for part in ROW_KINDS[kind]:
                    self.fields[f"{name}-{index}-{part}"] = self._row_field(param, part)
        if name in self.fields and param.default is not None:
            self.fields[name].initial = param.default

    def _row_field(self, param: catalog.Param, part: str) -> forms.Field:
        if part == "duration":
            return forms.IntegerField(label="Seconds", min_value=1, max_value=15, required=False)
        if part == "voice":
            voice = forms.CharField(
                label="Voice", max_length=64, required=False,
                widget=SuggestionsInput(param.suggestions),
                help_text=_voice_help(param.suggestions),
            )  # fmt: skip
            return _count_not_cut(voice, 64)
        field = forms.CharField(
            label="Prompt" if part == "prompt" else "Line",
            widget=forms.Textarea(attrs={"rows": 2}),
            required=False,
        )
        return _count_not_cut(field, param.max_length if part == "prompt" else None)

    def _add_media(self, param: catalog.Param) -> None:
        name, multiple = param.name, param.kind == "image_urls"
        self.fields[name] = forms.CharField(
            label="Links" if multiple else "Link",  # the box around it names the input
            help_text="One public link per line." if multiple else "A public http(s) link.",
            widget=forms.Textarea(attrs={"rows": 2}) if multiple else forms.URLInput(),
            required=False,
        )
        upload = MultipleFileField if multiple else forms.FileField
        self.fields[f"{name}__upload"] = upload(label="Upload", required=False)
        accept = INPUT_TYPES[param.kind] + "*"
        self.fields[f"{name}__upload"].widget.attrs["accept"] = accept
        kind = PICK_KINDS[param.kind]
        visible = Generation.objects.visible_to(self.membership.user, self.membership)
        picks, self.more_picks[name] = pick_page(visible, kind) if self.list_picks else ([], None)
        older = {p for p in self._posted(f"{name}__pick") if _is_id(p)}
        older -= {str(f.pk) for f in picks}
        # chosen further down than the first page shows ("Load more", a search, "Use in…")
        if older:
            candidates = GenerationFile.objects.filter(generation__in=visible, kind=kind)
            picks += candidates.filter(pk__in=older).select_related("generation")
        self.pick_files[name] = picks
        choices = [(str(f.pk), _pick_label(f)) for f in picks]
        pick_field = forms.MultipleChoiceField if multiple else forms.ChoiceField
        if not multiple:
            choices = [("", "None"), *choices]
        self.fields[f"{name}__pick"] = pick_field(
            label="From the gallery",
            choices=choices,
            required=False,
            error_messages={"invalid_choice": PICK_REFUSED},
        )

    def _posted(self, key: str) -> list[str]:
        """The values sent for `key` (a QueryDict's list, or a plain dict's value)."""
        if hasattr(self.data, "getlist"):
            return [str(v) for v in self.data.getlist(key)]
        value = self.data.get(key) if self.data else None
        values = value if isinstance(value, list | tuple) else [value]
        return [str(v) for v in values if v not in (None, "")]

    def preselect(self, picks: dict[str, list[int]]) -> None:
        """Preselects earlier results (by file id) in the named inputs' gallery choices (a
        remix): only results this member may see and of the input's kind; others are skipped."""
        visible = Generation.objects.visible_to(self.membership.user, self.membership)
        for name, ids in picks.items():
            param = self.spec.param(name)
            field = self.fields.get(f"{name}__pick")
            if param is None or field is None:
                continue
            kind = PICK_KINDS[param.kind]
            found = GenerationFile.objects.filter(generation__in=visible, kind=kind, pk__in=ids)
            results = {f.pk: f for f in found.select_related("generation")}
            chosen = [results[pk] for pk in ids if pk in results]
            if not chosen:
                continue
            listed = {str(key) for key, _ in field.choices}
            added = [f for f in chosen if str(f.pk) not in listed]
            field.choices = [*field.choices, *((str(f.pk), _pick_label(f)) for f in added)]
            self.pick_files[name] = [*added, *self.pick_files.get(name, [])]
            values = [str(f.pk) for f in chosen]
            field.initial = values if param.kind == "image_urls" else values[0]

    def use_result(self, reference: str) -> bool:
        """Preselects an earlier result (the gallery's "Use in…": "<job code>:<file number>") in
        the first input that takes its kind; only a result this member may see. False when
        there is none to preselect."""
        code, _, position = str(reference).partition(":")
        try:
            code, position = uuid.UUID(code), int(position)
        except ValueError:
            return False
        visible = Generation.objects.visible_to(self.membership.user, self.membership)
        result = (
            GenerationFile.objects.filter(generation__in=visible, generation__code=code)
            .filter(position=position)
            .select_related("generation")
            .first()
        )
        if result is None:
            return False
        for param in self.spec.params:
            if PICK_KINDS.get(param.kind) != result.kind:
                continue
            field = self.fields[f"{param.name}__pick"]
            value = str(result.pk)
            if value not in {str(key) for key, _ in field.choices}:  # older than the list shows
                field.choices = [*field.choices, (value, _pick_label(result))]
                self.pick_files[param.name] = [result, *self.pick_files.get(param.name, [])]
            field.initial = [value] if param.kind == "image_urls" else value
            return True
        return False

    # -- layout for the template ---------------------------------------------------------------

    def blocks(self) -> tuple[list[Block], list[Block]]:
        """(main blocks, advanced blocks)."""
        main: list[Block] = []
        advanced: list[Block] = []
        if "model" in self.fields:
            main.append(Block("field", field=self["model"]))
        for param in self.spec.params:
            name = param.name
            target = advanced if param.advanced else main
            if param.kind in FILE_KINDS or param.kind == "image_urls":
                target.append(
                    Block(
                        "media",
                        param=param,
                        url=self[name],
                        upload=self[f"{name}__upload"],
                        pick=self[f"{name}__pick"],
                        picks=self._picks(param),
                        errors=list(self.errors.get(name, [])),
                        multiple=param.kind == "image_urls",
                        unreachable=inputs.unreachable_message(self.workspace),
                    )
                )
            elif param.kind in ROW_KINDS:
                rows = [
                    [self[f"{name}-{i}-{part}"] for part in ROW_KINDS[param.kind]]
                    for i in range(self.row_counts[name])
                ]
                errors = list(self.errors.get(f"{name}-rows", []))
                target.append(Block("rows", param=param, rows=rows, errors=errors))
            elif name in self.fields:
                target.append(Block("field", param=param, field=self[name]))
        return main, advanced

    def _picks(self, param: catalog.Param) -> Picks:
        field = self[f"{param.name}__pick"]
        value = field.value()
        chosen = {str(v) for v in (value if isinstance(value, list | tuple) else [value]) if v}
        more = self.more_picks.get(param.name)
        return Picks(
            field=field,
            name=field.html_name,
            multiple=param.kind == "image_urls",
            thumbs=[thumb(f, checked=str(f.pk) in chosen) for f in self.pick_files[param.name]],
            url=reverse("picks", args=[self.spec.slug, param.name]),
            after=str(more.code) if more else "",
        )

    def shows_advanced(self, advanced: list[Block]) -> bool:
        """Whether "More options" opens: something in it is wrong or was set, so that no error
        and no choice of the person's hides behind a closed summary."""
        if any(block.errors for block in advanced):
            return True
        fields = [field for block in advanced for field in block.bound_fields]
        changed = set(self.changed_data) if self.is_bound else set()
        return any(field.errors or field.name in changed for field in fields)

    # -- values --------------------------------------------------------------------------------

    def skip_validation(self) -> None:
        """Show the bound values without errors (rows were added or removed, not submitted)."""
        self._errors = forms.utils.ErrorDict()
        self.cleaned_data = {}

    def raw_params(self) -> dict[str, Any]:
        """Best-effort parameters from the submitted data, unvalidated: for the live estimate."""
        if self.is_bound:
            data = self.data
        else:  # what the fields show: each field's default, then the form's initial values
            shown = {name: field.initial for name, field in self.fields.items()}
            data = _as_data({**shown, **self.initial})
        params: dict[str, Any] = {}
        if "model" in self.fields:
            params["model"] = data.get("model")
        for param in self.spec.params:
            name = param.name
            if param.kind in ROW_KINDS:
                params[name] = self._rows_from(data, param)
            elif param.kind == "bool":
                params[name] = data.get(name) in ("on", "true", "1", "True")
            elif param.kind in FILE_KINDS or param.kind == "image_urls":
                continue
            elif data.get(name) not in (None, ""):
                value = data.get(name)
                params[name] = _one_newline(value) if isinstance(value, str) else value
        return params

    def _rows_from(self, data, param: catalog.Param) -> list[dict]:
        first, second = ROW_KINDS[param.kind]
        rows = []
        for index in range(self.row_counts[param.name]):
            text = _one_newline(str(data.get(f"{param.name}-{index}-{first}") or ""))
            other = data.get(f"{param.name}-{index}-{second}")
            if not text.strip() and not other:
                continue
            row: dict[str, Any] = {first: text}
            if other not in (None, ""):
                row[second] = other
            rows.append(row)
        return rows

    def estimate(self) -> int:
        """Credits for what the form holds now (file inputs never change a price)."""
        return self.spec.estimate(self.raw_params())

    def copies_asked(self) -> int:
        """How many copies the form asks for now (1 when the box is blank or out of range)."""
        raw = self.data.get("copies") if self.is_bound else None
        try:
            count = int(raw) if raw not in (None, "") else 1
        except (TypeError, ValueError):
            return 1
        return count if 1 <= count <= MAX_COPIES else 1

    def copy_params(self, params: dict[str, Any], copies: int) -> list[dict[str, Any]]:
        """The parameters of each copy: the same, but a fixed seed moves on by one a copy."""
        seed = params.get("seed")
        if copies == 1 or not isinstance(seed, int):
            return [params] * copies
        return [{**params, "seed": seed + i} for i in range(copies)]

    def run_notes(self) -> list[str]:
        """What Run will do with this job beyond sending it, said before the click: refused
        for the budget or the pool (the sentence the refusal would give), or parked for an
        admin's approval."""
        estimate = self.estimate()
        workspace = self.membership.workspace
        copies = self.copies_asked()
        refused = ledger.refusal(workspace, self.membership.user_id, estimate * copies)
        if refused:
            if copies > 1:
                refused = refused.replace("This job needs", f"These {copies} jobs need", 1)
            return [refused]
        notes = []
        seed = self.raw_params().get("seed")
        if copies > 1 and str(seed or "").isdigit():
            seeds = ", ".join(str(int(seed) + i) for i in range(copies))
            notes.append(f"Each copy takes the next seed ({seeds}), or all {copies} would match.")
        if needs_approval(self.membership, estimate):
            notes.append(
                f"Above this workspace's {workspace.approval_threshold} credits a job needs an "
                "admin's approval: Run holds its credits, and it is sent once an admin approves."
            )
        return notes

    def same_result(self) -> Generation | None:
        """An earlier result of exactly this job (the same model, every setting and input, and a
        fixed seed) that this member can see: running it again would pay for the same output.
        None without a seed (each run differs then) or while the form does not validate."""
        if self.spec.param("seed") is None or not self.is_bound or self.files:
            return None
        if not self.is_valid():
            return None
        params = self.cleaned_params()
        if params.get("seed") in (None, ""):
            return None
        jobs = Generation.objects.visible_to(self.membership.user, self.membership).results()
        jobs = jobs.filter(model_slug=self.spec.slug, prompt=prompt_of(params))
        for job in jobs[:SAME_RESULT_CANDIDATES]:
            if _filled(job.params) == params:
                return job
        return None

    def estimate_blocked_by(self) -> str:
        """The label of a value typed in that the model refuses (its price would be for a job
        that cannot run); "" when every value given is allowed. Blank fields do not count."""
        params = self.raw_params()
        for name in self.spec.validate(params):
            param = self.spec.param(name)
            if param is not None and params.get(name) not in (None, "", []):
                return param.label
        return ""

    def clean(self) -> dict:
        cleaned = super().clean()
        params: dict[str, Any] = {}
        if "model" in self.fields:
            params["model"] = cleaned.get("model")
        for param in self.spec.params:
            name = param.name
            if param.kind in ROW_KINDS:
                rows = self._rows_from(self.data, param)
                if param.kind == "multi_prompt":
                    for row in rows:
                        if "duration" in row:
                            with contextlib.suppress(TypeError, ValueError):
                                row["duration"] = int(row["duration"])
                params[name] = rows or None
            elif param.kind in FILE_KINDS or param.kind == "image_urls":
                params[name] = self._media_value(param, cleaned)
            elif cleaned.get(name) not in (None, ""):
                params[name] = cleaned[name]
        check = self._with_placeholders(params)
        for name, message in self.spec.validate(check).items():
            if not self._refused_already(name):
                self._error_for(name, message)
        self._params = params
        return cleaned

    def _refused_already(self, name: str) -> bool:
        """A field already refused on its own (a private link, a file that is not an image, a
        number out of range) gets no second message from the catalog's checks: "Image is
        required." under a refused link contradicts what the person did."""
        return any(key == name or key.startswith((f"{name}__", f"{name}-")) for key in self.errors)

    def _with_placeholders(self, params: dict) -> dict:
        """The catalog checks links; uploads and gallery picks count as (valid) links."""
        checked = {}
        for name, value in params.items():
            if isinstance(value, dict):
                checked[name] = "https://studio.invalid/input"
            elif isinstance(value, list) and value and isinstance(value[0], dict | str):
                param = self.spec.param(name)
                if param is not None and param.kind == "image_urls":
                    checked[name] = ["https://studio.invalid/input"] * len(value)
                else:
                    checked[name] = value
            else:
                checked[name] = value
        return {k: v for k, v in checked.items() if v not in (None, "", [])}

    def _error_for(self, name: str, message: str) -> None:
        if name in self.fields:
            self.add_error(name, message)
            return
        param = self.spec.param(name)
        if param is not None and param.kind in ROW_KINDS:
            self.add_error(f"{name}-rows", message)
        else:
            self.add_error(None, message)

    def _media_value(self, param: catalog.Param, cleaned: dict) -> Any:
        name = param.name
        multiple = param.kind == "image_urls"
        refs: list[dict] = []
        text = (cleaned.get(name) or "").strip()
        lines = text.split() if multiple else ([text] if text else [])
        refused: dict[str, str] = {}  # line: why
        for line in lines:
            try:
                refs.append({"url": urlsafety.check_public_url(line)})
            except urlsafety.UnsafeURL as e:
                refused[line] = str(e)
        if not multiple:
            for message in refused.values():
                self.add_error(name, message)
        elif not refs and set(refused.values()) == {urlsafety.MSG_NO_SCHEME}:
            # e.g. "not a url": three words, one mistake
            self.add_error(name, "None of this is a link: put one full link (https://…) per line.")
        else:
            for line, message in refused.items():
                self.add_error(name, f"{line[:80]}: {message}")
        files = cleaned.get(f"{name}__upload") or []
        files = files if isinstance(files, list) else [files]
        wanted = INPUT_TYPES[param.kind]
        for upload in files:
            problem = _check_upload(upload, wanted)
            if problem:
                self.add_error(f"{name}__upload", problem)
            else:
                self.uploads.setdefault(name, []).append(upload)
                refs.append({"pending_upload": len(self.uploads[name]) - 1})
        picks = cleaned.get(f"{name}__pick") or []
        for pick in picks if isinstance(picks, list) else [picks]:
            refs.append({"file": int(pick)})
        unreachable = inputs.unreachable_message(self.workspace)
        if (files or picks) and unreachable:
            self.add_error(name, unreachable)
        if multiple:
            if param.max_items and len(refs) > param.max_items:
                self.add_error(name, f"{param.label} takes at most {param.max_items} images.")
            return refs or None
        if len(refs) > 1:
            self.add_error(name, "Choose one: a link, an upload or a gallery file.")
        return refs[0] if refs else None

    def cleaned_params(self) -> dict[str, Any]:
        return _filled(self._params)

    def save_uploads(self, user) -> dict[str, Any]:
        """Stores the uploaded files and returns the params with references to them."""
        params = self.cleaned_params()
        for name, files in self.uploads.items():
            stored = []
            for upload in files:
                record = Upload(
                    workspace=self.workspace,
                    user=user,
                    content_type=sniff(_head(upload)) or "",
                    size=upload.size,
                )
                record.file.save(_safe_name(upload.name), upload, save=False)
                record.save()
                stored.append({"upload": str(record.code)})
            params[name] = _replace_pending(params.get(name), stored)
        return params


def _filled(params: dict | None) -> dict:
    """Parameters without the ones left blank (as a form's cleaned parameters come)."""
    return {k: v for k, v in (params or {}).items() if v not in (None, "", [])}


def _as_data(initial: dict) -> dict:
    data = {}
    for key, value in initial.items():
        if isinstance(value, bool):
            data[key] = "on" if value else ""
        elif value is not None:
            data[key] = str(value)
    return data


def _is_id(value: str) -> bool:
    """A posted value that can be a row id (ASCII digits, within a 64-bit integer)."""
    return value.isascii() and value.isdigit() and len(value) <= 18


PICK_REFUSED = (
    "That gallery file is not one you can use here: it was deleted, or it belongs to another "
    "workspace or to someone's private job. Choose another, upload a file or paste a link."
)


def pick_page(
    visible: GenerationQuerySet,
    kind: str,
    *,
    after: Generation | None = None,
    words: str = "",
    skip: frozenset[int] = frozenset(),
) -> tuple[list[GenerationFile], Generation | None]:
    """One page of gallery files of `kind` for a picker, newest job first: the files of the
    newest PICK_JOBS visible jobs that have one (after `after`, a keyset on created_at and pk:
    never an OFFSET), with their prompt holding `words`; and the page's last job when more follow.

    Bounded on purpose: the jobs come from the (workspace, -created_at) index walked newest
    first until the page is full, not from a sort of every job of the workspace."""
    has_kind = GenerationFile.objects.filter(generation=models.OuterRef("pk"), kind=kind)
    jobs = visible.filter(models.Exists(has_kind)).search(words)
    newest = list(jobs.older_than(after).order_by("-created_at", "-pk")[: PICK_JOBS + 1])
    more = newest[PICK_JOBS - 1] if len(newest) > PICK_JOBS else None
    newest = newest[:PICK_JOBS]
    by_pk = {job.pk: job for job in newest}
    order = {job.pk: index for index, job in enumerate(newest)}
    found = GenerationFile.objects.filter(generation_id__in=list(by_pk), kind=kind)
    files = list(found.exclude(pk__in=skip))
    for result in files:
        result.generation = by_pk[result.generation_id]
    files.sort(key=lambda result: (order[result.generation_id], result.position))
    return files, more


@dataclass
class Thumb:
    """One gallery file as a picker shows it: its value, a caption, a preview image ("" for
    audio, or a video without a poster) and whether it is chosen."""

    value: str
    caption: str
    image: str
    checked: bool = False


def thumb(result: GenerationFile, *, checked: bool = False) -> Thumb:
    image = ""
    if result.kind == "image" or (result.kind == "video" and result.preview):
        url = reverse("generation-file", args=[result.generation.code, result.position])
        image = f"{url}?preview=1"
    return Thumb(str(result.pk), _pick_label(result), image, checked)


@dataclass
class Picks:
    """A "From the gallery" picker: its field, radio buttons or checkboxes, the thumbnails of
    its first page, and where more come from (`url`, after the job `after`)."""

    field: Any
    name: str  # what its inputs post: `<input>__pick`
    multiple: bool
    thumbs: list[Thumb]
    url: str
    after: str = ""
    words: str = ""

    @property
    def more_url(self) -> str:
        if not self.after:
            return ""
        return f"{self.url}?{urlencode({'after': self.after, 'q': self.words})}"


def _pick_label(result: GenerationFile) -> str:
    """How an earlier result is offered as an input: model, prompt, and which of its files."""
    job = result.generation
    number = f" · #{result.position + 1}" if result.position else ""
    words = job.prompt_excerpt
    words = words if len(words) <= 40 else words[:39].rstrip() + "…"
    return f"{job.model_name} · {words or 'result'}{number}"


def _sub_label(sub: catalog.SubModel) -> str:
    return f"{sub.label} · {sub.credits} cr" if sub.credits else sub.label


def _head(upload: UploadedFile) -> bytes:
    upload.seek(0)
    head = upload.read(64)
    upload.seek(0)
    return head


def _check_upload(upload: UploadedFile, wanted: str) -> str | None:
    if upload.size > settings.MAX_UPLOAD_BYTES:
        limit = settings.MAX_UPLOAD_BYTES // (1024 * 1024)
        return f"{upload.name} is larger than {limit} MB."
    kind = sniff(_head(upload))
    if kind is None or not kind.startswith(wanted):
        what = {"image/": "an image", "video/": "a video", "audio/": "an audio file"}[wanted]
        return f"{upload.name} is not {what} (its content was checked, not its name)."
    if wanted == "image/":
        upload.seek(0)
        problem = pixel_problem(upload.read(), upload.name)
        upload.seek(0)
        return problem
    return None


def _safe_name(name: str) -> str:
    base = "".join(c if c.isalnum() or c in "._-" else "_" for c in name.rsplit("/", 1)[-1])
    return base[-80:] or "upload"


def _replace_pending(value: Any, stored: list[dict]) -> Any:
    if isinstance(value, dict) and "pending_upload" in value:
        return stored[value["pending_upload"]]
    if isinstance(value, list):
        return [_replace_pending(item, stored) for item in value]
    return value


# -- the gallery's filters ------------------------------------------------------------


class GalleryFilters(forms.Form):
    """The gallery's filters, every one kept in the URL (a search can be bookmarked and shared,
    and its zip takes the same filters). Bound to a membership: the member list is the
    workspace's people."""

    q = forms.CharField(
        label="Search prompts", required=False, max_length=200,
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "e.g. red fox"}),
    )  # fmt: skip
    kind = forms.ChoiceField(label="Kind", required=False)
    model = forms.ChoiceField(label="Model", required=False)
    member = forms.ChoiceField(label="Made by", required=False)
    board = forms.ChoiceField(label="Board", required=False)
    tag = forms.CharField(
        label="Tag", required=False, max_length=TAG_MAX,
        widget=forms.TextInput(attrs={"list": "workspace-tags", "autocomplete": "off"}),
    )  # fmt: skip
    since = forms.DateField(
        label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": "Enter a date like 2026-12-01."},
    )  # fmt: skip
    until = forms.DateField(
        label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": "Enter a date like 2026-12-31."},
    )  # fmt: skip
    cost_min = forms.IntegerField(
        label="Cost from (credits)", required=False, min_value=0, max_value=10**9,
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "placeholder": "0"}),
    )  # fmt: skip
    cost_max = forms.IntegerField(
        label="Cost to (credits)", required=False, min_value=0, max_value=10**9,
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "placeholder": "any"}),
    )  # fmt: skip
    mine = forms.BooleanField(label="Only mine", required=False)
    starred = forms.BooleanField(label="Starred", required=False)

    def __init__(self, *args, membership=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        media = [(k, label) for k, label in catalog.KINDS if k != "chat"]
        self.fields["kind"].choices = [("", "All kinds"), *media]
        self.fields["model"].choices = [("", "All models")] + [
            (spec.slug, spec.name) for spec in catalog.MODELS.values() if spec.async_task
        ]
        people = []
        if membership is not None:
            people = list(
                membership.workspace.memberships.order_by("user__username").values_list(
                    "user__username", flat=True
                )
            )
        self.fields["member"].choices = [("", "Anyone"), *((name, name) for name in people)]
        self.boards: dict[str, Board] = {}
        if membership is not None:
            self.boards = {
                str(b.code): b for b in Board.objects.for_membership(membership).order_by("name")
            }
        self.tag_names: list[str] = []
        if membership is not None:
            tags = Tag.objects.filter(workspace_id=membership.workspace_id).order_by("name")
            self.tag_names = list(tags.values_list("name", flat=True)[:500])
        self.fields["board"].choices = [
            ("", "Any board"),
            *((code, b.name) for code, b in self.boards.items()),
        ]

    @property
    def chosen_board(self) -> Board | None:
        """The board the gallery shows, when it is filtered by one."""
        if not self.is_valid():
            return None
        return self.boards.get(self.cleaned_data.get("board") or "")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        since, until = data.get("since"), data.get("until")
        if since and until and since > until:
            self.add_error("until", "The end date is before the start date.")
        low, high = data.get("cost_min"), data.get("cost_max")
        if low is not None and high is not None and low > high:
            self.add_error("cost_max", "The highest cost is below the lowest.")
        return data

    def apply(self, jobs, user):
        data = self.cleaned_data
        if data.get("q"):
            jobs = jobs.search(data["q"])
        if data.get("kind"):
            jobs = jobs.filter(kind=data["kind"])
        if data.get("model"):
            jobs = jobs.filter(model_slug=data["model"])
        if data.get("member"):
            jobs = jobs.filter(user__username=data["member"])
        if data.get("board"):
            jobs = jobs.filter(board_items__board__code=data["board"])
        if data.get("tag"):
            jobs = jobs.filter(tags__name__iexact=" ".join(data["tag"].split()))
        if data.get("since"):  # whole days, in the studio's time zone
            jobs = jobs.filter(created_at__gte=_day_start(data["since"]))
        if data.get("until"):
            jobs = jobs.filter(created_at__lt=_day_start(data["until"] + timedelta(days=1)))
        if data.get("cost_min") is not None or data.get("cost_max") is not None:
            # what it cost: the upstream's charge, or the estimate that stood when it said none
            cost = Coalesce(
                "consumed_credits",
                Cast("estimate", models.DecimalField(max_digits=14, decimal_places=4)),
            )
            jobs = jobs.alias(cost=cost)
            if data.get("cost_min") is not None:
                jobs = jobs.filter(cost__gte=data["cost_min"])
            if data.get("cost_max") is not None:
                jobs = jobs.filter(cost__lte=data["cost_max"])
        if data.get("mine"):
            jobs = jobs.filter(user=user)
        if data.get("starred"):
            jobs = jobs.filter(starred=True)
        return jobs


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


class BoardForm(forms.Form):
    name = forms.CharField(
        label="Board name", max_length=80, strip=True,
        error_messages={
            "required": "Name the board.",
            "max_length": "Keep a board's name under 80 characters.",
        },
    )  # fmt: skip

    def __init__(self, *args, workspace, board: Board | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.workspace = workspace
        self.board = board

    def clean_name(self) -> str:
        name = " ".join(self.cleaned_data["name"].split())
        taken = Board.objects.filter(workspace=self.workspace, name__iexact=name)
        if self.board is not None:
            taken = taken.exclude(pk=self.board.pk)
        if taken.exists():
            raise forms.ValidationError("The workspace has a board of that name already.")
        return name


class TagForm(forms.Form):
    """Tags typed for the results ticked in the gallery (or one job's page): comma-separated."""

    tags = forms.CharField(label="Tags", max_length=400)

    def clean_tags(self) -> list[str]:
        names = tag_names(self.cleaned_data["tags"])
        if not names:
            raise forms.ValidationError("Type a tag first (several: separate them with commas).")
        if len(names) > 10:
            raise forms.ValidationError("Up to 10 tags at once.")
        long = [name for name in names if len(name) > TAG_MAX]
        if long:
            raise forms.ValidationError(
                f"Keep each tag under {TAG_MAX} characters (“{long[0][:20]}…”)."
            )
        return names


SHARE_DAYS = ((1, "1 day"), (7, "7 days"), (30, "30 days"))


class ShareLinkForm(forms.Form):
    days = forms.TypedChoiceField(label="Works for", choices=SHARE_DAYS, coerce=int, initial=7)


# -- chat --------------------------------------------------------------------------------


class MessageForm(forms.Form):
    """What a person sends on the Chat page."""

    content = forms.CharField(
        label="Message",
        max_length=chat.MAX_MESSAGE_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={
            "required": "Write a message first.",
            "max_length": "Keep a message under 20,000 characters (this one has %(show_value)d).",
        },
    )


class ConversationSettingsForm(forms.Form):
    """How a conversation's replies are asked for: the gemini parameters of the manual."""

    system_prompt = forms.CharField(
        label="System prompt",
        required=False,
        max_length=chat.MAX_MESSAGE_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Instructions Gemini follows for the whole chat, such as “Answer in French.”",
        error_messages={"max_length": "Keep the system prompt under 20,000 characters."},
    )
    reasoning_effort = forms.ChoiceField(
        label="Reasoning effort",
        choices=[(effort, effort.capitalize()) for effort in chat.EFFORTS],
        initial="high",
    )
    include_thoughts = forms.BooleanField(label="Show thinking", required=False, initial=True)
    json_output = forms.BooleanField(
        label="Answer in JSON",
        required=False,
        help_text="Each reply is one JSON object; say in your message what it should hold.",
    )

    @classmethod
    def initial_for(cls, conversation) -> dict:
        return {name: getattr(conversation, name) for name in cls.base_fields}

    def settings(self) -> dict:
        """The values for the Conversation's fields of the same names."""
        values = dict(self.cleaned_data)
        values["system_prompt"] = values["system_prompt"].strip()
        return values


class ConversationTitleForm(forms.Form):
    title = forms.CharField(
        label="Name",
        max_length=200,
        error_messages={
            "required": "Give the chat a name.",
            "max_length": "Keep the name under 200 characters.",
        },
    )
