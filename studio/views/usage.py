"""The Usage page: credits by member, model or kind over time, its CSV, and the jobs behind it."""

from __future__ import annotations

import csv

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, QueryDict
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET

from generations import catalog
from generations.models import Generation
from studio import ledger, usage
from studio.access import StudioRequest
from studio.forms import UsageFilters
from studio.models import Membership


def _membership(request: StudioRequest) -> Membership:
    membership = request.membership
    if not membership:
        raise Http404("No workspace")
    return membership


def _scope(request: StudioRequest) -> tuple[Membership, int | None]:
    """Admins see everyone's usage; members see their own (and the workspace's total)."""
    membership = _membership(request)
    sees_all = membership.can_manage
    return membership, (None if sees_all else request.user.pk)


def _report(request: StudioRequest):
    membership, only = _scope(request)
    if membership.can_manage:
        members = usage.member_names(membership.workspace)
    else:
        members = [request.user.username]  # a member's report is their own
    form = UsageFilters(request.GET, members=members)
    if not form.is_valid():
        return membership, form, None
    filters = form.filters()
    if not (request.GET.get("start") and request.GET.get("end")):
        # Show the dates it used in the fields (and carry them in the page's links).
        shown = request.GET.copy()
        shown["start"], shown["end"] = filters.start.isoformat(), filters.end.isoformat()
        form = UsageFilters(shown, members=members)
        form.full_clean()
    report = usage.build(membership.workspace, filters, only_member_id=only)
    return membership, form, report


def _query(data: QueryDict, *drop: str) -> str:
    """The page's query without the keys a link sets itself, so that none appears twice."""
    kept = data.copy()
    for key in drop:
        kept.pop(key, None)
    return kept.urlencode()


@login_required
@require_GET
def usage_page(request: StudioRequest) -> HttpResponse:
    membership, form, report = _report(request)
    context = {
        "form": form,
        "report": report,
        "sees_all": membership.can_manage,
    }
    if report is not None:
        others = _query(form.data, "start", "end", "bucket", "value")
        jobs_url = f"{reverse('usage-jobs')}?{others}{'&' if others else ''}"
        context["chart"] = usage.chart(report, jobs_url)
        context["query"] = _query(form.data)
        context["group_query"] = _query(form.data, "value")
        context["workspace_total"] = usage.total(membership.workspace, report.filters)
        context["bar_markup"] = mark_safe(context["chart"]["bar_markup"])  # escaped in chart()
        context["allowance"] = ledger.allowance(membership.workspace, request.user.pk)
    return TemplateResponse(request, "studio/usage.html", context)


@login_required
@require_GET
def usage_csv(request: StudioRequest) -> HttpResponse:
    _, form, report = _report(request)
    if report is None:
        return HttpResponse("; ".join(str(e) for e in form.errors.values()), status=400)
    filters = report.filters
    response = HttpResponse(content_type="text/csv")
    name = f"usage-{filters.start}-{filters.end}-{filters.group}-{filters.bucket}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    writer = csv.writer(response)
    writer.writerow([filters.bucket, filters.group, "credits"])
    for bucket, group, value in report.rows():
        writer.writerow([bucket.isoformat(), csv_cell(group), ledger.fmt(value)])
    return response


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(text) -> str:
    """A text cell a spreadsheet shows as text, never runs: one starting like a formula (a
    username "+1+1", "@SUM(…)") gets a leading apostrophe (OWASP's rule for CSV injection)."""
    text = str(text)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


@login_required
@require_GET
def usage_jobs(request: StudioRequest) -> HttpResponse:
    """The jobs behind a bar: those with ledger entries in the range (and group) asked for."""
    membership, form, report = _report(request)
    if report is None:
        raise Http404("Bad filters")
    filters = report.filters
    _, only = _scope(request)
    entries = usage.entries(membership.workspace, filters, only_member_id=only)
    group_value = request.GET.get("value", "")
    if group_value and filters.group == "member":
        entries = entries.filter(member__username=group_value)
    elif group_value and filters.group == "model":
        entries = entries.filter(model_slug=group_value)
    elif group_value and filters.group == "kind":
        slugs = [s.slug for s in catalog.MODELS.values() if s.kind_label == group_value]
        entries = entries.filter(model_slug__in=slugs)
    ids = entries.exclude(generation=None).values_list("generation_id", flat=True).distinct()
    jobs = (
        Generation.objects.filter(pk__in=ids, workspace=membership.workspace)
        .select_related("user")
        .order_by("-created_at")[:500]
    )
    rows = [(job, ledger.job_cost(job)) for job in jobs]
    return TemplateResponse(
        request,
        "studio/usage_jobs.html",
        {
            "rows": rows,
            "report": report,
            "value": group_value,
            "label": usage.group_label(filters.group, group_value),
            "form": form,
        },
    )
