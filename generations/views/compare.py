"""Compare: two to four results side by side, the same size, their parameters lined up with the
ones that differ marked."""

from __future__ import annotations

import uuid

from django.contrib.auth.decorators import login_required
from django.db.models import Prefetch
from django.http import HttpResponse
from django.template.response import TemplateResponse
from django.views.decorators.http import require_GET

from generations import described
from generations.models import Generation, GenerationFile
from generations.views import HtmxHttpRequest, current_workspace

MAX_COMPARED = 4


@login_required
@require_GET
def compare(request: HtmxHttpRequest) -> HttpResponse:
    """`?code=…` two to four times (or `?batch=…`: a Run ×N set): only results the person may
    see, in the order asked."""
    current_workspace(request)
    visible = Generation.objects.visible_to(request.user, request.membership).results()
    visible = visible.select_related("user").prefetch_related(
        Prefetch("files", queryset=GenerationFile.objects.order_by("position"))
    )
    codes = _codes(request.GET.getlist("code"))
    batch = _code(request.GET.get("batch", ""))
    if batch is not None:
        jobs = list(visible.filter(batch=batch).order_by("created_at", "pk")[:MAX_COMPARED])
    else:
        found = {job.code: job for job in visible.filter(code__in=codes[:MAX_COMPARED])}
        jobs = [found[code] for code in codes[:MAX_COMPARED] if code in found]
    columns = [described.describe(job, request.user, request.membership) for job in jobs]
    context = {"jobs": jobs, "rows": _rows(columns), "too_few": len(jobs) < 2}
    return TemplateResponse(request, "generations/compare.html", context)


def _rows(columns: list[list[described.Shown]]) -> list[dict]:
    """One row a parameter label (in the order first seen), its value in each column, and
    whether they differ."""
    labels: list[str] = []
    for column in columns:
        labels += [shown.label for shown in column if shown.label not in labels]
    rows = []
    for label in labels:
        cells = [next((s for s in column if s.label == label), None) for column in columns]
        words = [_words(cell) for cell in cells]
        rows.append({"label": label, "cells": cells, "differs": len(set(words)) > 1})
    return rows


def _words(shown: described.Shown | None) -> str:
    if shown is None:
        return ""
    return "\n".join([shown.text, *shown.lines, *(i.label + i.href for i in shown.inputs)])


def _code(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def _codes(values: list[str]) -> list[uuid.UUID]:
    return [code for code in map(_code, values) if code is not None]
